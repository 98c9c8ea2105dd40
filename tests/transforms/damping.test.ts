import fc from 'fast-check';
import { constantDamping, HyperparameterError, kirosDamping, trustRegionDamping } from '../../index';
import { predictedDecrease } from '../../transforms/damping';
import type { Damping, DampingState } from '../../transforms/damping';

/** Feeds (actual, predicted) pairs and records λ, ρ and validity after each update. */
function run(d: Damping, pairs: readonly (readonly [number, number])[]) {
  let s: DampingState = d.init();
  return pairs.map(([actualDecrease, predictedDecrease]) => {
    const out = d.update(s, { actualDecrease, predictedDecrease });
    s = out.state;
    return { lam: s.lam, rho: out.rho, valid: out.valid, step: s.step };
  });
}

describe('damping', () => {
  test('predictedDecrease = −(gᵀδ + ½(δᵀCδ + λ‖δ‖²))', () => {
    expect(predictedDecrease(-4, 2, 2)).toBe(2);
    expect(predictedDecrease(-1, 0.5, 0.25)).toBeCloseTo(0.625, 15);
    // A Newton step δ = −C⁻¹g on a 1-D quadratic ½cθ² with λ = 0: predicted = ½ g²/c.
    const c = 4;
    const g = 3;
    const delta = -g / c;
    expect(predictedDecrease(g * delta, delta * c * delta, 0)).toBeCloseTo((0.5 * g * g) / c, 15);
  });

  test('constant damping never changes λ and reports no ratio', () => {
    const d = constantDamping(0.3);
    expect(d.adaptive).toBe(false);
    expect(d.init()).toEqual({ lam: 0.3, step: 0 });
    const seen = run(d, [
      [0, 1],
      [10, 1],
      [NaN, 1],
    ]);
    expect(seen.map((o) => o.lam)).toEqual([0.3, 0.3, 0.3]);
    expect(seen.every((o) => !o.valid)).toBe(true);
    expect(constantDamping().init().lam).toBe(1);
    expect(constantDamping(0).init().lam).toBe(0);
  });

  test('trust region (defaults lam0 1, 0.25 / 0.75, ×1.5 / ×0.5): exact λ sequence on scripted ratios', () => {
    const d = trustRegionDamping();
    expect(d.adaptive).toBe(true);
    expect(d.init()).toEqual({ lam: 1, step: 0 });
    const seen = run(d, [
      [0.1, 1], // ρ 0.1 < 0.25: ×1.5
      [0.1, 1], // again
      [0.5, 1], // 0.25 ≤ ρ ≤ 0.75: unchanged
      [0.25, 1], // boundary: unchanged
      [0.75, 1], // boundary: unchanged
      [0.9, 1], // ρ > 0.75: ×0.5
      [NaN, 1], // invalid: unchanged
      [1, 0], // predicted 0: invalid
      [1, 1e-17], // predicted ≤ 1e-16: invalid
      [1, -1], // negative predicted decrease: invalid
      [Infinity, 1], // not finite: invalid
      [-3, 1], // ρ −3: ×1.5
      [-1, -1], // the loss rose where the model predicted no decrease (negative curvature): ×1.5
      [-Infinity, 1], // the loss rose to +∞: ×1.5
      [1e-3, -1], // the loss fell despite the model: invalid, unchanged
    ]);
    const want = [1.5, 2.25, 2.25, 2.25, 2.25, 1.125, 1.125, 1.125, 1.125, 1.125, 1.125, 1.6875, 2.53125, 3.796875, 3.796875];
    seen.forEach((o, i) => expect(o.lam).toBeCloseTo(want[i], 14));
    expect(seen.map((o) => o.valid)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
      false,
      true,
      true,
      true,
      false,
    ]);
    expect(seen[12].rho).toBe(-5); // −rhoClip
    expect(seen[0].rho).toBeCloseTo(0.1, 15);
    expect(seen[11].rho).toBe(-3);
    expect(Number.isNaN(seen[6].rho)).toBe(true);
    // The step counter counts every offered ratio, valid or not.
    expect(seen.map((o) => o.step)).toEqual(want.map((_, i) => i + 1));
  });

  test('ρ is clipped to [−rhoClip, rhoClip] (the λ decision is unchanged by clipping)', () => {
    const seen = run(trustRegionDamping(), [
      [100, 1],
      [-100, 1],
    ]);
    expect(seen.map((o) => o.rho)).toEqual([5, -5]);
    expect(seen.map((o) => o.lam)).toEqual([0.5, 0.75]);
    expect(run(trustRegionDamping({ rhoClip: 2 }), [[100, 1]])[0].rho).toBe(2);
  });

  test('cadence everyK = 2: only offers 0, 2, 4, ... adapt (invalid offers count toward the cadence)', () => {
    const seen = run(trustRegionDamping({ everyK: 2, increaseFactor: 2 }), [
      [0.1, 1], // step 0: ×2 → 2
      [0.1, 1], // step 1: off cadence
      [0.1, 1], // step 2: ×2 → 4
      [0.1, 1], // step 3: off cadence
      [NaN, 1], // step 4: on cadence but invalid
      [0.1, 1], // step 5: off cadence
      [0.9, 1], // step 6: ×0.5 → 2
    ]);
    expect(seen.map((o) => o.lam)).toEqual([2, 2, 4, 4, 4, 4, 2]);
    expect(seen.map((o) => o.valid)).toEqual([true, false, true, false, false, false, true]);
  });

  test('λ is clamped to [minLam, maxLam], at init too', () => {
    const up = run(trustRegionDamping({ lam0: 1, maxLam: 3 }), [
      [0, 1],
      [0, 1],
      [0, 1],
      [0, 1],
    ]);
    expect(up.map((o) => o.lam)).toEqual([1.5, 2.25, 3, 3]);
    const down = run(trustRegionDamping({ lam0: 1, minLam: 0.2 }), [
      [1, 1],
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
    expect(down.map((o) => o.lam)).toEqual([0.5, 0.25, 0.2, 0.2]);
    // Defaults: [1e-12, 1e6].
    const hi = run(trustRegionDamping({ lam0: 9e5 }), [[0, 1]]);
    expect(hi[0].lam).toBe(1e6);
    const lo = run(trustRegionDamping({ lam0: 1.5e-12 }), [[1, 1]]);
    expect(lo[0].lam).toBe(1e-12);
    expect(trustRegionDamping({ lam0: 10, maxLam: 5 }).init().lam).toBe(5);
  });

  test('Kiros rule (somax 2024): ×1.01 when ρ < 0.25, ×0.99 when ρ > 0.75', () => {
    const seen = run(kirosDamping(), [
      [0, 1],
      [0, 1],
      [0.5, 1],
      [1, 1],
      [NaN, 1],
    ]);
    const want = [1.01, 1.01 * 1.01, 1.01 * 1.01, 1.01 * 1.01 * 0.99, 1.01 * 1.01 * 0.99];
    seen.forEach((o, i) => expect(o.lam).toBeCloseTo(want[i], 14));
    expect(kirosDamping({ lam0: 2 }).init().lam).toBe(2);
  });

  test('property: λ stays in [minLam, maxLam] and moves by exactly one factor or not at all', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: -10, max: 10, noNaN: false }), fc.double({ min: -1, max: 10, noNaN: false })), {
          maxLength: 40,
        }),
        fc.integer({ min: 1, max: 3 }),
        (pairs, everyK) => {
          const minLam = 0.01;
          const maxLam = 100;
          const d = trustRegionDamping({ lam0: 1, everyK, minLam, maxLam });
          let s = d.init();
          for (const [a, p] of pairs) {
            const out = d.update(s, { actualDecrease: a, predictedDecrease: p });
            const { lam } = out.state;
            expect(lam).toBeGreaterThanOrEqual(minLam);
            expect(lam).toBeLessThanOrEqual(maxLam);
            if (!out.valid) expect(lam).toBe(s.lam);
            else {
              const rho = out.rho;
              const expected = rho < 0.25 ? s.lam * 1.5 : rho > 0.75 ? s.lam * 0.5 : s.lam;
              expect(lam).toBeCloseTo(Math.min(Math.max(expected, minLam), maxLam), 12);
              expect(Math.abs(rho)).toBeLessThanOrEqual(5);
              // A valid ratio has a positive predicted decrease, or marks a failed step (ρ = −rhoClip).
              if (!(p > 1e-16)) expect([rho, a < 0]).toEqual([-5, true]);
              expect(s.step % everyK).toBe(0);
            }
            s = out.state;
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  test('hyperparameters are validated at construction, naming the argument', () => {
    expect(() => constantDamping(-1)).toThrow(/lam0/);
    expect(() => constantDamping(NaN)).toThrow(HyperparameterError);
    const bad: [Record<string, number>, RegExp][] = [
      [{ lam0: 0 }, /lam0/],
      [{ lam0: -1 }, /lam0/],
      [{ lower: 0.8, upper: 0.2 }, /lower/],
      [{ lower: NaN }, /lower/],
      [{ upper: Infinity }, /upper/],
      [{ increaseFactor: 0.5 }, /increaseFactor/],
      [{ decreaseFactor: 0 }, /decreaseFactor/],
      [{ decreaseFactor: 1.5 }, /decreaseFactor/],
      [{ everyK: 0 }, /everyK/],
      [{ everyK: 1.5 }, /everyK/],
      [{ minLam: 0 }, /minLam/],
      [{ minLam: 1, maxLam: 0.5 }, /maxLam/],
      [{ rhoClip: 0 }, /rhoClip/],
    ];
    for (const [opts, name] of bad) {
      expect(() => trustRegionDamping(opts)).toThrow(HyperparameterError);
      expect(() => trustRegionDamping(opts)).toThrow(name);
    }
  });
});
