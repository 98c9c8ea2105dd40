/**
 * Clipping transforms (Optax `transforms/_clipping.py`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { EmptyState } from '../lib/combine';
import { assertPositive } from '../lib/errors';
import * as tree from '../lib/tree';
import type { GradientTransformation } from '../lib/types';

/** Clips every update element to `[−maxDelta, maxDelta]`. */
export function clip(maxDelta: number): GradientTransformation<EmptyState> {
  assertPositive('maxDelta', maxDelta);
  return {
    init: () => ({}),
    update: (updates) => [tree.map((u: tf.Tensor) => tf.clipByValue(u, -maxDelta, maxDelta), updates), {}],
  };
}

/**
 * Rescales the updates so that their global norm is at most `maxNorm`:
 * `u ← u · maxNorm / max(‖u‖₂, maxNorm)`.
 *
 * @see Pascanu, Mikolov & Bengio, "On the difficulty of training RNNs" (2013).
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation<EmptyState> {
  assertPositive('maxNorm', maxNorm);
  return {
    init: () => ({}),
    update: (updates) =>
      tree.tidy(() => {
        const factor = tf.div(maxNorm, tf.maximum(tree.l2Norm(updates), maxNorm)) as tf.Scalar;
        return [tree.scale(updates, factor), {}];
      }),
  };
}

/** Rescales each leaf whose root-mean-square exceeds `threshold` down to it: `u ← u · min(1, τ / rms(u))`. */
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
