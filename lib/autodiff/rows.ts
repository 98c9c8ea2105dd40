/**
 * Per-sample rows without forming them. The row-space solvers need, for the per-sample vectors
 * vᵢₖ = Jᵢᵀ uₖᵢ (rows of J for the output basis, per-sample gradients for the residuals), three
 * things: their Gram matrix, R v and Rᵀ w (R: the vectors as rows). Materializing R costs B·K
 * single-sample backward passes. Here, when the objective has the hooks:
 *
 * - Rᵀ w is one vector-Jacobian product of the batch outputs, R v one Jacobian-vector product;
 * - the Gram comes from the objective's {@link Objective.rowGram} hook (a model can compute it in
 *   closed form, e.g. dense layers by the per-example "delta" trick).
 *
 * Without a `rowGram` hook the rows are materialized (`jacobianRows`, `perSampleGradients`).
 *
 * @see Goodfellow, "Efficient per-example gradient computations" (2015), arXiv 1510.01799;
 *   Korbit et al., "Exact Gauss-Newton optimization" (2024), arXiv 2405.14402.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import { batchSize, checkObjective, outputBasis, residualAt } from '../objective';
import type { Linearization, Objective, SupervisedBatch } from '../objective';
import { outerGram } from '../ops';
import * as tree from '../tree';
import type { Tree } from '../types';
import { linearizationIn } from '../stepContext';
import type { StepContext } from '../stepContext';
import { linearization } from './linearize';
import { jacobianRows, perSampleGradients } from './products';

/**
 * A per-sample matrix R (`m × P`, m = B·K rows, sample-major: row i·K + k belongs to sample i) as
 * the operations row-space solvers need. Every method returns fresh tensors the caller owns.
 */
export interface SampleRows {
  /** Samples B. */
  readonly samples: number;
  /** Rows per sample K. */
  readonly rowsPerSample: number;
  /** R Rᵀ, `[m, m]`. */
  gram(): tf.Tensor2D;
  /** The per-sample diagonal blocks Rᵢ Rᵢᵀ, `[B, K, K]`. */
  blockGram(): tf.Tensor3D;
  /** R v for a tree v shaped like the params, `[m]`. */
  times(v: Tree): tf.Tensor1D;
  /** Rᵀ w for w of length m, shaped like the params. */
  transposeTimes(w: tf.Tensor): Tree;
  /** Disposes what the rows hold. */
  dispose(): void;
}

/** {@link SampleRows} of a materialized `[m, P]` matrix (rows raveled like the params `def`). */
export function materializedRows(rows: tf.Tensor2D, def: tree.TreeDef, rowsPerSample: number): SampleRows {
  return {
    samples: rows.shape[0] / rowsPerSample,
    rowsPerSample,
    gram: () => outerGram(rows),
    blockGram: () =>
      tf.tidy(() => {
        const r = tf.reshape(rows, [-1, rowsPerSample, rows.shape[1]]) as tf.Tensor3D;
        return outerGram(r);
      }),
    times: (v) => tf.tidy(() => tf.reshape(tf.matMul(rows, tf.reshape(tree.ravel(v).vector, [-1, 1])), [-1])),
    transposeTimes: (w) => tree.tidy(() => tree.unravel(def, tf.reshape(tf.matMul(tf.reshape(w, [1, -1]), rows), [-1]))),
    dispose: () => rows.dispose(),
  };
}

/** Rᵀw for host weights w (float64, sent to the device as float32), shaped like the params. */
export function transposeTimesValues(rows: SampleRows, weights: ArrayLike<number>): Tree {
  const w = tf.tensor1d(Float32Array.from(weights));
  try {
    return rows.transposeTimes(w);
  } finally {
    w.dispose();
  }
}

/** The diagonal `[K, K]` blocks of a sample-major `[B·K, B·K]` matrix, `[B, K, K]`. */
export function diagonalBlocks(gram: tf.Tensor, b: number, k: number): tf.Tensor3D {
  return tf.tidy(() => {
    const blocks = tf.transpose(tf.reshape(gram, [b, k, b, k]), [0, 2, 1, 3]); // [i, j, k, l]
    return tf.sum(tf.mul(blocks, tf.reshape(tf.eye(b), [b, b, 1, 1])), 1) as tf.Tensor3D;
  });
}

/**
 * {@link SampleRows} of the vectors vᵢₖ = Jᵢᵀ U[k, i] without forming them: the Gram from the
 * objective's {@link Objective.rowGram} hook, R v = (U[k,i] · (J v)ᵢ) from one JVP of the batch
 * outputs, Rᵀ w = Jᵀ (Σₖ wᵢₖ U[k, i]) from one VJP. `cotangents` (`[K, ...outputShape]`) is copied.
 * The products use `lin`, the model linearized at `params` on `x`, which the rows then own (made
 * here when absent).
 */
export function implicitRows<X>(
  objective: Objective<X>,
  params: Tree,
  x: X,
  cotangents: tf.Tensor,
  outputShape: readonly number[],
  lin?: Linearization,
): SampleRows {
  const hook = objective.rowGram;
  if (hook === undefined && lin?.rowGram === undefined) {
    lin?.dispose();
    throw new InputError('implicitRows needs an objective with a rowGram hook');
  }
  const [k, b] = [cotangents.shape[0], outputShape.length === 0 ? 1 : outputShape[0]];
  const c = outputShape.slice(1).reduce((p, d) => p * d, 1);
  const u = tf.clone(cotangents);
  const perSample = () => tf.reshape(u, [k, b, c]); // U[k, i, :]
  const m = b * k;
  const linear = lin ?? linearization(objective, params, { x }); // kept like u, for R v and Rᵀ w
  const gram = (): tf.Tensor2D => {
    // The linearization's own Gram reuses its forward pass; the objective's hook runs one.
    const g = linear.rowGram ? linear.rowGram(u) : (hook as NonNullable<typeof hook>).call(objective, params, x, u);
    if (g.rank !== 2 || g.shape[0] !== m || g.shape[1] !== m) {
      g.dispose();
      throw new InputError(`objective.rowGram returned shape [${g.shape.join(', ')}], expected [${m}, ${m}] (B·K = ${b}·${k})`);
    }
    return g as tf.Tensor2D;
  };
  return {
    samples: b,
    rowsPerSample: k,
    gram,
    blockGram: () => tf.tidy(() => diagonalBlocks(gram(), b, k)),
    times: (v) =>
      tf.tidy(() => {
        const jv = tf.reshape(linear.jvp(v), [1, b, c]);
        return tf.reshape(tf.transpose(tf.sum(tf.mul(perSample(), jv), -1)), [-1]) as tf.Tensor1D;
      }),
    transposeTimes: (w) =>
      tree.tidy(() => {
        const weights = tf.reshape(tf.transpose(tf.reshape(w, [b, k])), [k, b, 1]);
        return linear.vjp(tf.reshape(tf.sum(tf.mul(weights, perSample()), 0), outputShape as number[]));
      }),
    dispose: () => {
      u.dispose();
      linear.dispose();
    },
  };
}

/**
 * The rows of the output Jacobian J (`[B·C, P]`, row i·C + k = ∂fᵢₖ/∂θ) as {@link SampleRows}:
 * implicit when the objective has a {@link Objective.rowGram} hook, else materialized by
 * `jacobianRows` (B·C backward passes; `outputShape`, when known, gives their rows per sample).
 * The implicit rows take the output shape from the model's linearization.
 *
 * @example
 * const rows = jacobianSampleRows(objective, params, batch.x);
 * const jjt = rows.gram(); // [B·C, B·C]
 * const jtw = rows.transposeTimes(w); // Jᵀw, one VJP with the hook
 * rows.dispose();
 */
export function jacobianSampleRows<X>(
  objective: Objective<X>,
  params: Tree,
  x: X,
  outputShape?: readonly number[],
  context?: StepContext,
): SampleRows {
  if (objective.rowGram === undefined) {
    const rows = jacobianRows(objective, params, x);
    const c = outputShape ? outputShape.slice(1).reduce((p, d) => p * d, 1) : rows.shape[0] / batchSize(x as unknown as tf.Tensor);
    return materializedRows(rows, tree.flatten(params).def, c);
  }
  const lin = linearizationIn(context, objective, params, { x });
  const basis = outputBasis(lin.outputs);
  try {
    return implicitRows(objective, params, x, basis, lin.outputs.shape, lin);
  } finally {
    basis.dispose();
  }
}

/**
 * The per-sample loss gradients Lᵢ = ∇ℓᵢ(θ) = Jᵢᵀ rᵢ (rᵢ = ∂ℓᵢ/∂fᵢ at `targets`, default `batch.y`) as
 * {@link SampleRows} (one row per sample): implicit when the objective has a
 * {@link Objective.rowGram} hook (L Lᵀ from one backward pass with cotangents r), else
 * materialized by `perSampleGradients` (B backward passes).
 *
 * @see Goodfellow, "Efficient per-example gradient computations" (2015), arXiv 1510.01799.
 * @example
 * const l = gradientSampleRows(objective, params, batch);
 * const llt = l.gram(); // [B, B]: ⟨∇ℓᵢ, ∇ℓⱼ⟩
 * l.dispose();
 */
export function gradientSampleRows<X>(
  objective: Objective<X>,
  params: Tree,
  batch: SupervisedBatch<X>,
  targets: tf.Tensor = batch.y,
  context?: StepContext,
): SampleRows {
  const loss = checkObjective(objective);
  if (objective.rowGram === undefined)
    return materializedRows(perSampleGradients(objective, params, batch, targets), tree.flatten(params).def, 1);
  // The residuals come from the linearization's outputs (one forward pass for both).
  const lin = linearizationIn(context, objective, params, batch);
  let residuals: tf.Tensor;
  try {
    residuals = tf.tidy(() => tf.expandDims(residualAt(loss, lin.outputs, targets), 0));
  } catch (err) {
    lin.dispose();
    throw err;
  }
  try {
    return implicitRows(objective, params, batch.x, residuals, lin.outputs.shape, lin);
  } finally {
    residuals.dispose();
  }
}

/**
 * The row Gram matrix `J Jᵀ` (`m × m`, m = B·C, sample-major) of the model outputs on a batch, in
 * float64 — the matrix that row-space (Woodbury) solvers factor. Uses the objective's
 * {@link Objective.rowGram} hook when it has one (closed form, e.g. for dense layers), else the Jacobian
 * rows (B·C backward passes).
 *
 * @see Korbit et al., "Exact Gauss-Newton optimization" (2024), arXiv 2405.14402.
 * @example
 * const jjt = rowGram(objective, params, x); // Float64Array, (B·C)²
 */
export function rowGram<X>(objective: Objective<X>, params: Tree, x: X): Float64Array {
  const rows = jacobianSampleRows(objective, params, x);
  try {
    return Float64Array.from(tree.readValues(() => rows.gram()));
  } finally {
    rows.dispose();
  }
}
