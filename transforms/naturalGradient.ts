/**
 * Sample-space solves of the empirical Fisher and the incremental Gauss-Newton direction (somax
 * 2024's SWM-NG and IGND), on the curvature batch.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { jacobianRows, perSampleGradients } from '../lib/autodiff';
import { assertInRange, assertNonNegative, assertPositive, InputError } from '../lib/errors';
import { batchSize, checkObjective, outputsPerSample, predictOn } from '../lib/objective';
import type { Objective, OutputLoss, SupervisedBatch } from '../lib/objective';
import { solveSymmetric } from '../lib/linalg';
import { fetchValues, runSync, withReads } from '../lib/reads';
import * as tree from '../lib/tree';
import type { GradientTransformation, Reads, Tree } from '../lib/types';
import type { DirectionSolver, SolveProblem, SolveResult } from './secondOrder';
import { rowSpaceCholeskySolve } from './solvers';

/**
 * The natural-gradient direction with the empirical Fisher F = LᵀL / B (L: per-sample gradients on
 * the curvature batch, B × P) by Sherman-Morrison-Woodbury in sample space:
 *
 *   s = (F + λI)⁻¹ g = (g − Lᵀ (LLᵀ + BλI)⁻¹ L g) / λ,
 *
 * a B × B solve in float64. (somax 2024's SWM-NG returns −s.)
 *
 * @see Amari (1998); Ren & Goldfarb (2019), arXiv 1906.02353.
 */
export function fisherWoodburySolver<X>(objective: Objective<X>): DirectionSolver<null> {
  checkObjective(objective);
  return {
    needsOperator: false,
    initInfo: {},
    init: () => null,
    solve: (problem, state) => runSync(solveReads(problem, state)),
    solveReads,
  };
  function* solveReads(problem: SolveProblem, _state: null): Reads<SolveResult<null>> {
    if (!(problem.lam > 0)) throw new InputError('the Woodbury Fisher solve needs λ > 0');
    const { def } = tree.flatten(problem.params);
    const l = perSampleGradients(objective, problem.params, problem.batch as SupervisedBatch<X>);
    try {
      const b = l.shape[0];
      // One read: the Gram matrix LLᵀ (B × B) and Lg (B) side by side.
      const values = yield* fetchValues(() => tf.concat([tf.matMul(l, l, false, true), tf.matMul(l, tf.reshape(tree.ravel(problem.grads).vector, [-1, 1]))], 1));
      const gram = new Float64Array(b * b);
      const lg = new Float64Array(b);
      for (let i = 0; i < b; i++) {
        for (let j = 0; j < b; j++) gram[i * b + j] = values[i * (b + 1) + j];
        lg[i] = values[i * (b + 1) + b];
      }
      const a = rowSpaceCholeskySolve(gram, lg, b, b * problem.lam);
      const direction = tree.tidy(() => {
        const lta = tf.reshape(tf.matMul(tf.tensor2d(Float32Array.from(a), [1, b]), l), [-1]);
        return tree.unravel(def, tf.div(tf.sub(tree.ravel(problem.grads).vector, lta), problem.lam));
      });
      return { direction, info: {}, state: null };
    } finally {
      l.dispose();
    }
  }
}

/** State of {@link scaleByIgnd}. */
export interface ScaleByIgndState {
  /** Steps taken so far (t of the bias corrections). */
  readonly count: number;
  /** First moment of the direction (β1 momentum; zeros when beta1 = 0). */
  readonly m: Tree;
  /** Second moment of the direction (zeros when beta2 = 0). */
  readonly v: Tree;
}

/** The largest diagonal entry of an n×n block (at least 1e-30): the scale of relative shifts. */
function diagonalScale(m: Float64Array, n: number): number {
  return Math.max(...Array.from({ length: n }, (_, d) => m[d * n + d]), 1e-30);
}

/** Adds `shift` to the diagonal of an n×n block, in place. */
function shiftDiagonal(m: Float64Array, n: number, shift: number): void {
  for (let d = 0; d < n; d++) m[d * n + d] += shift;
}

/**
 * Per-sample Gauss-Newton row coefficients aᵢ = Kᵢ⁻¹ (Qᵢ + δI)⁻¹ gᵢ in float64, with Kᵢ = JᵢJᵢᵀ
 * (C × C), Qᵢ the output Hessian and gᵢ the output gradient of sample i: the minimum-norm solution
 * of JᵢᵀQᵢJᵢ sᵢ = Jᵢᵀgᵢ is sᵢ = Jᵢᵀaᵢ (for cross-entropy gᵢ ⊥ 1 = null(Qᵢ), so δ → 0 is exact).
 */
function perSampleCoefficients(k: Float64Array, q: Float64Array, g: ArrayLike<number>, b: number, c: number, delta: number): Float32Array {
  const a = new Float32Array(b * c);
  for (let i = 0; i < b; i++) {
    const qi = q.slice(i * c * c, (i + 1) * c * c);
    const gi = Array.from({ length: c }, (_, d) => g[i * c + d]);
    const qScale = diagonalScale(qi, c);
    // When Qᵢ1 = 0 (softmax), gᵢ ⊥ 1 in exact arithmetic and Qᵢ⁺gᵢ = (Qᵢ + s·11ᵀ/C)⁻¹gᵢ: centre gᵢ
    // and shift Qᵢ along 1, so that float32 rounding along its null vector is not amplified.
    const rowSums = Array.from({ length: c }, (_, r) => qi.subarray(r * c, (r + 1) * c).reduce((x, y) => x + y, 0));
    if (Math.max(...rowSums.map(Math.abs)) <= 1e-6 * qScale) {
      const mean = gi.reduce((x, y) => x + y, 0) / c;
      gi.forEach((v, d) => (gi[d] = v - mean));
      qi.forEach((v, e) => (qi[e] = v + qScale / c));
    }
    shiftDiagonal(qi, c, delta * qScale);
    const ki = k.slice(i * c * c, (i + 1) * c * c);
    shiftDiagonal(ki, c, 1e-10 * diagonalScale(ki, c));
    a.set(solveSymmetric(ki, solveSymmetric(qi, gi, c), c), i * c);
  }
  return a;
}

/**
 * The IGND direction before moments: s = (1/B) Σᵢ Jᵢᵀaᵢ. Squared error (Qᵢ = I, one output):
 * aᵢ = rᵢ / ‖Jᵢ‖², all on the device. Other losses: aᵢ from {@link perSampleCoefficients}, with one
 * read of the outputs, the row Gram blocks JᵢJᵢᵀ and the output gradients (yielded).
 */
function* igndDirectionReads<X>(objective: Objective<X>, loss: OutputLoss, params: Tree, batch: SupervisedBatch<X>, outputDamping: number): Reads<tf.Tensor> {
  const { f, j, g } = tf.tidy(() => {
    const f = predictOn(objective, params, batch);
    // Squared error takes targets shaped like the outputs; other losses take their own forms (int labels).
    const y = loss.name === 'meanSquaredError' ? tf.reshape(batch.y, f.shape) : batch.y;
    return { f, j: jacobianRows(objective, params, batch.x), g: tf.reshape(loss.residual(f, y), [-1, 1]) };
  });
  try {
    const [b, c] = [batchSize(f), outputsPerSample(f)];
    if (loss.name === 'meanSquaredError' && c === 1) {
      return tf.tidy(() => tf.reshape(tf.mean(tf.div(tf.mul(j, g), tf.sum(tf.square(j), 1, true)), 0), [-1]));
    }
    const values = yield* fetchValues(() => {
      const rows = tf.reshape(j, [b, c, -1]);
      return tf.concat([tf.reshape(tf.matMul(rows, rows, false, true), [-1]), tf.reshape(g, [-1])]);
    });
    yield f; // hessianBlocks reads the outputs
    const k = Float64Array.from(values.subarray(0, b * c * c));
    const a = perSampleCoefficients(k, loss.hessianBlocks(f), values.subarray(b * c * c), b, c, outputDamping);
    return tf.tidy(() => tf.div(tf.reshape(tf.matMul(tf.tensor2d(a, [1, b * c]), j), [-1]), b));
  } finally {
    tf.dispose([f, j, g]);
  }
}

/**
 * The incremental Gauss-Newton direction: each sample's Gauss-Newton step in its own row space,
 * averaged,
 *
 *   s = (1/B) Σᵢ Jᵢᵀ (JᵢJᵢᵀ)⁻¹ (Qᵢ + δI)⁻¹ gᵢ,   gᵢ = ∂ℓᵢ/∂fᵢ,
 *
 * which for a scalar-output squared error is somax 2024's s = (1/B) Σᵢ Jᵢ rᵢ / ‖Jᵢ‖², rᵢ = fᵢ − yᵢ,
 * and for softmax cross-entropy (Qᵢ = diag(pᵢ) − pᵢpᵢᵀ, singular along 1, δ = `outputDamping`
 * relative to Qᵢ's largest diagonal entry, default 1e-4) the classification variant somax 2024
 * left unimplemented. Optional Adam-like moments (β1 momentum, β2 second moment,
 * bias-corrected, ε = 1e-7). Uses `extra.curvatureBatch` (default `extra.batch`) for J and g;
 * classification reads B·C² + B·C numbers to solve the C × C systems in float64.
 *
 * @see somax (2024) `IGND`.
 */
export function scaleByIgnd<X>(
  objective: Objective<X>,
  { beta1 = 0, beta2 = 0, eps = 1e-7, outputDamping = 1e-4 }: { beta1?: number; beta2?: number; eps?: number; outputDamping?: number } = {},
): GradientTransformation<ScaleByIgndState> {
  const loss = checkObjective(objective);
  assertInRange('beta1', beta1, 0, 1, { hiOpen: true });
  assertInRange('beta2', beta2, 0, 1, { hiOpen: true });
  assertNonNegative('eps', eps);
  assertPositive('outputDamping', outputDamping);
  return withReads(
    (params) => ({ count: 0, m: tree.zerosLike(params), v: tree.zerosLike(params) }),
    // IGND builds its direction from the residuals, not from the incoming gradient.
    function* (_updates, state, params, extra = {}) {
      if (params === undefined) throw new InputError('scaleByIgnd needs params');
      const batch = (extra.curvatureBatch ?? extra.batch) as SupervisedBatch<X>;
      const { def } = tree.flatten(params);
      const t = state.count + 1;
      const direction = yield* igndDirectionReads(objective, loss, params, batch, outputDamping);
      const out = tree.tidy(() => {
        const s = tree.unravel(def, direction);
        direction.dispose();
        const m = tree.map((mi: tf.Tensor, si: tf.Tensor) => tf.add(tf.mul(mi, beta1), tf.mul(si, 1 - beta1)), state.m, s);
        const v = tree.map((vi: tf.Tensor, si: tf.Tensor) => tf.add(tf.mul(vi, beta2), tf.mul(tf.square(si), 1 - beta2)), state.v, s);
        const mHat = tree.scale(m, 1 / (1 - beta1 ** t));
        const d = beta2 > 0 ? tree.map((a: tf.Tensor, b: tf.Tensor) => tf.div(a, tf.add(tf.sqrt(tf.div(b, 1 - beta2 ** t)), eps)), mHat, v) : mHat;
        return { d, m, v };
      });
      return [out.d, { count: t, m: out.m, v: out.v }];
    },
  );
}
