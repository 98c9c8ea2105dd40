/**
 * Decoupled weight decay (Optax `add_decayed_weights`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { resolveOptions } from '../lib/options';
import type { EmptyState } from '../lib/combine';
import { maskLeaves } from '../lib/combine';
import type { Mask } from '../lib/combine';
import { assertNonNegative, InputError } from '../lib/errors';
import * as tree from '../lib/tree';
import type { GradientTransformation } from '../lib/types';

/**
 * Adds decoupled weight decay: `u ← u + weightDecay · θ` on the leaves selected by `mask` (all by
 * default); the others pass through. Needs params.
 *
 * @example
 * const tx = chain(scaleByAdam(), addDecayedWeights(1e-4, { mask: (p) => ({ w: true, b: false }) }), scaleByLearningRate(1e-3));
 * @see Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (2019), arXiv 1711.05101.
 */
export function addDecayedWeights(weightDecay: number, options: { mask?: Mask } = {}): GradientTransformation<EmptyState> {
  const { mask } = resolveOptions('addDecayedWeights', options, { mask: undefined });
  assertNonNegative('weightDecay', weightDecay);
  return {
    init: () => ({}),
    update: (updates, _state, params) => {
      if (params === undefined) throw new InputError('addDecayedWeights needs params: update(updates, state, params)');
      tree.assertSameStructure(params, updates, { names: ['params have', 'updates have'], root: 'updates' });
      const selected = mask === undefined ? null : maskLeaves(mask, params);
      const { leaves: us, def } = tree.flatten(updates);
      const ps = tree.leaves(params);
      const out = us.map((u, i) => (selected && !selected[i] ? tf.clone(u) : tf.tidy(() => tf.add(u, tf.mul(ps[i], weightDecay)))));
      return [tree.unflatten(def, out), {}];
    },
  };
}
