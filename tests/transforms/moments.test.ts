// transforms/moments.ts against float64 references written out step by step, plus the
// first-step closed forms, state layout, construction and dtype errors.
import * as tf from '@tensorflow/tfjs-core';
import {
  ema,
  scaleByAdam,
  scaleByAmsgrad,
  scaleByLion,
  scaleByRms,
  scaleByRss,
  scaleByStddev,
  trace,
  tree,
  HyperparameterError,
  InputError,
} from '../../index';
import type { GradientTransformation } from '../../index';

// Gradients: a tree of two leaves (sizes 3 and 2), 8 steps of deterministic values with sign
// changes, a decreasing magnitude (so AMSGrad's max differs from v̂) and an exact zero.
const STEPS = 8;
const gradAt = (t: number): number[] =>
  [0, 1, 2, 3, 4].map((i) => (i === 2 && t === 0 ? 0 : Math.sin(1.7 * t + i) * (3 / (1 + t)) + 0.1 * i));
const toTree = (v: number[]) => ({ a: tf.tensor1d(v.slice(0, 3)), b: [tf.tensor2d([v.slice(3)], [1, 2])] });
const fromTree = (t: any): number[] => [...t.a.dataSync(), ...t.b[0].dataSync()];
const params = toTree([1, -1, 0.5, 2, -3]);

/** Runs `tx` over the gradient sequence and returns each step's output as a flat array. */
function outputs(tx: GradientTransformation<any>): number[][] {
  let s = tx.init(params);
  const out: number[][] = [];
  for (let t = 0; t < STEPS; t++) {
    const g = toTree(gradAt(t));
    const [u, s1] = tx.update(g, s, params);
    out.push(fromTree(u));
    tree.dispose([g, u, s] as any);
    s = s1;
  }
  tree.dispose(s as any);
  return out;
}

/** Runs a float64 reference `step(g, t) → u` (t = 1, 2, ...) over the same gradients. */
function reference(step: (g: number[], t: number) => number[]): number[][] {
  return Array.from({ length: STEPS }, (_, t) => step(gradAt(t), t + 1));
}

function expectClose(got: number[][], want: number[][], rtol = 2e-5, atol = 1e-6): void {
  want.forEach((row, t) =>
    row.forEach((w, i) => {
      const err = Math.abs(got[t][i] - w);
      if (err > atol + rtol * Math.abs(w)) throw new Error(`step ${t + 1}, entry ${i}: got ${got[t][i]}, want ${w}`);
    }),
  );
}

const zeros = () => [0, 0, 0, 0, 0];

describe('moments vs float64 references over 8 steps', () => {
  test('trace: t ← g + μ t, output t (Nesterov: g + μ t)', () => {
    for (const nesterov of [false, true]) {
      const m = zeros();
      expectClose(
        outputs(trace(0.9, { nesterov })),
        reference((g) =>
          g.map((gi, i) => {
            m[i] = gi + 0.9 * m[i];
            return nesterov ? gi + 0.9 * m[i] : m[i];
          }),
        ),
      );
    }
  });

  test('ema: e ← d e + (1 − d) g, debiased e / (1 − dᵗ) or raw', () => {
    for (const debias of [true, false]) {
      const e = zeros();
      expectClose(
        outputs(ema(0.8, { debias })),
        reference((g, t) =>
          g.map((gi, i) => {
            e[i] = 0.8 * e[i] + 0.2 * gi;
            return debias ? e[i] / (1 - 0.8 ** t) : e[i];
          }),
        ),
      );
    }
  });

  test('scaleByAdam: plain, epsRoot, Nesterov (NAdam), AMSGrad', () => {
    const adamRef = ({ b1 = 0.9, b2 = 0.999, eps = 1e-8, epsRoot = 0, nesterov = false, amsgrad = false }) => {
      const m = zeros();
      const v = zeros();
      const vmax = zeros();
      return reference((g, t) =>
        g.map((gi, i) => {
          m[i] = b1 * m[i] + (1 - b1) * gi;
          v[i] = b2 * v[i] + (1 - b2) * gi * gi;
          const mHat = nesterov ? (b1 * m[i]) / (1 - b1 ** (t + 1)) + ((1 - b1) * gi) / (1 - b1 ** t) : m[i] / (1 - b1 ** t);
          let vHat = v[i] / (1 - b2 ** t);
          if (amsgrad) vHat = vmax[i] = Math.max(vmax[i], vHat);
          return mHat / (Math.sqrt(vHat + epsRoot) + eps);
        }),
      );
    };
    expectClose(outputs(scaleByAdam()), adamRef({}));
    expectClose(
      outputs(scaleByAdam({ b1: 0.5, b2: 0.9, eps: 1e-3, epsRoot: 1e-2 })),
      adamRef({ b1: 0.5, b2: 0.9, eps: 1e-3, epsRoot: 1e-2 }),
    );
    expectClose(outputs(scaleByAdam({ nesterov: true })), adamRef({ nesterov: true }));
    const ams = adamRef({ b2: 0.5, amsgrad: true });
    expectClose(outputs(scaleByAdam({ b2: 0.5, amsgrad: true })), ams);
    expectClose(outputs(scaleByAmsgrad({ b2: 0.5 })), ams);
    // The gradients shrink, so the running max matters: AMSGrad ≠ Adam here.
    const plain = adamRef({ b2: 0.5 });
    expect(Math.abs(ams[STEPS - 1][0] - plain[STEPS - 1][0])).toBeGreaterThan(1e-2);
  });

  test('scaleByRms and scaleByStddev (centered): eps inside the root, initialScale', () => {
    const rmsRef = (decay: number, eps: number, init: number) => {
      const v = [init, init, init, init, init];
      return reference((g) =>
        g.map((gi, i) => {
          v[i] = decay * v[i] + (1 - decay) * gi * gi;
          return gi / Math.sqrt(v[i] + eps);
        }),
      );
    };
    expectClose(outputs(scaleByRms()), rmsRef(0.9, 1e-8, 0));
    expectClose(outputs(scaleByRms({ decay: 0.5, eps: 1e-2, initialScale: 1 })), rmsRef(0.5, 1e-2, 1));
    const stdRef = (decay: number, eps: number, init: number) => {
      const m = zeros();
      const v = [init, init, init, init, init];
      return reference((g) =>
        g.map((gi, i) => {
          m[i] = decay * m[i] + (1 - decay) * gi;
          v[i] = decay * v[i] + (1 - decay) * gi * gi;
          return gi / Math.sqrt(v[i] - m[i] * m[i] + eps);
        }),
      );
    };
    // v − m² is a difference of float32 numbers: a looser tolerance.
    expectClose(outputs(scaleByStddev({ eps: 1e-4 })), stdRef(0.9, 1e-4, 0), 1e-4, 1e-5);
    expectClose(outputs(scaleByStddev({ decay: 0.5, eps: 1e-2, initialScale: 1 })), stdRef(0.5, 1e-2, 1), 1e-4, 1e-5);
  });

  test('scaleByRss (Adagrad): s ← s + g², output g / sqrt(s + eps), 0 where s = 0', () => {
    const rssRef = (init: number, eps: number) => {
      const s = [init, init, init, init, init];
      return reference((g) =>
        g.map((gi, i) => {
          s[i] += gi * gi;
          return s[i] > 0 ? gi / Math.sqrt(s[i] + eps) : 0;
        }),
      );
    };
    expectClose(outputs(scaleByRss()), rssRef(0.1, 1e-7));
    expectClose(outputs(scaleByRss({ initialAccumulatorValue: 0, eps: 0 })), rssRef(0, 0));
    // With no accumulator and a zero gradient (entry 2 of step 1): exactly 0, not NaN.
    expect(outputs(scaleByRss({ initialAccumulatorValue: 0, eps: 0 }))[0][2]).toBe(0);
  });

  test('scaleByLion: output sign(b1 m + (1 − b1) g), then m ← b2 m + (1 − b2) g', () => {
    const m = zeros();
    expectClose(
      outputs(scaleByLion({ b1: 0.7, b2: 0.95 })),
      reference((g) =>
        g.map((gi, i) => {
          const out = Math.sign(0.7 * m[i] + 0.3 * gi);
          m[i] = 0.95 * m[i] + 0.05 * gi;
          return out;
        }),
      ),
    );
  });
});

describe('closed forms and state', () => {
  test("Adam's first step is m̂/(sqrt(v̂) + eps) = g/(|g| + eps) exactly", () => {
    const tx = scaleByAdam({ eps: 0.5 });
    const g = { a: tf.tensor1d([2, -0.5, 0]) };
    const s = tx.init(g);
    const [u, s1] = tx.update(g, s, g);
    const got = Array.from((u as any).a.dataSync() as Float32Array);
    [2 / 2.5, -0.5 / 1, 0].forEach((w, i) => expect(got[i]).toBeCloseTo(w, 6));
    // State: a JS-number count and moments shaped like the params.
    expect(s.count).toBe(0);
    expect(s1.count).toBe(1);
    expect(Array.from((s1.mu as any).a.dataSync())).toEqual([0.2, -0.05, 0].map((x) => Math.fround(x)));
    [0.004, 0.00025, 0].forEach((w, i) => expect((s1.nu as any).a.dataSync()[i]).toBeCloseTo(w, 8));
    expect(s1.nuMax).toBeNull();
    const ams = scaleByAmsgrad().init(g);
    expect(tree.isTensor((ams.nuMax as any).a)).toBe(true);
    tree.dispose([g, s, u, s1] as any);
    tree.dispose(ams as any);
  });

  test('ema debiasing makes a constant input come out unchanged from the first step', () => {
    const tx = ema(0.99);
    let s = tx.init({ a: tf.zeros([2]) });
    const g = { a: tf.tensor1d([3, -4]) };
    for (let t = 0; t < 3; t++) {
      const [u, s1] = tx.update(g, s);
      Array.from((u as any).a.dataSync() as Float32Array).forEach((v, i) => expect(v).toBeCloseTo([3, -4][i], 4));
      tree.dispose([u, s] as any);
      s = s1;
    }
    expect(s.count).toBe(3);
    tree.dispose([s, g] as any);
  });

  test('update returns fresh tensors and leaves its inputs intact, for every moment transform', () => {
    const txs: GradientTransformation<any>[] = [
      trace(0.9),
      ema(0.9, { debias: false }),
      scaleByAdam({ amsgrad: true }),
      scaleByRms(),
      scaleByStddev(),
      scaleByRss(),
      scaleByLion(),
    ];
    for (const tx of txs) {
      const g = toTree(gradAt(1));
      const s = tx.init(params);
      const inputs = tree.tensors([g, s, params] as any);
      const before = inputs.map((t) => Array.from(t.dataSync()));
      const [u, s1] = tx.update(g, s, params);
      tree.tensors([u, s1] as any).forEach((t) => expect(inputs.includes(t)).toBe(false));
      inputs.forEach((t, i) => expect(Array.from(t.dataSync())).toEqual(before[i]));
      tree.dispose([g, s, u, s1] as any);
    }
  });
});

describe('errors', () => {
  test('bad hyperparameters throw HyperparameterError at construction, naming the argument', () => {
    const bad: [() => unknown, RegExp][] = [
      [() => trace(1), /decay must be in \[0, 1\), got 1/],
      [() => trace(-0.1), /decay must be in \[0, 1\)/],
      [() => ema(NaN), /decay must be a finite number/],
      [() => scaleByAdam({ b1: 1 }), /b1 must be in \[0, 1\), got 1/],
      [() => scaleByAdam({ b2: 1.5 }), /b2 must be in \[0, 1\)/],
      [() => scaleByAdam({ eps: -1 }), /eps must be in \[0, Infinity\]/],
      [() => scaleByAdam({ epsRoot: -1 }), /epsRoot must be in/],
      [() => scaleByAmsgrad({ b1: -0.5 }), /b1 must be in/],
      [() => scaleByRms({ decay: 1 }), /decay must be in \[0, 1\)/],
      [() => scaleByRms({ initialScale: -1 }), /initialScale must be in/],
      [() => scaleByStddev({ eps: NaN }), /eps must be a finite number/],
      [() => scaleByRss({ initialAccumulatorValue: -1 }), /initialAccumulatorValue must be in/],
      [() => scaleByRss({ eps: -1 }), /eps must be in/],
      [() => scaleByLion({ b1: 1 }), /b1 must be in \[0, 1\)/],
      [() => scaleByLion({ b2: 2 }), /b2 must be in \[0, 1\)/],
    ];
    for (const [make, msg] of bad) {
      expect(make).toThrow(HyperparameterError);
      expect(make).toThrow(msg);
    }
  });

  test('int32 updates raise an InputError naming the leaf', () => {
    const ints = { a: tf.tensor1d([1, 2, 3], 'int32'), b: [tf.tensor2d([[1, 2]], [1, 2], 'int32')] };
    for (const tx of [
      trace(0.9),
      ema(0.9),
      scaleByAdam(),
      scaleByAmsgrad(),
      scaleByRms(),
      scaleByStddev(),
      scaleByRss(),
      scaleByLion(),
    ] as GradientTransformation<any>[]) {
      const s = tx.init(params);
      expect(() => tx.update(ints, s, params)).toThrow(InputError);
      expect(() => tx.update(ints, s, params)).toThrow('updates.a: expected float32 values, got int32');
      tree.dispose(s as any);
    }
    tree.dispose(ints as any);
  });
});
