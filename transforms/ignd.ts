/**
 * IGND's direction (somax 2024): each sample's Gauss-Newton step in its own row space, averaged.
 * The direction only; its optional moments are Adam's (see `ignd`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertPositive, InputError } from '../lib/errors';
import { batchSize, checkObjective, outputsPerSample, predictOn, residualAt } from '../lib/objective';
import type { Objective, OutputLoss, SupervisedBatch } from '../lib/objective';
import { resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';
import type { StepContext } from '../lib/stepContext';
import { solveSymmetric } from '../lib/linalg';
import { fetchValues, withReads } from '../lib/reads';
import { jacobianSampleRows } from '../lib/autodiff';
import type { SampleRows } from '../lib/autodiff';
import * as tree from '../lib/tree';
import type { GradientTransformation, Reads, Tree } from '../lib/types';
import type { EmptyState } from '../lib/combine';

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
function* igndDirectionReads<X>(
  objective: Objective<X>,
  loss: OutputLoss,
  params: Tree,
  batch: SupervisedBatch<X>,
  outputDamping: number,
  context?: StepContext,
): Reads<Tree> {
  const { f, g } = tf.tidy(() => {
    // The outputs of the step's shared forward pass when there is one (a copy: disposed below).
    const f = context ? tf.clone(context.linearization(objective, params, batch).outputs) : predictOn(objective, params, batch);
    return { f, g: tf.reshape(residualAt(loss, f, batch.y), [-1]) };
  });
  let rows: SampleRows | null = null;
  try {
    const r = (rows = jacobianSampleRows(objective, params, batch.x, f.shape, context));
    const [b, c] = [batchSize(f), outputsPerSample(f)];
    const a =
      loss.name === 'meanSquaredError' && c === 1
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
function* classificationCoefficientsReads(
  blocks: () => tf.Tensor,
  f: tf.Tensor,
  g: tf.Tensor,
  loss: OutputLoss,
  outputDamping: number,
): Reads<Float32Array> {
  const [b, c] = [batchSize(f), outputsPerSample(f)];
  const values = yield* fetchValues(() => tf.concat([tf.reshape(blocks(), [-1]), g]));
  yield f; // hessianBlocks reads the outputs
  const k = Float64Array.from(values.subarray(0, b * c * c));
  return perSampleCoefficients(k, loss.hessianBlocks(f), values.subarray(b * c * c), b, c, outputDamping);
}

/** Options of {@link scaleByIgnd}. */
export interface ScaleByIgndOptions {
  /** δ of (Qᵢ + δI)⁻¹ for classification, relative to Qᵢ's largest diagonal entry (default 1e-4). */
  outputDamping?: number;
}

/** Defaults of {@link ScaleByIgndOptions}. */
export const SCALE_BY_IGND_DEFAULTS = { outputDamping: 1e-4 } as const satisfies Defaults<ScaleByIgndOptions>;

/**
 * The incremental Gauss-Newton direction: each sample's Gauss-Newton step in its own row space,
 * averaged,
 *
 *   s = (1/B) Σᵢ Jᵢᵀ (JᵢJᵢᵀ)⁻¹ (Qᵢ + δI)⁻¹ gᵢ,   gᵢ = ∂ℓᵢ/∂fᵢ,
 *
 * which for a scalar-output squared error is somax 2024's s = (1/B) Σᵢ Jᵢ rᵢ / ‖Jᵢ‖², rᵢ = fᵢ − yᵢ,
 * and for softmax cross-entropy (Qᵢ = diag(pᵢ) − pᵢpᵢᵀ, singular along 1, δ = `outputDamping`
 * relative to Qᵢ's largest diagonal entry, default 1e-4) the classification variant somax 2024
 * left unimplemented. Uses `extra.curvatureBatch` (default `extra.batch`) for J and g, not the
 * incoming updates: a summed gradient cannot give the per-sample steps. Classification reads
 * B·C² + B·C numbers to solve the C × C systems in float64.
 *
 * @example
 * const tx = chain(scaleByIgnd({ predict, loss: 'meanSquaredError' }), scaleByAdam(), scaleByLearningRate(0.1));
 * @see somax (2024) `IGND`.
 */
export function scaleByIgnd<X>(objective: Objective<X>, options: ScaleByIgndOptions = {}): GradientTransformation<EmptyState> {
  const loss = checkObjective(objective);
  const { outputDamping } = resolveOptions('scaleByIgnd', options, SCALE_BY_IGND_DEFAULTS);
  assertPositive('outputDamping', outputDamping);
  return withReads(
    () => ({}),
    function* (_updates, _state, params, extra = {}) {
      if (params === undefined) throw new InputError('scaleByIgnd needs params');
      const batch = (extra.curvatureBatch ?? extra.batch) as SupervisedBatch<X>;
      return [yield* igndDirectionReads(objective, loss, params, batch, outputDamping, extra.context), {}];
    },
  );
}
