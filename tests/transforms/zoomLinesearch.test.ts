import * as tf from '@tensorflow/tfjs-core';
import { HyperparameterError, lbfgs, makeStep, scaleByZoomLinesearch as zoom, tree } from '../../index';

/** f(z) = 100 + ½‖z‖² in float32: near z = 0 a decrease of ½‖z‖² is below the resolution of f (ulp 7.6e-6). */
const offsetQuadratic = (p: any) => tf.tidy(() => tf.add(100, tf.mul(0.5, tf.sum(tf.square(p.z))))) as tf.Scalar;

/** Optax's eggholder, in Optax's order of operations: −(y + 47)·sin(√|x/2 + y + 47|) − x·sin(√|x − (y + 47)|). */
const eggholder = (p: any) =>
  tf.tidy(() => {
    const [x, y] = tf.unstack(p.z) as tf.Tensor[];
    const a = tf.mul(tf.neg(tf.add(y, 47)), tf.sin(tf.sqrt(tf.abs(tf.add(tf.add(tf.div(x, 2), y), 47)))));
    const b = tf.mul(x, tf.sin(tf.sqrt(tf.abs(tf.sub(x, tf.add(y, 47))))));
    return tf.sub(a, b) as tf.Scalar;
  });

/** The eggholder function and its analytic gradient in float64. */
function eggholder64([x, y]: number[]): { f: number; g: number[] } {
  const w = y + 47;
  const u = x / 2 + w;
  const v = x - w;
  const su = Math.sqrt(Math.abs(u));
  const sv = Math.sqrt(Math.abs(v));
  // d/dt sin(√|t|) = cos(√|t|) · sign(t) / (2√|t|)
  const du = (Math.cos(su) * Math.sign(u)) / (2 * su);
  const dv = (Math.cos(sv) * Math.sign(v)) / (2 * sv);
  return { f: -w * Math.sin(su) - x * Math.sin(sv), g: [(-w * du) / 2 - Math.sin(sv) - x * dv, -Math.sin(su) - w * du + x * dv] };
}

/** Dense BFGS in float64 (Armijo backtracking from η = 1, pairs with sᵀy ≤ 0 skipped), to ‖g‖ ≤ 1e-12. */
function bfgs64(fg: (x: number[]) => { f: number; g: number[] }, x0: number[]): number[] {
  let x = x0.slice();
  let { f, g } = fg(x);
  let H = [
    [1, 0],
    [0, 1],
  ];
  for (let k = 0; k < 100 && Math.hypot(...g) > 1e-12; k++) {
    const p = [0, 1].map((i) => -(H[i][0] * g[0] + H[i][1] * g[1]));
    const slope = p[0] * g[0] + p[1] * g[1];
    let eta = 1;
    let next = fg([x[0] + p[0], x[1] + p[1]]);
    while (next.f > f + 1e-4 * eta * slope) {
      eta /= 2;
      next = fg([x[0] + eta * p[0], x[1] + eta * p[1]]);
    }
    const s = [eta * p[0], eta * p[1]];
    const y = [next.g[0] - g[0], next.g[1] - g[1]];
    const sy = s[0] * y[0] + s[1] * y[1];
    x = [x[0] + s[0], x[1] + s[1]];
    ({ f, g } = next);
    if (sy <= 0) continue;
    // H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ, expanded.
    const r = 1 / sy;
    const Hy = [0, 1].map((i) => H[i][0] * y[0] + H[i][1] * y[1]);
    const yHy = y[0] * Hy[0] + y[1] * Hy[1];
    H = [0, 1].map((i) => [0, 1].map((j) => H[i][j] - r * (Hy[i] * s[j] + s[i] * Hy[j]) + (r * r * yHy + r) * s[i] * s[j]));
  }
  return x;
}

const values = (t: any) => Array.from(t.dataSync() as Float32Array);

describe('scaleByZoomLinesearch near a float32 minimum (Hager–Zhang approximate Wolfe)', () => {
  test('where float32 cannot resolve the Armijo decrease, the approximate test accepts the exact minimizer η = 1 at once', () => {
    const params = { z: tf.tensor1d([1e-3, -2e-3]) };
    const direction = { z: tf.tensor1d([-1e-3, 2e-3]) };
    // Every trial gives φ(η) = φ(0) in float32, so Armijo (φ(η) ≤ φ(0) + c₁ η φ'(0), φ'(0) = −5e-6) fails at every η.
    const atZero = tree.readScalar(() => offsetQuadratic({ z: tf.zeros([2]) }));
    expect(tree.readScalar(() => offsetQuadratic(params))).toBe(atZero);
    const ls = zoom(offsetQuadratic, { maxLinesearchSteps: 20 });
    const s0 = ls.init(params);
    const before = tf.memory().numTensors;
    const [u, s1] = ls.update(direction, s0, params, { batch: null });
    // φ'(1) = 0 ≤ (2c₁ − 1) φ'(0), φ(1) ≤ φ(0) + 1e-6·|φ(0)|, |φ'(1)| ≤ c₂|φ'(0)|: accepted by the first trial.
    expect(s1.info).toMatchObject({ wolfe: true, approximateDecrease: true, stepSize: 1, numEvaluations: 1 });
    expect(s1.learningRate).toBe(1);
    values((u as any).z).forEach((v, i) => expect(v).toBeCloseTo([-1e-3, 2e-3][i], 9));
    // Only the returned update is new; the inputs are neither disposed nor changed.
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(values(params.z)).toEqual(Array.from(Float32Array.of(1e-3, -2e-3)));
    expect(values(direction.z)).toEqual(Array.from(Float32Array.of(-1e-3, 2e-3)));
    tree.dispose([params, direction, u] as any);
  });

  test('approxDecRtol: null is Armijo only: every trial fails, and the best trial (φ(η) = φ(0), the first) is taken', () => {
    const params = { z: tf.tensor1d([1e-3, -2e-3]) };
    const direction = { z: tf.tensor1d([-1e-3, 2e-3]) };
    const ls = zoom(offsetQuadratic, { maxLinesearchSteps: 6, approxDecRtol: null });
    const [u, s1] = ls.update(direction, ls.init(params), params, { batch: null });
    expect(s1.info).toMatchObject({ wolfe: false, approximateDecrease: false, numEvaluations: 6, stepSize: 1 });
    expect(s1.info.newValue).toBe(s1.info.value);
    values((u as any).z).forEach((v, i) => expect(v).toBeCloseTo([-1e-3, 2e-3][i], 9));
    tree.dispose([params, direction, u] as any);
  });

  test('when no trial meets the conditions, the lowest trial that does not raise the loss is taken (overshoot 1.95·(−∇f))', () => {
    // f = ½‖z‖², u = −1.95 z: φ(1) = ½·0.95²·5 = 2.25625 < φ(0) = 2.5, but Armijo with c₁ = 0.5 asks
    // φ(1) ≤ 2.5 − 0.5·9.75, and the approximate test φ'(1) = 9.2625 ≤ (2c₁ − 1) φ'(0) = 0:
    // both fail, and one evaluation is allowed.
    const quad = (p: any) => tf.tidy(() => tf.mul(0.5, tf.sum(tf.square(p.z)))) as tf.Scalar;
    const params = { z: tf.tensor1d([1, 2]) };
    const direction = { z: tf.tensor1d([-1.95, -3.9]) };
    const ls = zoom(quad, { maxLinesearchSteps: 1, slopeRtol: 0.5, initialGuessStrategy: 'one' });
    const [u, s1] = ls.update(direction, ls.init(params), params, { batch: null });
    expect(s1.info).toMatchObject({ wolfe: false, approximateDecrease: false, numEvaluations: 1, stepSize: 1 });
    expect(s1.info.newValue).toBeCloseTo(2.25625, 5);
    values((u as any).z).forEach((v, i) => expect(v).toBeCloseTo([-1.95, -3.9][i], 6));
    // A direction along which every trial rises is still not taken: zero step.
    const up = { z: tf.tensor1d([1, 2]) };
    const [u2, s2] = ls.update(up, ls.init(params), params, { batch: null });
    expect(s2.info.stepSize).toBe(0);
    expect(values((u2 as any).z)).toEqual([0, 0]);
    tree.dispose([params, direction, u, up, u2] as any);
  });

  test('options are checked: an unknown key names the nearest known one; approxDecRtol must be ≥ 0, Infinity or null', () => {
    const loss = offsetQuadratic;
    expect(() => zoom(loss, { maxLinesearchStep: 5 } as any)).toThrow(HyperparameterError);
    expect(() => zoom(loss, { maxLinesearchStep: 5 } as any)).toThrow(
      "unknown option 'maxLinesearchStep' for scaleByZoomLinesearch; did you mean 'maxLinesearchSteps'?",
    );
    expect(() => zoom(loss, { approxDecRtol: -1e-6 })).toThrow(/approxDecRtol/);
    expect(() => zoom(loss, { approxDecRtol: NaN })).toThrow(/approxDecRtol/);
    expect(() => zoom(loss, { approxDecRtol: Infinity })).not.toThrow();
    expect(() => zoom(loss, { approxDecRtol: 0, maxLinesearchSteps: undefined })).not.toThrow();
  });
});

describe("lbfgs on Optax's eggholder test (start (6, 6), stop at ‖∇f‖ < 1e-5)", () => {
  // The float64 local minimizer that BFGS reaches from (6, 6) (‖∇f‖ ≤ 1e-12 there): ≈ (8.4569344658, 15.6509181350).
  const reference = bfgs64(eggholder64, [6, 6]);
  // SciPy's `minimize(eggholder, [6, 6], method='BFGS').x` (finite-difference gradients; SciPy 1.17), Optax's reference.
  const scipy = [8.456977756693638, 15.650879786659658];

  test("reaches the float64 minimizer to 2e-5 and SciPy's solution within Optax's tolerance (atol = rtol = 1e-5)", () => {
    expect(Math.hypot(...eggholder64(reference).g)).toBeLessThan(1e-12);
    const tx = lbfgs(eggholder);
    const step = makeStep(tx, eggholder);
    const gradNorm = (p: any) => tree.readScalar(() => tf.norm(tf.grad((z: tf.Tensor) => eggholder({ z }))(p.z)));
    let params: any = { z: tf.tensor1d([6, 6]) };
    let state = tx.init(params);
    let iterations = 0;
    // Optax's loop (its cap is 500 iterations; before the fix every search from iteration 5 on fails and nothing moves).
    while (gradNorm(params) >= 1e-5 && iterations < 50) {
      const out = step(params, state, null);
      out.loss.dispose();
      ({ params, state } = out);
      iterations++;
    }
    const z = values(params.z);
    expect(iterations).toBeLessThan(15);
    z.forEach((v, i) => expect(Math.abs(v - reference[i])).toBeLessThan(2e-5));
    z.forEach((v, i) => expect(Math.abs(v - scipy[i])).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(scipy[i])));
    expect(Math.abs(eggholder64(z).f - eggholder64(reference).f)).toBeLessThan(1e-6);
    tree.dispose([params, state] as any);
  });

  test('50 steps (most of them at the float32 floor, where the search falls back to its best trial) leak no tensor', () => {
    const tx = lbfgs(eggholder);
    const step = makeStep(tx, eggholder);
    let params: any = { z: tf.tensor1d([6, 6]) };
    let state = tx.init(params);
    const counts: number[] = [];
    for (let i = 0; i < 50; i++) {
      const out = step(params, state, null);
      out.loss.dispose();
      ({ params, state } = out);
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    values(params.z).forEach((v, i) => expect(Math.abs(v - reference[i])).toBeLessThan(2e-5));
    tree.dispose([params, state] as any);
  });
});
