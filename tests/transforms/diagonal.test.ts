import * as tf from '@tensorflow/tfjs-core';
import {
  exactDiagEstimator,
  hessianCurvature,
  hutchinsonEstimator,
  scaleByDiagonalCurvature,
  tree,
  HyperparameterError,
} from '../../index';

// L(θ) = ½ Σ aᵢ θᵢ², H = diag(a), ∇L = a ⊙ θ.
const a = [2, -0.5, 4, 1];
const lossFn = (p: any) => tf.mul(0.5, tf.sum(tf.mul(tf.tensor1d(a), tf.square(p.w)))) as tf.Scalar;

function grad(p: any) {
  return { w: tf.mul(tf.tensor1d(a), p.w) };
}

describe('scaleByDiagonalCurvature', () => {
  test("AdaHessian's first step on a diagonal quadratic is sign(a) ⊙ θ, Sophia's is θ / γ", () => {
    const params = { w: tf.tensor1d([1, 2, -3, 0.5]) };
    const g = grad(params);
    const ada = scaleByDiagonalCurvature(hutchinsonEstimator(hessianCurvature(lossFn)), { mode: 'adahessian', spatialAveraging: false });
    const s0 = ada.init(params);
    const [u, s1] = ada.update(g, s0, params, { batch: null });
    const expected = [1, 2, -3, 0.5].map((t, i) => Math.sign(a[i]) * t);
    (u as any).w.dataSync().forEach((x: number, i: number) => expect(x).toBeCloseTo(expected[i], 5));
    const sophia = scaleByDiagonalCurvature(exactDiagEstimator(lossFn), { mode: 'sophia', gamma: 0.01, eps: 1e-12 });
    const t0 = sophia.init(params);
    const [us, t1] = sophia.update(g, t0, params, { batch: null });
    // Sophia: denominator max(γ a, eps): for a < 0 it is eps → huge; clipping comes later in the chain.
    (us as any).w.dataSync().forEach((x: number, i: number) => {
      if (a[i] > 0) expect(x).toBeCloseTo([1, 2, -3, 0.5][i] / 0.01, 2);
      else expect(Math.abs(x)).toBeGreaterThan(1e6);
    });
    tree.dispose([params, g, s0, s1, u, t0, t1, us] as any);
  });

  test('the second AdaHessian step follows the EMA and bias-correction formulas exactly', () => {
    const b1 = 0.9;
    const b2 = 0.999;
    const p0 = { w: tf.tensor1d([1, 2, -3, 0.5]) };
    const tx = scaleByDiagonalCurvature(exactDiagEstimator(lossFn), {
      mode: 'adahessian',
      spatialAveraging: false,
      b1: b1,
      b2: b2,
      eps: 0,
    });
    const s0 = tx.init(p0);
    const g0 = grad(p0);
    const [u0, s1] = tx.update(g0, s0, p0, {});
    const p1 = { w: tf.tensor1d([0.5, 1, -1, 0.25]) };
    const g1 = grad(p1);
    const [u1, s2] = tx.update(g1, s1, p1, {});
    const g0v = [1, 2, -3, 0.5].map((t, i) => a[i] * t);
    const g1v = [0.5, 1, -1, 0.25].map((t, i) => a[i] * t);
    (u1 as any).w.dataSync().forEach((x: number, i: number) => {
      const m = (b1 * (1 - b1) * g0v[i] + (1 - b1) * g1v[i]) / (1 - b1 ** 2);
      const v = (b2 * (1 - b2) * a[i] ** 2 + (1 - b2) * a[i] ** 2) / (1 - b2 ** 2);
      expect(x).toBeCloseTo(m / Math.sqrt(v), 4);
    });
    expect(s2.step).toBe(2);
    expect(s2.refreshes).toBe(2);
    tree.dispose([p0, s0, g0, u0, s1, p1, g1, u1, s2] as any);
  });

  test("AdaHessian's relative floor bounds the step where the curvature batch sees zero curvature", () => {
    // ½ mean (x·w)²: H = diag(mean x²). The curvature batch has a blank third feature (d₃ = 0)
    // that the gradient batch does not: g = [7, 8, 11], d = [5, 2.5, 0], mean |d| = 2.5.
    const ls = (p: any, b: any) => tf.mul(0.5, tf.mean(tf.square(tf.matMul(b, tf.reshape(p.w, [-1, 1]))))) as tf.Scalar;
    const gradientBatch = tf.tensor2d([
      [1, 2, 3],
      [2, 1, 1],
    ]);
    const curvatureBatch = tf.tensor2d([
      [1, 2, 0],
      [3, 1, 0],
    ]);
    const params = { w: tf.ones([3]) };
    const g = { w: tf.tensor1d([7, 8, 11]) };
    const step = (relativeFloor: number) => {
      const tx = scaleByDiagonalCurvature(exactDiagEstimator(ls), { mode: 'adahessian', spatialAveraging: false, relativeFloor });
      const s0 = tx.init(params);
      const [u, s1] = tx.update(g, s0, params, { batch: gradientBatch, curvatureBatch });
      const out = Array.from((u as any).w.dataSync() as Float32Array);
      tree.dispose([s0, s1, u] as any);
      return out;
    };
    // Floor 0.01 · 2.5: the blank coordinate's step is 11 / 0.025 = 440, the others are untouched.
    step(0.01).forEach((x, i) => expect(x).toBeCloseTo([7 / 5, 8 / 2.5, 440][i], 2));
    // Without the floor (the paper's formula) it is 11 / 1e-8.
    expect(step(0)[2]).toBeGreaterThan(1e9);
    expect(() => scaleByDiagonalCurvature(exactDiagEstimator(ls), { mode: 'adahessian', relativeFloor: -1 })).toThrow(/relativeFloor/);
    tree.dispose([gradientBatch, curvatureBatch, params, g] as any);
  });

  test('refreshes every evalEveryK steps, leaks nothing over 200 steps, never touches its inputs', () => {
    let calls = 0;
    const est = exactDiagEstimator(lossFn);
    const counting = (p: any, b: unknown, k: number) => {
      calls++;
      return est(p, b, k);
    };
    const tx = scaleByDiagonalCurvature(counting, { mode: 'sophia', evalEveryK: 10 });
    const params = { w: tf.tensor1d([1, 2, -3, 0.5]) };
    const g = grad(params);
    let state = tx.init(params);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 200; i++) {
      const [u, next] = tx.update(g, state, params, { batch: null });
      tree.dispose([u, state] as any);
      state = next;
    }
    expect(calls).toBe(20);
    expect(state.refreshes).toBe(20);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(params.w.dataSync())).toEqual([1, 2, -3, 0.5]);
    expect(g.w.isDisposed).toBe(false);
    tree.dispose([params, g, state] as any);
  });

  test('bad hyperparameters are rejected when built', () => {
    const est = exactDiagEstimator(lossFn);
    expect(() => scaleByDiagonalCurvature(est, { mode: 'adahessian', b1: 1 })).toThrow(HyperparameterError);
    expect(() => scaleByDiagonalCurvature(est, { mode: 'adahessian', hessianPower: 2 })).toThrow(/hessianPower must be in \[0, 1\]/);
    expect(() => scaleByDiagonalCurvature(est, { mode: 'sophia', evalEveryK: 0 })).toThrow(/evalEveryK/);
  });
});
