/**
 * Guards against non-finite updates (Optax's `apply_if_finite`, `skip_not_finite`, and somax's
 * {@link guardNonFinite}). Their finiteness checks are {@link Reads} computations, and the inner
 * transform is called through `updateReadsOf`, so `makeStepAsync` fetches every read first.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger } from '../errors';
import { nonFiniteProbe, selectIf } from '../ops';
import * as tree from '../tree';
import { fetchScalar, runSync, updateReadsOf, withReads } from '../reads';
import { resolveOptions } from '../options';
import type { Defaults } from '../options';
import type { GradientTransformation, Reads, StateTree, Tree } from '../types';

/** Whether every entry of `t` is finite: a {@link Reads} computation (one read of {@link nonFiniteProbe}). */
export function* allFiniteReads(t: Tree): Reads<boolean> {
  return (yield* fetchScalar(() => nonFiniteProbe(tree.leaves(t)))) === 0;
}

/**
 * True when `updates` contain a NaN or an Inf: a `shouldSkipUpdateFn` of {@link multiSteps}
 * (Optax's `skip_not_finite`). Reads one boolean from the device (fetched first under
 * `makeStepAsync` when used by `multiSteps`).
 *
 * @example
 * const tx = multiSteps(adam(1e-3), 4, { shouldSkipUpdateFn: skipNotFinite });
 */
export function skipNotFinite(updates: Tree): boolean {
  return !runSync(allFiniteReads(updates));
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
 * Reads one boolean from the device per step (exposed to `makeStepAsync`, as are the inner's reads).
 *
 * @param maxConsecutiveErrors how many consecutive non-finite steps are skipped (integer ≥ 0).
 * @example
 * const tx = applyIfFinite(adam(1e-3), 5);
 */
export function applyIfFinite<S>(
  inner: GradientTransformation<S>,
  maxConsecutiveErrors: number,
): GradientTransformation<ApplyIfFiniteState<S>> {
  assertInteger('maxConsecutiveErrors', maxConsecutiveErrors, 0);
  return withReads<ApplyIfFiniteState<S>>(
    (params) => ({ notfiniteCount: 0, lastFinite: true, totalNotfinite: 0, innerState: inner.init(params) }),
    function* (updates, state, params, extra) {
      const finite = yield* allFiniteReads(updates);
      const notfiniteCount = finite ? 0 : state.notfiniteCount + 1;
      const counts = { notfiniteCount, lastFinite: finite, totalNotfinite: state.totalNotfinite + (finite ? 0 : 1) };
      if (finite || notfiniteCount > maxConsecutiveErrors) {
        const [out, innerState] = yield* updateReadsOf(inner, updates, state.innerState, params, extra);
        return [out, { ...counts, innerState }];
      }
      return [tree.zerosLike(updates), { ...counts, innerState: tree.clone(state.innerState as StateTree) as S }];
    },
  );
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

/** Defaults of {@link GuardNonFiniteOptions}. */
const GUARD_NON_FINITE_DEFAULTS = { sync: true } satisfies Defaults<GuardNonFiniteOptions>;

/** Disposes the tensors of `next` that are not tensors of `old` (a discarded state). */
function disposeFresh(next: unknown, old: unknown): void {
  const kept = new Set(tree.tensors(old as StateTree));
  for (const t of tree.tensors(next as StateTree)) if (!kept.has(t)) t.dispose();
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
export function guardNonFinite<S>(
  inner: GradientTransformation<S>,
  options: GuardNonFiniteOptions = {},
): GradientTransformation<GuardNonFiniteState<S>> {
  const { sync } = resolveOptions('guardNonFinite', options, GUARD_NON_FINITE_DEFAULTS);
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

/**
 * {@link guardNonFinite} with `sync: false`: the same selection, made on the device (the guard
 * reads nothing; the inner transform's own reads stay exposed).
 */
function guardOnDevice<S>(inner: GradientTransformation<S>): GradientTransformation<GuardNonFiniteState<S>> {
  return withReads<GuardNonFiniteState<S>>(
    (params) => ({ innerState: inner.init(params), info: { skippedSteps: tf.scalar(0, 'int32') } }),
    function* (updates, state, params, extra) {
      const [out, innerState] = yield* updateReadsOf(inner, updates, state.innerState, params, extra);
      const result = tree.tidy(() => {
        const ok = tf.equal(nonFiniteProbe([...tree.leaves(updates), ...tree.leaves(out)]), 0);
        const selected = tree.map((o: tf.Tensor) => selectIf(ok, o, tf.zerosLike(o)), out);
        const kept = selectState(ok, innerState as StateTree, state.innerState as StateTree) as S;
        const count = state.info.skippedSteps as tf.Scalar;
        return { selected, kept, skippedSteps: tf.add(count, tf.cast(tf.logicalNot(ok), 'int32')) as tf.Scalar };
      });
      tree.dispose(out);
      disposeFresh(innerState, state.innerState);
      return [result.selected, { innerState: result.kept, info: { skippedSteps: result.skippedSteps } }];
    },
  );
}
