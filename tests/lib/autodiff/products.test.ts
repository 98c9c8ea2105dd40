import * as tf from '@tensorflow/tfjs-core';
import {
  denseGgn,
  denseHessian,
  fisherDiag,
  ggnvp,
  hessianDiag,
  hvp,
  jacobianRows,
  jvp,
  mlpObjective,
  objectiveLoss,
  rowGram,
  tree,
  valueAndGrad,
  vjp,
  InputError,
  HyperparameterError,
  losses,
} from '../../../index';
import * as conv from '../../helpers/conv64';
import * as ref from '../../helpers/mlp64';

const cases: [ref.Act, ref.LossName][] = [
  ['tanh', 'softmaxCrossEntropy'],
  ['tanh', 'meanSquaredError'],
  ['relu', 'softmaxCrossEntropy'],
  ['relu', 'meanSquaredError'],
];

function flat(t: any): Float64Array {
  const { vector } = tree.ravel(t);
  const out = Float64Array.from(vector.dataSync());
  vector.dispose();
  return out;
}

describe.each(cases)('curvature products on a %s MLP with %s', (act, lossName) => {
  const prob = ref.makeProblem(act, lossName);
  const p = ref.numParams(prob.m);
  const H = ref.hessian(prob.m, prob.theta);
  const G = ref.ggn(prob.m, prob.theta);
  const J = ref.jacobian(prob.m, prob.theta);
  const objective = { predict: prob.predict, loss: lossName };
  const lossFn = objectiveLoss(objective);
  const v64 = ref.rand(p, 99);

  function withTensors<T>(fn: (params: any, batch: any, v: any) => T): T {
    const params = prob.params();
    const batch = prob.batch();
    const v = tree.unravel(tree.flatten(params).def, tf.tensor1d(Array.from(v64)));
    try {
      return fn(params, batch, v);
    } finally {
      tree.dispose([params, batch, v] as any);
    }
  }

  test('loss value equals the float64 reference', () => {
    withTensors((params, batch) => {
      const l = lossFn(params, batch);
      expect(Math.abs(l.dataSync()[0] - ref.loss(prob.m, prob.theta))).toBeLessThan(1e-5);
      l.dispose();
    });
  });

  test('hvp equals the dense float64 Hessian times v (≤1e-4 relative)', () => {
    withTensors((params, batch, v) => {
      const hv = hvp(lossFn, params, v, batch);
      const err = ref.relErr(flat(hv), ref.matVec(H, v64, p, p));
      tree.dispose(hv);
      expect(err).toBeLessThan(1e-4);
    });
  });

  test('ggnvp equals the dense float64 GGN times v (≤1e-4 relative)', () => {
    withTensors((params, batch, v) => {
      const gv = ggnvp(objective, params, v, batch);
      const err = ref.relErr(flat(gv), ref.matVec(G, v64, p, p));
      tree.dispose(gv);
      expect(err).toBeLessThan(1e-4);
    });
  });

  test('jvp and vjp equal J v and Jᵀ u', () => {
    withTensors((params, batch, v) => {
      const fn = (q: any) => prob.predict(q, batch.x);
      const jv = jvp(fn, params, v);
      expect(ref.relErr(jv.dataSync(), ref.matVec(J, v64, prob.m.b * prob.m.c, p))).toBeLessThan(1e-4);
      const u64 = ref.rand(prob.m.b * prob.m.c, 5);
      const u = tf.tensor2d(Array.from(u64), [prob.m.b, prob.m.c]);
      const jtu = vjp(fn, params, u);
      const jt = new Float64Array(p);
      for (let r = 0; r < u64.length; r++) for (let a = 0; a < p; a++) jt[a] += J[r * p + a] * u64[r];
      expect(ref.relErr(flat(jtu), jt)).toBeLessThan(1e-4);
      tree.dispose([jv, u, jtu] as any);
    });
  });

  test('Jacobian rows and the row Gram matrix equal J and J Jᵀ', () => {
    withTensors((params, batch) => {
      const rows = jacobianRows(objective, params, batch.x);
      expect(ref.relErr(rows.dataSync(), J)).toBeLessThan(1e-4);
      rows.dispose();
      const m = prob.m.b * prob.m.c;
      const gram = rowGram(objective, params, batch.x);
      const jjt = new Float64Array(m * m);
      for (let i = 0; i < m; i++)
        for (let k = 0; k < m; k++) {
          let s = 0;
          for (let a = 0; a < p; a++) s += J[i * p + a] * J[k * p + a];
          jjt[i * m + k] = s;
        }
      expect(ref.relErr(gram, jjt)).toBeLessThan(1e-4);
    });
  });

  test('hessianDiag, denseHessian and denseGgn equal the references', () => {
    withTensors((params, batch) => {
      const d = hessianDiag(lossFn, params, batch);
      const diagRef = Float64Array.from({ length: p }, (_, i) => H[i * p + i]);
      expect(ref.relErr(flat(d), diagRef)).toBeLessThan(1e-4);
      tree.dispose(d);
      expect(ref.relErr(denseHessian(lossFn, params, batch), H)).toBeLessThan(1e-4);
      expect(ref.relErr(denseGgn(objective, params, batch), G)).toBeLessThan(1e-4);
    });
  });
});

describe('Fisher diagonal', () => {
  test('empirical Fisher diagonal equals the mean of squared per-sample gradients', () => {
    const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy');
    const p = ref.numParams(prob.m);
    const expected = new Float64Array(p);
    for (let i = 0; i < prob.m.b; i++) {
      const mi: ref.Mlp64 = {
        ...prob.m,
        b: 1,
        x: prob.m.x.slice(i * prob.m.d, (i + 1) * prob.m.d),
        y: prob.m.y.slice(i * prob.m.c, (i + 1) * prob.m.c),
      };
      ref.grad(mi, prob.theta).forEach((g, a) => (expected[a] += (g * g) / prob.m.b));
    }
    const params = prob.params();
    const batch = prob.batch();
    const fd = fisherDiag({ predict: prob.predict, loss: 'softmaxCrossEntropy' }, params, batch);
    expect(ref.relErr(flat(fd), expected)).toBeLessThan(1e-4);
    const sampled = fisherDiag({ predict: prob.predict, loss: 'softmaxCrossEntropy' }, params, batch, { kind: 'sampled', key: 3 });
    expect(tree.leaves(sampled).every((t) => t.min().dataSync()[0] >= 0)).toBe(true);
    tree.dispose([params, batch, fd, sampled] as any);
  });
});

describe('products are leak-free and reject bad input', () => {
  test('numTensors is flat over 500 hvp and ggnvp calls, and 100 calls of every other product', () => {
    const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy', { d: 3, h: 4, c: 3, b: 4 });
    const objective = { predict: prob.predict, loss: 'softmaxCrossEntropy' as const };
    const lossFn = objectiveLoss(objective);
    const params = prob.params();
    const batch = prob.batch();
    const v = tree.onesLike(params);
    const warm = [hvp(lossFn, params, v, batch), ggnvp(objective, params, v, batch)];
    tree.dispose(warm as any);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 250; i++) {
      tree.dispose(hvp(lossFn, params, v, batch));
      tree.dispose(ggnvp(objective, params, v, batch));
    }
    expect(tf.memory().numTensors).toBe(before);
    // The other products: 100 calls each.
    const fn = (q: any) => prob.predict(q, batch.x);
    const u = tf.ones([4, 3]);
    const again = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) {
      tree.dispose([
        jvp(fn, params, v),
        vjp(fn, params, u),
        fisherDiag(objective, params, batch),
        jacobianRows(objective, params, batch.x),
      ] as any);
      rowGram(objective, params, batch.x);
    }
    expect(tf.memory().numTensors).toBe(again);
    tree.dispose([params, batch, v, u] as any);
  });

  test('a non-scalar loss, a mismatched batch and an unknown loss name are clear errors', () => {
    const prob = ref.makeProblem('tanh', 'meanSquaredError');
    const params = prob.params();
    const batch = prob.batch();
    const v = tree.onesLike(params);
    expect(() => hvp((q: any) => tf.mul(q.b1, 2) as unknown as tf.Scalar, params, v, batch)).toThrow(/must return a scalar/);
    const wrongX = { x: tf.zeros([6, 7]), y: batch.y };
    expect(() => ggnvp({ predict: prob.predict, loss: 'meanSquaredError' }, params, v, wrongX)).toThrow(InputError);
    expect(() => ggnvp({ predict: prob.predict, loss: 'meanSquaredError' }, params, v, wrongX)).toThrow(/batch.x of shape \[6, 7\]/);
    expect(() => ggnvp({ predict: prob.predict, loss: 'hinge' as any }, params, v, batch)).toThrow(HyperparameterError);
    expect(() => ggnvp({ predict: prob.predict, loss: 'hinge' as any }, params, v, batch)).toThrow(
      /unknown loss 'hinge'.*'meanSquaredError'/,
    );
    const badV = { ...(v as any), w1: tf.zeros([2, 2]) };
    expect(() => hvp(objectiveLoss({ predict: prob.predict, loss: 'meanSquaredError' }), params, badV, batch)).toThrow(
      /v.w1: params have shape \[4, 5\], v has \[2, 2\]/,
    );
    tree.dispose([params, batch, v, wrongX, badV.w1] as any);
  });
});

describe('curvature products on a conv net (conv2d + tanh + avgPool + dense, softmax CE)', () => {
  const prob = conv.makeConvProblem();
  const p = conv.numParams;
  const objective = { predict: prob.predict, loss: 'softmaxCrossEntropy' as const };
  const lossFn = objectiveLoss(objective);
  const H = conv.fdHessian((th) => conv.loss(th, prob.x, prob.y, prob.b), prob.theta);
  const J = conv.fdJacobian((th) => conv.forward(th, prob.x, prob.b), prob.theta);
  const v64 = ref.rand(p, 21);

  test('hvp, ggnvp and the row Gram matrix equal float64 references (≤1e-4)', () => {
    const params = prob.params();
    const batch = prob.batch();
    const v = tree.unravel(tree.flatten(params).def, tf.tensor1d(Array.from(v64)));
    const hv = hvp(lossFn, params, v, batch);
    expect(ref.relErr(flat(hv), ref.matVec(H, v64, p, p))).toBeLessThan(1e-4);
    // GGN reference (1/B) Jᵀ Q J with Q from the float64 softmax.
    const f = conv.forward(prob.theta, prob.x, prob.b);
    const jv = ref.matVec(J, v64, prob.b * prob.K, p);
    const qjv = new Float64Array(jv.length);
    for (let n = 0; n < prob.b; n++) {
      const row = Array.from(f.subarray(n * prob.K, (n + 1) * prob.K));
      const mx = Math.max(...row);
      const e = row.map((z) => Math.exp(z - mx));
      const s = e.reduce((a, b) => a + b, 0);
      const pr = e.map((z) => z / s);
      const dot = pr.reduce((acc, pk, k) => acc + pk * jv[n * prob.K + k], 0);
      for (let k = 0; k < prob.K; k++) qjv[n * prob.K + k] = (pr[k] * jv[n * prob.K + k] - pr[k] * dot) / prob.b;
    }
    const gvRef = new Float64Array(p);
    for (let r = 0; r < qjv.length; r++) for (let a = 0; a < p; a++) gvRef[a] += J[r * p + a] * qjv[r];
    const gv = ggnvp(objective, params, v, batch);
    expect(ref.relErr(flat(gv), gvRef)).toBeLessThan(1e-4);
    const m = prob.b * prob.K;
    const gram = rowGram(objective, params, batch.x);
    const jjt = new Float64Array(m * m);
    for (let i = 0; i < m; i++)
      for (let k = 0; k < m; k++) {
        let s = 0;
        for (let a = 0; a < p; a++) s += J[i * p + a] * J[k * p + a];
        jjt[i * m + k] = s;
      }
    expect(ref.relErr(gram, jjt)).toBeLessThan(1e-4);
    tree.dispose([params, batch, v, hv, gv] as any);
  });
});

describe('kernel counts of an HVP (tanh MLP 12-8-3, softmax cross-entropy, batch 5)', () => {
  // Kernels run by one call, by name (tf.profile). The counts depend on the graph only, not on the sizes.
  const kernelsOf = async (fn: () => tf.Tensor[]): Promise<Record<string, number>> => {
    const info = await tf.profile(() => fn());
    const counts: Record<string, number> = {};
    info.kernels.forEach((k) => (counts[k.name] = (counts[k.name] ?? 0) + 1));
    return counts;
  };
  const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

  test('no Identity copies of saved tensors (HVP and gradient), and at most 2.4× the kernels of a gradient', async () => {
    const objective = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });
    const lossFn = objectiveLoss(objective);
    const params = tf.tidy(() => ({
      w1: tf.randomNormal([12, 8], 0, 0.3, 'float32', 1),
      b1: tf.randomNormal([8], 0, 0.1, 'float32', 2),
      w2: tf.randomNormal([8, 3], 0, 0.3, 'float32', 3),
      b2: tf.randomNormal([3], 0, 0.1, 'float32', 4),
    }));
    const batch = tf.tidy(() => ({
      x: tf.randomNormal([5, 12], 0, 1, 'float32', 5),
      y: losses.oneHotFloat(tf.tensor1d([0, 1, 2, 0, 1], 'int32'), 3),
    }));
    const v = tree.randomNormalLike(params, 6);
    const vg = valueAndGrad(lossFn);
    const grad = await kernelsOf(() => {
      const { value, grads } = vg(params, batch);
      return [value, ...tree.leaves(grads)];
    });
    const hv = await kernelsOf(() => tree.leaves(hvp(lossFn, params, v, batch)));
    // tfjs copies every tensor a kernel saves for backprop (an Identity kernel, a copy on wasm, and a
    // Cast in the backward sweep); inside second-order products somax saves aliases instead. The
    // only Identity kernels are the seed's: one copy of each leaf of v starts the outer sweep.
    expect(hv.Identity ?? 0).toBe(tree.leaves(v).length);
    // The seed is not raveled: no Concat of the gradient and no Split of v.
    expect([hv.Concat ?? 0, hv.SplitV ?? 0]).toEqual([0, 0]);
    // A first-order gradient saves aliases too (no copies), and takes tanh′ from the saved output.
    expect(grad.Identity ?? 0).toBe(0);
    // The saved aliases are the taped outputs, so the HVP takes tanh′ = 1 − y² from the forward
    // pass's output too: one Tanh kernel (the forward's), as the gradient. Reverse-over-reverse
    // differentiates the gradient once more: 90 kernels against the gradient's 39 here (on the bench
    // MLP with wasm 100 against 42; 318 against 84 before the aliases and leaner gradients).
    expect([hv.Tanh, grad.Tanh]).toEqual([1, 1]);
    expect(total(hv)).toBeLessThanOrEqual(2.4 * total(grad));
    tree.dispose([params, batch, v] as any);
  });
});
