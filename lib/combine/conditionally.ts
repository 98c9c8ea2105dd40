/**
 * Step-conditional transforms (Optax's `transforms/_conditionality.py`):
 * {@link conditionallyTransform} and {@link conditionallyMask}.
 * @module
 */
import { HyperparameterError } from '../errors';
import * as tree from '../tree';
import { updateReadsOf, withReads } from '../reads';
import { resolveOptions } from '../options';
import type { Defaults } from '../options';
import type { Extra, GradientTransformation, StateTree, Tree } from '../types';

/** State of {@link conditionallyTransform} and {@link conditionallyMask}. */
export interface ConditionallyTransformState<S> {
  /** Calls of `update` so far (the argument of the condition). */
  readonly step: number;
  /** The state of the wrapped transform. */
  readonly innerState: S;
}

/** The condition of {@link conditionallyTransform}: step count (and, if asked, the extra args) → apply? */
export type ConditionFn = (step: number, extra?: Extra) => boolean;

/** Options of {@link conditionallyTransform} and {@link conditionallyMask}. */
export interface ConditionallyTransformOptions {
  /** Also pass the step's `extra` to the condition (default false). */
  forwardExtraArgs?: boolean;
}

/** Defaults of {@link ConditionallyTransformOptions}. */
const CONDITIONALLY_DEFAULTS = { forwardExtraArgs: false } satisfies Defaults<ConditionallyTransformOptions>;

/** The wrapper of both: `inner` where the condition holds, `rejected(updates)` elsewhere. */
function conditionally<S>(
  owner: string,
  inner: GradientTransformation<S>,
  shouldTransformFn: ConditionFn,
  options: ConditionallyTransformOptions | undefined,
  rejected: (updates: Tree) => Tree,
): GradientTransformation<ConditionallyTransformState<S>> {
  const { forwardExtraArgs } = resolveOptions(owner, options, CONDITIONALLY_DEFAULTS);
  if (typeof shouldTransformFn !== 'function') throw new HyperparameterError('shouldTransformFn must be a function step → boolean');
  return withReads<ConditionallyTransformState<S>>(
    (params) => ({ step: 0, innerState: inner.init(params) }),
    function* (updates, state, params, extra) {
      const go = forwardExtraArgs ? shouldTransformFn(state.step, extra ?? {}) : shouldTransformFn(state.step);
      if (go) {
        const [out, innerState] = yield* updateReadsOf(inner, updates, state.innerState, params, extra);
        return [out, { step: state.step + 1, innerState }];
      }
      return [rejected(updates), { step: state.step + 1, innerState: tree.clone(state.innerState as StateTree) as S }];
    },
  );
}

/**
 * Calls `inner` only at the steps where `shouldTransformFn(step)` is true; at other steps the
 * updates pass through unchanged and the inner state is kept (Optax's `conditionally_transform`).
 *
 * @param options `forwardExtraArgs`: also pass the step's `extra` to the condition.
 * @example
 * const tx = conditionallyTransform(clipByGlobalNorm(1), (step) => step < 100);   // clip during the first 100 steps
 */
export function conditionallyTransform<S>(
  inner: GradientTransformation<S>,
  shouldTransformFn: ConditionFn,
  options: ConditionallyTransformOptions = {},
): GradientTransformation<ConditionallyTransformState<S>> {
  return conditionally('conditionallyTransform', inner, shouldTransformFn, options, (u) => tree.clone(u));
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
  options: ConditionallyTransformOptions = {},
): GradientTransformation<ConditionallyTransformState<S>> {
  return conditionally('conditionallyMask', inner, shouldTransformFn, options, (u) => tree.zerosLike(u));
}
