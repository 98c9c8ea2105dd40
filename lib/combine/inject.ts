/**
 * Hyperparameters in the state (Optax's `schedules/_inject.py`): {@link injectHyperparams} and
 * {@link setHyperparams}.
 * @module
 */
import { HyperparameterError } from '../errors';
import { updateReadsOf, withReads } from '../reads';
import type { GradientTransformation, ScalarOrSchedule, Schedule } from '../types';

/** State of {@link injectHyperparams}. */
export interface InjectHyperparamsState<S> {
  /** Updates made so far; schedules are evaluated at this count. */
  readonly count: number;
  /** The hyperparameter values used at the last step (change numeric ones between steps with {@link setHyperparams}). */
  readonly hyperparams: Readonly<Record<string, number>>;
  /** The state of the wrapped transform. */
  readonly innerState: S;
}

/** `v` if it is a finite number, else a {@link HyperparameterError} naming `what`. */
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
  return withReads<InjectHyperparamsState<S>>(
    (params) => {
      const hp = valuesAt(0, initial);
      return { count: 0, hyperparams: hp, innerState: factory(hp).init(params) };
    },
    function* (updates, state, params, extra) {
      const hp = valuesAt(state.count, state.hyperparams);
      const [out, innerState] = yield* updateReadsOf(factory(hp), updates, state.innerState, params, extra);
      return [out, { count: state.count + 1, hyperparams: hp, innerState }];
    },
  );
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
    if (!(k in state.hyperparams))
      throw new HyperparameterError(`unknown hyperparameter '${k}' (known: ${Object.keys(state.hyperparams).join(', ')})`);
    assertFiniteNumber(`hyperparameter '${k}'`, v);
  }
  return { ...state, hyperparams: { ...state.hyperparams, ...values } };
}
