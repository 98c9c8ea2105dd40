/**
 * Gradient accumulation (Optax's `transforms/_accumulation.py`): {@link multiSteps} and
 * {@link hasUpdated}.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, HyperparameterError } from '../errors';
import * as tree from '../tree';
import { updateReadsOf, withReads } from '../reads';
import { resolveOptions } from '../options';
import type { Defaults } from '../options';
import type { GradientTransformation, Reads, StateTree, Tree } from '../types';
import { allFiniteReads, skipNotFinite } from './finite';

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

/** Defaults of {@link MultiStepsOptions}. */
const MULTI_STEPS_DEFAULTS = { useGradMean: true, shouldSkipUpdateFn: undefined } satisfies Defaults<MultiStepsOptions>;

/**
 * Whether to skip this micro-step, as a {@link Reads} computation: {@link skipNotFinite} exposes
 * its one boolean read (so that `makeStepAsync` fetches it first); any other function is called.
 */
function* shouldSkipReads(fn: MultiStepsOptions['shouldSkipUpdateFn'], updates: Tree, gradientStep: number, params?: Tree): Reads<boolean> {
  if (fn === undefined) return false;
  if (fn === skipNotFinite) return !(yield* allFiniteReads(updates));
  return fn(updates, gradientStep, params);
}

/** The accumulator after one more gradient: Welford's running mean `ā + (g − ā)/(n + 1)`, or the sum `ā + g`. */
function accumulate(accGrads: Tree, updates: Tree, n: number, useGradMean: boolean): Tree {
  const step = useGradMean
    ? (a: tf.Tensor, g: tf.Tensor) => tf.add(a, tf.div(tf.sub(tf.cast(g, 'float32'), a), n + 1))
    : (a: tf.Tensor, g: tf.Tensor) => tf.add(a, tf.cast(g, 'float32'));
  return tree.map((a: tf.Tensor, g: tf.Tensor) => tf.tidy(() => step(a, g)), accGrads, updates);
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
  options: MultiStepsOptions = {},
): GradientTransformation<MultiStepsState<S>> {
  const { useGradMean, shouldSkipUpdateFn } = resolveOptions('multiSteps', options, MULTI_STEPS_DEFAULTS);
  if (typeof everyK !== 'function') assertInteger('everyK', everyK);
  const kAt = (g: number): number => {
    const k = typeof everyK === 'function' ? everyK(g) : everyK;
    if (!Number.isInteger(k) || k < 1) {
      throw new HyperparameterError(`everyK must be an integer >= 1, got ${String(k)} at gradient step ${g}`);
    }
    return k;
  };
  return withReads<MultiStepsState<S>>(
    (params) => ({
      miniStep: 0,
      gradientStep: 0,
      accGrads: tree.map((p: tf.Tensor) => tf.zeros(p.shape, 'float32'), params),
      innerState: inner.init(params),
    }),
    function* (updates, state, params, extra) {
      if (yield* shouldSkipReads(shouldSkipUpdateFn, updates, state.gradientStep, params)) {
        return [tree.zerosLike(updates), tree.clone(state as unknown as StateTree) as unknown as MultiStepsState<S>];
      }
      const k = kAt(state.gradientStep);
      const n = state.miniStep;
      const acc = accumulate(state.accGrads, updates, n, useGradMean);
      if (n + 1 < k) {
        const innerState = tree.clone(state.innerState as StateTree) as S;
        return [tree.zerosLike(updates), { miniStep: n + 1, gradientStep: state.gradientStep, accGrads: acc, innerState }];
      }
      let result: [Tree, S];
      try {
        result = yield* updateReadsOf(inner, acc, state.innerState, params, extra);
      } finally {
        tree.dispose(acc);
      }
      const [out, innerState] = result;
      return [out, { miniStep: 0, gradientStep: state.gradientStep + 1, accGrads: tree.zerosLike(state.accGrads), innerState }];
    },
  );
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
