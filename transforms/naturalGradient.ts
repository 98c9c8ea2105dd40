/**
 * Sample-space solves of the empirical Fisher and the incremental Gauss-Newton direction (somax
 * 2024's SWM-NG and IGND), on the curvature batch.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInRange, assertNonNegative, assertPositive, InputError } from '../lib/errors';
import { batchSize, checkObjective, outputsPerSample, predictOn, residualAt } from '../lib/objective';
import type { Objective, OutputLoss, SupervisedBatch } from '../lib/objective';
import { solveSymmetric } from '../lib/linalg';
import { fetchValues, withReads } from '../lib/reads';
import { gradientSampleRows, jacobianSampleRows } from '../lib/rowGram';
import type { SampleRows } from '../lib/rowGram';
import * as tree from '../lib/tree';
import type { GradientTransformation, Reads, Tree } from '../lib/types';
import type { DirectionSolver } from './secondOrder';
import { woodburySolver } from './solvers/woodbury';
import type { WoodburyOptions, WoodburyRows } from './solvers/woodbury';

/**
 * The rows of the empirical Fisher F = (1/B) LᵀL on a batch: the per-sample loss gradients
 * Lᵢ = ∇ℓᵢ (one row per sample, no factors, no residual form), as {@link WoodburyRows}.
 *
 * @example
 * const rows = yield* fisherRowsReads(objective, params, batch);
 */
export function* fisherRowsReads<X>(objective: Objective<X>, params: Tree, batch: SupervisedBatch<X>): Reads<WoodburyRows> {
  const rows = gradientSampleRows(objective, params, batch);
  return { rows, residual: null, dispose: () => rows.dispose() };
}

/**
 * The natural-gradient direction with the empirical Fisher F = LᵀL / B (L: per-sample gradients on
 * the curvature batch, B × P) by Sherman-Morrison-Woodbury in sample space, for the g it is given:
 *
 *   s = (F + λI)⁻¹ g = (g − Lᵀ (LLᵀ + BλI)⁻¹ L g) / λ,
 *
 * a B × B solve in float64 ({@link woodburySolver} of the Fisher's rows; needs λ > 0). (somax
 * 2024's SWM-NG returns −s.) With a {@link Objective.rowGram} hook (e.g. `mlpObjective`) L is never
 * formed: Lᵢ = Jᵢᵀrᵢ (rᵢ = ∂ℓᵢ/∂fᵢ), so LLᵀ is the hook's Gram for the cotangents r (one backward
 * pass), (Lg)ᵢ = rᵢᵀ(J g)ᵢ one JVP and Lᵀa = Jᵀ(a ⊙ r) one VJP; without it L comes from B
 * per-sample backward passes.
 *
 * @example
 * const tx = scaleBySecondOrder({ solver: fisherWoodburySolver(objective), damping: constantDamping(1), tx: scale(-0.5) });
 * @see Amari (1998); Ren & Goldfarb (2019), arXiv 1906.02353; Goodfellow, "Efficient per-example
 *   gradient computations" (2015), arXiv 1510.01799.
 */
export function fisherWoodburySolver<X>(objective: Objective<X>, options: WoodburyOptions = {}): DirectionSolver<null> {
  checkObjective(objective);
  return woodburySolver((params, batch) => fisherRowsReads(objective, params, batch as SupervisedBatch<X>), options);
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
 * The IGND direction before moments: s = (1/B) Σᵢ Jᵢᵀaᵢ = (1/B) Jᵀa. Squared error (Qᵢ = I, one
 * output): aᵢ = rᵢ / ‖Jᵢ‖², all on the device. Other losses: aᵢ from {@link perSampleCoefficients},
 * with one read of the outputs, the row Gram blocks JᵢJᵢᵀ and the output gradients (yielded). With
 * a {@link Objective.rowGram} hook the blocks come from the hook and Jᵀa from one VJP; else from
 * the Jacobian rows (B·C backward passes).
 */
function* igndDirectionReads<X>(objective: Objective<X>, loss: OutputLoss, params: Tree, batch: SupervisedBatch<X>, outputDamping: number): Reads<Tree> {
  const { f, g } = tf.tidy(() => {
    const f = predictOn(objective, params, batch);
    return { f, g: tf.reshape(residualAt(loss, f, batch.y), [-1]) };
  });
  let rows: SampleRows | null = null;
  try {
    const r = (rows = jacobianSampleRows(objective, params, batch.x, f.shape));
    const [b, c] = [batchSize(f), outputsPerSample(f)];
    const a = loss.name === 'meanSquaredError' && c === 1
      ? tf.tidy(() => tf.div(g, tf.reshape(r.blockGram(), [-1])))
      : tf.tensor1d(yield* classificationCoefficientsReads(() => r.blockGram(), f, g, loss, outputDamping));
    try {
      return tree.tidy(() => tree.scale(r.transposeTimes(a), 1 / b));
    } finally {
      a.dispose();
    }
  } finally {
    rows?.dispose();
    tf.dispose([f, g]);
  }
}

/**
 * The coefficients aᵢ of {@link perSampleCoefficients} from one read of the row Gram blocks
 * JᵢJᵢᵀ and the output gradients g (yielded), and the outputs f (yielded, for Qᵢ).
 */
function* classificationCoefficientsReads(blocks: () => tf.Tensor, f: tf.Tensor, g: tf.Tensor, loss: OutputLoss, outputDamping: number): Reads<Float32Array> {
  const [b, c] = [batchSize(f), outputsPerSample(f)];
  const values = yield* fetchValues(() => tf.concat([tf.reshape(blocks(), [-1]), g]));
  yield f; // hessianBlocks reads the outputs
  const k = Float64Array.from(values.subarray(0, b * c * c));
  return perSampleCoefficients(k, loss.hessianBlocks(f), values.subarray(b * c * c), b, c, outputDamping);
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
      const t = state.count + 1;
      const s = yield* igndDirectionReads(objective, loss, params, batch, outputDamping);
      const out = tree.tidy(() => {
        const m = tree.map((mi: tf.Tensor, si: tf.Tensor) => tf.add(tf.mul(mi, beta1), tf.mul(si, 1 - beta1)), state.m, s);
        const v = tree.map((vi: tf.Tensor, si: tf.Tensor) => tf.add(tf.mul(vi, beta2), tf.mul(tf.square(si), 1 - beta2)), state.v, s);
        const mHat = tree.scale(m, 1 / (1 - beta1 ** t));
        const d = beta2 > 0 ? tree.map((a: tf.Tensor, b: tf.Tensor) => tf.div(a, tf.add(tf.sqrt(tf.div(b, 1 - beta2 ** t)), eps)), mHat, v) : mHat;
        return { d, m, v };
      });
      tree.dispose(s);
      return [out.d, { count: t, m: out.m, v: out.v }];
    },
  );
}
