/**
 * Estimators of the curvature diagonal, as used by the diagonal methods (AdaHessian, Sophia).
 *
 * - {@link hutchinsonDiag}: diag(C) ≈ mean over probes of (C z) ⊙ z, z Rademacher
 *   (Hutchinson 1989; Bekas, Kokiopoulou & Saad 2007);
 * - {@link gaussNewtonBartlettDiag}: B · mean over draws of ĝ ⊙ ĝ, ĝ the mean gradient at labels
 *   sampled from the model's softmax (Sophia-G; Liu et al. 2023, arXiv 2305.14342);
 * - {@link spatialAverage}: AdaHessian's averaging of a diagonal over kernel axes (Yao et al. 2021).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { valueAndGrad } from '../lib/autodiff';
import { assertInteger } from '../lib/errors';
import { checkObjective, objectiveLoss, predictOn } from '../lib/objective';
import type { Objective, SupervisedBatch } from '../lib/objective';
import { foldIn } from '../lib/random';
import * as tree from '../lib/tree';
import type { PRNGKey, Tree } from '../lib/types';
import type { CurvatureOperator } from './curvature';

/**
 * Hutchinson's diagonal estimate `diag(C) ≈ (1/n) Σⱼ (C zⱼ) ⊙ zⱼ` with Rademacher probes zⱼ drawn
 * from `key`; `useAbs` returns `|(C z) ⊙ z|` averaged instead. Exact for a diagonal C.
 *
 * @see Hutchinson, "A stochastic estimator of the trace of the influence matrix" (1989).
 */
export function hutchinsonDiag(
  op: CurvatureOperator,
  params: Tree,
  key: PRNGKey,
  { nProbes = 1, useAbs = false }: { nProbes?: number; useAbs?: boolean } = {},
): Tree {
  assertInteger('nProbes', nProbes);
  return tree.tidy(() => {
    let sum: Tree | null = null;
    for (let j = 0; j < nProbes; j++) {
      const z = tree.rademacherLike(params, foldIn(key, j));
      const cz = op.matvec(z);
      const term = tree.map((a: tf.Tensor, b: tf.Tensor) => (useAbs ? tf.abs(tf.mul(a, b)) : tf.mul(a, b)), cz, z);
      sum = sum === null ? term : tree.add(sum, term);
    }
    return tree.scale(sum as Tree, 1 / nProbes);
  });
}

/**
 * Gauss-Newton-Bartlett estimate of the GGN diagonal for softmax cross-entropy:
 * for each of `nSamples` draws ŷᵢ ~ Categorical(softmax(fᵢ)), ĝ = ∇_θ L(θ; x, ŷ) (mean loss), and
 * the estimate is `B · mean over draws of ĝ ⊙ ĝ` — unbiased for diag(Jᵀ Q J / B)·… as in Sophia-G.
 *
 * @see Liu et al., "Sophia: A Scalable Stochastic Second-order Optimizer" (2023), arXiv 2305.14342.
 */
export function gaussNewtonBartlettDiag<X>(
  objective: Objective<X>,
  params: Tree,
  batch: SupervisedBatch<X>,
  key: PRNGKey,
  { nSamples = 1 }: { nSamples?: number } = {},
): Tree {
  assertInteger('nSamples', nSamples);
  const loss = checkObjective(objective);
  const lossFn = objectiveLoss(objective);
  return tree.tidy(() => {
    const outputs = predictOn(objective, params, batch);
    const b = outputs.shape[0];
    let sum: Tree | null = null;
    for (let j = 0; j < nSamples; j++) {
      const yHat = loss.sampleTargets(outputs, foldIn(key, j));
      const { grads } = valueAndGrad(lossFn)(params, { x: batch.x, y: yHat });
      const sq = tree.mul(grads, grads);
      sum = sum === null ? sq : tree.add(sum, sq);
    }
    return tree.scale(sum as Tree, b / nSamples);
  });
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
    // Broadcast back by an Add: tf.broadcastTo's Tile kernel is ~14× slower on wasm.
    return tf.tidy(() => tf.add(tf.mean(tf.abs(d), axes, true), tf.zerosLike(d)));
  }, diag);
}
