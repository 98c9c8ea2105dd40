// The step context (lib/stepContext.ts): one forward pass per batch and params per step, shared by
// the gradient and every piece of a second-order step; the same numbers as without it.
import * as tf from '@tensorflow/tfjs-core';
import { listMethods, make, makeStep, mlpObjective, objectiveLoss, tree, valueAndGrad } from '../../index';
import type { MethodName, Objective, Tree } from '../../index';
import { stepContext } from '../../lib/stepContext';
import { countForwardPasses } from '../../testing';

const objective = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });
const sizes = [6, 8, 3];

function batchOf(n: number, seed: number): { x: tf.Tensor; y: tf.Tensor } {
  return tf.tidy(() => ({
    x: tf.randomNormal([n, sizes[0]], 0, 1, 'float32', seed),
    y: tf
      .oneHot(
        tf.tensor1d(
          Array.from({ length: n }, (_, i) => (i * 5 + seed) % 3),
          'int32',
        ),
        3,
      )
      .toFloat(),
  }));
}

/** Max |a − b| / max(1, max |b|) over the leaves. */
function relativeError(a: Tree, b: Tree): number {
  const [x, y] = [tree.leaves(a), tree.leaves(b)];
  return Math.max(
    ...x.map((t, i) => tf.tidy(() => tf.max(tf.abs(tf.sub(t, y[i]))).dataSync()[0] / Math.max(1, tf.max(tf.abs(y[i])).dataSync()[0]))),
  );
}

/** The options each method is built with here: its model (lossFn or objective) and a damping that adapts for the second-order ones. */
function methodOptions(name: MethodName, o: Objective): Record<string, unknown> {
  const adaptive = ['newtonCg', 'sgn', 'egn', 'ggnDirect', 'swmng'].includes(name) ? { lamPolicy: 'trustRegion' } : {};
  return { objective: o, lossFn: objectiveLoss(o), ...adaptive }; // make() takes the one the method needs
}

describe('stepContext', () => {
  const params = objective.init(sizes, 3);
  const batch = batchOf(8, 1);
  afterAll(() => tree.dispose([params, batch.x, batch.y]));

  test('one linearization per (objective, params, inputs): the loss and g = Jᵀr/B come from it, equal to the tape', () => {
    const counted = countForwardPasses(objective);
    const before = tf.memory().numTensors;
    const context = stepContext();
    const lin = context.linearization(counted.objective, params, batch);
    expect(context.linearization(counted.objective, params, { x: batch.x }).outputs).toBe(lin.outputs);
    lin.dispose(); // a no-op: the context owns it
    const loss = context.loss(counted.objective, params, batch);
    const g = context.gradient(counted.objective, params, batch);
    expect(counted.count).toBe(1);
    expect(context.forwardPasses).toBe(1);
    const reference = valueAndGrad(objectiveLoss(objective))(params, batch);
    expect(Math.abs(loss.dataSync()[0] - reference.value.dataSync()[0])).toBeLessThan(1e-6);
    expect(relativeError(g, reference.grads)).toBeLessThan(1e-6);
    // Other params, or other inputs: another forward pass.
    const moved = tree.map((t: tf.Tensor) => tf.add(t, 0.01), params);
    context.linearization(counted.objective, moved, batch);
    const other = batchOf(8, 2);
    context.linearization(counted.objective, params, other);
    expect(counted.count).toBe(3);
    context.dispose();
    tree.dispose([g, reference.grads, moved, other.x, other.y]);
    reference.value.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('reuse: false runs a forward pass at every request, each released with the context', () => {
    const counted = countForwardPasses(objective);
    const before = tf.memory().numTensors;
    const context = stepContext({ reuse: false });
    context.linearization(counted.objective, params, batch);
    context.linearization(counted.objective, params, batch);
    expect(counted.count).toBe(2);
    context.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('makeStep(tx, objective): one forward pass of the batch per step', () => {
  const gaussNewton: MethodName[] = ['sgn', 'egn', 'ggnDirect', 'swmng', 'ignd', 'sophiaG'];

  test.each(gaussNewton)('%s: the same steps as makeStep(tx, lossFn), with fewer forward passes, leak-free', (name) => {
    const batch = batchOf(8, 4);
    const counted = countForwardPasses(objective);
    const run = (shared: boolean, steps: number, reuse = true) => {
      const tx = make(name, methodOptions(name, counted.objective) as never);
      let params = objective.init(sizes, 5);
      let state = tx.init(params);
      const step = shared ? makeStep(tx, counted.objective, { reuse }) : makeStep(tx, objectiveLoss(counted.objective));
      const counts: number[] = [];
      for (let t = 0; t < steps; t++) {
        counted.reset();
        const out = step(params, state, batch);
        counts.push(counted.count);
        out.loss.dispose();
        ({ params, state } = out);
      }
      tree.dispose(state as never);
      return { params, counts };
    };
    const plain = run(false, 3);
    const shared = run(true, 3);
    const unshared = run(true, 3, false);
    expect(relativeError(shared.params, plain.params)).toBeLessThan(1e-4);
    expect(relativeError(unshared.params, plain.params)).toBeLessThan(1e-4);
    // The step context runs one linearization of the batch, and adaptive damping one loss at θ + δ.
    const adaptive = ['sgn', 'egn', 'ggnDirect', 'swmng'].includes(name);
    expect(shared.counts).toEqual([1, 1, 1].map((c) => c + (adaptive ? 1 : 0)));
    expect(plain.counts.every((c, i) => c >= shared.counts[i])).toBe(true);
    expect(plain.counts[0]).toBeGreaterThan(shared.counts[0]); // sophiaG refreshes its estimate at the first step only
    expect(unshared.counts[0]).toBeGreaterThanOrEqual(plain.counts[0]);
    // Leak-free over more steps.
    const warm = run(true, 1);
    tree.dispose(warm.params);
    const before = tf.memory().numTensors;
    const long = run(true, 20);
    tree.dispose(long.params);
    expect(tf.memory().numTensors).toBe(before);
    tree.dispose([plain.params, shared.params, unshared.params, batch.x, batch.y]);
  });

  test('every registry method runs from makeStep(tx, objective), leak-free', () => {
    const batch = batchOf(8, 6);
    for (const name of listMethods()) {
      const tx = make(name, methodOptions(name, objective) as never);
      let params = objective.init(sizes, 7);
      let state = tx.init(params);
      const step = makeStep(tx, objective);
      const before = tf.memory().numTensors;
      for (let t = 0; t < 3; t++) {
        const out = step(params, state, batch);
        expect(Number.isFinite(out.loss.dataSync()[0])).toBe(true);
        out.loss.dispose();
        ({ params, state } = out);
      }
      expect(tf.memory().numTensors).toBe(before);
      tree.dispose([params, state as never]);
    }
    tree.dispose([batch.x, batch.y]);
  });
});
