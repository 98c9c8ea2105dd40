// transforms/misc.ts: addNoise, keepParamsNonnegative, zeroNans.
import * as tf from '@tensorflow/tfjs-core';
import { addNoise, keepParamsNonnegative, tree, zeroNans, HyperparameterError, InputError } from '../../index';
import type { Tree } from '../../index';

const flat = (t: Tree) => tree.leaves(t).flatMap((l) => Array.from(l.dataSync()));

describe('addNoise', () => {
  const N = 20000;
  const zeros = () => ({ a: tf.zeros([N / 2]), b: [tf.zeros([N / 2])] });

  /** The noise of steps 0..steps−1 on zero updates, as flat arrays. */
  function noise(eta: number, gamma: number, seed: number, steps: number): number[][] {
    const tx = addNoise(eta, gamma, seed);
    const g = zeros();
    let s = tx.init(g);
    const out: number[][] = [];
    for (let t = 0; t < steps; t++) {
      const [u, s1] = tx.update(g, s);
      out.push(flat(u));
      tree.dispose([u, s] as any);
      s = s1;
    }
    expect(s.count).toBe(steps);
    tree.dispose([g, s] as any);
    return out;
  }

  test('variance eta / (1 + t)^gamma at step t (t from 0), zero mean', () => {
    const eta = 0.04;
    const gamma = 0.55;
    noise(eta, gamma, 1, 3).forEach((n, t) => {
      const mean = n.reduce((a, b) => a + b, 0) / N;
      const variance = n.reduce((a, b) => a + (b - mean) ** 2, 0) / N;
      const want = eta / (1 + t) ** gamma;
      // Sample variance of 20000 normals: relative standard error sqrt(2/N) = 1%.
      expect(Math.abs(variance / want - 1)).toBeLessThan(0.05);
      expect(Math.abs(mean)).toBeLessThan(4 * Math.sqrt(want / N));
    });
  });

  test('deterministic from the seed; differs across seeds, steps and leaves', () => {
    const a = noise(0.01, 0.55, 3, 2);
    const b = noise(0.01, 0.55, 3, 2);
    const c = noise(0.01, 0.55, 4, 2);
    expect(a).toEqual(b);
    // Independent draws: sample correlation ~ N(0, 1/N), |corr| < 0.05 is > 7 standard errors.
    const corr = (x: number[], y: number[]) => {
      const dot = (p: number[], q: number[]) => p.reduce((acc, pi, i) => acc + pi * q[i], 0);
      return dot(x, y) / Math.sqrt(dot(x, x) * dot(y, y));
    };
    expect(Math.abs(corr(a[0], c[0]))).toBeLessThan(0.05); // seeds
    expect(Math.abs(corr(a[0], a[1]))).toBeLessThan(0.05); // steps
    expect(Math.abs(corr(a[0].slice(0, N / 2), a[0].slice(N / 2)))).toBeLessThan(0.05); // leaves
  });

  test('adds to the updates: u + noise, inputs untouched; eta = 0 is the identity', () => {
    const tx = addNoise(0, 0.55, 0);
    const g = { a: tf.tensor1d([1, -2]) };
    const [u, s1] = tx.update(g, tx.init(g));
    expect(flat(u)).toEqual([1, -2]);
    expect((u as any).a).not.toBe(g.a);
    tree.dispose([g, u, s1] as any);
  });

  test('bad eta / gamma / seed throw at construction', () => {
    expect(() => addNoise(-1, 0.5, 0)).toThrow(HyperparameterError);
    expect(() => addNoise(-1, 0.5, 0)).toThrow(/eta must be in \[0, Infinity\]/);
    expect(() => addNoise(0.1, NaN, 0)).toThrow(/gamma must be a finite number/);
    expect(() => addNoise(0.1, 0.5, Infinity)).toThrow(/seed must be a finite number/);
  });
});

describe('keepParamsNonnegative', () => {
  test('u ← −θ where θ + u < 0, else u', () => {
    const tx = keepParamsNonnegative();
    const p = { a: tf.tensor1d([1, 0.5, 0, 2]) };
    const g = { a: tf.tensor1d([3, -4, -1, -2]) };
    const [u, s1] = tx.update(g, tx.init(p), p);
    expect(flat(u)).toEqual([3, -0.5, -0, -2]);
    expect(flat(g)).toEqual([3, -4, -1, -2]);
    expect(() => tx.update(g, tx.init(p))).toThrow(InputError);
    tree.dispose([p, g, u, s1] as any);
  });
});

describe('zeroNans', () => {
  test('NaNs become 0; the state records per leaf whether the last updates had one', () => {
    const tx = zeroNans();
    const p = { a: tf.zeros([2]), b: [tf.zeros([3])] };
    const s0 = tx.init(p);
    expect(tree.leaves(s0.foundNan).map((t) => [t.dtype, t.shape.length, t.dataSync()[0]])).toEqual([
      ['bool', 0, 0],
      ['bool', 0, 0],
    ]);
    const g = { a: tf.tensor1d([NaN, 2]), b: [tf.tensor1d([1, Infinity, -3])] };
    const [u, s1] = tx.update(g, s0, p);
    expect(flat(u)).toEqual([0, 2, 1, Infinity, -3]);
    expect(flat(s1.foundNan)).toEqual([1, 0]);
    const clean = { a: tf.tensor1d([1, 2]), b: [tf.tensor1d([1, 2, 3])] };
    const [u2, s2] = tx.update(clean, s1, p);
    expect(flat(s2.foundNan)).toEqual([0, 0]);
    expect(Number.isNaN(flat(g)[0])).toBe(true);
    tree.dispose([p, s0, g, u, s1, clean, u2, s2] as any);
  });
});
