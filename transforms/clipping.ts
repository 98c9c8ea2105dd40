/**
 * Clipping transforms (Optax `transforms/_clipping.py`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { EmptyState } from '../lib/combine';
import { assertNonNegative, assertPositive } from '../lib/errors';
import * as tree from '../lib/tree';
import type { GradientTransformation } from '../lib/types';

/**
 * Clips every update element to `[−maxDelta, maxDelta]` (Optax's `clip`).
 *
 * @example
 * const tx = chain(scaleByAdam(), clip(1), scaleByLearningRate(1e-3));
 */
export function clip(maxDelta: number): GradientTransformation<EmptyState> {
  assertPositive('maxDelta', maxDelta);
  return {
    init: () => ({}),
    update: (updates) => [tree.map((u: tf.Tensor) => tf.clipByValue(u, -maxDelta, maxDelta), updates), {}],
  };
}

/**
 * Rescales the updates so that their global norm is at most `maxNorm` (Optax's
 * `clip_by_global_norm`): `u ← u · maxNorm / max(‖u‖₂, maxNorm)`. `maxNorm = 0` is allowed, as in
 * Optax, and clips every update to zero (zeros out, also for zero updates, where Optax's formula
 * would give 0/0).
 *
 * @param maxNorm the largest global norm let through, ≥ 0.
 * @example
 * const tx = chain(clipByGlobalNorm(1), scaleByAdam(), scaleByLearningRate(1e-3));
 * @see Pascanu, Mikolov & Bengio, "On the difficulty of training RNNs" (2013).
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation<EmptyState> {
  assertNonNegative('maxNorm', maxNorm);
  return {
    init: () => ({}),
    update: (updates) => {
      if (maxNorm === 0) return [tree.zerosLike(updates), {}];
      return tree.tidy(() => {
        const factor = tf.div(maxNorm, tf.maximum(tree.l2Norm(updates), maxNorm)) as tf.Scalar;
        return [tree.scale(updates, factor), {}];
      });
    },
  };
}

/**
 * Rescales each leaf whose root-mean-square exceeds `threshold` down to it (Optax's
 * `clip_by_block_rms`): `u ← u · min(1, τ / rms(u))`.
 *
 * @example
 * const tx = chain(clipByBlockRms(1), scaleByLearningRate(1e-2));
 */
export function clipByBlockRms(threshold: number): GradientTransformation<EmptyState> {
  assertPositive('threshold', threshold);
  return {
    init: () => ({}),
    update: (updates) => [
      tree.map(
        (u: tf.Tensor) =>
          tf.tidy(() => {
            const rms = tf.sqrt(tf.mean(tf.square(u)));
            return tf.mul(u, tf.div(threshold, tf.maximum(rms, threshold)));
          }),
        updates,
      ),
      {},
    ],
  };
}
