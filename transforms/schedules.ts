/**
 * Learning-rate (and hyperparameter) schedules: plain functions `step → value`, Optax's
 * `optax.schedules` with camelCase names and options objects. Arguments are checked when the
 * schedule is built.
 * @module
 */
import { assertFinite, assertInRange, assertInteger, assertNonNegative, assertPositive, HyperparameterError } from '../lib/errors';
import type { Schedule } from '../lib/types';

/** A constant schedule: `s(t) = value`. */
export function constantSchedule(value: number): Schedule {
  assertFinite('value', value);
  return () => value;
}

/**
 * Polynomial transition from `initValue` to `endValue` over `transitionSteps` steps starting at
 * `transitionBegin`: `s(t) = (init − end)(1 − k/T)^power + end`, `k = clip(t − begin, 0, T)`.
 */
export function polynomialSchedule({
  initValue,
  endValue,
  power,
  transitionSteps,
  transitionBegin = 0,
}: { initValue: number; endValue: number; power: number; transitionSteps: number; transitionBegin?: number }): Schedule {
  assertFinite('initValue', initValue);
  assertFinite('endValue', endValue);
  assertFinite('power', power);
  assertNonNegative('transitionBegin', transitionBegin);
  if (transitionSteps <= 0) return () => initValue;
  return (t) => {
    const k = Math.min(Math.max(t - transitionBegin, 0), transitionSteps);
    return (initValue - endValue) * (1 - k / transitionSteps) ** power + endValue;
  };
}

/** Linear transition from `initValue` to `endValue` (a {@link polynomialSchedule} of power 1). */
export function linearSchedule(options: { initValue: number; endValue: number; transitionSteps: number; transitionBegin?: number }): Schedule {
  return polynomialSchedule({ ...options, power: 1 });
}

/**
 * Piecewise constant: `initValue` times the product of the scales of every boundary ≤ t.
 *
 * @example
 * piecewiseConstantSchedule(1, { 100: 0.1, 200: 0.1 })   // 1, then 0.1 from step 100, 0.01 from 200
 */
export function piecewiseConstantSchedule(initValue: number, boundariesAndScales: Record<number, number> = {}): Schedule {
  assertFinite('initValue', initValue);
  const entries = Object.entries(boundariesAndScales).map(([b, s]) => [Number(b), s] as const).sort((a, b) => a[0] - b[0]);
  entries.forEach(([b, s]) => {
    assertNonNegative('boundary', b);
    assertFinite(`scale at ${b}`, s);
  });
  return (t) => entries.reduce((v, [b, s]) => (t >= b ? v * s : v), initValue);
}

/**
 * Exponential decay: `s(t) = init · rate^((t − begin)/T)` (the exponent floored with `staircase`),
 * `init` before `transitionBegin`, bounded by `endValue` (below when rate < 1, above otherwise).
 */
export function exponentialDecay({
  initValue,
  transitionSteps,
  decayRate,
  transitionBegin = 0,
  staircase = false,
  endValue,
}: {
  initValue: number;
  transitionSteps: number;
  decayRate: number;
  transitionBegin?: number;
  staircase?: boolean;
  endValue?: number;
}): Schedule {
  assertFinite('initValue', initValue);
  assertFinite('decayRate', decayRate);
  assertNonNegative('transitionBegin', transitionBegin);
  if (transitionSteps <= 0) return () => initValue;
  if (decayRate === 0) throw new HyperparameterError('decayRate must not be 0');
  return (t) => {
    const k = t - transitionBegin;
    if (k <= 0) return initValue;
    const p = staircase ? Math.floor(k / transitionSteps) : k / transitionSteps;
    const v = initValue * decayRate ** p;
    if (endValue === undefined) return v;
    return decayRate < 1 ? Math.max(v, endValue) : Math.min(v, endValue);
  };
}

/**
 * Cosine decay: `s(t) = init · ((1 − α)·(½(1 + cos(π k / T)))^exponent + α)`, `k = min(t, T)`.
 *
 * @see Loshchilov & Hutter, "SGDR" (2017), arXiv 1608.03983.
 */
export function cosineDecaySchedule({
  initValue,
  decaySteps,
  alpha = 0,
  exponent = 1,
}: { initValue: number; decaySteps: number; alpha?: number; exponent?: number }): Schedule {
  assertFinite('initValue', initValue);
  assertPositive('decaySteps', decaySteps);
  assertFinite('alpha', alpha);
  assertFinite('exponent', exponent);
  return (t) => {
    const k = Math.min(Math.max(t, 0), decaySteps);
    const cosine = 0.5 * (1 + Math.cos((Math.PI * k) / decaySteps));
    return initValue * ((1 - alpha) * cosine ** exponent + alpha);
  };
}

/**
 * Sequentially applies schedules: `schedules[i + 1]` takes over at `boundaries[i]` and sees
 * `t − boundaries[i]`.
 */
export function joinSchedules(schedules: readonly Schedule[], boundaries: readonly number[]): Schedule {
  if (schedules.length !== boundaries.length + 1) {
    throw new HyperparameterError(`joinSchedules needs one more schedule than boundaries, got ${schedules.length} and ${boundaries.length}`);
  }
  return (t) => {
    let out = schedules[0](t);
    boundaries.forEach((b, i) => {
      if (t >= b) out = schedules[i + 1](t - b);
    });
    return out;
  };
}

/** Linear warmup from `initValue` to `peakValue` over `warmupSteps`, then constant. */
export function warmupConstantSchedule({ initValue, peakValue, warmupSteps }: { initValue: number; peakValue: number; warmupSteps: number }): Schedule {
  return joinSchedules([linearSchedule({ initValue, endValue: peakValue, transitionSteps: warmupSteps }), constantSchedule(peakValue)], [warmupSteps]);
}

/**
 * Linear warmup to `peakValue`, then cosine decay to `endValue`; `decaySteps` counts the warmup
 * (the cosine lasts `decaySteps − warmupSteps`).
 */
export function warmupCosineDecaySchedule({
  initValue,
  peakValue,
  warmupSteps,
  decaySteps,
  endValue = 0,
  exponent = 1,
}: { initValue: number; peakValue: number; warmupSteps: number; decaySteps: number; endValue?: number; exponent?: number }): Schedule {
  assertInteger('warmupSteps', warmupSteps, 0);
  if (!(decaySteps > warmupSteps)) throw new HyperparameterError(`decaySteps (${decaySteps}) must exceed warmupSteps (${warmupSteps})`);
  const alpha = peakValue === 0 ? 0 : endValue / peakValue;
  return joinSchedules(
    [
      linearSchedule({ initValue, endValue: peakValue, transitionSteps: warmupSteps }),
      cosineDecaySchedule({ initValue: peakValue, decaySteps: decaySteps - warmupSteps, alpha, exponent }),
    ],
    [warmupSteps],
  );
}

/** Linear warmup to `peakValue`, then {@link exponentialDecay} from it. */
export function warmupExponentialDecaySchedule({
  initValue,
  peakValue,
  warmupSteps,
  transitionSteps,
  decayRate,
  transitionBegin = 0,
  staircase = false,
  endValue,
}: {
  initValue: number;
  peakValue: number;
  warmupSteps: number;
  transitionSteps: number;
  decayRate: number;
  transitionBegin?: number;
  staircase?: boolean;
  endValue?: number;
}): Schedule {
  return joinSchedules(
    [
      linearSchedule({ initValue, endValue: peakValue, transitionSteps: warmupSteps }),
      exponentialDecay({ initValue: peakValue, transitionSteps, decayRate, transitionBegin, staircase, endValue }),
    ],
    [warmupSteps],
  );
}

/**
 * Piecewise interpolation: the values `initValue · Π scales` at the boundaries (starting from step
 * 0) joined linearly or by half cosines; constant after the last boundary.
 */
export function piecewiseInterpolateSchedule(
  interpolateType: 'linear' | 'cosine',
  initValue: number,
  boundariesAndScales: Record<number, number> = {},
): Schedule {
  if (interpolateType !== 'linear' && interpolateType !== 'cosine') {
    throw new HyperparameterError(`interpolateType must be 'linear' or 'cosine', got '${String(interpolateType)}'`);
  }
  assertFinite('initValue', initValue);
  const entries = Object.entries(boundariesAndScales).map(([b, s]) => [Number(b), s] as const).sort((a, b) => a[0] - b[0]);
  entries.forEach(([, s]) => assertNonNegative('scale', s));
  const bounds = [0, ...entries.map(([b]) => b)];
  const values = [initValue];
  entries.forEach(([, s]) => values.push(values[values.length - 1] * s));
  const interpolate = interpolateType === 'linear'
    ? (a: number, b: number, pct: number) => (b - a) * pct + a
    : (a: number, b: number, pct: number) => b + ((a - b) / 2) * (Math.cos(Math.PI * pct) + 1);
  return (t) => {
    for (let i = 0; i + 1 < bounds.length; i++) {
      if (bounds[i] <= t && t < bounds[i + 1]) return interpolate(values[i], values[i + 1], (t - bounds[i]) / (bounds[i + 1] - bounds[i]));
    }
    return t >= bounds[bounds.length - 1] ? values[values.length - 1] : values[0];
  };
}

/**
 * One-cycle with linear annealing: from `peak/divFactor` up to `peakValue` at `pctStart`, back down
 * at `pctFinal`, then to `peak/(divFactor·finalDivFactor)` at `transitionSteps`.
 *
 * @see Smith & Topin, "Super-Convergence" (2017), arXiv 1708.07120.
 */
export function linearOnecycleSchedule({
  transitionSteps,
  peakValue,
  pctStart = 0.3,
  pctFinal = 0.85,
  divFactor = 25,
  finalDivFactor = 1e4,
}: { transitionSteps: number; peakValue: number; pctStart?: number; pctFinal?: number; divFactor?: number; finalDivFactor?: number }): Schedule {
  assertPositive('transitionSteps', transitionSteps);
  assertInRange('pctStart', pctStart, 0, 1);
  assertInRange('pctFinal', pctFinal, pctStart, 1);
  assertPositive('divFactor', divFactor);
  assertPositive('finalDivFactor', finalDivFactor);
  return piecewiseInterpolateSchedule('linear', peakValue / divFactor, {
    [Math.floor(pctStart * transitionSteps)]: divFactor,
    [Math.floor(pctFinal * transitionSteps)]: 1 / divFactor,
    [transitionSteps]: 1 / finalDivFactor,
  });
}

/** One-cycle with cosine annealing (see {@link linearOnecycleSchedule}). */
export function cosineOnecycleSchedule({
  transitionSteps,
  peakValue,
  pctStart = 0.3,
  divFactor = 25,
  finalDivFactor = 1e4,
}: { transitionSteps: number; peakValue: number; pctStart?: number; divFactor?: number; finalDivFactor?: number }): Schedule {
  assertPositive('transitionSteps', transitionSteps);
  assertInRange('pctStart', pctStart, 0, 1);
  assertPositive('divFactor', divFactor);
  assertPositive('finalDivFactor', finalDivFactor);
  return piecewiseInterpolateSchedule('cosine', peakValue / divFactor, {
    [Math.floor(pctStart * transitionSteps)]: divFactor,
    [transitionSteps]: 1 / (divFactor * finalDivFactor),
  });
}

/**
 * SGD with warm restarts: joined {@link warmupCosineDecaySchedule} cycles, each lasting its
 * `decaySteps`.
 *
 * @see Loshchilov & Hutter, "SGDR" (2017), arXiv 1608.03983.
 */
export function sgdrSchedule(cosineKwargs: readonly Parameters<typeof warmupCosineDecaySchedule>[0][]): Schedule {
  const boundaries: number[] = [];
  let step = 0;
  const schedules = cosineKwargs.map((kw) => {
    step += kw.decaySteps;
    boundaries.push(step);
    return warmupCosineDecaySchedule(kw);
  });
  return joinSchedules(schedules, boundaries.slice(0, -1));
}
