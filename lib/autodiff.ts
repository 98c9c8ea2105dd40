/**
 * Automatic differentiation over parameter trees, built on tfjs's tape autodiff.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from './errors';
import * as tree from './tree';
import type { Tree } from './types';

/** Throws unless `value` is a scalar tensor; `what` names the function that produced it. */
export function assertScalarLoss(value: unknown, what = 'lossFn'): asserts value is tf.Scalar {
  if (!tree.isTensor(value)) throw new InputError(`${what} must return a tf.Scalar, got ${String(value)}`);
  if (value.rank !== 0) {
    throw new InputError(`${what} must return a scalar (rank 0), got shape [${value.shape.join(', ')}]`);
  }
}

/**
 * Value and gradient of a scalar loss over a parameter tree:
 * `valueAndGrad(lossFn)(params, batch) → { value, grads }` with `grads = ∇_θ lossFn(θ, batch)` in
 * the structure of `params`. Both results are fresh tensors owned by the caller.
 *
 * @example
 * const { value, grads } = valueAndGrad((p, b) => tf.sum(tf.square(tf.sub(p.w, b))))({ w }, target);
 */
export function valueAndGrad<B>(
  lossFn: (params: Tree, batch: B) => tf.Scalar,
): (params: Tree, batch: B) => { value: tf.Scalar; grads: Tree } {
  return (params, batch) => {
    const { leaves, def } = tree.flatten(params);
    const { value, grads } = tf.valueAndGrads((...ls: tf.Tensor[]) => {
      const out = lossFn(tree.unflatten(def, ls), batch);
      assertScalarLoss(out);
      return out;
    })(leaves);
    return { value: value as tf.Scalar, grads: tree.unflatten(def, grads) };
  };
}
