/**
 * Transforms applied to part of the params (Optax's `transforms/_masking.py` and
 * `_partitioning.py`): {@link masked} and {@link multiTransform} / {@link partition}. The inner
 * transforms see the params' full structure with holes (empty objects, Optax's `MaskedNode`) in
 * place of the leaves that are not theirs, so masks nest as in Optax.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { HyperparameterError, InputError, TreeMismatchError } from '../errors';
import * as tree from '../tree';
import { updateReadsOf, withReads } from '../reads';
import type { Extra, GradientTransformation, Reads, StateTree, Tree } from '../types';
import { leafLabels, maskLeaves, withHoles } from './labels';
import type { LabelTree, Mask } from './labels';

/** The leaves of `updates` and (checked to match) of `params`. */
function leavesOf(updates: Tree, params: Tree | undefined): { us: tf.Tensor[]; def: tree.TreeDef } {
  if (params !== undefined) tree.assertSameStructure(params, updates, { names: ['params have', 'updates have'], root: 'updates' });
  const { leaves: us, def } = tree.flatten(updates);
  return { us, def };
}

/**
 * Runs `inner` on `updates` / `params` with holes where `keep` is false (a {@link Reads}
 * computation) and returns its output leaves, one per kept leaf (checked), in leaf order.
 */
function* onKept<S>(
  who: string,
  inner: GradientTransformation<S>,
  keep: readonly boolean[],
  updates: Tree,
  params: Tree | undefined,
  state: S,
  extra: Extra | undefined,
): Reads<[tf.Tensor[], S]> {
  const [out, s] = yield* updateReadsOf(inner, withHoles(updates, keep), state, params && withHoles(params, keep), extra);
  const outLeaves = tree.leaves(out);
  const kept = keep.filter(Boolean).length;
  if (outLeaves.length !== kept) {
    tree.dispose(out);
    tree.dispose(s as StateTree);
    throw new TreeMismatchError(`${who}: the inner transform returned ${outLeaves.length} leaves for ${kept}`);
  }
  return [outLeaves, s];
}

/** `results[i]` where given, else a fresh copy of `us[i]`, rebuilt with the structure `def`. */
function merge(def: tree.TreeDef, us: readonly tf.Tensor[], results: readonly (tf.Tensor | undefined)[]): Tree {
  return tree.unflatten(
    def,
    us.map((u, i) => results[i] ?? tf.clone(u)),
  );
}

/** `leaves` spread back to the positions where `keep` is true. */
function spread(keep: readonly boolean[], leaves: readonly tf.Tensor[], into: (tf.Tensor | undefined)[]): void {
  let j = 0;
  keep.forEach((k, i) => {
    if (k) into[i] = leaves[j++];
  });
}

/**
 * Applies `inner` only to the leaves selected by `mask`; the other updates pass through unchanged
 * (as fresh copies): `u′ᵢ = inner(u_sel)ᵢ` where `maskᵢ`, `u′ᵢ = uᵢ` elsewhere (Optax's `masked`).
 *
 * `inner` sees the updates and params with their full structure, the unselected leaves replaced by
 * holes (empty objects `{}`, Optax's `MaskedNode`); its state is built over that tree, so e.g.
 * `masked(scaleByAdam(), { w: true, b: false })` has `mu = { w: …, b: {} }`. Masks therefore nest
 * as in Optax (optax#271): in `masked(masked(tx, inner), outer)` the inner mask is given over the
 * FULL params and `tx` moves only the leaves both masks select. A function mask is called with the
 * params (with the updates when `update` gets no params); inside another mask it sees the holes.
 *
 * @param inner the transform to apply on the selected leaves.
 * @param mask a tree of booleans with the params' structure or a prefix of it (a boolean covers a
 *   subtree), or a function `params → mask`.
 * @example
 * const tx = masked(addDecayedWeights(1e-4), (p) => ({ w: true, b: false }));
 * const nested = masked(masked(scale(-1), { l1: true, l2: false }), (p) => ({ l1: { w: true, b: false }, l2: { w: true, b: false } }));
 */
export function masked<S>(inner: GradientTransformation<S>, mask: Mask): GradientTransformation<S> {
  if (typeof inner?.update !== 'function') throw new HyperparameterError('masked: inner must be a GradientTransformation');
  return withReads<S>(
    (params) => inner.init(withHoles(params, maskLeaves(mask, params))),
    function* (updates, state, params, extra) {
      const { us, def } = leavesOf(updates, params);
      const keep = maskLeaves(mask, params ?? updates);
      const [res, s] = yield* onKept('masked', inner, keep, updates, params, state, extra);
      const out: (tf.Tensor | undefined)[] = us.map(() => undefined);
      spread(keep, res, out);
      return [merge(def, us, out), s];
    },
  );
}

/** State of {@link multiTransform}: each label's inner state, built over the params with holes. */
export type MultiTransformState = Readonly<Record<string, unknown>>;

/**
 * Applies a different transform to each labelled part of the params (Optax's `partition`, formerly
 * `multi_transform`): `u′ᵢ = transforms[labelᵢ](u_label)ᵢ`.
 *
 * State layout: `{ [label]: state }`, where each label's transform sees the params' full structure
 * with holes (empty objects) in place of the leaves of other labels, as inside {@link masked}.
 * Every label used must have a transform (the error names the label); a transform with no leaves
 * sees only holes.
 *
 * @param transforms one transform per label.
 * @param paramLabels a tree of labels with the params' structure (a label may cover a subtree), or
 *   a function `params → labels`.
 * @example
 * const tx = multiTransform({ fast: adam(1e-2), slow: sgd(1e-3) }, { encoder: 'slow', head: 'fast' });
 */
export function multiTransform(
  transforms: Readonly<Record<string, GradientTransformation<unknown>>>,
  paramLabels: LabelTree<string> | ((params: Tree) => LabelTree<string>),
): GradientTransformation<MultiTransformState> {
  const known = Object.keys(transforms);
  known.forEach((l) => {
    if (typeof transforms[l]?.update !== 'function') {
      throw new HyperparameterError(`multiTransform: transforms['${l}'] is not a GradientTransformation`);
    }
  });
  const labelsOf = (params: Tree): string[] => {
    const labels = leafLabels<string>(paramLabels, params, 'paramLabels');
    const unknown = labels.find((l) => !Object.prototype.hasOwnProperty.call(transforms, String(l)));
    if (unknown !== undefined) {
      throw new HyperparameterError(`multiTransform: no transform for label '${String(unknown)}' (known: ${known.join(', ')})`);
    }
    return labels;
  };
  return withReads<MultiTransformState>(
    (params) => {
      const labels = labelsOf(params);
      return Object.fromEntries(
        known.map((l) => [
          l,
          transforms[l].init(
            withHoles(
              params,
              labels.map((x) => x === l),
            ),
          ),
        ]),
      );
    },
    function* (updates, state, params, extra) {
      const { us, def } = leavesOf(updates, params);
      const labels = labelsOf(params ?? updates);
      const out: (tf.Tensor | undefined)[] = us.map(() => undefined);
      const states: Record<string, unknown> = {};
      try {
        for (const l of known) {
          if (!(l in state)) throw new InputError(`multiTransform: the state has no entry for label '${l}'`);
          const keep = labels.map((x) => x === l);
          const [res, s] = yield* onKept(`multiTransform['${l}']`, transforms[l], keep, updates, params, state[l], extra);
          spread(keep, res, out);
          states[l] = s;
        }
      } catch (e) {
        out.forEach((t) => t?.dispose());
        tree.dispose(states as StateTree);
        throw e;
      }
      return [merge(def, us, out), states];
    },
  );
}

/**
 * Optax's current name for {@link multiTransform}.
 *
 * @example
 * const tx = partition({ decay: adamw(1e-3), plain: adam(1e-3) }, (p) => labelsOf(p));
 */
export const partition = multiTransform;
