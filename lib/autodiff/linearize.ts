/**
 * Linearized models (JAX's `linearize`): the outputs of a model on a batch with the linear maps
 * v ↦ J v and u ↦ Jᵀ u, from the objective's closed-form hook when it has one, else from the tape
 * (double VJP and VJP); and the Gauss-Newton-vector products built on them.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchSize, checkObjective, checkTargets, onInputs, predictOn } from '../objective';
import type { Linearization, Objective, OutputLoss, SupervisedBatch } from '../objective';
import * as tree from '../tree';
import type { Tree } from '../types';
import { jvp, vjp } from './products';

/**
 * Gauss-Newton-vector product `G v = (1/B) Jᵀ Q J v` of an objective on a batch, with J the
 * Jacobian of the model outputs and Q the block-diagonal output Hessian of the loss (I for squared
 * error, diag(p) − ppᵀ per sample for softmax cross-entropy). One JVP and one VJP.
 *
 * @see Schraudolph, "Fast curvature matrix-vector products for second-order gradient descent" (2002).
 */
export function ggnvp<X>(objective: Objective<X>, params: Tree, v: Tree, batch: SupervisedBatch<X>): Tree {
  const loss = checkObjective(objective);
  const lin = linearization(objective, params, batch);
  try {
    checkTargets(lin.outputs, batch.y);
    return gaussNewtonProduct(loss, lin, v);
  } finally {
    lin.dispose();
  }
}

/** `(1/B) Jᵀ Q J v` on a linearized model: one J v, the output-Hessian product, one Jᵀ u. */
export function gaussNewtonProduct(loss: OutputLoss, lin: Linearization, v: Tree): Tree {
  return tree.tidy(() => lin.vjp(tf.div(loss.hessianProduct(lin.outputs, lin.jvp(v)), batchSize(lin.outputs))));
}

/**
 * The model of an objective linearized at `params` on `batch.x` ({@link Linearization}): the
 * objective's own {@link Objective.linearize} hook when it has one (closed form, one forward pass
 * kept), else the outputs computed once with J v by {@link jvp} (double VJP) and Jᵀ u by {@link vjp}.
 *
 * @example
 * const lin = linearization(objective, params, batch);
 * const jv = lin.jvp(v); // [B, C]
 * const jtu = lin.vjp(jv); // shaped like params
 * lin.dispose();
 */
export function linearization<X>(objective: Objective<X>, params: Tree, batch: Pick<SupervisedBatch<X>, 'x'>): Linearization {
  checkObjective(objective);
  const hook = objective.linearize;
  if (hook !== undefined) return onInputs(batch, 'linearize(params, batch.x)', (x) => hook.call(objective, params, x));
  const fn = (p: Tree) => predictOn(objective, p, batch as SupervisedBatch<X>);
  const outputs = tf.tidy(() => fn(params));
  return {
    outputs,
    jvp: (v) => jvp(fn, params, v, { outputShape: outputs.shape }),
    vjp: (u) => vjp(fn, params, u),
    dispose: () => outputs.dispose(),
  };
}
