import {
  constantSchedule, cosineDecaySchedule, cosineOnecycleSchedule, exponentialDecay, joinSchedules, linearOnecycleSchedule,
  linearSchedule, piecewiseConstantSchedule, piecewiseInterpolateSchedule, polynomialSchedule, sgdrSchedule,
  warmupConstantSchedule, warmupCosineDecaySchedule, warmupExponentialDecaySchedule, HyperparameterError,
} from '../../index';

const close = (a: number, b: number) => expect(a).toBeCloseTo(b, 10);

describe('schedules equal their closed forms', () => {
  test('constant, linear, polynomial', () => {
    close(constantSchedule(0.3)(1000), 0.3);
    const lin = linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10, transitionBegin: 5 });
    [[0, 1], [5, 1], [10, 0.5], [15, 0], [100, 0]].forEach(([t, v]) => close(lin(t), v));
    const poly = polynomialSchedule({ initValue: 2, endValue: 1, power: 2, transitionSteps: 4 });
    [[0, 2], [1, 1 + 0.75 ** 2], [2, 1.25], [4, 1], [9, 1]].forEach(([t, v]) => close(poly(t), v));
  });

  test('exponential decay: continuous, staircase, transition begin, end value', () => {
    const e = exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0.5 });
    close(e(0), 1); close(e(5), 0.5 ** 0.5); close(e(20), 0.25);
    const st = exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0.5, staircase: true, transitionBegin: 3 });
    close(st(3), 1); close(st(12), 1); close(st(13), 0.5); close(st(25), 0.25);
    const floor = exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 0.5, endValue: 0.2 });
    close(floor(1), 0.5); close(floor(10), 0.2);
    const growth = exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 2, endValue: 5 });
    close(growth(2), 4); close(growth(3), 5);
  });

  test('cosine decay and warmup + cosine decay (decaySteps includes warmup)', () => {
    const c = cosineDecaySchedule({ initValue: 2, decaySteps: 100, alpha: 0.1 });
    close(c(0), 2); close(c(50), 2 * (0.9 * 0.5 + 0.1)); close(c(100), 0.2); close(c(500), 0.2);
    const ce = cosineDecaySchedule({ initValue: 1, decaySteps: 100, exponent: 2 });
    close(ce(50), 0.25);
    const w = warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 110, endValue: 0.1 });
    close(w(0), 0); close(w(5), 0.5); close(w(10), 1); close(w(60), 0.9 * 0.5 + 0.1); close(w(110), 0.1); close(w(1000), 0.1);
    const wc = warmupConstantSchedule({ initValue: 0.1, peakValue: 1, warmupSteps: 10 });
    close(wc(5), 0.55); close(wc(50), 1);
    const we = warmupExponentialDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 4, transitionSteps: 2, decayRate: 0.5 });
    close(we(2), 0.5); close(we(4), 1); close(we(6), 0.5); close(we(8), 0.25);
  });

  test('piecewise constant and interpolate, join, one-cycle, SGDR', () => {
    const pc = piecewiseConstantSchedule(1, { 10: 0.5, 20: 0.1 });
    close(pc(9), 1); close(pc(10), 0.5); close(pc(25), 0.05);
    const pl = piecewiseInterpolateSchedule('linear', 1, { 10: 2, 20: 0.5 });
    close(pl(0), 1); close(pl(5), 1.5); close(pl(10), 2); close(pl(15), 1.5); close(pl(20), 1); close(pl(99), 1);
    const pcos = piecewiseInterpolateSchedule('cosine', 1, { 10: 3 });
    close(pcos(5), 2); close(pcos(10), 3);
    const j = joinSchedules([constantSchedule(1), linearSchedule({ initValue: 2, endValue: 0, transitionSteps: 10 })], [5]);
    close(j(4), 1); close(j(5), 2); close(j(10), 1);
    const lo = linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
    close(lo(0), 1 / 25); close(lo(30), 1); close(lo(85), 1 / 25); close(lo(100), 1 / 25 / 1e4);
    const co = cosineOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
    close(co(0), 0.04); close(co(15), (0.04 + 1) / 2); close(co(30), 1); close(co(100), 0.04 / 25 / 1e4 * 25);
    const sg = sgdrSchedule([
      { initValue: 0, peakValue: 1, warmupSteps: 0, decaySteps: 10 },
      { initValue: 0, peakValue: 0.5, warmupSteps: 0, decaySteps: 20 },
    ]);
    close(sg(0), 1); close(sg(5), 0.5); close(sg(10), 0.5); close(sg(20), 0.25);
  });

  test('bad arguments fail when the schedule is built', () => {
    expect(() => cosineDecaySchedule({ initValue: 1, decaySteps: 0 })).toThrow(HyperparameterError);
    expect(() => warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 5 })).toThrow(/decaySteps/);
    expect(() => exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 0 })).toThrow(/decayRate/);
    expect(() => joinSchedules([constantSchedule(1)], [3])).toThrow(/one more schedule/);
    expect(() => piecewiseInterpolateSchedule('cubic' as any, 1)).toThrow(/interpolateType/);
  });
});
