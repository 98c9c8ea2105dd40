/**
 * `stopGradient`: a value that every gradient taken around it treats as a constant (JAX's
 * `lax.stop_gradient`), for the shifts that only keep a computation stable and cancel exactly,
 * such as the maximum subtracted in a log-softmax: the ops run with the tape off, so no backward
 * sweep (first order or nested) runs their gradients.
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { engineInternals } from './engine';

/**
 * Runs `fn` with the gradient tape off and returns its result as a constant: derivatives of any
 * order through it are zero. Use it only where the result cancels exactly in the value (a
 * stabilizing shift); anywhere else it changes the gradients.
 *
 * @example
 * const m = stopGradient(() => tf.max(z, -1, true));          // a constant shift
 * const logp = tf.sub(tf.sub(z, m), tf.log(tf.sum(tf.exp(tf.sub(z, m)), -1, true)));
 */
export function stopGradient<T extends tf.TensorContainer>(fn: () => T): T {
  const engine = engineInternals();
  engine.state.kernelDepth += 1;
  try {
    return fn();
  } finally {
    engine.state.kernelDepth -= 1;
  }
}
