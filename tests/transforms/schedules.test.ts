import fc from 'fast-check';
import { HyperparameterError } from '../../lib/errors';
import {
  constantSchedule,
  cosineDecaySchedule,
  cosineOnecycleSchedule,
  exponentialDecay,
  joinSchedules,
  linearOnecycleSchedule,
  linearSchedule,
  piecewiseConstantSchedule,
  piecewiseInterpolateSchedule,
  polynomialSchedule,
  sgdrSchedule,
  warmupConstantSchedule,
  warmupCosineDecaySchedule,
  warmupExponentialDecaySchedule,
} from '../../transforms/schedules';
import type { Schedule } from '../../lib/types';

const expectAt = (s: Schedule, points: readonly (readonly [number, number])[], digits = 10) =>
  points.forEach(([t, v]) => expect([t, s(t)]).toEqual([t, expect.closeTo(v, digits)]));
const cosHalf = (x: number) => 0.5 * (1 + Math.cos(Math.PI * x));

describe('schedules equal their closed forms (Optax semantics)', () => {
  test('constant', () => {
    expectAt(constantSchedule(0.3), [
      [0, 0.3],
      [1e6, 0.3],
    ]);
  });

  test('polynomial and linear: before, at, inside and after the transition', () => {
    const lin = linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10, transitionBegin: 5 });
    expectAt(lin, [
      [0, 1],
      [5, 1],
      [7.5, 0.75],
      [10, 0.5],
      [15, 0],
      [100, 0],
    ]);
    const poly = polynomialSchedule({ initValue: 2, endValue: 1, power: 2, transitionSteps: 4 });
    expectAt(poly, [
      [0, 2],
      [1, 1 + 0.75 ** 2],
      [2, 1.25],
      [4, 1],
      [9, 1],
    ]);
    // Optax's docstring example.
    const doc = polynomialSchedule({ initValue: 1, endValue: 0.01, transitionSteps: 100, transitionBegin: 5, power: 2 });
    expectAt(doc, [
      [0, 1],
      [5, 1],
      [6, 0.980299],
      [104, 0.010099],
      [105, 0.01],
      [110, 0.01],
    ]);
    // transitionSteps ≤ 0: the constant initValue, as in Optax.
    expectAt(linearSchedule({ initValue: 3, endValue: 0, transitionSteps: 0 }), [
      [0, 3],
      [50, 3],
    ]);
  });

  test('exponential decay: continuous, staircase, transition begin, end value as a bound', () => {
    const e = exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0.5 });
    expectAt(e, [
      [0, 1],
      [5, Math.SQRT1_2],
      [10, 0.5],
      [20, 0.25],
    ]);
    const st = exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0.5, staircase: true, transitionBegin: 3 });
    expectAt(st, [
      [0, 1],
      [3, 1],
      [12, 1],
      [13, 0.5],
      [25, 0.25],
    ]);
    expectAt(exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 0.5, endValue: 0.2 }), [
      [1, 0.5],
      [2, 0.25],
      [3, 0.2],
      [50, 0.2],
    ]);
    expectAt(exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 2, endValue: 5 }), [
      [2, 4],
      [3, 5],
      [9, 5],
    ]);
    // The bound applies at every step, before the decay too (Optax clips the whole schedule).
    expectAt(exponentialDecay({ initValue: 0.1, transitionSteps: 1, decayRate: 0.5, endValue: 0.2, transitionBegin: 10 }), [
      [0, 0.2],
      [20, 0.2],
    ]);
    // decayRate 0 and transitionSteps ≤ 0: the constant initValue, as in Optax.
    expectAt(exponentialDecay({ initValue: 2, transitionSteps: 5, decayRate: 0 }), [
      [0, 2],
      [100, 2],
    ]);
    expectAt(exponentialDecay({ initValue: 2, transitionSteps: 0, decayRate: 0.5 }), [[100, 2]]);
  });

  test('cosine decay, with alpha and exponent', () => {
    const c = cosineDecaySchedule({ initValue: 2, decaySteps: 100, alpha: 0.1 });
    expectAt(c, [
      [0, 2],
      [25, 2 * (0.9 * cosHalf(0.25) + 0.1)],
      [50, 2 * (0.9 * 0.5 + 0.1)],
      [100, 0.2],
      [500, 0.2],
    ]);
    expectAt(cosineDecaySchedule({ initValue: 1, decaySteps: 100, exponent: 2 }), [
      [50, 0.25],
      [25, cosHalf(0.25) ** 2],
    ]);
  });

  test('warmup + constant / cosine / exponential (decaySteps includes the warmup)', () => {
    expectAt(warmupConstantSchedule({ initValue: 0.1, peakValue: 1, warmupSteps: 10 }), [
      [0, 0.1],
      [5, 0.55],
      [10, 1],
      [50, 1],
    ]);
    const w = warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 110, endValue: 0.1 });
    expectAt(w, [
      [0, 0],
      [5, 0.5],
      [10, 1],
      [35, 0.1 + 0.9 * cosHalf(0.25)],
      [60, 0.55],
      [110, 0.1],
      [1000, 0.1],
    ]);
    const w2 = warmupCosineDecaySchedule({ initValue: 0.5, peakValue: 2, warmupSteps: 0, decaySteps: 10, exponent: 3 });
    expectAt(w2, [
      [0, 2],
      [5, 2 * 0.125],
      [10, 0],
    ]);
    const we = warmupExponentialDecaySchedule({
      initValue: 0,
      peakValue: 1,
      warmupSteps: 4,
      transitionSteps: 2,
      decayRate: 0.5,
      transitionBegin: 2,
    });
    expectAt(we, [
      [2, 0.5],
      [4, 1],
      [6, 1],
      [8, 0.5],
      [10, 0.25],
    ]);
  });

  test('piecewise constant: scales multiply cumulatively from each boundary on', () => {
    const pc = piecewiseConstantSchedule(1, { 10: 0.5, 20: 0.1 });
    expectAt(pc, [
      [0, 1],
      [9, 1],
      [10, 0.5],
      [19.5, 0.5],
      [20, 0.05],
      [1e5, 0.05],
    ]);
    expectAt(
      piecewiseConstantSchedule(2, [
        [20, 0.1],
        [10, 3],
      ]),
      [
        [15, 6],
        [25, 0.6],
      ],
    );
    expectAt(piecewiseConstantSchedule(2), [[100, 2]]);
  });

  test('piecewise interpolate: linear and cosine between the cumulative values', () => {
    // Optax's docstring example.
    const doc = piecewiseInterpolateSchedule('linear', 1, { 4: 0.1, 8: 0.01 });
    expectAt(doc, [
      [0, 1],
      [2, 0.55],
      [4, 0.1],
      [6, 0.0505],
      [8, 0.001],
      [10, 0.001],
    ]);
    const pcos = piecewiseInterpolateSchedule('cosine', 1, { 10: 3, 30: 0.5 });
    expectAt(pcos, [
      [0, 1],
      [5, 2],
      [2.5, 3 + (1 - 3) * cosHalf(0.25)],
      [10, 3],
      [20, 2.25],
      [30, 1.5],
      [99, 1.5],
    ]);
    expectAt(piecewiseInterpolateSchedule('linear', 4), [
      [0, 4],
      [7, 4],
    ]);
  });

  test('join: each later schedule sees t − boundary', () => {
    const j = joinSchedules(
      [constantSchedule(1), linearSchedule({ initValue: 2, endValue: 0, transitionSteps: 10 }), constantSchedule(7)],
      [5, 20],
    );
    expectAt(j, [
      [0, 1],
      [4, 1],
      [5, 2],
      [10, 1],
      [15, 0],
      [19, 0],
      [20, 7],
    ]);
  });

  test('one-cycle schedules (linear and cosine)', () => {
    const lo = linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
    expectAt(lo, [
      [0, 0.04],
      [15, 0.52],
      [30, 1],
      [57.5, 0.52],
      [85, 0.04],
      [92.5, (0.04 + 1e-4 / 25) / 2],
      [100, 1 / 25 / 1e4],
      [200, 1 / 25 / 1e4],
    ]);
    const co = cosineOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
    expectAt(co, [
      [0, 0.04],
      [15, 0.52],
      [30, 1],
      [65, (1 + 0.04 / 1e4) / 2],
      [100, 0.04 / 1e4],
      [300, 0.04 / 1e4],
    ]);
    // pctStart·T truncates, as Python's int().
    expectAt(cosineOnecycleSchedule({ transitionSteps: 10, peakValue: 1, pctStart: 0.25, divFactor: 10 }), [
      [0, 0.1],
      [2, 1],
    ]);
  });

  test('SGDR: warm restarts, each cycle lasting its decaySteps', () => {
    const sg = sgdrSchedule([
      { initValue: 0, peakValue: 1, warmupSteps: 0, decaySteps: 10 },
      { initValue: 0, peakValue: 0.5, warmupSteps: 2, decaySteps: 22, endValue: 0.1 },
    ]);
    expectAt(sg, [
      [0, 1],
      [5, 0.5],
      [9, cosHalf(0.9)],
      [10, 0],
      [11, 0.25],
      [12, 0.5],
      [22, 0.1 + 0.4 * 0.5],
      [32, 0.1],
      [100, 0.1],
    ]);
  });

  test('property: warmup cosine decay stays between its extremes and is monotone after the warmup', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (warmup, len, end) => {
          const s = warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: warmup, decaySteps: warmup + len, endValue: end });
          let prev = Infinity;
          for (let t = warmup; t <= warmup + len + 5; t++) {
            const v = s(t);
            expect(v).toBeLessThanOrEqual(Math.max(1, end) + 1e-12);
            expect(v).toBeGreaterThanOrEqual(Math.min(1, end) - 1e-12);
            if (end <= 1) expect(v).toBeLessThanOrEqual(prev + 1e-12);
            prev = v;
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('schedule arguments are validated when built', () => {
  test('each bad argument raises a HyperparameterError naming it', () => {
    expect(() => constantSchedule(NaN)).toThrow(/value/);
    expect(() => linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10, transitionBegin: -1 })).toThrow(/transitionBegin/);
    expect(() => polynomialSchedule({ initValue: 1, endValue: 0, power: NaN, transitionSteps: 3 })).toThrow(/power/);
    expect(() => cosineDecaySchedule({ initValue: 1, decaySteps: 0 })).toThrow(/decaySteps/);
    expect(() => warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 10 })).toThrow(/decaySteps/);
    expect(() => warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: -1, decaySteps: 10 })).toThrow(/warmupSteps/);
    expect(() => exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: -0.5 })).toThrow(/decayRate/);
    expect(() => piecewiseConstantSchedule(1, { 10: -0.5 })).toThrow(/scale/);
    expect(() => piecewiseInterpolateSchedule('linear', 1, { 10: -1 })).toThrow(/scale/);
    expect(() => piecewiseInterpolateSchedule('cubic' as any, 1)).toThrow(/interpolateType/);
    expect(() => joinSchedules([constantSchedule(1)], [3])).toThrow(/one more schedule/);
    expect(() => linearOnecycleSchedule({ transitionSteps: 0, peakValue: 1 })).toThrow(/transitionSteps/);
    expect(() => linearOnecycleSchedule({ transitionSteps: 10, peakValue: 1, pctStart: 0.9, pctFinal: 0.5 })).toThrow(/pctFinal/);
    expect(() => cosineOnecycleSchedule({ transitionSteps: 10, peakValue: 1, divFactor: 0 })).toThrow(/divFactor/);
    expect(() => sgdrSchedule([])).toThrow(HyperparameterError);
    expect(() => cosineDecaySchedule({ initValue: 1, decaySteps: 0 })).toThrow(HyperparameterError);
  });
});
