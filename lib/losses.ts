/**
 * Losses built from primitive ops only, so that they can be differentiated twice: tfjs's
 * `tf.logSoftmax`, `tf.logSigmoid` and `tf.losses.*` are built with `tf.customGrad` and cannot
 * (a Hessian-vector product through them fails; see docs/second-order-ops.md). Each returns
 * per-example (or per-element) values with no reduction, like Optax's `optax.losses`; reduce with
 * `tf.mean` / `tf.sum`. Every op they use is in `SECOND_ORDER_KERNELS`.
 *
 * Shapes are checked, never broadcast (like Optax's `chex.assert_equal_shape`): targets of shape
 * `[B]` against predictions `[B, 1]` would broadcast to `[B, B]` and give a silently wrong loss,
 * so they raise an {@link InputError} naming both shapes; reshape one of them deliberately.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { stopGradient } from './autodiff/stopGradient';
import { InputError } from './errors';

/** Backends whose tensors live in host memory, where reading an int32 tensor costs no device sync. */
const HOST_BACKENDS: ReadonlySet<string> = new Set(['cpu', 'wasm', 'tensorflow']);

/** True when `a` and `b` have the same shape. */
function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Throws an {@link InputError} naming both shapes when `predictions` and `targets` differ in shape. */
export function assertSameShape(loss: string, predictions: tf.Tensor, targets: tf.Tensor, names = ['predictions', 'targets']): void {
  if (!sameShape(predictions.shape, targets.shape)) {
    throw new InputError(
      `${loss}: ${names[0]} of shape [${predictions.shape.join(', ')}] and ${names[1]} of shape ` +
        `[${targets.shape.join(', ')}] differ (somax never broadcasts a loss's targets; reshape them)`,
    );
  }
}

/**
 * Checks that class labels lie in `[0, depth)` and are integers, naming the first bad label and C:
 * `tf.oneHot` turns an out-of-range label into an all-zero row, whose sample then silently adds
 * nothing to the loss. The check reads the labels only where that is free, on the backends that
 * keep tensors in host memory (cpu, wasm, tfjs-node); on WebGL / WebGPU it would cost a device read
 * and a sync per loss evaluation, so there the labels are not checked (check them when building
 * the batch).
 */
export function assertLabelsInRange(labels: tf.Tensor, depth: number): void {
  if (!HOST_BACKENDS.has(tf.getBackend()) || labels.dtype === 'string' || labels.dtype === 'complex64') return;
  const values = labels.dataSync();
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= 0 && v < depth && Number.isInteger(v))) {
      throw new InputError(`class label ${v} at index ${i} is outside [0, ${depth}): labels must be integers in [0, C) with C = ${depth}`);
    }
  }
}

/**
 * Log-softmax along `axis`: `z − m − log Σ exp(z − m)`, with `m = max(z)` for stability. m cancels
 * exactly, so it is held constant for the tape (`stopGradient`: no gradient of the maximum is run,
 * at any order). Twice differentiable, unlike `tf.logSoftmax`.
 *
 * @param logits unnormalized log-probabilities.
 * @param axis the class axis (default −1, the last).
 * @example
 * const logp = losses.logSoftmax(tf.tensor2d([[1, 2, 3]])); // [[-2.41, -1.41, -0.41]]
 * @see https://optax.readthedocs.io/en/latest/api/losses.html
 */
export function logSoftmax(logits: tf.Tensor, axis = -1): tf.Tensor {
  return tf.tidy(() => {
    // m is a constant for the tape: it cancels exactly, so its gradient (a mask of the maxima) is never run.
    const shifted = tf.sub(
      logits,
      stopGradient(() => tf.max(logits, axis, true)),
    );
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
 * `softmax_cross_entropy`). Labels are one-hot or any distribution, shaped like the logits (checked).
 *
 * @param logits `[..., C]` unnormalized log-probabilities.
 * @param labels `[..., C]` target probabilities.
 * @returns `[...]` per-example losses.
 * @example
 * const l = losses.softmaxCrossEntropy(logits, tf.oneHot(labels, 10)); // [B]
 */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  assertSameShape('softmaxCrossEntropy', logits, labels, ['logits', 'labels']);
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(labels, logSoftmax(logits)), -1)));
}

/**
 * One-hot float32 rows from integer class indices: `oneHotFloat([0, 2], 3)` → `[[1, 0, 0], [0, 0, 1]]`.
 * Use it instead of `tf.oneHot(indices, depth, 1, 0, 'float32')`: tfjs-backend-wasm 4.22 ignores
 * that dtype and writes the integer bits (1 reads as 1.4e-45), which silently zeroes the labels.
 * Indices outside `[0, depth)` raise an {@link InputError} naming the label and C where the check
 * is free (cpu, wasm, tfjs-node; see {@link assertLabelsInRange}); on WebGL / WebGPU they are not
 * checked (it would cost a device read) and give an all-zero row. `checked: false` skips the check
 * for indices in range by construction (e.g. labels sampled on the device, which a check would read).
 */
export function oneHotFloat(indices: tf.Tensor, depth: number, { checked = true }: { checked?: boolean } = {}): tf.Tensor {
  if (checked) assertLabelsInRange(indices, depth);
  return tf.tidy(() => tf.cast(tf.oneHot(tf.cast(indices, 'int32') as tf.Tensor1D, depth), 'float32'));
}

/**
 * Softmax cross-entropy per example with integer class labels, `−log softmax(z)_y` (Optax
 * `softmax_cross_entropy_with_integer_labels`).
 *
 * @param logits `[..., C]` unnormalized log-probabilities.
 * @param labels `[...]` class indices in `[0, C)` (int32), shaped like the logits without their last
 *   axis (checked). Labels out of range raise an error where that is free (see {@link oneHotFloat}).
 * @returns `[...]` per-example losses.
 * @example
 * const l = losses.softmaxCrossEntropyWithIntegerLabels(logits, tf.tensor1d([2, 0], 'int32'));
 */
export function softmaxCrossEntropyWithIntegerLabels(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  if (!sameShape(logits.shape.slice(0, -1), labels.shape)) {
    throw new InputError(
      `softmaxCrossEntropyWithIntegerLabels: labels of shape [${labels.shape.join(', ')}] do not match logits of shape ` +
        `[${logits.shape.join(', ')}] (labels are shaped like the logits without their class axis)`,
    );
  }
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
  assertSameShape('sigmoidBinaryCrossEntropy', logits, labels, ['logits', 'labels']);
  return tf.tidy(() => tf.add(tf.sub(tf.relu(logits), tf.mul(logits, labels)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))));
}

/**
 * Squared error `(f − y)²` per element (Optax `squared_error`; note: no ½).
 *
 * @example
 * losses.squaredError(tf.tensor1d([1, 2]), tf.tensor1d([0, 4])); // [1, 4]
 */
export function squaredError(predictions: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  assertSameShape('squaredError', predictions, targets);
  return tf.tidy(() => tf.square(tf.sub(predictions, targets)));
}

/**
 * Half squared error `½(f − y)²` per element (Optax `l2_loss`).
 *
 * @example
 * losses.l2Loss(tf.tensor1d([1, 2]), tf.tensor1d([0, 4])); // [0.5, 2]
 */
export function l2Loss(predictions: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  assertSameShape('l2Loss', predictions, targets);
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
  assertSameShape('huberLoss', predictions, targets);
  return tf.tidy(() => {
    const abs = tf.abs(tf.sub(predictions, targets));
    const quadratic = tf.minimum(abs, delta);
    return tf.add(tf.mul(0.5, tf.square(quadratic)), tf.mul(delta, tf.sub(abs, quadratic)));
  });
}
