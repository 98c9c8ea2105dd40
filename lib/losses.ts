/**
 * Losses built from primitive ops only, so that they can be differentiated twice (tfjs's
 * `tf.logSoftmax` and `tf.losses.*` are built with `tf.customGrad` and cannot). Each returns
 * per-example values (no reduction), like Optax's `optax.losses`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** log softmax(z) along `axis`: z − m − log Σ exp(z − m), m = max(z) (for stability). */
export function logSoftmax(logits: tf.Tensor, axis = -1): tf.Tensor {
  return tf.tidy(() => {
    const shifted = tf.sub(logits, tf.max(logits, axis, true));
    return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), axis, true)));
  });
}

/** Softmax cross-entropy −Σₖ yₖ log softmax(z)ₖ per example, labels one-hot (or soft), `[..., C]`. */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(labels, logSoftmax(logits)), -1)));
}

/** Softmax cross-entropy per example with integer labels `[...]` (int32). */
export function softmaxCrossEntropyWithIntegerLabels(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return tf.tidy(() => softmaxCrossEntropy(logits, tf.oneHot(tf.cast(labels, 'int32'), logits.shape[logits.rank - 1], 1, 0, 'float32')));
}

/**
 * Sigmoid binary cross-entropy per element, −y log σ(z) − (1 − y) log(1 − σ(z)), computed stably as
 * max(z, 0) − z·y + log(1 + exp(−|z|)).
 */
export function sigmoidBinaryCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(tf.sub(tf.relu(logits), tf.mul(logits, labels)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))));
}

/** Squared error (f − y)² per element (Optax `squared_error`). */
export function squaredError(predictions: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.square(tf.sub(predictions, targets)));
}

/** Half squared error ½(f − y)² per element (Optax `l2_loss`). */
export function l2Loss(predictions: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(0.5, tf.square(tf.sub(predictions, targets))));
}

/**
 * Huber loss per element: ½e² for |e| ≤ δ, δ(|e| − ½δ) beyond, e = f − y (Huber 1964; Optax's
 * `huber_loss`).
 */
export function huberLoss(predictions: tf.Tensor, targets: tf.Tensor, delta = 1): tf.Tensor {
  return tf.tidy(() => {
    const abs = tf.abs(tf.sub(predictions, targets));
    const quadratic = tf.minimum(abs, delta);
    return tf.add(tf.mul(0.5, tf.square(quadratic)), tf.mul(delta, tf.sub(abs, quadratic)));
  });
}
