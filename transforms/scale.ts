/**
 * Scaling transforms (Optax `transform.py`): by a constant, a learning rate, a schedule, the sign.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertFinite, assertLearningRate, HyperparameterError } from '../lib/errors';
import { resolveOptions } from '../lib/options';
import type { EmptyState } from '../lib/combine';
import * as tree from '../lib/tree';
import type { GradientTransformation, ScalarOrSchedule, Schedule } from '../lib/types';

/** State of transforms that only count steps. */
export interface CountState {
  /** Steps taken so far (schedules are evaluated at this count). */
  readonly count: number;
}

/**
 * Scales updates by a constant: `u ← step · u`.
 *
 * @example
 * const tx = scale(-0.1);   // plain SGD with learning rate 0.1
 */
export function scale(step: number): GradientTransformation<EmptyState> {
  assertFinite('step', step);
  return {
    init: () => ({}),
    update: (updates) => [tree.scale(updates, step), {}],
  };
}

/** Evaluates a number-or-schedule at a step, rejecting a non-finite value. */
function evaluate(name: string, value: ScalarOrSchedule, count: number): number {
  const v = typeof value === 'function' ? value(count) : value;
  if (!Number.isFinite(v)) throw new HyperparameterError(`${name} evaluated to ${v} at step ${count}`);
  return v;
}

/**
 * Scales updates by a schedule: `u ← s(count) · u`, count starting at 0.
 *
 * @example
 * const tx = scaleBySchedule(exponentialDecay({ initValue: 1, transitionSteps: 100, decayRate: 0.5 }));
 */
export function scaleBySchedule(stepSizeFn: Schedule): GradientTransformation<CountState> {
  if (typeof stepSizeFn !== 'function') throw new HyperparameterError('scaleBySchedule needs a function step => value');
  return {
    init: () => ({ count: 0 }),
    update: (updates, state) => {
      tree.assertFloat(updates);
      return [tree.scale(updates, evaluate('schedule', stepSizeFn, state.count)), { count: state.count + 1 }];
    },
  };
}

/**
 * Scales updates by a learning rate (a number or a schedule): `u ← −lr · u` (`flipSign`, the
 * default, makes a descent step; Optax's `scale_by_learning_rate`).
 *
 * @example
 * const tx = chain(scaleByAdam(), scaleByLearningRate(1e-3));
 */
export function scaleByLearningRate(
  learningRate: ScalarOrSchedule,
  options: { flipSign?: boolean } = {},
): GradientTransformation<CountState> {
  const { flipSign } = resolveOptions('scaleByLearningRate', options, { flipSign: true });
  assertLearningRate('learningRate', learningRate);
  const sign = flipSign ? -1 : 1;
  return {
    init: () => ({ count: 0 }),
    update: (updates, state) => {
      tree.assertFloat(updates);
      const lr = evaluate('learningRate', learningRate, state.count);
      if (lr < 0) throw new HyperparameterError(`learningRate evaluated to ${lr} < 0 at step ${state.count}`);
      return [tree.scale(updates, sign * lr), { count: state.count + 1 }];
    },
  };
}

/** Replaces updates by their sign: `u ← sign(u)` (signSGD; Bernstein et al. 2018). */
export function scaleBySign(): GradientTransformation<EmptyState> {
  return {
    init: () => ({}),
    update: (updates) => [tree.map((u: tf.Tensor) => tf.sign(u), updates), {}],
  };
}
