// Shampoo (transforms/shampoo.ts) against float64 references: the float64 eigendecomposition of
// lib/linalg.ts (reconstruction and orthogonality), the device inverse roots and the host ones
// against it, and the first step of scaleByShampoo on a square matrix, whose direction is the
// orthogonal polar factor U Vᵀ of the gradient (L^{-1/4} G R^{-1/4} with L = G Gᵀ, R = Gᵀ G),
// grafted onto Adam's step norm.
import * as tf from '@tensorflow/tfjs-core';
import { inverseRoot, makeStep, mlpObjective, objectiveLoss, scaleByShampoo, shampoo, tree } from '../../index';
import type { ShampooState, Tree } from '../../index';
import { symmetricEigen, symmetricPower } from '../../lib/linalg';
import { randomSpd, relErr } from '../helpers/mlp64';

const values = (t: tf.Tensor) => Float64Array.from(t.dataSync());

/** `(A + ridge·‖A‖_F I)^{-1/p}` in float64 by the eigendecomposition. */
function referenceRoot(a: Float64Array, n: number, p: number, ridge = 1e-6): Float64Array {
  const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  const shifted = Float64Array.from(a, (x, i) => (i % (n + 1) === 0 ? x + ridge * norm : x));
  return symmetricPower(shifted, n, -1 / p);
}

describe('symmetricEigen (float64 Jacobi)', () => {
  test.each([2, 7, 30])('n = %i: Q diag(λ) Qᵀ = A and QᵀQ = I to 1e-11', (n) => {
    const a = randomSpd(n, n + 1);
    const { values: lam, vectors: q } = symmetricEigen(a, n);
    let [recon, orth] = [0, 0];
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let [s, o] = [0, 0];
        for (let k = 0; k < n; k++) {
          s += q[i * n + k] * lam[k] * q[j * n + k];
          o += q[k * n + i] * q[k * n + j];
        }
        recon = Math.max(recon, Math.abs(s - a[i * n + j]));
        orth = Math.max(orth, Math.abs(o - (i === j ? 1 : 0)));
      }
    expect(recon).toBeLessThan(1e-11 * Math.max(...lam));
    expect(orth).toBeLessThan(1e-11);
  });

  test('symmetricPower: (A^{-1/4})⁴ A = I, and a diagonal matrix is powered entry by entry', () => {
    const n = 6;
    const a = randomSpd(n, 3);
    const r = symmetricPower(a, n, -0.25);
    const mul = (x: Float64Array, y: Float64Array) =>
      Float64Array.from({ length: n * n }, (_, ij) => {
        const [i, j] = [Math.floor(ij / n), ij % n];
        let s = 0;
        for (let k = 0; k < n; k++) s += x[i * n + k] * y[k * n + j];
        return s;
      });
    const product = mul(mul(mul(mul(r, r), r), r), a);
    product.forEach((v, ij) => expect(Math.abs(v - (ij % (n + 1) === 0 ? 1 : 0))).toBeLessThan(1e-10));
    const d = Float64Array.from([4, 0, 0, 16]);
    expect(Array.from(symmetricPower(d, 2, -0.5))).toEqual([0.5, 0, 0, 0.25]);
  });
});

describe('inverseRoot (coupled Newton on the device)', () => {
  test.each([
    [8, 4],
    [8, 2],
    [40, 4],
  ])('n = %i, p = %i: equals the float64 eigendecomposition root to 1e-4 (relative, Frobenius)', (n, p) => {
    const a = randomSpd(n, 11 * n + p);
    const before = tf.memory().numTensors;
    const at = tf.tensor2d(Array.from(a), [n, n]);
    const root = inverseRoot(at, p);
    expect(relErr(values(root), referenceRoot(a, n, p))).toBeLessThan(1e-4);
    tf.dispose([at, root]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a rank-deficient statistic (G Gᵀ of a thin G) is rooted through its ridge, finite', () => {
    const g = tf.randomNormal([6, 2], 0, 1, 'float32', 5) as tf.Tensor2D;
    const l = tf.matMul(g, g, false, true) as tf.Tensor2D;
    const root = inverseRoot(l, 4);
    expect(values(root).every(Number.isFinite)).toBe(true);
    tf.dispose([g, l, root]);
  });
});

describe('scaleByShampoo', () => {
  const n = 5;
  const gValues = Array.from(tf.tidy(() => tf.randomNormal([n, n], 0, 1, 'float32', 21).dataSync()));
  const firstStep = (options: Parameters<typeof scaleByShampoo>[0]) => {
    const params = { w: tf.zeros([n, n]), b: tf.zeros([n]) };
    const grads = { w: tf.tensor2d(gValues, [n, n]), b: tf.tensor1d([1, -2, 3, -4, 5]) };
    const tx = scaleByShampoo(options);
    const state = tx.init(params);
    const [u, next] = tx.update(grads, state, params);
    const out = { w: values((u as any).w), b: values((u as any).b) };
    tree.dispose([params, grads, u, state as never, next as never]);
    return out;
  };

  test.each(['newton', 'eigen'] as const)(
    "roots '%s': the first step is √n · U Vᵀ (the polar factor of G, grafted onto Adam's norm n), and a vector gets Adam's step",
    (roots) => {
      const g = Float64Array.from(gValues);
      // U Vᵀ = G (GᵀG)^{-1/2}, in float64.
      const gtg = Float64Array.from({ length: n * n }, (_, ij) => {
        const [i, j] = [Math.floor(ij / n), ij % n];
        let s = 0;
        for (let k = 0; k < n; k++) s += g[k * n + i] * g[k * n + j];
        return s;
      });
      const invSqrt = symmetricPower(gtg, n, -0.5);
      const polar = Float64Array.from({ length: n * n }, (_, ij) => {
        const [i, j] = [Math.floor(ij / n), ij % n];
        let s = 0;
        for (let k = 0; k < n; k++) s += g[i * n + k] * invSqrt[k * n + j];
        return s * Math.sqrt(n);
      });
      const out = firstStep({ roots });
      expect(relErr(out.w, polar)).toBeLessThan(roots === 'eigen' ? 1e-4 : 1e-3);
      // Adam's first step on a vector: m̂ / (√v̂ + ε) = sign(g).
      out.b.forEach((v, i) => expect(v).toBeCloseTo(Math.sign([1, -2, 3, -4, 5][i]), 5));
    },
  );

  test('the roots are recomputed every inverseEvery steps and reused in between (Newton and eigen agree)', () => {
    const params = { w: tf.zeros([4, 3]) };
    const run = (roots: 'newton' | 'eigen') => {
      const tx = scaleByShampoo({ inverseEvery: 3, roots });
      let state: ShampooState = tx.init(params);
      const rootHistory: Float64Array[] = [];
      const steps: Float64Array[] = [];
      for (let t = 0; t < 5; t++) {
        const g = { w: tf.randomNormal([4, 3], 0, 1, 'float32', 30 + t) };
        const [u, next] = tx.update(g, state, params);
        rootHistory.push(values(next.stats[0].lRoot[0]));
        steps.push(values((u as any).w));
        tree.dispose([g, u, state as never]);
        state = next;
      }
      tree.dispose(state as never);
      return { rootHistory, steps };
    };
    const newton = run('newton');
    const eigen = run('eigen');
    const same = (a: Float64Array, b: Float64Array) => a.every((v, i) => v === b[i]);
    expect(same(newton.rootHistory[0], newton.rootHistory[1])).toBe(true);
    expect(same(newton.rootHistory[1], newton.rootHistory[2])).toBe(true);
    expect(same(newton.rootHistory[2], newton.rootHistory[3])).toBe(false); // step 3 refreshes
    expect(same(newton.rootHistory[3], newton.rootHistory[4])).toBe(true);
    // Steps 0–2 use the roots of step 0, whose statistics (rank 1 of 4 and 3) are ridge-dominated:
    // there float32 rounding is amplified by ε^{-1/4}; step 3 refreshes from full-rank statistics.
    newton.steps.forEach((s, t) => expect(relErr(s, eigen.steps[t])).toBeLessThan(t < 3 ? 1e-2 : 1e-3));
    params.w.dispose();
  });

  test("precondition: the leaves left out get Adam's step and keep no statistics", () => {
    const params = { w: tf.zeros([n, n]), v: tf.zeros([n, n]) };
    const grads = { w: tf.tensor2d(gValues, [n, n]), v: tf.tensor2d(gValues, [n, n]) };
    const tx = scaleByShampoo({ precondition: { w: true, v: false } });
    const state = tx.init(params);
    expect(state.stats.map((s) => s.l.length)).toEqual([0, 1]); // leaves in key order: v, w
    const [u, next] = tx.update(grads, state, params);
    values((u as any).v).forEach((x, i) => expect(x).toBeCloseTo(Math.sign(gValues[i]), 5));
    expect(relErr(values((u as any).w), values((u as any).v))).toBeGreaterThan(0.1);
    tree.dispose([params, grads, u, state as never, next as never]);
  });

  test('blocks: with blockSize 3 the 5 × 5 statistics are the diagonal blocks (2 and 3) of G Gᵀ and Gᵀ G, each rooted', () => {
    const params = { w: tf.zeros([5, 5]) };
    const tx = scaleByShampoo({ blockSize: 3, roots: 'eigen' });
    const state = tx.init(params);
    const g = { w: tf.tensor2d(gValues, [5, 5]) };
    const [u, next] = tx.update(g, state, params);
    const { l, r, lRoot, rRoot } = next.stats[0];
    expect(l.map((b) => b.shape)).toEqual([
      [2, 2],
      [3, 3],
    ]);
    // Float64 G Gᵀ and Gᵀ G (debiased: the first step's statistic is (1 − β₂) G Gᵀ).
    const product = (transposeFirst: boolean) =>
      Float64Array.from({ length: 25 }, (_, ij) => {
        const [i, j] = [Math.floor(ij / 5), ij % 5];
        let s = 0;
        for (let k = 0; k < 5; k++) s += transposeFirst ? gValues[k * 5 + i] * gValues[k * 5 + j] : gValues[i * 5 + k] * gValues[j * 5 + k];
        return s;
      });
    const block = (m: Float64Array, start: number, k: number) =>
      Float64Array.from({ length: k * k }, (_, ij) => m[(start + Math.floor(ij / k)) * 5 + start + (ij % k)]);
    for (const [stats, roots, full] of [
      [l, lRoot, product(false)],
      [r, rRoot, product(true)],
    ] as const) {
      [0, 2].forEach((start, b) => {
        const k = b === 0 ? 2 : 3;
        const expected = block(full, start, k);
        expect(
          relErr(
            values(stats[b]).map((x) => x / (1 - 0.999)),
            expected,
          ),
        ).toBeLessThan(1e-5);
        expect(relErr(values(roots[b]), referenceRoot(expected, k, 4))).toBeLessThan(1e-4);
      });
    }
    tree.dispose([params, g, u, state as never, next as never]);
  });
});

describe('shampoo (the method)', () => {
  test('trains an MLP: same seed, same trajectory; a NaN batch is skipped; flat tensor count', () => {
    const objective = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });
    const lossFn = objectiveLoss(objective);
    const batch = tf.tidy(() => ({
      x: tf.randomNormal([32, 6], 0, 1, 'float32', 1),
      y: tf
        .oneHot(
          tf.tensor1d(
            Array.from({ length: 32 }, (_, i) => i % 3),
            'int32',
          ),
          3,
        )
        .toFloat(),
    }));
    const run = (steps: number, poison = -1) => {
      const tx = shampoo({ learningRate: 0.02, inverseEvery: 5 });
      let params: Tree = objective.init([6, 8, 3], 4);
      let state = tx.init(params);
      const step = makeStep(tx, lossFn);
      const losses: number[] = [];
      for (let t = 0; t < steps; t++) {
        const b = t === poison ? { x: tf.mul(batch.x, NaN), y: batch.y } : batch;
        const out = step(params, state, b);
        losses.push(out.loss.dataSync()[0]);
        out.loss.dispose();
        if (b !== batch) b.x.dispose();
        ({ params, state } = out);
      }
      const final = Array.from(tree.readValues(() => tree.ravel(params).vector));
      tree.dispose([params, state as never]);
      return { losses, final };
    };
    const before = tf.memory().numTensors;
    const a = run(40);
    expect(tf.memory().numTensors).toBe(before);
    expect(a.losses[39]).toBeLessThan(0.5 * a.losses[0]);
    expect(run(40).final).toEqual(a.final);
    const poisoned = run(6, 2);
    expect(Number.isNaN(poisoned.losses[2])).toBe(true);
    expect(poisoned.final.every(Number.isFinite)).toBe(true);
    tree.dispose([batch.x, batch.y]);
  });
});
