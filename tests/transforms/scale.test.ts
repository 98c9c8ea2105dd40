// transforms/scale.ts: scale, scaleByLearningRate (number and schedule), scaleBySchedule, scaleBySign.
import * as tf from '@tensorflow/tfjs-core';
import { scale, scaleByLearningRate, scaleBySchedule, scaleBySign, tree, HyperparameterError, InputError } from '../../index';
import type { GradientTransformation } from '../../index';

const g = { a: tf.tensor1d([0.5, -2, 0]), b: [tf.tensor2d([[3, -1e-3]])] };
const vals = (u: any): number[] => [...u.a.dataSync(), ...u.b[0].dataSync()];
const G = [0.5, -2, 0, 3, -1e-3];

/** Runs `steps` updates with the same gradient; returns each step's output. */
function run(tx: GradientTransformation<any>, steps = 1): number[][] {
  let s = tx.init(g);
  const out: number[][] = [];
  for (let i = 0; i < steps; i++) {
    const [u, s1] = tx.update(g, s, g);
    out.push(vals(u));
    tree.dispose([u, s] as any);
    s = s1;
  }
  tree.dispose(s as any);
  return out;
}
const close = (got: number[], want: number[]) => got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));

describe('scaling transforms', () => {
  test('scale(step): u ← step · u', () => {
    close(
      run(scale(-0.1))[0],
      G.map((x) => -0.1 * x),
    );
    close(run(scale(0))[0], [0, 0, 0, 0, 0]);
  });

  test('scaleByLearningRate: −lr·u by default, +lr·u with flipSign false; a schedule is read at count 0, 1, 2', () => {
    close(
      run(scaleByLearningRate(0.1))[0],
      G.map((x) => -0.1 * x),
    );
    close(
      run(scaleByLearningRate(0.1, { flipSign: false }))[0],
      G.map((x) => 0.1 * x),
    );
    const seen: number[] = [];
    const out = run(
      scaleByLearningRate((t) => (seen.push(t), 0.5 ** t)),
      3,
    );
    expect(seen).toEqual([0, 1, 2]);
    out.forEach((row, t) =>
      close(
        row,
        G.map((x) => -(0.5 ** t) * x),
      ),
    );
    const tx = scaleByLearningRate(0.1);
    const s = tx.init(g);
    const [u, s1] = tx.update(g, s);
    expect([s.count, s1.count]).toEqual([0, 1]);
    tree.dispose(u);
  });

  test('scaleBySchedule: s(count) · u, no sign flip', () => {
    const out = run(
      scaleBySchedule((t) => 1 + t),
      3,
    );
    out.forEach((row, t) =>
      close(
        row,
        G.map((x) => (1 + t) * x),
      ),
    );
  });

  test('scaleBySign: sign(u) ∈ {−1, 0, 1}', () => {
    expect(run(scaleBySign())[0]).toEqual([1, -1, 0, 1, -1]);
  });

  test('outputs are fresh tensors; inputs are neither disposed nor changed', () => {
    for (const tx of [scale(1), scaleByLearningRate(0), scaleBySchedule(() => 1), scaleBySign()] as GradientTransformation<any>[]) {
      const s = tx.init(g);
      const [u, s1] = tx.update(g, s, g);
      const ins = tree.tensors(g);
      tree.tensors([u, s1] as any).forEach((t) => expect(ins.includes(t)).toBe(false));
      ins.forEach((t) => expect(t.isDisposed).toBe(false));
      tree.dispose(u);
    }
    expect(vals(g)).toEqual(G.map(Math.fround));
  });
});

describe('errors', () => {
  test('bad hyperparameters throw at construction, naming the argument and range', () => {
    expect(() => scale(NaN)).toThrow(/step must be a finite number/);
    expect(() => scaleByLearningRate(-1)).toThrow(HyperparameterError);
    expect(() => scaleByLearningRate(-1)).toThrow('learningRate must be in [0, Infinity], got -1');
    expect(() => scaleByLearningRate(Infinity)).toThrow(/learningRate must be a finite number/);
    expect(() => scaleBySchedule(0.1 as any)).toThrow(HyperparameterError);
  });

  test('a schedule giving a negative or non-finite value throws at that step', () => {
    const neg = scaleByLearningRate((t) => (t < 1 ? 0.1 : -0.1));
    let s = neg.init(g);
    const [u, s1] = neg.update(g, s);
    tree.dispose(u);
    s = s1;
    expect(() => neg.update(g, s)).toThrow(/learningRate evaluated to -0.1 < 0 at step 1/);
    const nan = scaleBySchedule(() => NaN);
    expect(() => nan.update(g, nan.init(g))).toThrow(/schedule evaluated to NaN at step 0/);
  });

  test('int32 updates raise an InputError naming the leaf (the stateful scalings)', () => {
    const ints = { a: tf.tensor1d([1, 2], 'int32') };
    for (const tx of [scaleByLearningRate(0.1), scaleBySchedule(() => 1)] as GradientTransformation<any>[]) {
      expect(() => tx.update(ints, tx.init(ints))).toThrow(InputError);
      expect(() => tx.update(ints, tx.init(ints))).toThrow('updates.a: expected float32 values, got int32');
    }
    ints.a.dispose();
  });
});
