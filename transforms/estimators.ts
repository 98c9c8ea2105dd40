/**
 * Estimators of the curvature diagonal, as used by the diagonal methods (AdaHessian, Sophia) and
 * the diagonal preconditioner of CG, each beside the factory that makes it a
 * {@link DiagonalEstimator} of the params and a batch.
 *
 * - {@link hutchinsonDiag}: diag(C) ≈ mean over probes of (C z) ⊙ z, z Rademacher
 *   (Hutchinson 1989; Bekas, Kokiopoulou & Saad 2007);
 * - {@link gaussNewtonBartlettDiag}: B · mean over draws of ĝ ⊙ ĝ, ĝ the mean gradient at labels
 *   sampled from the model's softmax (Sophia-G; Liu et al. 2023, arXiv 2305.14342);
 * - `spatialAverage`: AdaHessian's averaging of a diagonal over kernel axes (Yao et al. 2021).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { hessianDiag } from '../lib/autodiff';
import { assertInteger } from '../lib/errors';
import { resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';
import { batchSize, checkObjective, residualAt } from '../lib/objective';
import { linearizationIn } from '../lib/stepContext';
import type { StepContext } from '../lib/stepContext';
import type { Objective, SupervisedBatch } from '../lib/objective';
import { broadcastTo } from '../lib/ops';
import { foldIn } from '../lib/random';
import * as tree from '../lib/tree';
import type { LossFn, PRNGKey, Tree } from '../lib/types';
import type { Curvature, CurvatureOperator } from './curvature';

/** Estimates the curvature diagonal at `params` on a batch: a tree shaped like the params. */
export type DiagonalEstimator = (params: Tree, batch: unknown, key: PRNGKey, context?: StepContext) => Tree;

/** Options of {@link hutchinsonDiag} and {@link hutchinsonEstimator}. */
export interface HutchinsonOptions {
  /** Rademacher probes z averaged per estimate (default 1; each costs one curvature product). */
  numProbes?: number;
  /** Average |(C z) ⊙ z| instead of (C z) ⊙ z (default false). */
  useAbs?: boolean;
}

const HUTCHINSON_DEFAULTS = { numProbes: 1, useAbs: false } as const satisfies Defaults<HutchinsonOptions>;

/** Options of {@link gaussNewtonBartlettDiag} and {@link gaussNewtonBartlettEstimator}. */
export interface GaussNewtonBartlettOptions {
  /** Label draws ŷ ~ softmax(f) averaged per estimate (default 1; each costs one gradient). */
  numProbes?: number;
}

const GNB_DEFAULTS = { numProbes: 1 } as const satisfies Defaults<GaussNewtonBartlettOptions>;

/**
 * Hutchinson's diagonal estimate `diag(C) ≈ (1/n) Σⱼ (C zⱼ) ⊙ zⱼ` with Rademacher probes zⱼ drawn
 * from `key`; `useAbs` returns `|(C z) ⊙ z|` averaged instead. Exact for a diagonal C.
 *
 * @see Hutchinson, "A stochastic estimator of the trace of the influence matrix" (1989).
 */
export function hutchinsonDiag(op: CurvatureOperator, params: Tree, key: PRNGKey, options: HutchinsonOptions = {}): Tree {
  const { numProbes, useAbs } = resolveOptions('hutchinsonDiag', options, HUTCHINSON_DEFAULTS);
  assertInteger('numProbes', numProbes);
  return tree.tidy(() => {
    let sum: Tree | null = null;
    for (let j = 0; j < numProbes; j++) {
      const z = tree.rademacherLike(params, foldIn(key, j));
      const cz = op.matvec(z);
      const term = tree.map((a: tf.Tensor, b: tf.Tensor) => (useAbs ? tf.abs(tf.mul(a, b)) : tf.mul(a, b)), cz, z);
      sum = sum === null ? term : tree.add(sum, term);
    }
    return tree.scale(sum as Tree, 1 / numProbes);
  });
}

/**
 * Gauss-Newton-Bartlett estimate of the GGN diagonal for softmax cross-entropy:
 * for each of `numProbes` draws ŷᵢ ~ Categorical(softmax(fᵢ)), ĝ = ∇_θ L(θ; x, ŷ) (mean loss), and
 * the estimate is `B · mean over draws of ĝ ⊙ ĝ` — unbiased for diag(Jᵀ Q J / B)·… as in Sophia-G.
 *
 * @see Liu et al., "Sophia: A Scalable Stochastic Second-order Optimizer" (2023), arXiv 2305.14342.
 */
export function gaussNewtonBartlettDiag<X>(
  objective: Objective<X>,
  params: Tree,
  batch: SupervisedBatch<X>,
  key: PRNGKey,
  options: GaussNewtonBartlettOptions = {},
  context?: StepContext,
): Tree {
  const { numProbes } = resolveOptions('gaussNewtonBartlettDiag', options, GNB_DEFAULTS);
  assertInteger('numProbes', numProbes);
  const loss = checkObjective(objective);
  // ĝ = Jᵀ r(ŷ) / B on the model linearized once (the step's shared forward pass when there is one).
  const lin = linearizationIn(context, objective, params, batch);
  try {
    return tree.tidy(() => {
      const b = batchSize(lin.outputs);
      let sum: Tree | null = null;
      for (let j = 0; j < numProbes; j++) {
        const yHat = loss.sampleTargets(lin.outputs, foldIn(key, j));
        const grads = lin.vjp(tf.div(residualAt(loss, lin.outputs, yHat), b));
        const sq = tree.mul(grads, grads);
        sum = sum === null ? sq : tree.add(sum, sq);
      }
      return tree.scale(sum as Tree, b / numProbes);
    });
  } finally {
    lin.dispose();
  }
}

/**
 * AdaHessian's spatial averaging of a diagonal estimate: the magnitudes |d| of leaves of rank 2–3
 * are averaged over their last axis, of rank 4 (conv kernels) over their last two, keeping dims
 * (then broadcast back); rank 0–1 leaves are kept.
 *
 * The magnitudes are averaged, as in the original AdaHessian (and somax 2024): somax v1 averages
 * the signed Hutchinson estimates, whose entries cancel, so the squared average can fall to ~0 and
 * the step explode (measured: a tiny tanh MLP diverged from loss 1.29 to 7.4e3 at lr 0.01).
 *
 * @see Yao et al., "ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning" (2021).
 */
export function spatialAverage(diag: Tree): Tree {
  return tree.map((d: tf.Tensor) => {
    if (d.rank <= 1) return tf.clone(d);
    const axes = d.rank === 4 ? [2, 3] : [d.rank - 1];
    return tf.tidy(() => broadcastTo(tf.mean(tf.abs(d), axes, true), d.shape));
  }, diag);
}

/**
 * Hutchinson's estimator on a curvature (see {@link hutchinsonDiag}): builds the operator on the
 * batch, estimates, disposes the operator.
 *
 * @example
 * const diagonal = hutchinsonEstimator(hessianCurvature(lossFn), { numProbes: 4 });
 */
export function hutchinsonEstimator(curvature: Curvature, options: HutchinsonOptions = {}): DiagonalEstimator {
  const resolved = resolveOptions('hutchinsonEstimator', options, HUTCHINSON_DEFAULTS);
  assertInteger('numProbes', resolved.numProbes);
  return (params, batch, key, context) => {
    const op = curvature(params, batch, key, context);
    try {
      return hutchinsonDiag(op, params, key, resolved);
    } finally {
      op.dispose();
    }
  };
}

/**
 * The Gauss-Newton-Bartlett estimator of Sophia-G (see {@link gaussNewtonBartlettDiag}).
 *
 * @example
 * const diagonal = gaussNewtonBartlettEstimator({ predict, loss: 'softmaxCrossEntropy' });
 */
export function gaussNewtonBartlettEstimator<X>(objective: Objective<X>, options: GaussNewtonBartlettOptions = {}): DiagonalEstimator {
  const resolved = resolveOptions('gaussNewtonBartlettEstimator', options, GNB_DEFAULTS);
  assertInteger('numProbes', resolved.numProbes);
  return (params, batch, key, context) => gaussNewtonBartlettDiag(objective, params, batch as SupervisedBatch<X>, key, resolved, context);
}

/**
 * The exact Hessian diagonal (P Hessian-vector products: tiny models and tests only).
 *
 * @example
 * const diagonal = exactDiagEstimator(lossFn);
 */
export function exactDiagEstimator<B>(lossFn: LossFn<B>): DiagonalEstimator {
  return (params, batch) => hessianDiag(lossFn, params, batch as B);
}
