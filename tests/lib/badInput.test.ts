// Bad input is refused, never silently wrong: target shapes, class labels, non-float params, disposed
// tensors and empty trees each raise an error naming what is wrong, and leave params and state as
// they were.
import * as tf from '@tensorflow/tfjs-core';
import { adam } from '../../chains/firstOrder';
import { InputError } from '../../lib/errors';
import * as losses from '../../lib/losses';
import { meanSquaredError, objectiveLoss, residualAt, softmaxCrossEntropy } from '../../lib/objective';
import * as tree from '../../lib/tree';
import type { StateTree, Tree } from '../../lib/types';
import { applyUpdates, makeStep, makeStepAsync } from '../../lib/update';

const vals = (t: tf.Tensor) => Array.from(t.dataSync());
const B = 4;
const xs = [
  [1, 0],
  [0, 1],
  [1, 1],
  [2, -1],
];
const ys = [0.5, -1, 2, 1.5];
const linear = {
  predict: (p: Tree, x: tf.Tensor) => tf.matMul(x as tf.Tensor2D, (p as { w: tf.Tensor2D }).w),
  loss: 'meanSquaredError' as const,
};

/** Snapshot of every tensor in a tree or state: its values, and whether it is still alive. */
const snapshot = (s: unknown) => tree.tensors(s as StateTree).map((t) => ({ t, v: vals(t) }));
const expectUntouched = (snap: { t: tf.Tensor; v: number[] }[]) =>
  snap.forEach(({ t, v }) => {
    expect(t.isDisposed).toBe(false);
    expect(vals(t)).toEqual(v);
  });

describe('target shapes: never broadcast', () => {
  test('meanSquaredError OutputLoss: [B] targets for [B, 1] outputs are reshaped (documented), the loss is the [B, 1] one', () => {
    const params = { w: tf.tensor2d([[0.3], [-0.2]]) };
    const x = tf.tensor2d(xs);
    const f = [0.3, -0.2, 0.1, 0.8];
    const want = (0.5 * ys.reduce((acc, y, i) => acc + (f[i] - y) ** 2, 0)) / B;
    const lossFn = objectiveLoss(linear);
    const flat = lossFn(params, { x, y: tf.tensor1d(ys) });
    const column = lossFn(params, { x, y: tf.tensor2d(ys, [B, 1]) });
    expect(vals(flat)[0]).toBeCloseTo(want, 5);
    expect(vals(column)[0]).toBeCloseTo(want, 5);
    const outputs = tf.tensor2d(f, [B, 1]);
    expect(vals(meanSquaredError.value(outputs, tf.tensor1d(ys)))[0]).toBeCloseTo(want, 5);
    const r = residualAt(meanSquaredError, outputs, tf.tensor1d(ys));
    expect(r.shape).toEqual([B, 1]);
    tf.dispose([params.w, x, flat, column, outputs, r]);
  });

  test('meanSquaredError OutputLoss: any other shape difference is an InputError naming both shapes', () => {
    const outputs = tf.zeros([B, 2]);
    for (const y of [tf.zeros([B]), tf.zeros([B, 1]), tf.zeros([B, 3]), tf.zeros([1, 2])]) {
      const shape = `[${y.shape.join(', ')}]`;
      expect(() => meanSquaredError.value(outputs, y)).toThrow(InputError);
      expect(() => meanSquaredError.value(outputs, y)).toThrow(`targets of shape ${shape} do not match outputs of shape [4, 2]`);
      expect(() => meanSquaredError.residual(outputs, y)).toThrow(`outputs of shape [4, 2]`);
      expect(() => residualAt(meanSquaredError, outputs, y)).toThrow(shape);
      y.dispose();
    }
    outputs.dispose();
  });

  test('objectiveLoss checks the targets against the outputs before the loss', () => {
    const params = { w: tf.tensor2d([[0.3], [-0.2]]) };
    const x = tf.tensor2d(xs);
    const y = tf.zeros([B, 2]);
    expect(() => objectiveLoss(linear)(params, { x, y })).toThrow('targets of shape [4, 2] do not match outputs of shape [4, 1]');
    tf.dispose([params.w, x, y]);
  });

  test('plain losses: predictions [B, 1] against targets [B] raise an InputError naming both shapes', () => {
    const f = tf.zeros([B, 1]);
    const y = tf.zeros([B]);
    const cases: [string, () => tf.Tensor][] = [
      ['squaredError', () => losses.squaredError(f, y)],
      ['l2Loss', () => losses.l2Loss(f, y)],
      ['huberLoss', () => losses.huberLoss(f, y)],
      ['sigmoidBinaryCrossEntropy', () => losses.sigmoidBinaryCrossEntropy(f, y)],
      ['softmaxCrossEntropy', () => losses.softmaxCrossEntropy(f, y)],
    ];
    for (const [name, call] of cases) {
      expect(call).toThrow(InputError);
      expect(call).toThrow(new RegExp(`^${name}: \\w+ of shape \\[4, 1\\] and \\w+ of shape \\[4\\] differ`));
    }
    const logits = tf.zeros([B, 3]);
    expect(() => losses.softmaxCrossEntropyWithIntegerLabels(logits, tf.tensor1d([0, 1], 'int32'))).toThrow(
      'labels of shape [2] do not match logits of shape [4, 3]',
    );
    tf.dispose([f, y, logits]);
  });

  test('softmaxCrossEntropy OutputLoss: targets of another batch size or class count name both shapes', () => {
    const f = tf.zeros([B, 3]);
    const one = tf.tensor1d([1], 'int32');
    expect(() => softmaxCrossEntropy.value(f, one)).toThrow('targets of shape [1] do not match outputs of shape [4, 3]');
    const wide = tf.zeros([B, 4]);
    expect(() => softmaxCrossEntropy.residual(f, wide)).toThrow('one-hot of shape [B, 3], got float32 [4, 4]');
    tf.dispose([f, one, wide]);
  });
});

describe('class labels outside [0, C) (checked on the cpu backend, where reading them is free)', () => {
  test('the label value and C are named: OutputLoss, integer-label loss and oneHotFloat', () => {
    const f = tf.zeros([B, 3]);
    const labels = tf.tensor1d([0, 2, 3, 1], 'int32');
    expect(() => softmaxCrossEntropy.value(f, labels)).toThrow(InputError);
    expect(() => softmaxCrossEntropy.value(f, labels)).toThrow('class label 3 at index 2 is outside [0, 3)');
    expect(() => softmaxCrossEntropy.residual(f, labels)).toThrow('C = 3');
    const negative = tf.tensor1d([0, -1, 1, 1], 'int32');
    expect(() => losses.softmaxCrossEntropyWithIntegerLabels(f, negative)).toThrow('class label -1 at index 1 is outside [0, 3)');
    const fractional = tf.tensor1d([0.5, 1]);
    expect(() => losses.oneHotFloat(fractional, 3)).toThrow('class label 0.5 at index 0');
    const good = tf.tensor1d([0, 2, 1, 1], 'int32');
    const v = softmaxCrossEntropy.value(f, good);
    expect(vals(v)[0]).toBeCloseTo(Math.log(3), 5);
    tf.dispose([f, labels, negative, fractional, good, v]);
  });
});

describe('non-float params are refused (adam used to truncate int32 params: [1, 2, 3] → [0, 1, 2])', () => {
  test('adam with int32 params: init, makeStep and applyUpdates raise naming the path and dtype; params and state untouched', () => {
    const tx = adam(1e-2);
    const ints = { w: tf.tensor1d([1, 2, 3], 'int32') };
    expect(() => tx.init(ints)).toThrow(InputError);
    expect(() => tx.init(ints)).toThrow('params.w: expected float32 values, got int32; somax optimizes float32 tensors');
    const floats = { w: tf.tensor1d([1, 2, 3]) };
    const state = tx.init(floats);
    const lossFn = (p: Tree) => tf.sum(tf.square(tf.cast((p as { w: tf.Tensor }).w, 'float32'))) as tf.Scalar;
    const snap = snapshot([ints, state]);
    const n0 = tf.memory().numTensors;
    expect(() => makeStep(tx, lossFn)(ints, state, null)).toThrow('params.w: expected float32 values, got int32');
    const u = { w: tf.tensor1d([-0.01, -0.01, -0.01]) };
    expect(() => applyUpdates(ints, u)).toThrow('params.w: expected float32 values, got int32');
    expect(tf.memory().numTensors).toBe(n0 + 1);
    expectUntouched(snap);
    tree.dispose([ints, floats, state, u] as unknown as StateTree);
  });
});

describe('disposed tensors name their path (instead of "reading \'backend\'")', () => {
  const lossFn = (p: Tree, b: { x: tf.Tensor; y: tf.Tensor }) => tf.mean(losses.squaredError(linear.predict(p, b.x), b.y)) as tf.Scalar;
  const setup = () => {
    const params = { w: tf.tensor2d([[0.3], [-0.2]]) };
    const batch = { x: tf.tensor2d(xs), y: tf.tensor2d(ys, [B, 1]) };
    const tx = adam(1e-2);
    return { params, batch, tx, state: tx.init(params), step: makeStep(tx, lossFn) };
  };

  test('reusing the old params after a makeStep raises "params.w is disposed"; the new params and state are untouched', () => {
    const { params, batch, state, step } = setup();
    const out = step(params, state, batch);
    out.loss.dispose();
    const snap = snapshot([out.params, out.state]);
    const n0 = tf.memory().numTensors;
    expect(() => step(params, out.state, batch)).toThrow(InputError);
    expect(() => step(params, out.state, batch)).toThrow('params.w is disposed');
    expect(() => step(out.params, state, batch)).toThrow(/^state\[0\]\.mu\.w is disposed$/);
    expect(tf.memory().numTensors).toBe(n0);
    expectUntouched(snap);
    tree.dispose([out.params, out.state, batch] as unknown as StateTree);
  });

  test('a disposed state leaf, batch tensor or array param is named; makeStepAsync rejects the same way', async () => {
    const { params, batch, tx, state, step } = setup();
    const mu = (state as unknown as [{ mu: { w: tf.Tensor } }])[0].mu;
    mu.w.dispose();
    const snap = snapshot(params);
    expect(() => step(params, state, batch)).toThrow('state[0].mu.w is disposed');
    await expect(makeStepAsync(tx, lossFn)(params, state, batch)).rejects.toThrow('state[0].mu.w is disposed');
    const fresh = tx.init(params);
    batch.y.dispose();
    expect(() => step(params, fresh, batch)).toThrow('batch.y is disposed');
    expectUntouched(snap);
    expectUntouched(snapshot(fresh));
    const arr = [tf.tensor1d([1]), tf.tensor1d([2])];
    arr[0].dispose();
    expect(() => applyUpdates(arr, [tf.tensor1d([1]), tf.tensor1d([1])])).toThrow('params[0] is disposed');
    expect(() => applyUpdates([tf.tensor1d([1])], arr.slice(0, 1))).toThrow('updates[0] is disposed');
    expect(() => tree.map((a: tf.Tensor) => tf.neg(a), { a: arr[1], b: arr[0] })).toThrow('tree.b is disposed');
    expect(() => tree.clone({ m: arr })).toThrow('state.m[0] is disposed');
    tree.dispose([params, state, fresh, batch, arr] as unknown as StateTree);
  });
});

describe('empty trees', () => {
  test('makeStep and makeStepAsync on {} or [] raise "params is an empty tree: nothing to optimize"', async () => {
    const tx = adam(1e-2);
    const lossFn = () => tf.scalar(0);
    for (const empty of [{}, [], { a: [] }] as Tree[]) {
      expect(() => makeStep(tx, lossFn)(empty, tx.init(empty), null)).toThrow(InputError);
      expect(() => makeStep(tx, lossFn)(empty, tx.init(empty), null)).toThrow('params is an empty tree: nothing to optimize');
      await expect(makeStepAsync(tx, lossFn)(empty, tx.init(empty), null)).rejects.toThrow('params is an empty tree');
    }
    expect(() => tree.assertNonEmpty({ w: tf.zeros([0]) })).not.toThrow();
  });
});
