/**
 * The demo's training, free of the DOM (so node can run it too): a 784-32-10 tanh MLP on MNIST
 * digits, one run per optimizer, minibatch steps through `makeStepAsync`, test accuracy on demand.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { adam, make, makeStepAsync, mlpObjective, objectiveLoss, tree } from '../../index';
import type { GradientTransformation, MethodName, Tree } from '../../index';
import type { DigitSet } from '../data/mnist';

/** Hidden units of the demo's MLP. */
export const HIDDEN = 32;
/** Curvature quantities use the first this-many samples of each minibatch. */
export const CURVATURE_BATCH = 16;

/** Per-method options on this problem (the registry's defaults for methods not listed). */
export const DEMO_OPTIONS: Readonly<Record<string, Record<string, unknown>>> = {
  adam: { learningRate: 3e-3 },
  sophiaG: { learningRate: 3e-3, weightDecay: 0 },
  sophiaH: { learningRate: 3e-3, weightDecay: 0 },
  adahessian: { learningRate: 0.05 },
  egn: { lam0: 1, learningRate: 0.5 },
  sgn: { lam0: 1, learningRate: 0.5, maxIterations: 10 },
  newtonCg: { lam0: 1, learningRate: 0.5, maxIterations: 10 },
  swmng: { lam0: 1, learningRate: 0.5 },
  sgdArmijo: { learningRate: 1 },
};

/**
 * The demo's objective: the MLP `tanh(x W1 + b1) W2 + b2` (logits) with softmax cross-entropy, as an
 * `mlpObjective`, whose hooks (the delta-trick row Gram, the closed-form linearization) make the
 * Gauss-Newton methods' products cheap on every backend.
 */
export const objective = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });

/** The MLP's logits. */
export const predict = (p: Tree, x: tf.Tensor): tf.Tensor => objective.predict(p, x);

/** Initial parameters: Gaussian weights scaled by 1/√fan-in, zero biases (seeded). */
export function initParams(seed: number): Tree {
  return tf.tidy(() => ({
    w1: tf.mul(tf.randomNormal([784, HIDDEN], 0, 1, 'float32', seed), 1 / Math.sqrt(784)),
    b1: tf.zeros([HIDDEN]),
    w2: tf.mul(tf.randomNormal([HIDDEN, 10], 0, 1, 'float32', seed + 1), 1 / Math.sqrt(HIDDEN)),
    b2: tf.zeros([10]),
  }));
}

/** `adam` or a registry method, built for the demo's objective. */
export function buildOptimizer(name: string): GradientTransformation<any> {
  const options = DEMO_OPTIONS[name] ?? {};
  if (name === 'adam') return adam(options.learningRate as number);
  return make(name as MethodName, { objective, lossFn: objectiveLoss(objective), ...options } as any);
}

/** Digits as tensors, kept for the whole session. */
export interface Data {
  readonly x: tf.Tensor2D;
  readonly y: tf.Tensor2D;
  readonly testX: tf.Tensor2D;
  readonly testLabels: tf.Tensor1D;
  readonly n: number;
}

/** Turns the train and test digit sets into tensors. */
export function toTensors(train: DigitSet, test: DigitSet): Data {
  return {
    x: tf.tensor2d(train.x, [train.n, 784]),
    y: tf.tensor2d(train.y, [train.n, 10]),
    testX: tf.tensor2d(test.x, [test.n, 784]),
    testLabels: tf.tensor1d(test.labels, 'int32'),
    n: train.n,
  };
}

/** One optimizer's run: `step(i)` trains on the i-th minibatch and resolves to its loss (caller disposes). */
export interface Run {
  readonly method: string;
  step(i: number): Promise<tf.Scalar>;
  accuracy(): Promise<number>;
  dispose(): void;
}

/** A run of `method` from the seeded initial parameters, minibatches of `batchSize` in order. */
export function createRun(method: string, data: Data, batchSize: number, seed = 0): Run {
  const tx = buildOptimizer(method);
  // Asynchronous reads: every method also runs on WebGPU, where a synchronous read fails.
  const step = makeStepAsync(tx, objectiveLoss(objective));
  let params = initParams(seed);
  let state = tx.init(params);
  const windows = Math.floor(data.n / batchSize);
  return {
    method,
    async step(i) {
      const start = (i % windows) * batchSize;
      const batch = tf.tidy(() => ({ x: tf.slice(data.x, start, batchSize), y: tf.slice(data.y, start, batchSize) }));
      const curvatureBatch = tf.tidy(() => ({ x: tf.slice(batch.x, 0, CURVATURE_BATCH), y: tf.slice(batch.y, 0, CURVATURE_BATCH) }));
      try {
        const out = await step(params, state, batch, { key: i, curvatureBatch });
        ({ params, state } = out);
        return out.loss;
      } finally {
        tree.dispose([batch, curvatureBatch] as any);
      }
    },
    async accuracy() {
      const hits = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(predict(params, data.testX), 1), data.testLabels), 'float32')));
      const [a] = await hits.data();
      hits.dispose();
      return a;
    },
    dispose() {
      tree.dispose([params, state] as any);
    },
  };
}
