import * as tf from '@tensorflow/tfjs-core';
import { ignd, makeStep, objectiveLoss, sqn, swmng, tree } from '../../index';
import { memoryOrder } from '../../transforms/lbfgs';
import * as linalg from '../../lib/linalg';
import type { GradientTransformation, Tree } from '../../index';
import * as ref from '../helpers/mlp64';

const flat = (t: any) => Float64Array.from(tree.readValues(() => tree.ravel(t).vector));
function oneStep(tx: GradientTransformation<any>, lossFn: any, params: Tree, batch: unknown) {
  return makeStep(tx, lossFn)(params, tx.init(params), batch);
}

describe('somax 2024 methods against exact math', () => {
  test('swmng steps by −lr (F + λI)⁻¹ g with the dense empirical Fisher', () => {
    const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy');
    const objective = { predict: prob.predict, loss: 'softmaxCrossEntropy' as const };
    const lossFn = objectiveLoss(objective);
    const p = ref.numParams(prob.m);
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
    for (let i = 0; i < p; i++) F[i * p + i] += 0.4;
    const want = linalg.solveSymmetric(F, ref.grad(prob.m, prob.theta), p);
    const out = oneStep(swmng(objective, { lam0: 0.4, learningRate: 0.5 }), lossFn, prob.params(), prob.batch());
    const step = flat(out.params).map((v, i) => (prob.theta[i] - v) / 0.5);
    expect(ref.relErr(step, want)).toBeLessThan(1e-4);
    tree.dispose([out.params, out.state, out.loss] as any);
  });

  test('ignd steps by −lr · mean over samples of Jᵢ rᵢ / ‖Jᵢ‖² on a linear regression', () => {
    const xs = ref.rand(12, 71);
    const ys = ref.rand(4, 72);
    const w = ref.rand(3, 73);
    const x = tf.tensor2d(Array.from(xs), [4, 3]);
    const y = tf.tensor2d(Array.from(ys), [4, 1]);
    const objective = { predict: (p: any, xx: tf.Tensor) => tf.matMul(xx as tf.Tensor2D, p.w), loss: 'meanSquaredError' as const };
    const out = oneStep(
      ignd(objective, { learningRate: 0.1 }),
      objectiveLoss(objective),
      { w: tf.tensor2d(Array.from(w), [3, 1]) },
      { x, y },
    );
    const s = new Float64Array(3);
    for (let i = 0; i < 4; i++) {
      const xi = xs.subarray(i * 3, i * 3 + 3);
      const r = xi.reduce((a, v, k) => a + v * w[k], 0) - ys[i];
      const nn = xi.reduce((a, v) => a + v * v, 0);
      for (let k = 0; k < 3; k++) s[k] += (xi[k] * r) / nn / 4;
    }
    expect(
      ref.relErr(
        flat(out.params),
        w.map((v, k) => v - 0.1 * s[k]),
      ),
    ).toBeLessThan(1e-5);
    tree.dispose([x, y, out.params, out.state, out.loss] as any);
  });

  test('ignd (classification) steps by −lr · (1/B) Σ Jᵢᵀ(JᵢJᵢᵀ)⁻¹Qᵢ⁺gᵢ, the minimum-norm per-sample Gauss-Newton step', () => {
    const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy', { d: 3, h: 4, c: 3, b: 5 });
    const { m, theta } = prob;
    const [b, c, p] = [m.b, m.c, ref.numParams(m)];
    const J = ref.jacobian(m, theta);
    const Q = ref.outputHessians(m, theta);
    const { f } = ref.forward(m, theta);
    const want = new Float64Array(p);
    for (let i = 0; i < b; i++) {
      const logits = Array.from(f.subarray(i * c, (i + 1) * c));
      const e = logits.map((v) => Math.exp(v - Math.max(...logits)));
      const g = e.map((v, k) => v / e.reduce((x, y) => x + y, 0) - m.y[i * c + k]);
      // Q⁺g = (Q + 11ᵀ/c)⁻¹ g exactly, since Q1 = 0 and g ⊥ 1.
      const qShift = Float64Array.from(Q.subarray(i * c * c, (i + 1) * c * c), (v) => v + 1 / c);
      const qg = linalg.solveSymmetric(qShift, g, c);
      const K = new Float64Array(c * c);
      for (let k = 0; k < c; k++)
        for (let l = 0; l < c; l++) {
          for (let a = 0; a < p; a++) K[k * c + l] += J[(i * c + k) * p + a] * J[(i * c + l) * p + a];
        }
      const a = linalg.solveSymmetric(K, qg, c);
      for (let k = 0; k < c; k++) for (let q = 0; q < p; q++) want[q] += (J[(i * c + k) * p + q] * a[k]) / b;
    }
    const objective = { predict: prob.predict, loss: 'softmaxCrossEntropy' as const };
    const out = oneStep(ignd(objective, { learningRate: 0.1, outputDamping: 1e-9 }), objectiveLoss(objective), prob.params(), prob.batch());
    const step = flat(out.params).map((v, i) => (theta[i] - v) / 0.1);
    expect(ref.relErr(step, want)).toBeLessThan(1e-3);
    tree.dispose([out.params, out.state, out.loss] as any);
  });

  test('sqn stores exact secant pairs (y = A s) and minimizes a convex quadratic', () => {
    const n = 6;
    const A = ref.randomSpd(n, 81);
    const b = ref.rand(n, 82);
    const { lossFn: quad, dispose } = ref.quadratic(A, b);
    const tx = sqn(quad, { learningRate: 1, linesearch: true });
    const step = makeStep(tx, quad);
    let params: any = { x: tf.zeros([n]) };
    let state = tx.init(params);
    for (let i = 0; i < 60; i++) {
      const out = step(params, state, null);
      out.loss.dispose();
      params = out.params;
      state = out.state;
      if (i === 4) {
        // An early pair (large s, so float32 differences are accurate): y = A s.
        const mem = (state as any).innerState.memory;
        const order = memoryOrder(mem);
        const slot = order[order.length - 1];
        expect(ref.relErr(flat(mem.y[slot]), ref.matVec(A, flat(mem.s[slot]), n, n))).toBeLessThan(1e-4);
      }
    }
    expect(ref.relErr(flat(params), linalg.solveSymmetric(A, b, n))).toBeLessThan(1e-3);
    tree.dispose([params, state] as any);
    dispose();
  });

  test(
    "sqn's step is −η H g with H the dense BFGS inverse built from its pairs (float64), " +
      'and its Armijo search holds on every accepted step',
    () => {
      const n = 6;
      const A = ref.randomSpd(n, 83);
      const b = ref.rand(n, 84);
      const { lossFn: quad, dispose } = ref.quadratic(A, b);
      const lossAt = (x: Float64Array) =>
        0.5 * x.reduce((acc, xi, i) => acc + xi * ref.matVec(A, x, n, n)[i], 0) - x.reduce((acc, xi, i) => acc + xi * b[i], 0);
      const gradAt = (x: Float64Array) => ref.matVec(A, x, n, n).map((v, i) => v - b[i]);
      // Fixed step: after 5 steps (5 pairs in a memory of 10), the next update against the reference.
      const lr = 0.3;
      const fixed = sqn(quad, { learningRate: lr, memorySize: 10 });
      const step = makeStep(fixed, quad);
      let params: any = { x: tf.tensor1d([1, -1, 0.5, 2, -0.5, 0]) };
      let state = fixed.init(params);
      for (let i = 0; i < 5; i++) {
        const out = step(params, state, null);
        out.loss.dispose();
        params = out.params;
        state = out.state;
      }
      const mem = (state as any).innerState.memory;
      const pairs = memoryOrder(mem).map((k) => ({ s: flat(mem.s[k]), y: flat(mem.y[k]) }));
      expect(pairs.length).toBe(5);
      const dot = (u: ArrayLike<number>, v: ArrayLike<number>) => Array.from(u).reduce((acc, ui, i) => acc + ui * v[i], 0);
      const newest = pairs[pairs.length - 1];
      let H = new Float64Array(n * n);
      for (let i = 0; i < n; i++) H[i * n + i] = dot(newest.s, newest.y) / dot(newest.y, newest.y);
      for (const { s: sv, y: yv } of pairs) {
        const rho = 1 / dot(sv, yv);
        const E = new Float64Array(n * n); // I − ρ y sᵀ
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) E[i * n + j] = (i === j ? 1 : 0) - rho * yv[i] * sv[j];
        const next = new Float64Array(n * n); // Eᵀ H E + ρ s sᵀ
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            let acc = 0;
            for (let k = 0; k < n; k++) for (let l = 0; l < n; l++) acc += E[k * n + i] * H[k * n + l] * E[l * n + j];
            next[i * n + j] = acc + rho * sv[i] * sv[j];
          }
        H = next;
      }
      const x = flat(params);
      const want = ref.matVec(H, gradAt(x), n, n).map((v) => -lr * v);
      const g = { x: tf.tensor1d(Array.from(gradAt(x))) };
      const [delta, next] = fixed.update(g, state, params, { batch: null });
      expect(ref.relErr(flat(delta), want)).toBeLessThan(1e-4);
      tree.dispose([g, delta, next, params, state] as any);

      // With the stochastic Armijo search (c = 0.1): L(θ + δ) ≤ L(θ) + c gᵀδ on every accepted step.
      const searched = sqn(quad, { learningRate: 2, linesearch: true });
      const lsStep = makeStep(searched, quad);
      params = { x: tf.tensor1d([1, -1, 0.5, 2, -0.5, 0]) };
      state = searched.init(params);
      let accepted = 0;
      for (let i = 0; i < 30; i++) {
        const before = flat(params);
        const out = lsStep(params, state, null);
        out.loss.dispose();
        params = out.params;
        state = out.state;
        const d = flat(params).map((v, k) => v - before[k]);
        if (out.info.accepted) {
          accepted++;
          expect(lossAt(flat(params))).toBeLessThanOrEqual(lossAt(before) + 0.1 * dot(gradAt(before), d) + 1e-5);
        }
      }
      expect(accepted).toBeGreaterThan(20);
      tree.dispose([params, state] as any);
      dispose();
    },
  );
});

describe('ignd (regression only): 300 steps, tensors flat, loss falls', () => {
  // The classification problems of training.*.test.ts do not apply: IGND is defined for
  // squared-error regression (see scaleByIgnd).
  const linear = {
    predict: (p: any, xs: tf.Tensor) => tf.add(tf.matMul(xs as tf.Tensor2D, p.w), p.b),
    params: () => ({ w: tf.zeros([3, 1]), b: tf.zeros([1]) }),
    batch: () => ({ x: tf.tensor2d(Array.from(ref.rand(24, 71)), [8, 3]), y: tf.tensor2d(Array.from(ref.rand(8, 72)), [8, 1]) }),
  };
  test.each([
    ['linear regression (moments)', linear, { learningRate: 0.05, b1: 0.9, b2: 0.99 }, 0.65],
    ['tanh MLP regression', ref.makeProblem('tanh', 'meanSquaredError', { d: 3, h: 4, c: 1, b: 6 }), { learningRate: 0.5 }, 0.3],
  ] as const)('%s', (_name, pr, options, fraction) => {
    const objective = { predict: pr.predict, loss: 'meanSquaredError' as const };
    const loss = objectiveLoss(objective);
    const tx = ignd(objective, options);
    const step = makeStep(tx, loss);
    const batch = pr.batch();
    let params = pr.params() as Tree;
    let state = tx.init(params);
    const first = tree.readScalar(() => loss(params, batch));
    let reference = 0;
    for (let i = 0; i < 300; i++) {
      const out = step(params, state, batch, { key: i });
      out.loss.dispose();
      params = out.params;
      state = out.state;
      if (i === 1) reference = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(reference);
    expect(tree.readScalar(() => loss(params, batch))).toBeLessThan(fraction * first);
    tree.dispose([params, state, batch] as any);
  });
});
