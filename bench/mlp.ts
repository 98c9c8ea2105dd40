/** The benchmark model: an MLP 784-128-10 (tanh, softmax cross-entropy; 784-32-10 for the MNIST runs) on synthetic batches. */
import * as tf from '@tensorflow/tfjs';
import { losses, mlpObjective, objectiveLoss } from '../index';
import type { Tree } from '../index';

export const D = 784;
export const H = 128;
export const C = 10;
export const B = 128;

/** LeCun-normal random params `{ w1, b1, w2, b2 }` of an MLP 784-`hidden`-10 from `seed`. */
export function mlpParams(seed: number, hidden = H): { w1: tf.Tensor; b1: tf.Tensor; w2: tf.Tensor; b2: tf.Tensor } {
  return tf.tidy(() => ({
    w1: tf.mul(tf.randomNormal([D, hidden], 0, 1, 'float32', seed), Math.sqrt(1 / D)),
    b1: tf.zeros([hidden]),
    w2: tf.mul(tf.randomNormal([hidden, C], 0, 1, 'float32', seed + 1), Math.sqrt(1 / hidden)),
    b2: tf.zeros([C]),
  }));
}

/** The MLP with softmax cross-entropy, with the fast row Gram of `mlpObjective` (egn, ignd, swmng). */
export const objective = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });
/** Logits of the MLP: tanh(x W1 + b1) W2 + b2. */
export const predict = (p: Tree, x: tf.Tensor): tf.Tensor => objective.predict(p, x);
export const lossFn = objectiveLoss(objective);

/** A synthetic batch of `n` standard-normal inputs and one-hot labels. */
export function batchOf(n: number, seed: number): { x: tf.Tensor; y: tf.Tensor } {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, D], 0, 1, 'float32', seed);
    const labels = tf.tensor1d(
      Array.from({ length: n }, (_, i) => (i * 7) % C),
      'int32',
    );
    return { x, y: losses.oneHotFloat(labels, C) };
  });
}
