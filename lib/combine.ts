/**
 * Combinators of gradient transformations (Optax's `combine.py`, `transforms/_masking.py`,
 * `_partitioning.py`, `_accumulation.py`, `_conditionality.py`, `schedules/_inject.py`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, HyperparameterError, TreeMismatchError } from './errors';
import * as tree from './tree';
import type { Extra, GradientTransformation, ScalarOrSchedule, StateTree, Tree } from './types';

/** The state of a transformation that keeps none. */
export type EmptyState = Readonly<Record<string, never>>;

/**
 * The identity transformation: updates pass through unchanged (as fresh tensors).
 *
 * @example
 * const tx = identity();
 */
export function identity(): GradientTransformation<EmptyState> {
  return {
    init: () => ({}),
    update: (updates) => [tree.clone(updates), {}],
  };
}

/**
 * Applies transformations in sequence: `chain(a, b).update = b.update ∘ a.update`. The state is the
 * array of the members' states; `extra` and `params` reach every member.
 *
 * @example
 * const tx = chain(clipByGlobalNorm(1), scaleByAdam(), scaleByLearningRate(1e-3));
 */
export function chain<S extends readonly unknown[]>(
  ...transforms: { [K in keyof S]: GradientTransformation<S[K]> }
): GradientTransformation<S> {
  const txs = transforms as readonly GradientTransformation<unknown>[];
  return {
    init: (params) => txs.map((t) => t.init(params)) as unknown as S,
    update: (updates, state, params?, extra?: Extra) => {
      const states = state as readonly unknown[];
      let current: Tree = updates;
      const newStates = txs.map((t, i) => {
        const [next, s] = t.update(current, states[i], params, extra);
        if (current !== updates) tree.dispose(current);
        current = next;
        return s;
      });
      return [current === updates ? tree.clone(updates) : current, newStates as unknown as S];
    },
  };
}

/**
 * Like {@link chain}, with each member named: the state is an object keyed by the names.
 *
 * @example
 * const tx = namedChain(['clip', clipByGlobalNorm(1)], ['adam', scaleByAdam()], ['lr', scaleByLearningRate(1e-3)]);
 */
export function namedChain(...named: readonly (readonly [string, GradientTransformation<any>])[]): GradientTransformation<Record<string, unknown>> {
  const names = named.map(([n]) => n);
  if (new Set(names).size !== names.length) throw new HyperparameterError(`namedChain: duplicate names in ${names.join(', ')}`);
  const inner = chain(...named.map(([, t]) => t));
  return {
    init: (params) => Object.fromEntries((inner.init(params) as unknown[]).map((s, i) => [names[i], s])),
    update: (updates, state, params, extra) => {
      const [out, states] = inner.update(updates, names.map((n) => state[n]), params, extra);
      return [out, Object.fromEntries((states as unknown[]).map((s, i) => [names[i], s]))];
    },
  };
}

/** A tree of labels with the params' structure; a label over a subtree applies to all its leaves. */
export type LabelTree<L> = L | readonly LabelTree<L>[] | { readonly [key: string]: LabelTree<L> };

/** A tree of booleans over the params (or a function of the params giving one): `true` where applied. */
export type Mask = LabelTree<boolean> | ((params: Tree) => LabelTree<boolean>);

/**
 * One label per leaf of `params` (in `tree.leaves` order) from a label tree or a function of the
 * params; a mismatch names the path.
 */
export function leafLabels<L extends string | boolean>(labels: LabelTree<L> | ((params: Tree) => LabelTree<L>), params: Tree, name = 'labels'): L[] {
  const lt = typeof labels === 'function' ? (labels as (p: Tree) => LabelTree<L>)(params) : labels;
  const out: L[] = [];
  const walk = (p: Tree, l: LabelTree<L>, path: string): void => {
    if (typeof l === 'string' || typeof l === 'boolean') {
      tree.leaves(p).forEach(() => out.push(l as L));
      return;
    }
    if (tree.isTensor(p)) throw new TreeMismatchError(`${path}: expected a label for a parameter tensor, got ${JSON.stringify(l)}`);
    if (Array.isArray(p)) {
      if (!Array.isArray(l) || l.length !== p.length) throw new TreeMismatchError(`${path}: expected an array of ${p.length} labels`);
      p.forEach((c, i) => walk(c, (l as readonly LabelTree<L>[])[i], `${path}[${i}]`));
      return;
    }
    const po = p as { readonly [key: string]: Tree };
    const lo = l as { readonly [key: string]: LabelTree<L> };
    for (const k of Object.keys(po).sort()) {
      if (lo === null || typeof lo !== 'object' || !(k in lo)) throw new TreeMismatchError(`${path}.${k}: missing`);
      walk(po[k], lo[k], `${path}.${k}`);
    }
  };
  walk(params, lt, name);
  return out;
}

/** The mask as one boolean per leaf of `params`. */
export function maskLeaves(mask: Mask, params: Tree): boolean[] {
  return leafLabels<boolean>(mask, params, 'mask');
}

/** Runs `inner` on the leaves at `indices` (as an array tree); other leaves come from `rest`. */
function onSubset<S>(
  inner: GradientTransformation<S>,
  indices: readonly number[],
  updates: Tree,
  state: S,
  params: Tree | undefined,
  extra: Extra | undefined,
): [tf.Tensor[], S] {
  const us = tree.leaves(updates);
  const ps = params === undefined ? undefined : tree.leaves(params);
  const [out, s] = inner.update(indices.map((i) => us[i]), state, ps && indices.map((i) => ps[i]), extra);
  return [tree.leaves(out), s];
}

/**
 * Applies `inner` only to the leaves selected by `mask`; the others pass through unchanged. The
 * inner transform sees the selected leaves as an array (and its state is over that array).
 *
 * @example
 * const tx = masked(addDecayedWeights(1e-4), (p) => ({ w: true, b: false }));
 */
export function masked<S>(inner: GradientTransformation<S>, mask: Mask): GradientTransformation<S> {
  const selectedIndices = (params: Tree) => maskLeaves(mask, params).flatMap((m, i) => (m ? [i] : []));
  return {
    init: (params) => {
      const ps = tree.leaves(params);
      return inner.init(selectedIndices(params).map((i) => ps[i]));
    },
    update: (updates, state, params, extra) => {
      const ref = params ?? updates;
      const idx = selectedIndices(ref);
      const { leaves: us, def } = tree.flatten(updates);
      const [inner_, s] = onSubset(inner, idx, updates, state, params, extra);
      const out = us.map((u) => u) as tf.Tensor[];
      const taken = new Set(idx);
      us.forEach((u, i) => (out[i] = taken.has(i) ? inner_[idx.indexOf(i)] : tf.clone(u)));
      return [tree.unflatten(def, out), s];
    },
  };
}

/**
 * Applies a different transform to each labelled part of the params (Optax's `partition`, formerly
 * `multi_transform`). `paramLabels` is a tree of labels with the params' structure, or a function
 * of the params that returns one; each label must have a transform.
 *
 * @example
 * const tx = multiTransform({ fast: adam(1e-2), slow: sgd(1e-3) }, { encoder: 'slow', head: 'fast' });
 */
export function multiTransform(
  transforms: Readonly<Record<string, GradientTransformation<any>>>,
  paramLabels: LabelTree<string> | ((params: Tree) => LabelTree<string>),
): GradientTransformation<Record<string, unknown>> {
  const groups = (params: Tree) => {
    const labels = leafLabels<string>(paramLabels, params, 'paramLabels');
    labels.forEach((l) => {
      if (!(l in transforms)) {
        throw new HyperparameterError(`multiTransform: no transform for label '${l}' (known: ${Object.keys(transforms).join(', ')})`);
      }
    });
    return Object.fromEntries(Object.keys(transforms).map((l) => [l, labels.flatMap((x, i) => (x === l ? [i] : []))]));
  };
  return {
    init: (params) => {
      const ps = tree.leaves(params);
      const g = groups(params);
      return Object.fromEntries(Object.entries(transforms).map(([l, t]) => [l, t.init(g[l].map((i) => ps[i]))]));
    },
    update: (updates, state, params, extra) => {
      const g = groups(params ?? updates);
      const { leaves: us, def } = tree.flatten(updates);
      const out: tf.Tensor[] = new Array(us.length);
      const states: Record<string, unknown> = {};
      for (const [l, t] of Object.entries(transforms)) {
        const [res, s] = onSubset(t, g[l], updates, state[l], params, extra);
        g[l].forEach((leafIndex, j) => (out[leafIndex] = res[j]));
        states[l] = s;
      }
      return [tree.unflatten(def, out), states];
    },
  };
}

/** State of {@link injectHyperparams}. */
export interface InjectHyperparamsState<S> {
  readonly count: number;
  /** The hyperparameter values used at the last step (change numeric ones between steps with {@link setHyperparams}). */
  readonly hyperparams: Readonly<Record<string, number>>;
  readonly innerState: S;
}

/**
 * Lifts numeric hyperparameters into the state, so that they can be scheduled or changed between
 * steps: `factory(hyperparams)` builds the inner transform (cheaply) at every step, with each
 * scheduled hyperparameter evaluated at the step count.
 *
 * @example
 * const tx = injectHyperparams((hp) => adam(hp.learningRate, { b1: hp.b1 }), { learningRate: cosineDecaySchedule({...}), b1: 0.9 });
 * let state = tx.init(params);
 * state = setHyperparams(state, { b1: 0.95 });
 */
export function injectHyperparams<S>(
  factory: (hyperparams: Record<string, number>) => GradientTransformation<S>,
  hyperparams: Readonly<Record<string, ScalarOrSchedule>>,
): GradientTransformation<InjectHyperparamsState<S>> {
  const scheduled = Object.entries(hyperparams).filter(([, v]) => typeof v === 'function') as [string, (t: number) => number][];
  const valuesAt = (count: number, current: Readonly<Record<string, number>>) => ({
    ...current,
    ...Object.fromEntries(scheduled.map(([k, f]) => [k, f(count)])),
  });
  const initial = Object.fromEntries(Object.entries(hyperparams).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  factory(valuesAt(0, initial)); // validates the hyperparameters when built
  return {
    init: (params) => {
      const hp = valuesAt(0, initial);
      return { count: 0, hyperparams: hp, innerState: factory(hp).init(params) };
    },
    update: (updates, state, params, extra) => {
      const hp = valuesAt(state.count, state.hyperparams);
      const [out, innerState] = factory(hp).update(updates, state.innerState, params, extra);
      return [out, { count: state.count + 1, hyperparams: hp, innerState }];
    },
  };
}

/** A copy of an {@link injectHyperparams} state with some hyperparameters changed (for the next step). */
export function setHyperparams<S>(state: InjectHyperparamsState<S>, values: Readonly<Record<string, number>>): InjectHyperparamsState<S> {
  for (const k of Object.keys(values)) {
    if (!(k in state.hyperparams)) throw new HyperparameterError(`unknown hyperparameter '${k}' (known: ${Object.keys(state.hyperparams).join(', ')})`);
  }
  return { ...state, hyperparams: { ...state.hyperparams, ...values } };
}

/** State of {@link applyIfFinite}. */
export interface ApplyIfFiniteState<S> {
  /** Consecutive non-finite steps so far. */
  readonly notfiniteCount: number;
  /** Whether the last step's updates were finite. */
  readonly lastFinite: boolean;
  /** Non-finite steps in total. */
  readonly totalNotfinite: number;
  readonly innerState: S;
}

/**
 * Skips steps whose updates are not finite: the updates become zeros and the inner state is kept,
 * unless more than `maxConsecutiveErrors` steps in a row were non-finite (then the update goes
 * through, as Optax does). Reads one boolean from the device per step.
 */
export function applyIfFinite<S>(inner: GradientTransformation<S>, maxConsecutiveErrors: number): GradientTransformation<ApplyIfFiniteState<S>> {
  assertInteger('maxConsecutiveErrors', maxConsecutiveErrors, 0);
  return {
    init: (params) => ({ notfiniteCount: 0, lastFinite: true, totalNotfinite: 0, innerState: inner.init(params) }),
    update: (updates, state, params, extra) => {
      const [out, innerState] = inner.update(updates, state.innerState, params, extra);
      const flag = tree.allFinite(out);
      const finite = flag.dataSync()[0] === 1;
      flag.dispose();
      const notfiniteCount = finite ? 0 : state.notfiniteCount + 1;
      const base = { notfiniteCount, lastFinite: finite, totalNotfinite: state.totalNotfinite + (finite ? 0 : 1) };
      if (finite || notfiniteCount > maxConsecutiveErrors) return [out, { ...base, innerState }];
      const zeros = tree.zerosLike(out);
      tree.dispose(out);
      tree.dispose(innerState as StateTree);
      return [zeros, { ...base, innerState: tree.clone(state.innerState as StateTree) as S }];
    },
  };
}

/** State of {@link multiSteps}. */
export interface MultiStepsState<S> {
  /** Micro-steps accumulated since the last inner update. */
  readonly miniStep: number;
  /** Inner updates made so far. */
  readonly gradientStep: number;
  readonly accGrads: Tree;
  readonly innerState: S;
}

/**
 * Gradient accumulation: zero updates on each of `everyK − 1` micro-steps, then the inner update on
 * the mean (or, with `useGradMean: false`, the sum) of the `everyK` accumulated gradients.
 *
 * @example
 * const tx = multiSteps(adam(1e-3), 4);   // one Adam step per 4 micro-batches
 */
export function multiSteps<S>(
  inner: GradientTransformation<S>,
  everyK: number,
  { useGradMean = true }: { useGradMean?: boolean } = {},
): GradientTransformation<MultiStepsState<S>> {
  assertInteger('everyK', everyK);
  return {
    init: (params) => ({ miniStep: 0, gradientStep: 0, accGrads: tree.zerosLike(params), innerState: inner.init(params) }),
    update: (updates, state, params, extra) => {
      const acc = tree.tidy(() =>
        useGradMean
          ? tree.map((a: tf.Tensor, g: tf.Tensor) => tf.div(tf.add(tf.mul(a, state.miniStep), g), state.miniStep + 1), state.accGrads, updates)
          : tree.add(state.accGrads, updates),
      );
      if (state.miniStep + 1 < everyK) {
        return [tree.zerosLike(updates), { miniStep: state.miniStep + 1, gradientStep: state.gradientStep, accGrads: acc, innerState: tree.clone(state.innerState as StateTree) as S }];
      }
      const [out, innerState] = inner.update(acc, state.innerState, params, extra);
      tree.dispose(acc);
      return [out, { miniStep: 0, gradientStep: state.gradientStep + 1, accGrads: tree.zerosLike(updates), innerState }];
    },
  };
}

/** True when the last {@link multiSteps} call made an inner update. */
export function hasUpdated(state: MultiStepsState<unknown>): boolean {
  return state.miniStep === 0 && state.gradientStep > 0;
}

/** Disposes every tensor in a state (or any tree); a convenience for the caller's side of ownership. */
export function disposeState(state: unknown): void {
  tree.dispose(state as StateTree);
}
