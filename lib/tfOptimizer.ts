/**
 * Any somax transform as a `tf.Optimizer`, for `optimizer.minimize(f)` and tfjs-layers'
 * `model.compile({ optimizer })` + `model.fit`.
 * @module
 */
import { checkOptionKeys } from './options';
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from './errors';
import { applyUpdates } from './update';
import * as tree from './tree';
import type { GradientTransformation, StateTree, Tree } from './types';

type VariableGradients = Parameters<tf.Optimizer['applyGradients']>[0];

/**
 * A `tf.Optimizer` driven by a somax {@link GradientTransformation}. The transform's state is kept
 * here, keyed by variable name (params and gradients reach the transform as an object
 * `{ [variableName]: tensor }`), and initialised on the first step.
 *
 * `minimize(f)` passes the transform `extra = { value, grad, lossFn, batch, curvatureBatch }`:
 * `value` is the loss of the current batch, `grad` its gradients, and `lossFn(params)` evaluates
 * `f` (which closes over the model's variables) at a params tree keyed by variable name:
 * - given the variables themselves, it calls `f()` directly, so gradients and curvature products
 *   (HVPs, Hutchinson probes) taken w.r.t. those params differentiate through the model;
 * - given other tensors (a line search's candidate point), it assigns them to the variables,
 *   evaluates `f()`, and restores the variables. That value is exact, but it is NOT differentiable
 *   w.r.t. the candidate tensors (`assign` cuts the tape): differentiate at the variables.
 * The closure is also `extra.batch` (and `curvatureBatch`): build a Hessian-based method with
 * {@link minimizeLoss} and it runs inside `model.fit`. Nothing is computed until a transform calls
 * `lossFn`, so first-order transforms cost what `tf.Optimizer.minimize` costs.
 * `applyGradients` alone passes only `extra.grad` (the gradients it was given).
 */
export class SomaxOptimizer extends tf.Optimizer {
  /** The class name tfjs serializes. */
  static className = 'SomaxOptimizer';
  private state: unknown = null;
  private extra: Record<string, unknown> = {};

  constructor(
    private readonly tx: GradientTransformation<unknown>,
    private readonly name = 'somax',
  ) {
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
      const variable = tf.engine().registeredVariables[name];
      if (variable === undefined) {
        throw new InputError(
          `${this.name}: no registered tf.Variable named '${name}' (applyGradients takes gradients keyed by variable name)`,
        );
      }
      params[name] = variable;
      grads[name] = tensor;
    }
    // model.fit runs each step inside tf.tidy: the state must be kept beyond it.
    if (this.state === null) this.state = keepAll(this.tx.init(params));
    // `grad` is the very tree passed as the updates: a transform may then know they are the gradient.
    const [updates, next] = this.tx.update(grads, this.state, params, { ...this.extra, grad: grads });
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
    const variables = Object.fromEntries(Object.keys(grads).map((name) => [name, tf.engine().registeredVariables[name]]));
    const lossFn = (p: Tree) => evaluateAt(f, variables, p);
    // The batch of a tfjs minimize step is its loss closure: methods built with `minimizeLoss` use it.
    const batch: MinimizeBatch = { lossFn };
    this.extra = { value, grad: grads as unknown as Tree, lossFn, batch, curvatureBatch: batch };
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

  /**
   * The transform state (`null` before the first step), owned by the optimizer: inspect it or save
   * it with `saveState`, do not dispose it.
   */
  getState(): unknown {
    return this.state;
  }

  /**
   * Replaces the transform state (e.g. with `loadState(json)` of a state saved with `saveState`);
   * the optimizer takes ownership of its tensors and disposes the previous state. The state must
   * match the transform and the variables (keyed by variable name); `null` re-initialises lazily.
   *
   * @example
   * const json = JSON.stringify(saveState(opt.getState()));
   * fresh.setState(loadState(JSON.parse(json)));
   */
  setState(state: unknown): void {
    if (state === this.state) return;
    tree.dispose(this.state as StateTree);
    this.state = state === null ? null : keepAll(state);
  }

  /**
   * Not supported: tfjs-layers' `model.save(..., { includeOptimizer: true })` cannot rebuild a
   * transform (it is code). Save the state with `saveState(optimizer.getState())` instead.
   */
  override getWeights(): ReturnType<tf.Optimizer['getWeights']> {
    return Promise.reject(
      new InputError(
        `${this.name}: tfjs-layers cannot save a somax optimizer (includeOptimizer); save its state with ` +
          `saveState(optimizer.getState()) and restore it with setState(loadState(json))`,
      ),
    );
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

  /** Not supported (tfjs would call `new SomaxOptimizer(config)`): the transform is code, not config. */
  static override fromConfig<T extends tf.serialization.Serializable>(
    _cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    throw new InputError(
      `a SomaxOptimizer ('${String(config?.name)}') cannot be rebuilt from its config (the transform is code): compile the loaded ` +
        `model with asTfOptimizer(tx) again`,
    );
  }
}
tf.serialization.registerClass(SomaxOptimizer);

/** Marks every tensor of a state as kept by enclosing `tf.tidy` scopes. */
function keepAll<S>(state: S): S {
  tree.tensors(state as StateTree).forEach((t) => tf.keep(t));
  return state;
}

/**
 * `f` evaluated at params `p` (a tree keyed by variable name): `f()` itself when `p` holds the
 * variables, else with the variables temporarily assigned the values of `p` (restored afterwards).
 */
function evaluateAt(f: () => tf.Scalar, variables: Record<string, tf.Variable>, p: Tree): tf.Scalar {
  const values = p as Record<string, tf.Tensor>;
  const names = Object.keys(variables);
  if (names.every((n) => values[n] === variables[n])) return f();
  const saved = names.map((n) => tf.clone(variables[n]));
  try {
    names.forEach((n) => variables[n].assign(values[n]));
    return f();
  } finally {
    names.forEach((n, i) => variables[n].assign(saved[i]));
    tf.dispose(saved);
  }
}

/** The "batch" a `tf.Optimizer.minimize` step hands to the transform: the loss closure of that step. */
export interface MinimizeBatch {
  /** The step's loss `f` evaluated at a params tree keyed by variable name. */
  readonly lossFn: (params: Tree) => tf.Scalar;
}

/**
 * The loss to build a Hessian-based method with when it runs inside `model.fit` or
 * `optimizer.minimize` through {@link asTfOptimizer}: it evaluates the step's own loss closure.
 * Curvature products then differentiate through the model's variables.
 *
 * @example
 * model.compile({ optimizer: asTfOptimizer(adahessian(minimizeLoss, { learningRate: 0.1 })), loss: 'meanSquaredError' });
 */
export function minimizeLoss(params: Tree, batch: unknown): tf.Scalar {
  const b = batch as MinimizeBatch | undefined;
  if (typeof b?.lossFn !== 'function') {
    throw new InputError('minimizeLoss works inside asTfOptimizer(...).minimize / model.fit, whose batch is the loss closure');
  }
  return b.lossFn(params);
}

/**
 * Wraps a transform as a `tf.Optimizer` (see {@link SomaxOptimizer}).
 *
 * @example
 * model.compile({ optimizer: asTfOptimizer(adamw(1e-3)), loss: 'categoricalCrossentropy' });
 * await model.fit(xs, ys, { epochs: 5 });
 */
export function asTfOptimizer(tx: GradientTransformation<unknown>, options: { name?: string } = {}): SomaxOptimizer {
  checkOptionKeys('asTfOptimizer', options, ['name']);
  const { name = 'somax' } = options;
  return new SomaxOptimizer(tx, name);
}
