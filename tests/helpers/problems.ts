/**
 * Small classification problems for the training tests of every method: a logistic regression
 * (linear model) and a small tanh MLP, on labels from a random teacher, full batch.
 */
import * as tf from '@tensorflow/tfjs-core';
import { objectiveLoss } from '../../index';
import type { Tree } from '../../index';
import { rand } from './mlp64';

export interface TrainingProblem {
  readonly name: string;
  readonly objective: { predict: (p: any, x: tf.Tensor) => tf.Tensor; loss: 'softmaxCrossEntropy' };
  readonly lossFn: (p: Tree, batch: { x: tf.Tensor; y: tf.Tensor }) => tf.Scalar;
  params(): Tree;
  batch(): { x: tf.Tensor2D; y: tf.Tensor2D };
}

/**
 * One-hot labels of argmax over `c` teacher scores, for `n` inputs in `d` dimensions; every 6th
 * label is moved to the next class, so that the data are not separable and the loss has a finite
 * minimizer.
 */
function teacherData(n: number, d: number, c: number, seed: number, score: (x: Float64Array) => number[]) {
  const x = rand(n * d, seed).map((v) => v * 2);
  const y = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    const s = score(x.subarray(i * d, (i + 1) * d));
    y[i * c + ((s.indexOf(Math.max(...s)) + (i % 6 === 0 ? 1 : 0)) % c)] = 1;
  }
  return () => ({ x: tf.tensor2d(Float32Array.from(x), [n, d]), y: tf.tensor2d(y, [n, c]) });
}

/** Multinomial logistic regression: 32 samples, 4 features, 3 classes from a linear teacher. */
export function logisticRegression(): TrainingProblem {
  const [n, d, c] = [32, 4, 3];
  const w = rand(d * c, 901);
  const batch = teacherData(n, d, c, 902, (x) => Array.from({ length: c }, (_, k) => x.reduce((a, xi, i) => a + xi * w[i * c + k], 0)));
  const objective = {
    predict: (p: any, xs: tf.Tensor) => tf.add(tf.matMul(xs as tf.Tensor2D, p.w), p.b),
    loss: 'softmaxCrossEntropy' as const,
  };
  return {
    name: 'logistic regression',
    objective,
    lossFn: objectiveLoss(objective),
    params: () => ({ w: tf.zeros([d, c]), b: tf.zeros([c]) }),
    batch,
  };
}

/** A 4-6-3 tanh MLP on 32 samples labelled by a random 4-6-3 tanh teacher. */
export function smallMlp(): TrainingProblem {
  const [n, d, h, c] = [32, 4, 6, 3];
  const [tw1, tw2] = [rand(d * 6, 911), rand(6 * c, 912)];
  const score = (x: Float64Array) => {
    const a = Array.from({ length: 6 }, (_, j) => Math.tanh(2 * x.reduce((s, xi, i) => s + xi * tw1[i * 6 + j], 0)));
    return Array.from({ length: c }, (_, k) => a.reduce((s, aj, j) => s + aj * tw2[j * c + k], 0));
  };
  const batch = teacherData(n, d, c, 913, score);
  const objective = {
    predict: (p: any, xs: tf.Tensor) => tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(xs as tf.Tensor2D, p.w1), p.b1)), p.w2), p.b2),
    loss: 'softmaxCrossEntropy' as const,
  };
  const params = () => ({
    w1: tf.tensor2d(
      Float32Array.from(rand(d * h, 914), (v) => v * 0.5),
      [d, h],
    ),
    b1: tf.zeros([h]),
    w2: tf.tensor2d(
      Float32Array.from(rand(h * c, 915), (v) => v * 0.5),
      [h, c],
    ),
    b2: tf.zeros([c]),
  });
  return { name: 'small MLP', objective, lossFn: objectiveLoss(objective), params, batch };
}
