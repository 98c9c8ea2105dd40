/**
 * Any somax transform as a `tf.Optimizer`, for `optimizer.minimize(f)` and tfjs-layers'
 * `model.compile({ optimizer })` + `model.fit`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { applyUpdates } from './update';
import * as tree from './tree';
import type { GradientTransformation, StateTree, Tree } from './types';

type VariableGradients = Parameters<tf.Optimizer['applyGradients']>[0];

/**
 * A `tf.Optimizer` driven by a somax {@link GradientTransformation}. The transform's state is kept
 * here, keyed by variable name (params and gradients reach the transform as an object
 * `{ [variableName]: tensor }`), and initialised on the first step.
 *
 * `minimize(f)` passes the transform `extra = { value, lossFn }`: `value` is the loss of the
 * current batch, `lossFn(params)` evaluates `f` at other params (by assigning them to the
 * variables, evaluating, and restoring; when given the variables themselves it calls `f` directly,
 * so curvature products differentiate through the model — this is how Hessian-based methods run
 * inside `model.fit`). `applyGradients` alone passes no extra.
 */
export class SomaxOptimizer extends tf.Optimizer {
  /** The class name tfjs serializes. */
  static className = 'SomaxOptimizer';
  private state: unknown = null;
  private extra: Record<string, unknown> = {};

  constructor(private readonly tx: GradientTransformation<unknown>, private readonly name = 'somax') {
    super();
  }

  /** Applies one step of the transform to the variables named in `variableGradients`. */
  applyGradients(variableGradients: VariableGradients): void {
    const list = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name] }));
    const params: Record<string, tf.Variable> = {};
    const grads: Record<string, tf.Tensor> = {};
    for (const { name, tensor } of list) {
      if (tensor == null) continue;
      params[name] = tf.engine().registeredVariables[name];
      grads[name] = tensor;
    }
    // model.fit runs each step inside tf.tidy: the state must be kept beyond it.
    if (this.state === null) this.state = keepAll(this.tx.init(params));
    const [updates, next] = this.tx.update(grads, this.state, params, this.extra);
    applyUpdates(params, updates);
    tree.dispose(updates);
    tree.dispose(this.state as StateTree);
    this.state = keepAll(next);
    this.incrementIterations();
  }

  /**
   * Minimizes `f` over `varList` (all trainable variables by default) for one step, giving the
   * transform the loss and a loss closure (see the class comment).
   */
  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    const { value, grads } = this.computeGradients(f, varList);
    const variables = Object.keys(grads).map((name) => tf.engine().registeredVariables[name]);
    this.extra = { value, lossFn: (p: Tree) => evaluateAt(f, variables, p) };
    try {
      this.applyGradients(grads);
    } finally {
      this.extra = {};
      tf.dispose(grads);
    }
    if (returnCost) return value;
    value.dispose();
    return null;
  }

  /** The transform state (for inspection or `saveState`). */
  getState(): unknown {
    return this.state;
  }

  /** Releases the transform state. */
  override dispose(): void {
    tree.dispose(this.state as StateTree);
    this.state = null;
    super.dispose();
  }

  /** The serializable config (the transform itself is code, and is not serialized). */
  getConfig(): tf.serialization.ConfigDict {
    return { name: this.name };
  }
}
tf.serialization.registerClass(SomaxOptimizer);

/** Marks every tensor of a state as kept by enclosing `tf.tidy` scopes. */
function keepAll<S>(state: S): S {
  tree.tensors(state as StateTree).forEach((t) => tf.keep(t));
  return state;
}

/** `f` evaluated with `variables` set to the leaves of `params` (restored afterwards). */
function evaluateAt(f: () => tf.Scalar, variables: tf.Variable[], params: Tree): tf.Scalar {
  const leaves = tree.leaves(params);
  if (leaves.length === variables.length && leaves.every((l, i) => l === variables[i])) return f();
  const saved = variables.map((v) => tf.clone(v));
  try {
    variables.forEach((v, i) => v.assign(leaves[i]));
    return f();
  } finally {
    variables.forEach((v, i) => v.assign(saved[i]));
    tf.dispose(saved);
  }
}

/**
 * Wraps a transform as a `tf.Optimizer` (see {@link SomaxOptimizer}).
 *
 * @example
 * model.compile({ optimizer: asTfOptimizer(adamw(1e-3)), loss: 'categoricalCrossentropy' });
 * await model.fit(xs, ys, { epochs: 5 });
 */
export function asTfOptimizer(tx: GradientTransformation<any>, { name = 'somax' }: { name?: string } = {}): SomaxOptimizer {
  return new SomaxOptimizer(tx, name);
}
