/**
 * The MNIST problem of the demo: a one-hidden-layer tanh MLP (784-H-10) with softmax
 * cross-entropy on the `mnist` package's digits, a deterministic stream of batches, the curvature
 * batch cut from each batch, and test accuracy / loss.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { mlpObjective, objectiveLoss, tree } from '../index';
import type { Tree } from '../index';
import { loadMnist, MNIST_CLASSES, MNIST_FEATURES } from './data/mnist';
import type { DigitSet } from './data/mnist';
import type { Batch } from './training';

/**
 * The model with its output loss, for the Gauss-Newton and Fisher methods: the MLP
 * logits = tanh(x W1 + b1) W2 + b2 as an `mlpObjective`, whose row Gram hook (the per-example
 * delta trick) spares egn, ignd and swmng the per-sample Jacobian rows.
 */
export const objective = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });
/** The MLP: logits = tanh(x W1 + b1) W2 + b2. */
export const predict = objective.predict;
/** Mean softmax cross-entropy of a batch, for the Hessian and first-order methods. */
export const lossFn = objectiveLoss(objective);

/** LeCun-normal weights (std 1/√fan-in) from fixed seeds, zero biases: the same on every call. */
export function initParams(hidden: number): Tree {
  return objective.init([MNIST_FEATURES, hidden, MNIST_CLASSES]);
}

/** The data on the device: training and test digits as `{x, y}` tensors. */
export interface MnistData {
  readonly train: Batch;
  readonly test: Batch;
  readonly trainSize: number;
  readonly testSize: number;
}

const toTensors = (d: DigitSet): Batch => ({ x: tf.tensor2d(d.x, [d.n, MNIST_FEATURES]), y: tf.tensor2d(d.y, [d.n, MNIST_CLASSES]) });

/** Loads the digits (shuffled by `seed`, the last `testSize` held out) onto the current backend. */
export function mnistData({ testSize = 2000, seed = 0 } = {}): MnistData {
  const { train, test } = loadMnist({ testSize, seed });
  return { train: toTensors(train), test: toTensors(test), trainSize: train.n, testSize: test.n };
}

/**
 * Batch `i` of a stream over the (already shuffled) training set: `size` consecutive rows from
 * `i·size mod (n − size)`; the same batches for every method.
 */
export function batchAt(data: MnistData, i: number, size: number): Batch {
  const start = (i * size) % (data.trainSize - size);
  return { x: tf.slice(data.train.x, start, size), y: tf.slice(data.train.y, start, size) };
}

/** The first `size` samples of a batch, as the curvature batch. */
export function firstSamples(batch: Batch, size: number): Batch {
  return { x: tf.slice(batch.x, 0, size), y: tf.slice(batch.y, 0, size) };
}

/** Test accuracy and test loss of params. */
export function testMetrics(data: MnistData, params: Tree): { accuracy: number; testLoss: number } {
  const [accuracy, testLoss] = tf
    .tidy(() => {
      const logits = predict(params, data.test.x);
      const acc = tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(data.test.y, 1)), 'float32'));
      return [acc, lossFn(params, data.test)];
    })
    .map((t) => {
      const v = t.dataSync()[0];
      t.dispose();
      return v;
    });
  return { accuracy, testLoss };
}

/** Disposes the data tensors. */
export function disposeData(data: MnistData): void {
  tree.dispose([data.train, data.test] as unknown as Tree);
}
