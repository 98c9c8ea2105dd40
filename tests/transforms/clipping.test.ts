// transforms/clipping.ts: clip (elementwise), clipByGlobalNorm, clipByBlockRms, in closed form.
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { clip, clipByBlockRms, clipByGlobalNorm, tree, HyperparameterError } from '../../index';
import type { GradientTransformation, Tree } from '../../index';

const vals = (u: any): number[] => [...u.a.dataSync(), ...u.b[0].dataSync()];
const mk = (v: number[]) => ({ a: tf.tensor1d(v.slice(0, 2)), b: [tf.tensor1d(v.slice(2))] });

function once(tx: GradientTransformation<any>, u: Tree): number[] {
  const s = tx.init(u);
  const [out, s1] = tx.update(u, s, u);
  const r = vals(out);
  tree.tensors(out).forEach((t) => expect(tree.tensors(u).includes(t)).toBe(false));
  tree.dispose([out, s, s1] as any);
  return r;
}

describe('clipping', () => {
  test('clip: every entry into [−maxDelta, maxDelta]', () => {
    const u = mk([3, -4, 0.5, -0.25]);
    expect(once(clip(1), u)).toEqual([1, -1, 0.5, -0.25]);
    expect(once(clip(0.3), u).map((x) => Math.round(x * 1e6) / 1e6)).toEqual([0.3, -0.3, 0.3, -0.25]);
    tree.dispose(u);
  });

  test('clipByGlobalNorm: a tree over the bound comes out with norm exactly maxNorm; under it, unchanged', () => {
    // Global norm over both leaves: sqrt(9 + 16 + 144) = 13.
    const u = mk([3, -4, 12, 0]);
    const out = once(clipByGlobalNorm(6.5), u);
    out.forEach((v, i) => expect(v).toBeCloseTo([1.5, -2, 6, 0][i], 6));
    expect(Math.hypot(...out)).toBeCloseTo(6.5, 5);
    expect(once(clipByGlobalNorm(13.5), u)).toEqual([3, -4, 12, 0]);
    tree.dispose(u);
    // Zero updates stay zero (no 0/0).
    const z = mk([0, 0, 0, 0]);
    expect(once(clipByGlobalNorm(1), z)).toEqual([0, 0, 0, 0]);
    tree.dispose(z);
  });

  test('clipByGlobalNorm: property: norm(out) = min(norm(u), maxNorm), direction kept', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -100, max: 100, noNaN: true, noDefaultInfinity: true }), { minLength: 4, maxLength: 4 }),
        fc.double({ min: 0.01, max: 50, noNaN: true }),
        (v, maxNorm) => {
          const u = mk(v);
          const out = once(clipByGlobalNorm(maxNorm), u);
          tree.dispose(u);
          const n = Math.hypot(...v.map(Math.fround));
          const want = Math.min(n, maxNorm);
          expect(Math.abs(Math.hypot(...out) - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, want));
          if (n > 0)
            out.forEach((o, i) => expect(Math.abs(o - (Math.fround(v[i]) * want) / n)).toBeLessThanOrEqual(1e-5 * Math.max(1, want)));
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  });

  test('clipByGlobalNorm(0) is accepted (as in Optax) and clips to zero norm: zeros out, also for zero updates', () => {
    // Optax: u / ‖u‖ · 0 = 0 for ‖u‖ > 0; somax also gives 0 (not 0/0 = NaN) for ‖u‖ = 0.
    const u = mk([3, -4, 12, 0]);
    expect(once(clipByGlobalNorm(0), u).map((v) => v + 0)).toEqual([0, 0, 0, 0]);
    tree.dispose(u);
    const z = mk([0, 0, 0, 0]);
    expect(once(clipByGlobalNorm(0), z)).toEqual([0, 0, 0, 0]);
    tree.dispose(z);
  });

  test('clipByBlockRms: each leaf separately scaled to rms ≤ threshold', () => {
    // Leaf a = [3, −4]: rms = sqrt(12.5) > 1 → scaled by 1/sqrt(12.5); leaf b = [0.5, −0.25]: rms < 1, unchanged.
    const u = mk([3, -4, 0.5, -0.25]);
    const r = Math.sqrt(12.5);
    once(clipByBlockRms(1), u).forEach((v, i) => expect(v).toBeCloseTo([3 / r, -4 / r, 0.5, -0.25][i], 6));
    const tiny = once(clipByBlockRms(0.1), u);
    const rmsB = Math.sqrt((tiny[2] ** 2 + tiny[3] ** 2) / 2);
    expect(rmsB).toBeCloseTo(0.1, 6);
    tree.dispose(u);
  });

  test('bad thresholds throw at construction', () => {
    for (const [make, msg] of [
      [() => clip(-1), /maxDelta must be in \(0, Infinity\]/],
      [() => clip(NaN), /maxDelta must be a finite number/],
      [() => clipByGlobalNorm(-1), /maxNorm must be in \[0, Infinity\]/],
      [() => clipByGlobalNorm(NaN), /maxNorm must be a finite number/],
      [() => clipByBlockRms(-0.5), /threshold must be in/],
    ] as [() => unknown, RegExp][]) {
      expect(make).toThrow(HyperparameterError);
      expect(make).toThrow(msg);
    }
  });
});
