import * as tf from '@tensorflow/tfjs-core';
import { chain } from '../../lib/combine';
import { HyperparameterError } from '../../lib/errors';
import * as tree from '../../lib/tree';
import type { Extra, GradientTransformation, StateTree, Tree } from '../../lib/types';
import { applyUpdates, incrementalUpdate, isVariable, makeStep, periodicUpdate } from '../../lib/update';

const vals = (t: tf.Tensor) => Array.from(t.dataSync());
const expectClose = (t: tf.Tensor, expected: number[], digits = 6) => {
  const v = vals(t);
  expect(v.length).toBe(expected.length);
  v.forEach((x, i) => expect(x).toBeCloseTo(expected[i], digits));
};

// Inline transforms (transforms/ is written elsewhere).
const scaleTx = (s: number): GradientTransformation<Record<string, never>> => ({ init: () => ({}), update: (u) => [tree.scale(u, s), {}] });
interface MomentumState {
  readonly count: number;
  readonly m: Tree;
  readonly info: { readonly count: number; readonly tag: string };
}
const momentumTx = (decay: number): GradientTransformation<MomentumState> => ({
  init: (p) => ({ count: 0, m: tree.zerosLike(p), info: { count: 0, tag: 'm' } }),
  update: (u, s) => {
    const m = tree.axpy(decay, s.m, u);
    return [tree.clone(m), { count: s.count + 1, m, info: { count: s.count + 1, tag: 'm' } }];
  },
});

describe('applyUpdates', () => {
  test('plain tensors: a new tree p + u, inputs untouched', () => {
    const p = { w: tf.tensor1d([1, 2]), n: [tf.tensor1d([5, 7])] };
    const u = { w: tf.tensor1d([0.5, -0.25]), n: [tf.tensor1d([1.75, -2.5])] };
    const out = applyUpdates(p, u);
    expect(vals(out.w)).toEqual([1.5, 1.75]);
    expect(vals(out.n[0])).toEqual([6.75, 4.5]);
    expect(out.w).not.toBe(p.w);
    expect(vals(p.w)).toEqual([1, 2]);
    expect(vals(u.w)).toEqual([0.5, -0.25]);
    expect(() => applyUpdates(p, { w: u.w } as any)).toThrow(/updates/);
    tree.dispose([p, u, out] as unknown as StateTree);
  });

  test('int32 params or updates are refused naming the path and dtype, nothing computed (the cast used to truncate)', () => {
    const p = { w: tf.tensor1d([1, 2]), n: [tf.tensor1d([5, 7], 'int32')] };
    const u = { w: tf.tensor1d([0.5, -0.25]), n: [tf.tensor1d([1.75, -2.5])] };
    const n0 = tf.memory().numTensors;
    expect(() => applyUpdates(p, u)).toThrow('params.n[0]: expected float32 values, got int32; somax optimizes float32 tensors');
    const ints = { w: tf.tensor1d([1, 1], 'int32'), n: [tf.tensor1d([1, 1])] };
    const floats = { w: tf.tensor1d([1, 2]), n: [tf.tensor1d([5, 7])] };
    expect(() => applyUpdates(floats, ints)).toThrow('updates.w: expected float32 values, got int32');
    expect(tf.memory().numTensors).toBe(n0 + 4);
    expect(vals(p.n[0])).toEqual([5, 7]);
    tree.dispose([p, u, ints, floats] as unknown as StateTree);
  });

  test('tf.Variables: assigned p + u in place, the same variables returned, nothing leaked', () => {
    const v = { w: tf.variable(tf.tensor1d([1, 2])), b: [tf.variable(tf.scalar(3))] };
    const u = { w: tf.tensor1d([0.5, 0.5]), b: [tf.scalar(-1)] };
    expect(isVariable(v.w)).toBe(true);
    expect(isVariable(u.w)).toBe(false);
    const n0 = tf.memory().numTensors;
    const out = applyUpdates(v, u);
    expect(out.w).toBe(v.w);
    expect(out.b[0]).toBe(v.b[0]);
    expect(vals(v.w)).toEqual([1.5, 2.5]);
    expect(vals(v.b[0])).toEqual([2]);
    expect(tf.memory().numTensors).toBe(n0);
    tree.dispose([v, u] as unknown as StateTree);
  });
});

describe('incrementalUpdate and periodicUpdate', () => {
  test('Polyak averaging and periodic copies, as fresh tensors', () => {
    const nw = { a: tf.tensor1d([1, 2]) };
    const old = { a: tf.tensor1d([3, -2]) };
    const inc = incrementalUpdate(nw, old, 0.25) as any;
    expectClose(inc.a, [0.25 * 1 + 0.75 * 3, 0.25 * 2 - 0.75 * 2]);
    const p0 = periodicUpdate(nw, old, 6, 3) as any;
    const p1 = periodicUpdate(nw, old, 7, 3) as any;
    expect(vals(p0.a)).toEqual([1, 2]);
    expect(vals(p1.a)).toEqual([3, -2]);
    expect(p0.a).not.toBe(nw.a);
    expect(p1.a).not.toBe(old.a);
    expect(() => incrementalUpdate(nw, old, 1.5)).toThrow(HyperparameterError);
    expect(() => periodicUpdate(nw, old, 1, 0)).toThrow(HyperparameterError);
    tree.dispose([nw, old, inc, p0, p1] as StateTree);
  });
});

describe('makeStep', () => {
  // A tiny quadratic: L(θ, c) = ½ Σ a ⊙ (θ − c)², minimum at c; ∇L = a ⊙ (θ − c).
  const a = tf.tensor1d([1, 4]);
  const loss = (p: Tree, c: tf.Tensor) => tf.mul(0.5, tf.sum(tf.mul(a, tf.square(tf.sub((p as any).x, c))))) as tf.Scalar;
  afterAll(() => a.dispose());

  test('matches a hand-written step and converges; numTensors flat over 500 steps; info from the state', () => {
    const c = tf.tensor1d([1, -1]);
    const tx = chain(momentumTx(0.5), scaleTx(-0.1));
    const step = makeStep(tx, loss);
    let params: Tree = { x: tf.tensor1d([0, 0]) };
    let state = tx.init(params);
    // Step 1 by hand: g = a ⊙ (0 − c) = [−1, 4]; m = g; θ = −0.1·m.
    const first = step(params, state, c);
    expectClose(first.loss, [0.5 * (1 + 4)]);
    expectClose((first.params as any).x, [0.1, -0.4]);
    expect(first.info).toEqual({ count: 1, tag: 'm' });
    first.loss.dispose();
    ({ params, state } = first);
    let reference = -1;
    for (let i = 1; i < 500; i++) {
      const old = tree.leaves(params);
      const r = step(params, state, c);
      expect(old.every((t) => t.isDisposed)).toBe(true); // old params consumed
      r.loss.dispose();
      ({ params, state } = r);
      if (i === 2) reference = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(reference);
    expectClose((params as any).x, [1, -1], 5);
    expect((state as any)[0].count).toBe(500);
    tree.dispose([params, state, c] as StateTree);
  });

  test('consumes the old state; passes batch, curvatureBatch, value and key to the transform', () => {
    const c = tf.tensor1d([1, -1]);
    const c2 = tf.tensor1d([0, 0]);
    const seen: Extra[] = [];
    const spy: GradientTransformation<{ t: tf.Tensor }> = {
      init: () => ({ t: tf.scalar(0) }),
      update: (u, s, _p, extra) => {
        seen.push({ ...extra, value: (extra!.value as tf.Scalar).dataSync()[0] });
        return [tree.scale(u, -0.1), { t: tf.add(s.t, 1) }];
      },
    };
    const step = makeStep(spy, loss);
    const params = { x: tf.tensor1d([0, 0]) };
    const s0 = spy.init(params);
    const r1 = step(params, s0, c, { key: 42 });
    expect(s0.t.isDisposed).toBe(true);
    expect(seen[0].batch).toBe(c);
    expect(seen[0].curvatureBatch).toBe(c);
    expect(seen[0].key).toBe(42);
    expect(seen[0].value).toBeCloseTo(2.5, 6);
    expect(r1.loss.isDisposed).toBe(false);
    expect(r1.info).toEqual({});
    const r2 = step(r1.params, r1.state, c, { curvatureBatch: c2 });
    expect(seen[1].curvatureBatch).toBe(c2);
    expect(c.isDisposed || c2.isDisposed).toBe(false); // batches are never disposed
    tree.dispose([r1.loss, r2.params, r2.state, r2.loss, c, c2] as StateTree);
  });

  test('tf.Variable params are updated in place and never disposed', () => {
    const c = tf.tensor1d([1, -1]);
    const tx = scaleTx(-0.2);
    const step = makeStep(tx, loss);
    const x = tf.variable(tf.tensor1d([0, 0]));
    let state = tx.init({ x });
    let reference = -1;
    for (let i = 0; i < 50; i++) {
      const r = step({ x }, state, c);
      expect((r.params as any).x).toBe(x);
      r.loss.dispose();
      state = r.state;
      if (i === 1) reference = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(reference);
    expect(x.isDisposed).toBe(false);
    expectClose(x, [1, -1], 4);
    tree.dispose([x, c] as StateTree);
  });

  test('nothing leaks when the transform throws; a transform returning its input is not double-disposed', () => {
    const c = tf.tensor1d([1, -1]);
    const params = { x: tf.tensor1d([0, 0]) };
    const boom: GradientTransformation<Record<string, never>> = {
      init: () => ({}),
      update: () => {
        throw new Error('boom');
      },
    };
    const n0 = tf.memory().numTensors;
    expect(() => makeStep(boom, loss)(params, {}, c)).toThrow('boom');
    expect(tf.memory().numTensors).toBe(n0);
    const rude: GradientTransformation<Record<string, never>> = { init: () => ({}), update: (u) => [u, {}] };
    const r = makeStep(rude, loss)(params, {}, c);
    expectClose((r.params as any).x, [-1, 4]);
    expect(() => makeStep({} as any, loss)).toThrow(HyperparameterError);
    tree.dispose([r.params, r.loss, c] as StateTree);
  });
});
