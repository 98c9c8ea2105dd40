import * as tf from '@tensorflow/tfjs-core';
import {
  fisherCurvature,
  gaussNewtonBartlettDiag,
  ggnCurvature,
  hessianCurvature,
  hutchinsonDiag,
  mlpObjective,
  objectiveLoss,
  random,
  tree,
} from '../../index';
import { spatialAverage } from '../../transforms/estimators';
import * as ref from '../helpers/mlp64';

function flat(t: any): Float64Array {
  const { vector } = tree.ravel(t);
  const out = Float64Array.from(vector.dataSync());
  vector.dispose();
  return out;
}

describe('curvature operators', () => {
  const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy');
  const p = ref.numParams(prob.m);
  const objective = { predict: prob.predict, loss: 'softmaxCrossEntropy' as const };
  const v64 = ref.rand(p, 11);

  test('hessian, GGN and Fisher operators equal dense float64 references', () => {
    const params = prob.params();
    const batch = prob.batch();
    const v = tree.unravel(tree.flatten(params).def, tf.tensor1d(Array.from(v64)));
    const H = ref.hessian(prob.m, prob.theta);
    const G = ref.ggn(prob.m, prob.theta);
    // Empirical Fisher (1/B) Σ g_i g_iᵀ from float64 per-sample gradients.
    const F = new Float64Array(p * p);
    for (let i = 0; i < prob.m.b; i++) {
      const mi = {
        ...prob.m,
        b: 1,
        x: prob.m.x.slice(i * prob.m.d, (i + 1) * prob.m.d),
        y: prob.m.y.slice(i * prob.m.c, (i + 1) * prob.m.c),
      };
      const g = ref.grad(mi, prob.theta);
      for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) F[a * p + b] += (g[a] * g[b]) / prob.m.b;
    }
    for (const [curv, dense] of [
      [hessianCurvature(objectiveLoss(objective)), H],
      [ggnCurvature(objective), G],
      [fisherCurvature(objective), F],
      // The same MLP with the rowGram hook: products by one JVP and one VJP.
      [fisherCurvature(mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' })), F],
    ] as const) {
      const op = curv(params, batch);
      const cv = op.matvec(v);
      expect(ref.relErr(flat(cv), ref.matVec(dense, v64, p, p))).toBeLessThan(1e-4);
      tree.dispose(cv);
      op.dispose();
    }
    tree.dispose([params, batch, v] as any);
  });

  test('the sampled Fisher takes the same products with and without the rowGram hook', () => {
    const params = prob.params();
    const batch = prob.batch();
    const v = tree.unravel(tree.flatten(params).def, tf.tensor1d(Array.from(v64)));
    const hooked = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });
    const [a, b] = [objective, hooked].map((o) => {
      const op = fisherCurvature(o, { kind: 'sampled' })(params, batch, random.key(5));
      const cv = op.matvec(v);
      const out = flat(cv);
      tree.dispose(cv);
      op.dispose();
      return out;
    });
    expect(ref.relErr(b, a)).toBeLessThan(1e-5);
    expect(Math.max(...Array.from(a).map(Math.abs))).toBeGreaterThan(1e-3);
    tree.dispose([params, batch, v] as any);
  });

  test('operators are leak-free over many products', () => {
    const params = prob.params();
    const batch = prob.batch();
    const v = tree.onesLike(params);
    const before = tf.memory().numTensors;
    const hooked = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });
    for (const curv of [
      ggnCurvature(objective),
      fisherCurvature(objective),
      fisherCurvature(hooked),
      fisherCurvature(hooked, { kind: 'sampled' }),
      hessianCurvature(objectiveLoss(objective)),
    ]) {
      const op = curv(params, batch);
      for (let i = 0; i < 20; i++) tree.dispose(op.matvec(v));
      op.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tree.dispose([params, batch, v] as any);
  });
});

describe('diagonal estimators', () => {
  test('Hutchinson is exact on a diagonal operator and its error shrinks with probes', () => {
    const d = {
      a: tf.tensor1d([1, -2, 3, 4]),
      b: tf.tensor2d([
        [0.5, 5],
        [7, -1],
      ]),
    };
    const diagOp = { matvec: (v: any) => tree.mul(d, v), dispose: () => undefined };
    const est = hutchinsonDiag(diagOp, d, 42, { numProbes: 3 });
    expect(ref.relErr(flat(est), flat(d))).toBeLessThan(1e-7);
    tree.dispose(est);
    // A dense SPD operator: the estimate's mean error falls as probes grow.
    const n = 6;
    const a64 = ref.rand(n * n, 5);
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a64[i * n + k] * a64[j * n + k];
        A[i * n + j] = s;
      }
    const At = tf.tensor2d(Array.from(A), [n, n]);
    const op = { matvec: (v: any) => tf.reshape(tf.matMul(At, tf.reshape(v, [n, 1])), [n]), dispose: () => undefined };
    const x = tf.zeros([n]);
    const trueDiag = Float64Array.from({ length: n }, (_, i) => A[i * n + i]);
    const err = (probes: number) => {
      let total = 0;
      for (let s = 0; s < 20; s++) {
        const e = hutchinsonDiag(op as any, x, 1000 + s, { numProbes: probes }) as tf.Tensor;
        total += ref.relErr(e.dataSync(), trueDiag);
        e.dispose();
      }
      return total / 20;
    };
    expect(err(64)).toBeLessThan(0.5 * err(2));
    tree.dispose([d, At, x] as any);
  });

  test('Gauss-Newton-Bartlett equals B · ĝ⊙ĝ with ĝ the gradient at the sampled labels', () => {
    const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy');
    const objective = { predict: prob.predict, loss: 'softmaxCrossEntropy' as const };
    const params = prob.params();
    const batch = prob.batch();
    const est = gaussNewtonBartlettDiag(objective, params, batch, 7);
    // Recompute by hand: the same uniforms (same key), labels by the inverse CDF of the softmax in float64.
    const logits = prob.predict(params, batch.x);
    const u = tf.randomUniform([prob.m.b, 1], 0, 1, 'float32', random.foldIn(7, 0));
    const [f, us] = [logits.dataSync(), u.dataSync()];
    const y = new Float64Array(prob.m.b * 3);
    for (let i = 0; i < prob.m.b; i++) {
      const e = [0, 1, 2].map((k) => Math.exp(f[i * 3 + k]));
      const z = e[0] + e[1] + e[2];
      const label = us[i] < e[0] / z ? 0 : us[i] < (e[0] + e[1]) / z ? 1 : 2;
      y[i * 3 + label] = 1;
    }
    const m = { ...prob.m, y };
    const g = ref.grad(m, prob.theta);
    expect(
      ref.relErr(
        flat(est),
        g.map((gi) => prob.m.b * gi * gi),
      ),
    ).toBeLessThan(1e-4);
    tree.dispose([params, batch, est, logits, u] as any);
  });

  test('spatial averaging means |d| over the last axis (rank 2-3) and last two axes (rank 4)', () => {
    const d = {
      v: tf.tensor1d([1, -2]),
      m: tf.tensor2d([
        [1, -3],
        [2, 6],
      ]),
      k: tf.ones([1, 1, 2, 2]),
    };
    const avg = spatialAverage(d) as any;
    expect(Array.from(avg.v.dataSync())).toEqual([1, -2]);
    expect(Array.from(avg.m.dataSync())).toEqual([2, 2, 4, 4]);
    expect(Array.from(avg.k.dataSync())).toEqual([1, 1, 1, 1]);
    tree.dispose([d, avg]);
  });
});
