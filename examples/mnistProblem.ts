/**
 * The MNIST problem of the demo: a one-hidden-layer tanh MLP (784-H-10) with softmax
 * cross-entropy on the `mnist` package's digits, a deterministic stream of batches, the curvature
 * batch cut from each batch, and test accuracy / loss.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { objectiveLoss, tree } from '../index';
import type { Objective, Tree } from '../index';
import { loadMnist, MNIST_CLASSES, MNIST_FEATURES } from './data/mnist';
import type { DigitSet } from './data/mnist';
import type { Batch } from './training';

/** The MLP: logits = tanh(x W1 + b1) W2 + b2. */
export function predict(p: Tree, x: tf.Tensor): tf.Tensor {
  const q = p as Record<string, tf.Tensor>;
  return tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x as tf.Tensor2D, q.w1 as tf.Tensor2D), q.b1)), q.w2 as tf.Tensor2D), q.b2);
}

/** The model with its output loss, for the Gauss-Newton and Fisher methods. */
export const objective: Objective = { predict, loss: 'softmaxCrossEntropy' };
/** Mean softmax cross-entropy of a batch, for the Hessian and first-order methods. */
export const lossFn = objectiveLoss(objective);

/** LeCun-normal weights (std 1/√fan-in) from fixed seeds, zero biases: the same on every call. */
export function initParams(hidden: number): Tree {
  return tf.tidy(() => ({
    w1: tf.mul(tf.randomNormal([MNIST_FEATURES, hidden], 0, 1, 'float32', 1), Math.sqrt(1 / MNIST_FEATURES)),
    b1: tf.zeros([hidden]),
    w2: tf.mul(tf.randomNormal([hidden, MNIST_CLASSES], 0, 1, 'float32', 2), Math.sqrt(1 / hidden)),
    b2: tf.zeros([MNIST_CLASSES]),
  }));
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
  const [accuracy, testLoss] = tf.tidy(() => {
    const logits = predict(params, data.test.x);
    const acc = tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(data.test.y, 1)), 'float32'));
    return [acc, lossFn(params, data.test)];
  }).map((t) => {
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
