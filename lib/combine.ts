/**
 * Combinators of gradient transformations (Optax's `combine.py`, `transforms/_masking.py`,
 * `_partitioning.py`, `_accumulation.py`, `_conditionality.py`, `schedules/_inject.py`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, HyperparameterError, InputError, TreeMismatchError } from './errors';
import * as tree from './tree';
import { fetchScalar, runSync, updateReadsOf, withReads } from './reads';
import type { Extra, GradientTransformation, Reads, ScalarOrSchedule, Schedule, StateTree, Tree } from './types';

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
  return withReads(
    (params) => txs.map((t) => t.init(params)) as unknown as S,
    function* (updates, state, params?, extra?: Extra) {
      const states = state as readonly unknown[];
      let current: Tree = updates;
      const newStates: unknown[] = [];
      for (let i = 0; i < txs.length; i++) {
        const [next, s] = yield* updateReadsOf(txs[i], current, states[i], params, extra);
        if (current !== updates) tree.dispose(current);
        current = next;
        newStates.push(s);
      }
      return [current === updates ? tree.clone(updates) : current, newStates as unknown as S];
    },
  );
}

/** State of {@link namedChain}: each member's state under its name. */
export type NamedChainState = Readonly<Record<string, unknown>>;

/**
 * Like {@link chain}, with each member named: `namedChain([n₁, a], [n₂, b]).update = b.update ∘
 * a.update`, and the state is an object keyed by the names (`state.adam.mu`, ...), which is easier
 * to inspect than {@link chain}'s array.
 *
 * @param named `[name, transform]` pairs; names must be distinct.
 * @example
 * const tx = namedChain(['clip', clipByGlobalNorm(1)], ['adam', scaleByAdam()], ['lr', scaleByLearningRate(1e-3)]);
 * const state = tx.init(params);   // { clip: {...}, adam: {...}, lr: {...} }
 */
export function namedChain(...named: readonly (readonly [string, GradientTransformation<any>])[]): GradientTransformation<NamedChainState> {
  named.forEach((entry, i) => {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1]?.update !== 'function') {
      throw new HyperparameterError(`namedChain: argument ${i} must be a [name, transform] pair`);
    }
  });
  const names = named.map(([n]) => n);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new HyperparameterError(`namedChain: duplicate name '${duplicate}' in ${names.join(', ')}`);
  const inner = chain(...named.map(([, t]) => t));
  return {
    init: (params) => Object.fromEntries((inner.init(params) as unknown[]).map((s, i) => [names[i], s])),
    update: (updates, state, params, extra) => {
      for (const n of names) {
        if (state === null || typeof state !== 'object' || !(n in state)) {
          throw new InputError(`namedChain: the state has no entry '${n}' (expected keys: ${names.join(', ')})`);
        }
      }
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
 * params. A label (string or boolean) may stand for a whole subtree (Optax's tree prefix); any
 * other mismatch throws a {@link TreeMismatchError} naming the path.
 *
 * @example
 * leafLabels({ enc: 'slow', head: { w: 'fast', b: 'slow' } }, params)   // ['slow', 'slow', 'fast', ...]
 */
export function leafLabels<L extends string | boolean>(labels: LabelTree<L> | ((params: Tree) => LabelTree<L>), params: Tree, name = 'labels'): L[] {
  const lt = typeof labels === 'function' ? (labels as (p: Tree) => LabelTree<L>)(params) : labels;
  const out: L[] = [];
  const show = (l: unknown) => JSON.stringify(l) ?? String(l);
  const walk = (p: Tree, l: LabelTree<L>, path: string): void => {
    if (typeof l === 'string' || typeof l === 'boolean') {
      tree.leaves(p).forEach(() => out.push(l as L));
      return;
    }
    if (tree.isTensor(p)) throw new TreeMismatchError(`${path}: expected a label for a parameter tensor, got ${show(l)}`);
    if (Array.isArray(p)) {
      if (!Array.isArray(l) || l.length !== p.length) throw new TreeMismatchError(`${path}: expected an array of ${p.length} labels, got ${show(l)}`);
      p.forEach((c, i) => walk(c, (l as readonly LabelTree<L>[])[i], `${path}[${i}]`));
      return;
    }
    if (l === null || typeof l !== 'object' || Array.isArray(l)) {
      throw new TreeMismatchError(`${path}: expected labels for an object, got ${show(l)}`);
    }
    const po = p as { readonly [key: string]: Tree };
    const lo = l as { readonly [key: string]: LabelTree<L> };
    const extraKey = Object.keys(lo).find((k) => !(k in po));
    if (extraKey !== undefined) throw new TreeMismatchError(`${path}.${extraKey}: a label for a parameter that does not exist`);
    for (const k of Object.keys(po).sort()) {
      if (!(k in lo)) throw new TreeMismatchError(`${path}.${k}: missing`);
      walk(po[k], lo[k], `${path}.${k}`);
    }
  };
  walk(params, lt, name);
  return out;
}

/**
 * The mask as one boolean per leaf of `params` (see {@link leafLabels}).
 *
 * @example
 * maskLeaves({ w: true, b: false }, { w, b })   // [false, true]  (leaves in sorted key order: b, w)
 */
export function maskLeaves(mask: Mask, params: Tree): boolean[] {
  const out = leafLabels<boolean>(mask, params, 'mask');
  out.forEach((m) => {
    if (typeof m !== 'boolean') throw new TreeMismatchError(`mask: expected booleans, got ${JSON.stringify(m)}`);
  });
  return out;
}

/**
 * Runs `inner` on the leaves at `indices` of `us` / `ps`, passed as an array tree; checks that it
 * returns as many leaves.
 */
function onLeaves<S>(
  who: string,
  inner: GradientTransformation<S>,
  indices: readonly number[],
  us: readonly tf.Tensor[],
  ps: readonly tf.Tensor[] | undefined,
  state: S,
  extra: Extra | undefined,
): [tf.Tensor[], S] {
  const [out, s] = inner.update(indices.map((i) => us[i]), state, ps && indices.map((i) => ps[i]), extra);
  const outLeaves = tree.leaves(out);
  if (outLeaves.length !== indices.length) {
    tree.dispose(out);
    tree.dispose(s as StateTree);
    throw new TreeMismatchError(`${who}: the inner transform returned ${outLeaves.length} leaves for ${indices.length}`);
  }
  return [outLeaves, s];
}

/** The leaves of `updates` and (checked to match) of `params`. */
function leavesOf(updates: Tree, params: Tree | undefined): { us: tf.Tensor[]; ps: tf.Tensor[] | undefined; def: tree.TreeDef } {
  if (params !== undefined) tree.assertSameStructure(params, updates, { names: ['params have', 'updates have'], root: 'updates' });
  const { leaves: us, def } = tree.flatten(updates);
  return { us, ps: params === undefined ? undefined : tree.leaves(params), def };
}

/**
 * Applies `inner` only to the leaves selected by `mask`; the other updates pass through unchanged
 * (as fresh copies): `u′ᵢ = inner(u_sel)ᵢ` where `maskᵢ`, `u′ᵢ = uᵢ` elsewhere (Optax's `masked`).
 *
 * State layout: `inner`'s own state, built over the ARRAY of the selected leaves (in `tree.leaves`
 * order of the params), so e.g. `masked(scaleByAdam(), mask)` has `mu` as an array with one tensor
 * per selected leaf. A function mask is called with the params (with the updates when `update`
 * gets no params).
 *
 * @param inner the transform to apply on the selected leaves.
 * @param mask a tree of booleans with the params' structure (a boolean may cover a subtree), or a
 *   function `params → mask`.
 * @example
 * const tx = masked(addDecayedWeights(1e-4), (p) => ({ w: true, b: false }));
 */
export function masked<S>(inner: GradientTransformation<S>, mask: Mask): GradientTransformation<S> {
  if (typeof inner?.update !== 'function') throw new HyperparameterError('masked: inner must be a GradientTransformation');
  const selected = (params: Tree) => maskLeaves(mask, params).flatMap((m, i) => (m ? [i] : []));
  return {
    init: (params) => {
      const ps = tree.leaves(params);
      return inner.init(selected(params).map((i) => ps[i]));
    },
    update: (updates, state, params, extra) => {
      const { us, ps, def } = leavesOf(updates, params);
      const idx = selected(params ?? updates);
      const [res, s] = onLeaves('masked', inner, idx, us, ps, state, extra);
      const out: (tf.Tensor | undefined)[] = us.map(() => undefined);
      idx.forEach((leaf, j) => (out[leaf] = res[j]));
      return [tree.unflatten(def, out.map((t, i) => t ?? tf.clone(us[i]))), s];
    },
  };
}

/** State of {@link multiTransform}: each label's inner state, built over the array of its leaves. */
export type MultiTransformState = Readonly<Record<string, unknown>>;

/**
 * Applies a different transform to each labelled part of the params (Optax's `partition`, formerly
 * `multi_transform`): `u′ᵢ = transforms[labelᵢ](u_label)ᵢ`.
 *
 * State layout: `{ [label]: state }`, where each label's transform sees the ARRAY of the leaves
 * with that label (in `tree.leaves` order), and its state is built over that array. Every label
 * used must have a transform (the error names the label); a transform with no leaves gets `[]`.
 *
 * @param transforms one transform per label.
 * @param paramLabels a tree of labels with the params' structure (a label may cover a subtree), or
 *   a function `params → labels`.
 * @example
 * const tx = multiTransform({ fast: adam(1e-2), slow: sgd(1e-3) }, { encoder: 'slow', head: 'fast' });
 */
export function multiTransform(
  transforms: Readonly<Record<string, GradientTransformation<any>>>,
  paramLabels: LabelTree<string> | ((params: Tree) => LabelTree<string>),
): GradientTransformation<MultiTransformState> {
  const known = Object.keys(transforms);
  known.forEach((l) => {
    if (typeof transforms[l]?.update !== 'function') throw new HyperparameterError(`multiTransform: transforms['${l}'] is not a GradientTransformation`);
  });
  const groups = (params: Tree): Record<string, number[]> => {
    const labels = leafLabels<string>(paramLabels, params, 'paramLabels');
    const out: Record<string, number[]> = Object.fromEntries(known.map((l) => [l, []]));
    labels.forEach((l, i) => {
      if (!Object.prototype.hasOwnProperty.call(transforms, String(l))) {
        throw new HyperparameterError(`multiTransform: no transform for label '${String(l)}' (known: ${known.join(', ')})`);
      }
      out[l].push(i);
    });
    return out;
  };
  return {
    init: (params) => {
      const ps = tree.leaves(params);
      const g = groups(params);
      return Object.fromEntries(known.map((l) => [l, transforms[l].init(g[l].map((i) => ps[i]))]));
    },
    update: (updates, state, params, extra) => {
      const { us, ps, def } = leavesOf(updates, params);
      const g = groups(params ?? updates);
      const out: tf.Tensor[] = new Array(us.length);
      const states: Record<string, unknown> = {};
      try {
        for (const l of known) {
          if (!(l in state)) throw new InputError(`multiTransform: the state has no entry for label '${l}'`);
          const [res, s] = onLeaves(`multiTransform['${l}']`, transforms[l], g[l], us, ps, state[l], extra);
          g[l].forEach((leaf, j) => (out[leaf] = res[j]));
          states[l] = s;
        }
      } catch (e) {
        out.forEach((t) => t?.dispose());
        tree.dispose(states as StateTree);
        throw e;
      }
      return [tree.unflatten(def, out), states];
    },
  };
}

/**
 * Optax's current name for {@link multiTransform}.
 *
 * @example
 * const tx = partition({ decay: adamw(1e-3), plain: adam(1e-3) }, (p) => labelsOf(p));
 */
export const partition = multiTransform;

/** State of {@link injectHyperparams}. */
export interface InjectHyperparamsState<S> {
  /** Updates made so far; schedules are evaluated at this count. */
  readonly count: number;
  /** The hyperparameter values used at the last step (change numeric ones between steps with {@link setHyperparams}). */
  readonly hyperparams: Readonly<Record<string, number>>;
  /** The state of the wrapped transform. */
  readonly innerState: S;
}

function assertFiniteNumber(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new HyperparameterError(`${what} must be a finite number, got ${String(v)}`);
  return v;
}

/**
 * Lifts numeric hyperparameters into the state, so that they can be scheduled or changed between
 * steps (Optax's `inject_hyperparams`). At every update the inner transform is rebuilt as
 * `factory(hp)`, with
 *
 *   `hp[k] = schedule_k(count)` for a scheduled `k`, `hp[k] = state.hyperparams[k]` otherwise,
 *
 * and the new state records the values used. A numeric hyperparameter changed with
 * {@link setHyperparams} takes effect at the next update (a scheduled one is overwritten by its
 * schedule). The factory must be cheap (a closure) and keep its state structure for every value.
 *
 * @param factory builds the inner transform from hyperparameter values; called once at construction
 *   to validate the initial values.
 * @param hyperparams each a finite number or a schedule `step → number`.
 * @example
 * const tx = injectHyperparams((hp) => sgd(hp.learningRate, { momentum: hp.momentum }), {
 *   learningRate: cosineDecaySchedule({ initValue: 0.1, decaySteps: 1000 }),
 *   momentum: 0.9,
 * });
 * let state = tx.init(params);
 * state = setHyperparams(state, { momentum: 0.95 });
 */
export function injectHyperparams<S>(
  factory: (hyperparams: Record<string, number>) => GradientTransformation<S>,
  hyperparams: Readonly<Record<string, ScalarOrSchedule>>,
): GradientTransformation<InjectHyperparamsState<S>> {
  if (typeof factory !== 'function') throw new HyperparameterError('injectHyperparams: factory must be a function hyperparams → transform');
  const scheduled: [string, Schedule][] = [];
  const initial: Record<string, number> = {};
  for (const [k, v] of Object.entries(hyperparams)) {
    if (typeof v === 'function') scheduled.push([k, v]);
    else initial[k] = assertFiniteNumber(`injectHyperparams: hyperparameter '${k}'`, v);
  }
  const valuesAt = (count: number, current: Readonly<Record<string, number>>): Record<string, number> => {
    const hp = { ...current };
    for (const [k, f] of scheduled) hp[k] = assertFiniteNumber(`injectHyperparams: schedule '${k}' at step ${count}`, f(count));
    return hp;
  };
  factory(valuesAt(0, initial)); // validates the initial hyperparameters
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

/**
 * A copy of an {@link injectHyperparams} state with some hyperparameters changed, used from the
 * next update on. The tensors are shared with `state` (not copied): pass the result to `update`
 * in place of `state`, and dispose only one of the two.
 *
 * @example
 * state = setHyperparams(state, { learningRate: 1e-4 });
 */
export function setHyperparams<S>(state: InjectHyperparamsState<S>, values: Readonly<Record<string, number>>): InjectHyperparamsState<S> {
  for (const [k, v] of Object.entries(values)) {
    if (!(k in state.hyperparams)) throw new HyperparameterError(`unknown hyperparameter '${k}' (known: ${Object.keys(state.hyperparams).join(', ')})`);
    assertFiniteNumber(`hyperparameter '${k}'`, v);
  }
  return { ...state, hyperparams: { ...state.hyperparams, ...values } };
}

/** State of {@link applyIfFinite}. */
export interface ApplyIfFiniteState<S> {
  /** Consecutive non-finite steps so far (reset to 0 by a finite step). */
  readonly notfiniteCount: number;
  /** Whether the last step's updates were finite. */
  readonly lastFinite: boolean;
  /** Non-finite steps in total (never reset). */
  readonly totalNotfinite: number;
  /** The state of the wrapped transform (kept as it was on a skipped step). */
  readonly innerState: S;
}

/**
 * Makes a transform robust to a few NaN / Inf updates (Optax's `apply_if_finite`). When the
 * INCOMING updates (gradients) contain a NaN or an Inf, the step is skipped: the output is zeros
 * and the inner state is kept (the inner transform is not called). After more than
 * `maxConsecutiveErrors` non-finite steps in a row it gives up and applies the inner update anyway:
 *
 *   `notfiniteCount ← finite(u) ? 0 : notfiniteCount + 1`,
 *   `apply = finite(u) ∨ notfiniteCount > maxConsecutiveErrors`.
 *
 * Reads one boolean from the device per step.
 *
 * @param maxConsecutiveErrors how many consecutive non-finite steps are skipped (integer ≥ 0).
 * @example
 * const tx = applyIfFinite(adam(1e-3), 5);
 */
export function applyIfFinite<S>(inner: GradientTransformation<S>, maxConsecutiveErrors: number): GradientTransformation<ApplyIfFiniteState<S>> {
  assertInteger('maxConsecutiveErrors', maxConsecutiveErrors, 0);
  return {
    init: (params) => ({ notfiniteCount: 0, lastFinite: true, totalNotfinite: 0, innerState: inner.init(params) }),
    update: (updates, state, params, extra) => {
      const finite = !skipNotFinite(updates);
      const notfiniteCount = finite ? 0 : state.notfiniteCount + 1;
      const counts = { notfiniteCount, lastFinite: finite, totalNotfinite: state.totalNotfinite + (finite ? 0 : 1) };
      if (finite || notfiniteCount > maxConsecutiveErrors) {
        const [out, innerState] = inner.update(updates, state.innerState, params, extra);
        return [out, { ...counts, innerState }];
      }
      return [tree.zerosLike(updates), { ...counts, innerState: tree.clone(state.innerState as StateTree) as S }];
    },
  };
}

/** State of {@link guardNonFinite}. */
export interface GuardNonFiniteState<S> {
  /** The state of the wrapped transform (kept as it was on a skipped step). */
  readonly innerState: S;
  /**
   * Telemetry: whether the last step was skipped and how many were (numbers), or, with
   * `sync: false`, the skipped-step count as an int32 scalar on the device.
   */
  readonly info:
    | {
        /** Whether the last step was skipped. */
        readonly skipped: boolean;
        /** Steps skipped so far. */
        readonly skippedSteps: number;
      }
    | {
        /** Steps skipped so far, as an int32 scalar on the device (`sync: false`). */
        readonly skippedSteps: tf.Scalar;
      };
}

/** Options of {@link guardNonFinite}. */
export interface GuardNonFiniteOptions {
  /**
   * true (default): read the finiteness flag on the host and skip exactly (the inner transform is
   * not even called on a non-finite gradient). false: never read — select on the device between
   * the new and the old state tensors, so that a NaN never lands, at the price of the inner
   * state's plain-number counters (step counts) advancing on a skipped step.
   */
  sync?: boolean;
}

/** Disposes the tensors of `next` that are not tensors of `old` (a discarded state). */
function disposeFresh(next: unknown, old: unknown): void {
  const kept = new Set(tree.tensors(old as StateTree));
  for (const t of tree.tensors(next as StateTree)) if (!kept.has(t)) t.dispose();
}

/** Whether every entry of `t` is finite: a {@link Reads} computation (one boolean read). */
function* allFiniteReads(t: Tree): Reads<boolean> {
  return (yield* fetchScalar(() => tf.cast(tree.allFinite(t), 'float32'))) === 1;
}

/**
 * `ok ? a : b` for a scalar boolean `ok`, with the condition broadcast by an Add: `tf.where`
 * broadcasts a scalar condition with the Tile kernel, which tfjs-backend-wasm 4.22 computes about
 * 9× slower (9.6 vs 1.1 ms for a [784, 128] select).
 */
function selectIf(ok: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.where(tf.cast(tf.add(tf.cast(ok, 'float32'), tf.zerosLike(a)), 'bool'), a, b));
}

/** `ok ? next : old`, tensor by tensor, for states of the same structure (fresh tensors). */
function selectState<T extends StateTree>(ok: tf.Tensor, next: T, old: StateTree): T {
  if (tree.isTensor(next)) {
    const same = tree.isTensor(old) && old.dtype === next.dtype && old.shape.join() === next.shape.join();
    return (same ? selectIf(ok, next, old as tf.Tensor) : tf.clone(next)) as unknown as T;
  }
  if (Array.isArray(next)) return next.map((c, i) => selectState(ok, c as StateTree, Array.isArray(old) ? old[i] : null)) as unknown as T;
  if (typeof next === 'object' && next !== null) {
    const o = (typeof old === 'object' && old !== null ? old : {}) as { [key: string]: StateTree };
    return Object.fromEntries(Object.entries(next).map(([k, c]) => [k, selectState(ok, c as StateTree, o[k] ?? null)])) as T;
  }
  return next;
}

/**
 * Never lets a NaN or an Inf reach the params or the optimizer state. A step is skipped — zero
 * updates out, the inner state kept as it was — when the incoming gradients are not all finite,
 * or when the inner transform's updates are not (a singular or indefinite system, an overflow):
 *
 *   `(u, s′) = finite(g) ∧ finite(inner(g)) ? inner(g, s) : (0, s)`.
 *
 * `info.skipped` tells which steps were skipped, `info.skippedSteps` counts them. Unlike
 * {@link applyIfFinite} it never gives up and also checks what the inner transform produced. Reads
 * one boolean from the device per step, two when the gradients are finite — or none with
 * `sync: false` (for WebGPU, where a synchronous read stalls). somax's methods use it by default;
 * pass `guardNonFinite: false` to a method to drop it.
 *
 * @example
 * const tx = guardNonFinite(chain(scaleByAdam(), scaleByLearningRate(1e-3)));
 */
export function guardNonFinite<S>(inner: GradientTransformation<S>, { sync = true }: GuardNonFiniteOptions = {}): GradientTransformation<GuardNonFiniteState<S>> {
  if (!sync) return guardOnDevice(inner);
  const skip = (updates: Tree, state: GuardNonFiniteState<S>, skippedSteps: number): [Tree, GuardNonFiniteState<S>] => [
    tree.zerosLike(updates),
    { innerState: tree.clone(state.innerState as StateTree) as S, info: { skipped: true, skippedSteps: skippedSteps + 1 } },
  ];
  return withReads<GuardNonFiniteState<S>>(
    (params) => ({ innerState: inner.init(params), info: { skipped: false, skippedSteps: 0 } }),
    function* (updates, state, params, extra) {
      const skippedSteps = state.info.skippedSteps as number;
      if (!(yield* allFiniteReads(updates))) return skip(updates, state, skippedSteps);
      const [out, innerState] = yield* updateReadsOf(inner, updates, state.innerState, params, extra);
      if (!(yield* allFiniteReads(out))) {
        tree.dispose(out);
        disposeFresh(innerState, state.innerState);
        return skip(updates, state, skippedSteps);
      }
      return [out, { innerState, info: { skipped: false, skippedSteps } }];
    },
  );
}

/** {@link guardNonFinite} with `sync: false`: the same selection, made on the device. */
function guardOnDevice<S>(inner: GradientTransformation<S>): GradientTransformation<GuardNonFiniteState<S>> {
  return {
    init: (params) => ({ innerState: inner.init(params), info: { skippedSteps: tf.scalar(0, 'int32') } }),
    update: (updates, state, params, extra) => {
      const [out, innerState] = inner.update(updates, state.innerState, params, extra);
      const result = tree.tidy(() => {
        const ok = tf.logicalAnd(tree.allFinite(updates), tree.allFinite(out));
        const selected = tree.map((o: tf.Tensor) => selectIf(ok, o, tf.zerosLike(o)), out);
        const kept = selectState(ok, innerState as StateTree, state.innerState as StateTree) as S;
        const count = state.info.skippedSteps as tf.Scalar;
        return { selected, kept, skippedSteps: tf.add(count, tf.cast(tf.logicalNot(ok), 'int32')) as tf.Scalar };
      });
      tree.dispose(out);
      disposeFresh(innerState, state.innerState);
      return [result.selected, { innerState: result.kept, info: { skippedSteps: result.skippedSteps } }];
    },
  };
}

/** State of {@link multiSteps}. */
export interface MultiStepsState<S> {
  /** Micro-steps accumulated since the last inner update. */
  readonly miniStep: number;
  /** Inner updates made so far. */
  readonly gradientStep: number;
  /** The running mean (or sum) of this cycle's gradients, float32, shaped like the params. */
  readonly accGrads: Tree;
  /** The state of the wrapped transform (advanced once per k mini-steps). */
  readonly innerState: S;
}

/** Options of {@link multiSteps}. */
export interface MultiStepsOptions {
  /** Average the accumulated gradients (default) rather than sum them. */
  useGradMean?: boolean;
  /**
   * Called on every micro-step's updates; when it returns true, the micro-step is ignored (zero
   * updates, state unchanged), as if it never happened. See {@link skipNotFinite}.
   */
  shouldSkipUpdateFn?: (updates: Tree, gradientStep: number, params?: Tree) => boolean;
}

/**
 * Gradient accumulation (Optax's `MultiSteps`): each call adds the gradient to a running mean
 * (Welford: `ā ← ā + (g − ā)/(n + 1)`) or sum; the first `k − 1` micro-steps return zero updates
 * and keep the inner state, and the `k`-th calls `inner` on the accumulated gradient and resets the
 * accumulator. With the mean, k equal micro-batches give the big-batch gradient.
 *
 * @param everyK micro-steps per inner update: an integer ≥ 1, or a function of the gradient step
 *   (Optax's `every_k_schedule`).
 * @example
 * const tx = multiSteps(adam(1e-3), 4);   // one Adam step per 4 micro-batches
 * // hasUpdated(state) tells whether the last update moved the params.
 */
export function multiSteps<S>(
  inner: GradientTransformation<S>,
  everyK: number | ((gradientStep: number) => number),
  { useGradMean = true, shouldSkipUpdateFn }: MultiStepsOptions = {},
): GradientTransformation<MultiStepsState<S>> {
  if (typeof everyK !== 'function') assertInteger('everyK', everyK);
  const kAt = (g: number): number => {
    const k = typeof everyK === 'function' ? everyK(g) : everyK;
    if (!Number.isInteger(k) || k < 1) throw new HyperparameterError(`everyK must be an integer >= 1, got ${String(k)} at gradient step ${g}`);
    return k;
  };
  return {
    init: (params) => ({
      miniStep: 0,
      gradientStep: 0,
      accGrads: tree.map((p: tf.Tensor) => tf.zeros(p.shape, 'float32'), params),
      innerState: inner.init(params),
    }),
    update: (updates, state, params, extra) => {
      if (shouldSkipUpdateFn?.(updates, state.gradientStep, params)) {
        return [tree.zerosLike(updates), tree.clone(state as unknown as StateTree) as unknown as MultiStepsState<S>];
      }
      const k = kAt(state.gradientStep);
      const n = state.miniStep;
      const acc = useGradMean
        ? tree.map((a: tf.Tensor, g: tf.Tensor) => tf.tidy(() => tf.add(a, tf.div(tf.sub(tf.cast(g, 'float32'), a), n + 1))), state.accGrads, updates)
        : tree.map((a: tf.Tensor, g: tf.Tensor) => tf.tidy(() => tf.add(a, tf.cast(g, 'float32'))), state.accGrads, updates);
      if (n + 1 < k) {
        const innerState = tree.clone(state.innerState as StateTree) as S;
        return [tree.zerosLike(updates), { miniStep: n + 1, gradientStep: state.gradientStep, accGrads: acc, innerState }];
      }
      let result: [Tree, S];
      try {
        result = inner.update(acc, state.innerState, params, extra);
      } finally {
        tree.dispose(acc);
      }
      const [out, innerState] = result;
      return [out, { miniStep: 0, gradientStep: state.gradientStep + 1, accGrads: tree.zerosLike(state.accGrads), innerState }];
    },
  };
}

/**
 * True when the last {@link multiSteps} update called the inner transform (the params moved).
 *
 * @example
 * if (hasUpdated(state)) log(loss);
 */
export function hasUpdated(state: MultiStepsState<unknown>): boolean {
  return state.miniStep === 0 && state.gradientStep > 0;
}

/**
 * True when `updates` contain a NaN or an Inf: a {@link MultiStepsOptions.shouldSkipUpdateFn}
 * (Optax's `skip_not_finite`). Reads one boolean from the device.
 *
 * @example
 * const tx = multiSteps(adam(1e-3), 4, { shouldSkipUpdateFn: skipNotFinite });
 */
export function skipNotFinite(updates: Tree): boolean {
  return !runSync(allFiniteReads(updates));
}

/** State of {@link conditionallyTransform} and {@link conditionallyMask}. */
export interface ConditionallyTransformState<S> {
  /** Calls of `update` so far (the argument of the condition). */
  readonly step: number;
  /** The state of the wrapped transform. */
  readonly innerState: S;
}

/** The condition of {@link conditionallyTransform}: step count (and, if asked, the extra args) → apply? */
export type ConditionFn = (step: number, extra?: Extra) => boolean;

function conditionally<S>(
  inner: GradientTransformation<S>,
  shouldTransformFn: ConditionFn,
  forwardExtraArgs: boolean,
  rejected: (updates: Tree) => Tree,
): GradientTransformation<ConditionallyTransformState<S>> {
  if (typeof shouldTransformFn !== 'function') throw new HyperparameterError('shouldTransformFn must be a function step → boolean');
  return {
    init: (params) => ({ step: 0, innerState: inner.init(params) }),
    update: (updates, state, params, extra) => {
      const go = forwardExtraArgs ? shouldTransformFn(state.step, extra ?? {}) : shouldTransformFn(state.step);
      if (go) {
        const [out, innerState] = inner.update(updates, state.innerState, params, extra);
        return [out, { step: state.step + 1, innerState }];
      }
      return [rejected(updates), { step: state.step + 1, innerState: tree.clone(state.innerState as StateTree) as S }];
    },
  };
}

/**
 * Calls `inner` only at the steps where `shouldTransformFn(step)` is true; at other steps the
 * updates pass through unchanged and the inner state is kept (Optax's `conditionally_transform`).
 *
 * @param forwardExtraArgs also pass the step's `extra` to the condition.
 * @example
 * const tx = conditionallyTransform(clipByGlobalNorm(1), (step) => step < 100);   // clip during the first 100 steps
 */
export function conditionallyTransform<S>(
  inner: GradientTransformation<S>,
  shouldTransformFn: ConditionFn,
  { forwardExtraArgs = false }: { forwardExtraArgs?: boolean } = {},
): GradientTransformation<ConditionallyTransformState<S>> {
  return conditionally(inner, shouldTransformFn, forwardExtraArgs, (u) => tree.clone(u));
}

/**
 * Like {@link conditionallyTransform}, but the updates become zeros at the steps where the
 * condition is false (Optax's `conditionally_mask`).
 *
 * @example
 * const tx = conditionallyMask(adam(1e-3), (step) => step % 2 === 0);   // move every other step
 */
export function conditionallyMask<S>(
  inner: GradientTransformation<S>,
  shouldTransformFn: ConditionFn,
  { forwardExtraArgs = false }: { forwardExtraArgs?: boolean } = {},
): GradientTransformation<ConditionallyTransformState<S>> {
  return conditionally(inner, shouldTransformFn, forwardExtraArgs, (u) => tree.zerosLike(u));
}

/**
 * Disposes every tensor in a state (or any tree); a convenience for the caller's side of ownership.
 *
 * @example
 * disposeState(oldState);
 */
export function disposeState(state: unknown): void {
  tree.dispose(state as StateTree);
}
