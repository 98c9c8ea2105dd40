/**
 * Losses built from primitive ops only, so that they can be differentiated twice: tfjs's
 * `tf.logSoftmax`, `tf.logSigmoid` and `tf.losses.*` are built with `tf.customGrad` and cannot
 * (a Hessian-vector product through them fails; see docs/second-order-ops.md). Each returns
 * per-example (or per-element) values with no reduction, like Optax's `optax.losses`; reduce with
 * `tf.mean` / `tf.sum`. Every op they use is in `SECOND_ORDER_KERNELS`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Log-softmax along `axis`: `z − m − log Σ exp(z − m)`, with `m = max(z)` for stability (m
 * cancels, so its zero second derivative is harmless). Twice differentiable, unlike
 * `tf.logSoftmax`.
 *
 * @param logits unnormalized log-probabilities.
 * @param axis the class axis (default −1, the last).
 * @example
 * const logp = losses.logSoftmax(tf.tensor2d([[1, 2, 3]])); // [[-2.41, -1.41, -0.41]]
 * @see https://optax.readthedocs.io/en/latest/api/losses.html
 */
export function logSoftmax(logits: tf.Tensor, axis = -1): tf.Tensor {
  return tf.tidy(() => {
    const shifted = tf.sub(logits, tf.max(logits, axis, true));
    return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), axis, true)));
  });
}

/**
 * Log-sigmoid `log σ(z) = −softplus(−z)`, twice differentiable (unlike `tf.logSigmoid`).
 *
 * @example
 * losses.logSigmoid(tf.tensor1d([0])); // [-0.693]
 */
export function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.neg(tf.softplus(tf.neg(x))));
}

/**
 * Softmax cross-entropy per example, `−Σₖ yₖ log softmax(z)ₖ` over the last axis (Optax
 * `softmax_cross_entropy`). Labels are one-hot or any distribution, shaped like the logits.
 *
 * @param logits `[..., C]` unnormalized log-probabilities.
 * @param labels `[..., C]` target probabilities.
 * @returns `[...]` per-example losses.
 * @example
 * const l = losses.softmaxCrossEntropy(logits, tf.oneHot(labels, 10)); // [B]
 */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(labels, logSoftmax(logits)), -1)));
}

/**
 * One-hot float32 rows from integer class indices: `oneHotFloat([0, 2], 3)` → `[[1, 0, 0], [0, 0, 1]]`.
 * Use it instead of `tf.oneHot(indices, depth, 1, 0, 'float32')`: tfjs-backend-wasm 4.22 ignores
 * that dtype and writes the integer bits (1 reads as 1.4e-45), which silently zeroes the labels.
 */
export function oneHotFloat(indices: tf.Tensor, depth: number): tf.Tensor {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.cast(indices, 'int32') as tf.Tensor1D, depth), 'float32'));
}

/**
 * Softmax cross-entropy per example with integer class labels, `−log softmax(z)_y` (Optax
 * `softmax_cross_entropy_with_integer_labels`).
 *
 * @param logits `[..., C]` unnormalized log-probabilities.
 * @param labels `[...]` class indices in `[0, C)` (int32).
 * @returns `[...]` per-example losses.
 * @example
 * const l = losses.softmaxCrossEntropyWithIntegerLabels(logits, tf.tensor1d([2, 0], 'int32'));
 */
export function softmaxCrossEntropyWithIntegerLabels(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return tf.tidy(() => softmaxCrossEntropy(logits, oneHotFloat(labels, logits.shape[logits.rank - 1])));
}

/**
 * Sigmoid binary cross-entropy per element, `−y log σ(z) − (1 − y) log(1 − σ(z))`, computed stably
 * as `max(z, 0) − z·y + log(1 + exp(−|z|))` (Optax `sigmoid_binary_cross_entropy`).
 *
 * @param logits unnormalized log-odds.
 * @param labels targets in [0, 1], shaped like the logits.
 * @example
 * losses.sigmoidBinaryCrossEntropy(tf.tensor1d([2]), tf.tensor1d([1])); // [0.127]
 */
export function sigmoidBinaryCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(tf.sub(tf.relu(logits), tf.mul(logits, labels)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))));
}

/**
 * Squared error `(f − y)²` per element (Optax `squared_error`; note: no ½).
 *
 * @example
 * losses.squaredError(tf.tensor1d([1, 2]), tf.tensor1d([0, 4])); // [1, 4]
 */
export function squaredError(predictions: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.square(tf.sub(predictions, targets)));
}

/**
 * Half squared error `½(f − y)²` per element (Optax `l2_loss`).
 *
 * @example
 * losses.l2Loss(tf.tensor1d([1, 2]), tf.tensor1d([0, 4])); // [0.5, 2]
 */
export function l2Loss(predictions: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(0.5, tf.square(tf.sub(predictions, targets))));
}

/**
 * Huber loss per element, with `e = f − y`: `½e²` for `|e| ≤ δ`, `δ(|e| − ½δ)` beyond (Optax
 * `huber_loss`).
 *
 * @param delta the switch point δ (default 1).
 * @example
 * losses.huberLoss(tf.tensor1d([0.5, 3]), tf.zeros([2])); // [0.125, 2.5]
 * @see Huber, "Robust Estimation of a Location Parameter" (1964), https://doi.org/10.1214/aoms/1177703732
 */
export function huberLoss(predictions: tf.Tensor, targets: tf.Tensor, delta = 1): tf.Tensor {
  return tf.tidy(() => {
    const abs = tf.abs(tf.sub(predictions, targets));
    const quadratic = tf.minimum(abs, delta);
    return tf.add(tf.mul(0.5, tf.square(quadratic)), tf.mul(delta, tf.sub(abs, quadratic)));
  });
}
