/**
 * Learning-rate (and hyperparameter) schedules: plain functions `step → value`, Optax's
 * `optax.schedules` with camelCase names and options objects, and the same values. Arguments are
 * checked when the schedule is built (a `HyperparameterError` naming the argument).
 * @module
 */
import { assertFinite, assertInRange, assertNonNegative, assertPositive, HyperparameterError } from '../lib/errors';
import { checkOptionKeys } from '../lib/options';
import type { Schedule } from '../lib/types';

/** Boundaries (steps) and scales, as `{ [step]: scale }` or `[step, scale]` pairs. */
export type BoundariesAndScales = Readonly<Record<number, number>> | readonly (readonly [number, number])[];

/** The entries sorted by boundary (later duplicates win, as in a dict), each checked. */
function sortedEntries(what: string, boundariesAndScales: BoundariesAndScales | undefined): [number, number][] {
  if (boundariesAndScales === undefined || boundariesAndScales === null) return [];
  const raw: [number, number][] = Array.isArray(boundariesAndScales)
    ? boundariesAndScales.map(([b, s]) => [Number(b), s])
    : Object.entries(boundariesAndScales).map(([b, s]) => [Number(b), s as number]);
  const byBoundary = new Map<number, number>();
  for (const [b, s] of raw) {
    assertFinite(`${what}: boundary`, b);
    assertNonNegative(`${what}: scale at boundary ${b}`, s);
    byBoundary.set(b, s);
  }
  return [...byBoundary.entries()].sort((x, y) => x[0] - y[0]);
}

/**
 * A constant schedule: `s(t) = value`.
 *
 * @example
 * constantSchedule(1e-3)(100)   // 1e-3
 */
export function constantSchedule(value: number): Schedule {
  assertFinite('value', value);
  return () => value;
}

/** Options of {@link polynomialSchedule}. */
export interface PolynomialScheduleOptions {
  /** Value at and before `transitionBegin`. */
  initValue: number;
  /** Value at and after `transitionBegin + transitionSteps`. */
  endValue: number;
  /** Exponent of the transition (1 is linear). */
  power: number;
  /** Steps of the transition; ≤ 0 gives the constant `initValue` (as in Optax). */
  transitionSteps: number;
  /** Steps before the transition starts (≥ 0; default 0). */
  transitionBegin?: number;
}

const POLYNOMIAL_SCHEDULE_KEYS: readonly (keyof PolynomialScheduleOptions)[] = [
  'initValue',
  'endValue',
  'power',
  'transitionSteps',
  'transitionBegin',
];

/**
 * Polynomial transition from `initValue` to `endValue` over `transitionSteps` steps starting at
 * `transitionBegin` (Optax's `polynomial_schedule`):
 *
 *   `s(t) = (init − end)·(1 − k/T)^power + end`,  `k = clip(t − begin, 0, T)`.
 *
 * `transitionSteps ≤ 0` gives the constant `initValue` (as in Optax); a negative `transitionBegin`
 * is rejected (Optax silently uses 0).
 *
 * @example
 * polynomialSchedule({ initValue: 1, endValue: 0.01, power: 2, transitionSteps: 100 })(50)   // 0.2575
 */
export function polynomialSchedule(options: PolynomialScheduleOptions): Schedule {
  checkOptionKeys('polynomialSchedule', options, POLYNOMIAL_SCHEDULE_KEYS);
  const { initValue, endValue, power, transitionSteps, transitionBegin = 0 } = options;
  assertFinite('initValue', initValue);
  assertFinite('endValue', endValue);
  assertFinite('power', power);
  assertFinite('transitionSteps', transitionSteps);
  assertNonNegative('transitionBegin', transitionBegin);
  if (transitionSteps <= 0) return () => initValue;
  return (t) => {
    const k = Math.min(Math.max(t - transitionBegin, 0), transitionSteps);
    return (initValue - endValue) * (1 - k / transitionSteps) ** power + endValue;
  };
}

/**
 * Linear transition from `initValue` to `endValue` over `transitionSteps` steps starting at
 * `transitionBegin`: a {@link polynomialSchedule} of power 1,
 * `s(t) = init + (end − init)·clip(t − begin, 0, T)/T`.
 *
 * @example
 * linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10 })(5)   // 0.5
 */
export function linearSchedule(options: Omit<PolynomialScheduleOptions, 'power'>): Schedule {
  checkOptionKeys(
    'linearSchedule',
    options,
    POLYNOMIAL_SCHEDULE_KEYS.filter((k) => k !== 'power'),
  );
  return polynomialSchedule({ ...options, power: 1 });
}

/**
 * Piecewise constant (Optax's `piecewise_constant_schedule`): `initValue` times the product of the
 * scales of every boundary ≤ t (scales multiply cumulatively). Scales must be ≥ 0.
 *
 * @example
 * piecewiseConstantSchedule(1, { 100: 0.1, 200: 0.1 })   // 1, then 0.1 from step 100, 0.01 from 200
 */
export function piecewiseConstantSchedule(initValue: number, boundariesAndScales?: BoundariesAndScales): Schedule {
  assertFinite('initValue', initValue);
  const entries = sortedEntries('piecewiseConstantSchedule', boundariesAndScales);
  return (t) => entries.reduce((v, [b, s]) => (t >= b ? v * s : v), initValue);
}

/** Options of {@link exponentialDecay}. */
export interface ExponentialDecayOptions {
  /** Value at and before `transitionBegin`. */
  initValue: number;
  /** Steps per factor of `decayRate`; ≤ 0 gives the constant `initValue` (as in Optax). */
  transitionSteps: number;
  /** Factor per `transitionSteps` steps (≥ 0; 0 gives the constant `initValue`, as in Optax). */
  decayRate: number;
  /** Steps before the decay starts (≥ 0; default 0). */
  transitionBegin?: number;
  /** Decay at whole multiples of `transitionSteps` only (default false). */
  staircase?: boolean;
  /** Bound of the decay: a lower bound when `decayRate < 1`, an upper bound otherwise. */
  endValue?: number;
}

const EXPONENTIAL_DECAY_KEYS: readonly (keyof ExponentialDecayOptions)[] = [
  'initValue',
  'transitionSteps',
  'decayRate',
  'transitionBegin',
  'staircase',
  'endValue',
];

/**
 * Exponential decay (Optax's `exponential_decay`):
 *
 *   `s(t) = init` for `t ≤ begin`, `init · rate^p` after, `p = (t − begin)/T` (floored with
 *   `staircase`), then clipped by `endValue` (`max` when rate < 1, `min` otherwise) at every step.
 *
 * @example
 * exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0.5 })(20)   // 0.25
 */
export function exponentialDecay(options: ExponentialDecayOptions): Schedule {
  checkOptionKeys('exponentialDecay', options, EXPONENTIAL_DECAY_KEYS);
  const { initValue, transitionSteps, decayRate, transitionBegin = 0, staircase = false, endValue } = options;
  assertFinite('initValue', initValue);
  assertFinite('transitionSteps', transitionSteps);
  assertNonNegative('decayRate', decayRate);
  assertNonNegative('transitionBegin', transitionBegin);
  if (endValue !== undefined) assertFinite('endValue', endValue);
  if (transitionSteps <= 0 || decayRate === 0) return () => initValue;
  const clip =
    endValue === undefined ? (v: number) => v : decayRate < 1 ? (v: number) => Math.max(v, endValue) : (v: number) => Math.min(v, endValue);
  return (t) => {
    const k = t - transitionBegin;
    const p = staircase ? Math.floor(k / transitionSteps) : k / transitionSteps;
    return clip(k <= 0 ? initValue : initValue * decayRate ** p);
  };
}

/** Options of {@link cosineDecaySchedule}. */
export interface CosineDecayOptions {
  /** Value at step 0. */
  initValue: number;
  /** Length of the decay (> 0). */
  decaySteps: number;
  /** The final value as a fraction of `initValue` (default 0). */
  alpha?: number;
  /** Power of the cosine factor (default 1). */
  exponent?: number;
}

const COSINE_DECAY_KEYS: readonly (keyof CosineDecayOptions)[] = ['initValue', 'decaySteps', 'alpha', 'exponent'];

/**
 * Cosine decay (Optax's `cosine_decay_schedule`):
 *
 *   `s(t) = init · ((1 − α)·(½(1 + cos(π k / T)))^exponent + α)`,  `k = min(t, T)`.
 *
 * @see Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (2017), https://arxiv.org/abs/1608.03983
 * @example
 * cosineDecaySchedule({ initValue: 1, decaySteps: 100, alpha: 0.1 })(50)   // 0.55
 */
export function cosineDecaySchedule(options: CosineDecayOptions): Schedule {
  checkOptionKeys('cosineDecaySchedule', options, COSINE_DECAY_KEYS);
  const { initValue, decaySteps, alpha = 0, exponent = 1 } = options;
  assertFinite('initValue', initValue);
  assertPositive('decaySteps', decaySteps);
  assertFinite('decaySteps', decaySteps);
  assertFinite('alpha', alpha);
  assertFinite('exponent', exponent);
  return (t) => {
    const k = Math.min(t, decaySteps);
    const cosine = 0.5 * (1 + Math.cos((Math.PI * k) / decaySteps));
    return initValue * ((1 - alpha) * cosine ** exponent + alpha);
  };
}

/**
 * Sequentially applies schedules (Optax's `join_schedules`): `schedules[i + 1]` takes over at
 * `boundaries[i]` and sees `t − boundaries[i]`:
 *
 *   `s(t) = schedules[i](t − b_{i−1})` for the last `i` with `t ≥ b_{i−1}` (`b_{−1} = 0`).
 *
 * @example
 * joinSchedules([constantSchedule(1), linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10 })], [100])
 */
export function joinSchedules(schedules: readonly Schedule[], boundaries: readonly number[]): Schedule {
  if (schedules.length === 0 || schedules.length !== boundaries.length + 1) {
    throw new HyperparameterError(
      `joinSchedules needs one more schedule than boundaries, got ${schedules.length} and ${boundaries.length}`,
    );
  }
  schedules.forEach((s, i) => {
    if (typeof s !== 'function') throw new HyperparameterError(`joinSchedules: schedules[${i}] is not a function`);
  });
  boundaries.forEach((b, i) => assertFinite(`boundaries[${i}]`, b));
  return (t) => {
    let out = schedules[0](t);
    boundaries.forEach((b, i) => {
      if (t >= b) out = schedules[i + 1](t - b);
    });
    return out;
  };
}

/**
 * Linear warmup from `initValue` to `peakValue` over `warmupSteps`, then constant (Optax's
 * `warmup_constant_schedule`): `s(t) = init + (peak − init)·min(t, W)/W`.
 *
 * @example
 * warmupConstantSchedule({ initValue: 0, peakValue: 1e-3, warmupSteps: 100 })
 */
export function warmupConstantSchedule(options: { initValue: number; peakValue: number; warmupSteps: number }): Schedule {
  checkOptionKeys('warmupConstantSchedule', options, ['initValue', 'peakValue', 'warmupSteps']);
  const { initValue, peakValue, warmupSteps } = options;
  return linearSchedule({ initValue, endValue: peakValue, transitionSteps: warmupSteps });
}

/** Options of {@link warmupCosineDecaySchedule}. */
export interface WarmupCosineDecayOptions {
  /** Value at step 0 (start of the warmup). */
  initValue: number;
  /** Value at the end of the warmup, where the cosine starts. */
  peakValue: number;
  /** Length of the linear warmup (≥ 0). */
  warmupSteps: number;
  /** Length of the whole schedule, warmup INCLUDED (> warmupSteps). */
  decaySteps: number;
  /** Value at the end of the decay (default 0). */
  endValue?: number;
  /** Power of the cosine factor (default 1). */
  exponent?: number;
}

const WARMUPCOSINE_DECAY_KEYS: readonly (keyof WarmupCosineDecayOptions)[] = [
  'initValue',
  'peakValue',
  'warmupSteps',
  'decaySteps',
  'endValue',
  'exponent',
];

/**
 * Linear warmup to `peakValue`, then cosine decay to `endValue` (Optax's
 * `warmup_cosine_decay_schedule`); `decaySteps` counts the warmup, so the cosine lasts
 * `decaySteps − warmupSteps`:
 *
 *   `s(t) = init + (peak − init)·t/W` for `t < W`, then
 *   `end + (peak − end)·(½(1 + cos(π·min(t − W, D − W)/(D − W))))^exponent`.
 *
 * @see Loshchilov & Hutter, "SGDR" (2017), https://arxiv.org/abs/1608.03983
 * @example
 * warmupCosineDecaySchedule({ initValue: 0, peakValue: 1e-3, warmupSteps: 100, decaySteps: 10_000, endValue: 1e-5 })
 */
export function warmupCosineDecaySchedule(options: WarmupCosineDecayOptions): Schedule {
  checkOptionKeys('warmupCosineDecaySchedule', options, WARMUPCOSINE_DECAY_KEYS);
  const { initValue, peakValue, warmupSteps, decaySteps, endValue = 0, exponent = 1 } = options;
  assertFinite('peakValue', peakValue);
  assertFinite('endValue', endValue);
  assertNonNegative('warmupSteps', warmupSteps);
  assertFinite('decaySteps', decaySteps);
  if (!(decaySteps > warmupSteps))
    throw new HyperparameterError(`decaySteps (${decaySteps}) must exceed warmupSteps (${warmupSteps}): it includes the warmup`);
  const alpha = peakValue === 0 ? 0 : endValue / peakValue;
  return joinSchedules(
    [
      linearSchedule({ initValue, endValue: peakValue, transitionSteps: warmupSteps }),
      cosineDecaySchedule({ initValue: peakValue, decaySteps: decaySteps - warmupSteps, alpha, exponent }),
    ],
    [warmupSteps],
  );
}

/** Options of {@link warmupExponentialDecaySchedule}. */
export interface WarmupExponentialDecayOptions {
  /** Value at step 0 (start of the warmup). */
  initValue: number;
  /** Value at the end of the warmup, where the decay starts. */
  peakValue: number;
  /** Length of the linear warmup (≥ 0). */
  warmupSteps: number;
  /** Steps per factor of `decayRate` (see {@link ExponentialDecayOptions}). */
  transitionSteps: number;
  /** Factor per `transitionSteps` steps. */
  decayRate: number;
  /** Steps after the warmup before the decay starts (default 0). */
  transitionBegin?: number;
  /** Decay at whole multiples of `transitionSteps` only (default false). */
  staircase?: boolean;
  /** Bound of the decay: a lower bound when `decayRate < 1`, an upper bound otherwise (default none). */
  endValue?: number;
}

const WARMUPEXPONENTIAL_DECAY_KEYS: readonly (keyof WarmupExponentialDecayOptions)[] = [
  'initValue',
  'peakValue',
  'warmupSteps',
  'transitionSteps',
  'decayRate',
  'transitionBegin',
  'staircase',
  'endValue',
];

/**
 * Linear warmup to `peakValue` over `warmupSteps`, then {@link exponentialDecay} from `peakValue`
 * seeing `t − warmupSteps` (Optax's `warmup_exponential_decay_schedule`).
 *
 * @example
 * warmupExponentialDecaySchedule({ initValue: 0, peakValue: 1e-3, warmupSteps: 100, transitionSteps: 1000, decayRate: 0.5 })
 */
export function warmupExponentialDecaySchedule(options: WarmupExponentialDecayOptions): Schedule {
  checkOptionKeys('warmupExponentialDecaySchedule', options, WARMUPEXPONENTIAL_DECAY_KEYS);
  const { initValue, peakValue, warmupSteps, transitionSteps, decayRate, transitionBegin = 0, staircase = false, endValue } = options;
  assertNonNegative('warmupSteps', warmupSteps);
  return joinSchedules(
    [
      linearSchedule({ initValue, endValue: peakValue, transitionSteps: warmupSteps }),
      exponentialDecay({ initValue: peakValue, transitionSteps, decayRate, transitionBegin, staircase, endValue }),
    ],
    [warmupSteps],
  );
}

/**
 * Piecewise interpolation (Optax's `piecewise_interpolate_schedule`): the values
 * `v₀ = initValue`, `v_i = v_{i−1}·scale_i` at the boundaries `b₀ = 0 < b₁ < ...`, joined
 * linearly (`v_i + (v_{i+1} − v_i)·p`) or by half cosines (`v_{i+1} + (v_i − v_{i+1})(1 + cos πp)/2`),
 * `p = (t − b_i)/max(b_{i+1} − b_i, 1)`; the last value from the last boundary on. As in Optax, a
 * negative step gives 0. Scales must be ≥ 0.
 *
 * @example
 * piecewiseInterpolateSchedule('linear', 1, { 4: 0.1, 8: 0.01 })(2)   // 0.55
 */
export function piecewiseInterpolateSchedule(
  interpolateType: 'linear' | 'cosine',
  initValue: number,
  boundariesAndScales?: BoundariesAndScales,
): Schedule {
  if (interpolateType !== 'linear' && interpolateType !== 'cosine') {
    throw new HyperparameterError(`interpolateType must be 'linear' or 'cosine', got '${String(interpolateType)}'`);
  }
  assertFinite('initValue', initValue);
  const entries = sortedEntries('piecewiseInterpolateSchedule', boundariesAndScales);
  const bounds = [0, ...entries.map(([b]) => b)];
  const values = [initValue];
  entries.forEach(([, s]) => values.push(values[values.length - 1] * s));
  const interpolate =
    interpolateType === 'linear'
      ? (a: number, b: number, pct: number) => (b - a) * pct + a
      : (a: number, b: number, pct: number) => b + ((a - b) / 2) * (Math.cos(Math.PI * pct) + 1);
  const last = bounds.length - 1;
  return (t) => {
    if (t >= bounds[last]) return values[last];
    for (let i = 0; i < last; i++) {
      if (bounds[i] <= t && t < bounds[i + 1])
        return interpolate(values[i], values[i + 1], (t - bounds[i]) / Math.max(bounds[i + 1] - bounds[i], 1));
    }
    return 0;
  };
}

/** Options of {@link linearOnecycleSchedule}. */
export interface LinearOnecycleOptions {
  /** Length of the cycle (> 0). */
  transitionSteps: number;
  /** Value at the top of the cycle. */
  peakValue: number;
  /** Fraction of the cycle spent rising (default 0.3). */
  pctStart?: number;
  /** Fraction of the cycle at which the value is back at `peak/divFactor` (default 0.85). */
  pctFinal?: number;
  /** Initial value = `peakValue / divFactor` (default 25). */
  divFactor?: number;
  /** Final value = `peakValue / (divFactor · finalDivFactor)` (default 1e4). */
  finalDivFactor?: number;
}

const LINEAR_ONECYCLE_KEYS: readonly (keyof LinearOnecycleOptions)[] = [
  'transitionSteps',
  'peakValue',
  'pctStart',
  'pctFinal',
  'divFactor',
  'finalDivFactor',
];

/**
 * One-cycle with linear annealing (Optax's `linear_onecycle_schedule`): a
 * {@link piecewiseInterpolateSchedule} from `peak/div` up to `peak` at `⌊pctStart·T⌋`, back to
 * `peak/div` at `⌊pctFinal·T⌋`, then to `peak/(div·finalDiv)` at `T`.
 *
 * @see Smith & Topin, "Super-Convergence" (2017), https://arxiv.org/abs/1708.07120
 * @example
 * linearOnecycleSchedule({ transitionSteps: 1000, peakValue: 0.1 })
 */
export function linearOnecycleSchedule(options: LinearOnecycleOptions): Schedule {
  checkOptionKeys('linearOnecycleSchedule', options, LINEAR_ONECYCLE_KEYS);
  const { transitionSteps, peakValue, pctStart = 0.3, pctFinal = 0.85, divFactor = 25, finalDivFactor = 1e4 } = options;
  assertPositive('transitionSteps', transitionSteps);
  assertFinite('transitionSteps', transitionSteps);
  assertFinite('peakValue', peakValue);
  assertInRange('pctStart', pctStart, 0, 1);
  assertInRange('pctFinal', pctFinal, pctStart, 1);
  assertPositive('divFactor', divFactor);
  assertPositive('finalDivFactor', finalDivFactor);
  return piecewiseInterpolateSchedule('linear', peakValue / divFactor, [
    [Math.trunc(pctStart * transitionSteps), divFactor],
    [Math.trunc(pctFinal * transitionSteps), 1 / divFactor],
    [transitionSteps, 1 / finalDivFactor],
  ]);
}

/** Options of {@link cosineOnecycleSchedule}. */
export interface CosineOnecycleOptions {
  /** Length of the cycle (> 0). */
  transitionSteps: number;
  /** Value at the top of the cycle. */
  peakValue: number;
  /** Fraction of the cycle spent rising (default 0.3). */
  pctStart?: number;
  /** Initial value = `peakValue / divFactor` (default 25). */
  divFactor?: number;
  /** Final value = `peakValue / (divFactor · finalDivFactor)` (default 1e4). */
  finalDivFactor?: number;
}

const COSINE_ONECYCLE_KEYS: readonly (keyof CosineOnecycleOptions)[] = [
  'transitionSteps',
  'peakValue',
  'pctStart',
  'divFactor',
  'finalDivFactor',
];

/**
 * One-cycle with cosine annealing (Optax's `cosine_onecycle_schedule`): half cosines from
 * `peak/div` up to `peak` at `⌊pctStart·T⌋`, then down to `peak/(div·finalDiv)` at `T`.
 *
 * @see Smith & Topin, "Super-Convergence" (2017), https://arxiv.org/abs/1708.07120
 * @example
 * cosineOnecycleSchedule({ transitionSteps: 1000, peakValue: 0.1 })
 */
export function cosineOnecycleSchedule(options: CosineOnecycleOptions): Schedule {
  checkOptionKeys('cosineOnecycleSchedule', options, COSINE_ONECYCLE_KEYS);
  const { transitionSteps, peakValue, pctStart = 0.3, divFactor = 25, finalDivFactor = 1e4 } = options;
  assertPositive('transitionSteps', transitionSteps);
  assertFinite('transitionSteps', transitionSteps);
  assertFinite('peakValue', peakValue);
  assertInRange('pctStart', pctStart, 0, 1);
  assertPositive('divFactor', divFactor);
  assertPositive('finalDivFactor', finalDivFactor);
  return piecewiseInterpolateSchedule('cosine', peakValue / divFactor, [
    [Math.trunc(pctStart * transitionSteps), divFactor],
    [Math.trunc(transitionSteps), 1 / (divFactor * finalDivFactor)],
  ]);
}

/**
 * SGD with warm restarts (Optax's `sgdr_schedule`): {@link warmupCosineDecaySchedule} cycles
 * joined end to end, cycle i lasting its `decaySteps` (warmup included).
 *
 * @see Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (2017), https://arxiv.org/abs/1608.03983
 * @example
 * sgdrSchedule([
 *   { initValue: 0, peakValue: 0.1, warmupSteps: 10, decaySteps: 1000 },
 *   { initValue: 0, peakValue: 0.05, warmupSteps: 10, decaySteps: 2000 },
 * ])
 */
export function sgdrSchedule(cycles: readonly WarmupCosineDecayOptions[]): Schedule {
  if (!Array.isArray(cycles) || cycles.length === 0) throw new HyperparameterError('sgdrSchedule needs at least one cycle');
  const boundaries: number[] = [];
  let step = 0;
  const schedules = cycles.map((kw) => {
    const s = warmupCosineDecaySchedule(kw);
    step += kw.decaySteps;
    boundaries.push(step);
    return s;
  });
  return joinSchedules(schedules, boundaries.slice(0, -1));
}
