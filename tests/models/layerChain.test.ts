// The closed-form linearization of a Sequential tfjs-layers model (models/layerChain.ts): for every
// layer type the chain knows, its outputs, J v, Jᵀ u and row Gram equal the tape's (the same model
// without the hooks) to 1e-5, without leaks; models with other layers fall back to the tape.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { linearization, outputBasis, tree } from '../../index';
import type { Tree } from '../../index';
import { layersObjective } from '../../models/layers';

const init = (seed: number) => ({
  kernelInitializer: tfl.initializers.glorotNormal({ seed }),
  biasInitializer: tfl.initializers.randomNormal({ seed: seed + 100, stddev: 0.3 }),
});

/** Sequential models covering every layer type of the chain, with the loss each is compiled with. */
const MODELS: [string, () => tfl.Sequential, string, number[]][] = [
  [
    "conv 'same' tanh → max-pool → strided conv relu (no bias) → flatten → dropout → dense softmax",
    () =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh', ...init(1) }),
          tfl.layers.maxPooling2d({ poolSize: 2 }),
          tfl.layers.conv2d({ filters: 2, kernelSize: 2, strides: 1, useBias: false, activation: 'relu', ...init(2) }),
          tfl.layers.flatten(),
          tfl.layers.dropout({ rate: 0.5 }),
          tfl.layers.dense({ units: 3, activation: 'softmax', ...init(3) }),
        ],
      }),
    'categoricalCrossentropy',
    [4, 6, 6, 2],
  ],
  [
    'conv elu → average-pool (odd input: cropped) → sigmoid activation layer → global average pool → dense',
    () =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [7, 7, 1], filters: 4, kernelSize: 2, strides: 1, activation: 'elu', ...init(4) }),
          tfl.layers.averagePooling2d({ poolSize: 2 }),
          tfl.layers.activation({ activation: 'sigmoid' }),
          tfl.layers.globalAveragePooling2d({}),
          tfl.layers.dense({ units: 2, ...init(5) }),
        ],
      }),
    'meanSquaredError',
    [3, 7, 7, 1],
  ],
  [
    'dense relu → reshape → max-pool 1×1 → flatten → dense selu → dense softplus → dense sigmoid',
    () =>
      tfl.sequential({
        layers: [
          tfl.layers.dense({ inputShape: [5], units: 12, activation: 'relu', ...init(6) }),
          tfl.layers.reshape({ targetShape: [2, 3, 2] }),
          tfl.layers.maxPooling2d({ poolSize: 1 }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 4, activation: 'selu', ...init(7) }),
          tfl.layers.dense({ units: 4, activation: 'softplus', ...init(8) }),
          tfl.layers.dense({ units: 2, activation: 'sigmoid', ...init(9) }),
        ],
      }),
    'binaryCrossentropy',
    [5, 5],
  ],
  [
    "strided 'valid' conv tanh → max-pool (odd: cropped) → flatten → dense tanh → dense softmax",
    () =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [9, 9, 1], filters: 2, kernelSize: 3, strides: 2, activation: 'tanh', ...init(10) }),
          tfl.layers.maxPooling2d({ poolSize: 3 }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 4, activation: 'tanh', ...init(11) }),
          tfl.layers.dense({ units: 3, activation: 'softmax', ...init(12) }),
        ],
      }),
    'sparseCategoricalCrossentropy',
    [3, 9, 9, 1],
  ],
];

/** Max |a − b| over max(1, max |b|), leaf by leaf. */
function relativeError(a: Tree | tf.Tensor, b: Tree | tf.Tensor): number {
  const [x, y] = [tree.leaves(a as Tree), tree.leaves(b as Tree)];
  return Math.max(
    ...x.map((t, i) => tf.tidy(() => tf.max(tf.abs(tf.sub(t, y[i]))).dataSync()[0] / Math.max(1, tf.max(tf.abs(y[i])).dataSync()[0]))),
  );
}

describe('the closed-form linearization of a Sequential tfjs-layers model equals the tape (1e-5)', () => {
  test.each(MODELS)('%s', (_name, build, loss, inputShape) => {
    const model = build();
    model.compile({ optimizer: 'sgd', loss });
    const objective = layersObjective(model);
    const byTape = { predict: objective.predict, loss: objective.loss };
    const p = Object.fromEntries(model.trainableWeights.map((w) => [(w.read() as tf.Variable).name, tf.clone(w.read())]));
    const v = tree.map((t: tf.Tensor) => tf.randomNormal(t.shape, 0, 1, 'float32', 21), p);
    const x = tf.randomNormal(inputShape, 0, 1, 'float32', 22);
    linearization(objective, p, { x }).dispose(); // a first forward pass: tfjs-layers caches its constants
    const before = tf.memory().numTensors;
    const closed = linearization(objective, p, { x });
    const tape = linearization(byTape, p, { x });
    expect(typeof closed.rowGram).toBe('function'); // the chain, not the tape
    expect(tape.rowGram).toBeUndefined();
    const u = tf.randomNormal(tape.outputs.shape, 0, 1, 'float32', 23);
    const [jvClosed, jvTape] = [closed.jvp(v), tape.jvp(v)];
    const [jtuClosed, jtuTape] = [closed.vjp(u), tape.vjp(u)];
    expect(relativeError(closed.outputs, tape.outputs)).toBeLessThan(1e-5);
    expect(relativeError(jvClosed, jvTape)).toBeLessThan(1e-5);
    expect(relativeError(jtuClosed, jtuTape)).toBeLessThan(1e-5);
    // The row Gram for the output basis (J Jᵀ) and for two random cotangent sets, against the tape's Jacobian rows.
    const basis = outputBasis(tape.outputs);
    const cotangents = tf.randomNormal([2, ...tape.outputs.shape], 0, 1, 'float32', 24);
    for (const c of [basis, cotangents]) {
      const fast = closed.rowGram?.(c) as tf.Tensor;
      const k = c.shape[0];
      // The tape's Gram: vᵢₖ = Jᵢᵀ U[k, i], one VJP per sample and cotangent.
      const b = x.shape[0];
      const rows = tf.tidy(() =>
        tf.stack(
          Array.from({ length: b * k }, (_, r) => {
            const [i, kk] = [Math.floor(r / k), r % k];
            const mask = tf.oneHot(tf.tensor1d([i], 'int32'), b).reshape([b, ...Array(tape.outputs.rank - 1).fill(1)]);
            const ui = tf.mul(tf.gather(c, kk), mask);
            return tree.ravel(tape.vjp(ui)).vector;
          }),
        ),
      );
      const slow = tf.matMul(rows, rows, false, true);
      const [worst, scale] = tf.tidy(() => [tf.max(tf.abs(tf.sub(fast, slow))).dataSync()[0], tf.max(tf.abs(slow)).dataSync()[0]]);
      expect(worst / scale).toBeLessThan(1e-5);
      tf.dispose([fast, rows, slow]);
    }
    tf.dispose([jvClosed, jvTape, u, basis, cotangents]);
    tree.dispose([jtuClosed, jtuTape]);
    closed.dispose();
    tape.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ...Object.values(p), ...tree.leaves(v)]);
    model.dispose();
  });

  test('a model with a layer the chain does not know (depthwise conv, functional) is linearized by the tape', () => {
    const depthwise = tfl.sequential({
      layers: [tfl.layers.depthwiseConv2d({ inputShape: [4, 4, 1], kernelSize: 2 }), tfl.layers.flatten(), tfl.layers.dense({ units: 2 })],
    });
    const input = tfl.input({ shape: [3] });
    const functional = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
    for (const [model, shape] of [
      [depthwise, [2, 4, 4, 1]],
      [functional, [2, 3]],
    ] as const) {
      model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
      const objective = layersObjective(model);
      const p = Object.fromEntries(model.trainableWeights.map((w) => [(w.read() as tf.Variable).name, w.read()]));
      const x = tf.randomNormal([...shape], 0, 1, 'float32', 25);
      const lin = linearization(objective, p, { x });
      expect(lin.rowGram).toBeUndefined();
      expect(lin.outputs.shape).toEqual([2, 2]);
      lin.dispose();
      x.dispose();
      model.dispose();
    }
  });
});
