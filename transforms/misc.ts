/**
 * Small transforms of Optax's `transforms/`: gradient noise, non-negative params, NaN zeroing.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { EmptyState } from '../lib/combine';
import { assertFinite, assertNonNegative, InputError } from '../lib/errors';
import { foldIn, key as makeKey } from '../lib/random';
import * as tree from '../lib/tree';
import type { GradientTransformation, PRNGKey, Tree } from '../lib/types';

/** State of {@link addNoise}. */
export interface AddNoiseState {
  /** Steps taken so far (t of the variance η / (1 + t)^γ). */
  readonly count: number;
  /** Base key; step t draws its noise from `foldIn(key, t)`. */
  readonly key: PRNGKey;
}

/**
 * Adds annealed Gaussian noise: `u ← u + N(0, η / (1 + t)^γ)`, reproducible from `seed`.
 *
 * @see Neelakantan et al., "Adding Gradient Noise Improves Learning" (2015), arXiv 1511.06807.
 */
export function addNoise(eta: number, gamma: number, seed: number): GradientTransformation<AddNoiseState> {
  assertNonNegative('eta', eta);
  assertNonNegative('gamma', gamma);
  assertFinite('seed', seed);
  return {
    init: () => ({ count: 0, key: makeKey(seed) }),
    update: (updates, state) => {
      tree.assertFloat(updates);
      const std = Math.sqrt(eta / (1 + state.count) ** gamma);
      const out = tree.tidy(() => tree.axpy(std, tree.randomNormalLike(updates, foldIn(state.key, state.count)), updates));
      return [out, { count: state.count + 1, key: state.key }];
    },
  };
}

/** Modifies updates so that params stay non-negative: `u ← max(u, −θ)` (Optax `keep_params_nonnegative`). */
export function keepParamsNonnegative(): GradientTransformation<EmptyState> {
  return {
    init: () => ({}),
    update: (updates, _state, params) => {
      if (params === undefined) throw new InputError('keepParamsNonnegative needs params');
      return [
        tree.map((u: tf.Tensor, p: tf.Tensor) => tf.tidy(() => tf.where(tf.less(tf.add(p, u), 0), tf.neg(p), u)), updates, params),
        {},
      ];
    },
  };
}

/** State of {@link zeroNans}: a boolean scalar per leaf, true when that leaf had a NaN at the last step. */
export interface ZeroNansState {
  /** A boolean scalar per leaf: whether that leaf had a NaN at the last step. */
  readonly foundNan: Tree;
}

/** Replaces NaNs in the updates by zeros and records where they were found. */
export function zeroNans(): GradientTransformation<ZeroNansState> {
  return {
    init: (params) => ({ foundNan: tree.map(() => tf.scalar(false, 'bool'), params) }),
    update: (updates) =>
      tree.tidy(() => {
        const foundNan = tree.map((u: tf.Tensor) => tf.any(tf.isNaN(u)), updates);
        const out = tree.map((u: tf.Tensor) => tf.where(tf.isNaN(u), tf.zerosLike(u), u), updates);
        return [out, { foundNan }] as [Tree, ZeroNansState];
      }),
  };
}
