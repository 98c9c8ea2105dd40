/**
 * Applying updates (Optax's `update.py`: `apply_updates`, `incremental_update`, `periodic_update`),
 * and the common training step in one call (`makeStep`).
 * @module
 */
import { checkOptionKeys, resolveOptions } from './options';
import { objectiveLoss } from './objective';
import type { Objective, SupervisedBatch } from './objective';
import { stepContext } from './stepContext';
import type { StepContext } from './stepContext';
import * as tf from '@tensorflow/tfjs-core';
import { valueAndGrad } from './autodiff';
import { ensureWasmKernels } from './wasmKernels';
import { assertInRange, assertInteger, HyperparameterError } from './errors';
import * as tree from './tree';
import { runAsync, runSync, updateReadsOf } from './reads';
import type { GradientTransformation, LossFn, PRNGKey, Reads, StateTree, Tree } from './types';

/**
 * True when `t` is a `tf.Variable`, which is updated in place (duck-typed: an `assign` method and
 * a `trainable` field, so variables from any tfjs-core copy qualify).
 *
 * @example
 * isVariable(tf.variable(tf.zeros([2])))   // true
 */
export function isVariable(t: tf.Tensor): t is tf.Variable {
  return typeof (t as unknown as { assign?: unknown }).assign === 'function' && 'trainable' in t;
}

/**
 * Applies updates to params: `θ ← θ + u` leafwise (Optax's `apply_updates`).
 *
 * - Params that are plain tensors: returns a NEW tree of fresh tensors; the old params are
 *   neither disposed nor changed (the caller disposes them when no longer needed).
 * - Params that are `tf.Variable`s: assigns `θ + u` to each variable in place (the tfjs way) and
 *   returns the SAME variables (in a tree of the same structure).
 *
 * A tree may mix both. `updates` is never disposed. Refused before anything is computed or
 * assigned (an {@link InputError} / {@link TreeMismatchError} naming the path; nothing changed):
 * trees of different structure or shapes, a disposed leaf (`params.w is disposed`), and a
 * non-float32 param or update (`params.n: expected float32 values, got int32; ...`): an int32
 * param would truncate every step (`tf.train.adam` refuses them too).
 *
 * @example
 * const newParams = applyUpdates(params, updates);   // plain tensors: a new tree
 * applyUpdates({ w: tf.variable(w0) }, updates);     // variables: assigned in place
 */
export function applyUpdates<T extends Tree>(params: T, updates: Tree): T {
  tree.assertSameStructure(params, updates, { names: ['params have', 'updates have'], root: 'updates' });
  const { leaves, def } = tree.flatten(params, 'params');
  const us = tree.leaves(updates, 'updates');
  tree.assertFloat(params, 'params');
  tree.assertFloat(updates, 'updates');
  const out = leaves.map((p, i) => {
    if (isVariable(p)) {
      tf.tidy(() => p.assign(tf.add(p, us[i])));
      return p;
    }
    return tf.add(p, us[i]);
  });
  return tree.unflatten(def, out) as T;
}

/**
 * Polyak / EMA averaging of two trees (Optax's `incremental_update`), as fresh tensors:
 * `stepSize · new + (1 − stepSize) · old`.
 *
 * @param stepSize in [0, 1]; 1 takes `newTensors`, 0 keeps `oldTensors`.
 * @example
 * const target = incrementalUpdate(online, target, 0.01);   // slow-moving target network
 */
export function incrementalUpdate(newTensors: Tree, oldTensors: Tree, stepSize: number): Tree {
  assertInRange('stepSize', stepSize, 0, 1);
  return tree.map(
    (n: tf.Tensor, o: tf.Tensor) => tf.tidy(() => tf.add(tf.mul(n, stepSize), tf.mul(o, 1 - stepSize))),
    newTensors,
    oldTensors,
  );
}

/**
 * Periodic copy (Optax's `periodic_update`), as fresh tensors: `newTensors` when
 * `steps % updatePeriod == 0`, else `oldTensors`.
 *
 * @param steps the current step count (an integer ≥ 0).
 * @param updatePeriod an integer ≥ 1.
 * @example
 * const target = periodicUpdate(online, target, step, 100);   // copy every 100 steps
 */
export function periodicUpdate(newTensors: Tree, oldTensors: Tree, steps: number, updatePeriod: number): Tree {
  assertInteger('updatePeriod', updatePeriod);
  assertInteger('steps', steps, 0);
  tree.assertSameStructure(newTensors, oldTensors, { names: ['new tensors have', 'old tensors have'] });
  return tree.clone(steps % updatePeriod === 0 ? newTensors : oldTensors);
}

/** Telemetry gathered from a transform's state: the JS values of every `info` object found in it. */
export type StepInfo = Readonly<Record<string, number | boolean | string>>;

/** What one training step returns. */
export interface StepResult<S> {
  /** The new params: fresh tensors (plain tensor params) or the same variables (`tf.Variable`s). */
  readonly params: Tree;
  /** The new state, owned by the caller (pass it to the next step, which disposes it). */
  readonly state: S;
  /** The loss at the params before the step: a scalar tensor the caller owns and disposes. */
  readonly loss: tf.Scalar;
  /** Telemetry the transform exposes in its state under `info` keys (see {@link makeStep}). */
  readonly info: StepInfo;
}

/** Options of a step made by {@link makeStep}. */
export interface StepOptions {
  /** The batch for curvature quantities (defaults to the step's batch). */
  curvatureBatch?: unknown;
  /** Randomness for this step (e.g. Hutchinson probes). */
  key?: PRNGKey;
}

/**
 * Merges the `info` objects found in a state (chains hold their members' states in arrays, so
 * the walk goes down the whole state); keeps numbers, booleans and strings, never tensors.
 */
function collectInfo(state: unknown): StepInfo {
  const out: Record<string, number | boolean | string> = {};
  const walk = (s: unknown): void => {
    if (s === null || typeof s !== 'object' || tree.isTensor(s)) return;
    if (Array.isArray(s)) return s.forEach(walk);
    for (const [k, v] of Object.entries(s)) {
      if (k === 'info' && v !== null && typeof v === 'object' && !tree.isTensor(v)) {
        for (const [ik, iv] of Object.entries(v)) {
          if (typeof iv === 'number' || typeof iv === 'boolean' || typeof iv === 'string') out[ik] = iv;
        }
      } else walk(v);
    }
  };
  walk(state);
  return out;
}

/**
 * The common training step in one call:
 *
 *   `(loss, g) = valueAndGrad(lossFn)(θ, batch)`,
 *   `(u, s′) = tx.update(g, s, θ, { batch, curvatureBatch, value: loss, grad: g, key })`,
 *   `θ′ = applyUpdates(θ, u)`.
 *
 * Given an {@link Objective} (a model and its output loss) instead of a loss function, the step
 * makes a step context (`stepContext`): the model is linearized once on the batch, the loss and
 * the gradient g = Jᵀr / B come from that forward pass, and every piece of `tx` that needs the
 * model on the same batch and params (curvature operator, row-space solver, IGND, the
 * Gauss-Newton-Bartlett estimator, the damping ratio) reuses it (`extra.context`): one forward
 * pass of the batch per step, plus one at θ + δ when the damping adapts. `{ reuse: false }` runs
 * each piece's own forward pass instead (benchmarks).
 *
 * Ownership: the step CONSUMES its inputs `params` (when they are plain tensors) and `state`: it
 * disposes them, together with the gradients and the updates, once the new params and state
 * exist. `tf.Variable` params are updated in place and never disposed. The batch is never
 * disposed. The caller owns everything returned: the new params, the new state and `loss`
 * (dispose it after reading it). A tensor still referenced by the result (for instance one a
 * transform returned as-is in breach of the contract) is never disposed.
 *
 * `info` merges the numbers / booleans / strings found under every `info` key of the new state
 * (e.g. a line search's `{ stepSize, trials }`); `{}` when there are none.
 *
 * Bad input is refused with an {@link InputError} naming the path, before anything is computed or
 * disposed (params and state stay as they were): an empty params tree (`params is an empty tree:
 * nothing to optimize`), non-float32 params, and a disposed tensor in params, state or batch
 * (`params.w is disposed`: e.g. the old params or state of an earlier step, which it consumed).
 *
 * @example
 * const step = makeStep(adam(1e-3), (p, b) => losses.meanSquaredError(predict(p, b.x), b.y));
 * const shared = makeStep(egn(objective, { lam0: 1 }), objective);   // one forward pass per step
 * let state = tx.init(params);
 * for (const batch of batches) {
 *   const out = step(params, state, batch);
 *   ({ params, state } = out);
 *   console.log((await out.loss.data())[0]);
 *   out.loss.dispose();
 * }
 */
export function makeStep<S, B>(
  tx: GradientTransformation<S>,
  lossFn: LossFn<B> | Objective<any>,
  options: MakeStepOptions = {},
): (params: Tree, state: S, batch: B, options?: StepOptions) => StepResult<S> {
  const step = stepReads(tx, lossFn, 'makeStep', options);
  return (params, state, batch, options) => runSync(step(params, state, batch, options));
}

/**
 * {@link makeStep} for backends that cannot read synchronously (WebGPU): the same step, where every
 * value the transform reads from the device (CG scalars, float64 solves, damping ratios, guards) is
 * fetched with `await data()` first (every somax transform exposes its reads; a user's transform
 * without `updateReads` still reads synchronously). Same ownership as `makeStep`.
 *
 * @example
 * const step = makeStepAsync(tx, lossFn);   // tx: any transform, e.g. one that solves on the host
 * const out = await step(params, state, batch);
 */
export function makeStepAsync<S, B>(
  tx: GradientTransformation<S>,
  lossFn: LossFn<B> | Objective<any>,
  options: MakeStepOptions = {},
): (params: Tree, state: S, batch: B, options?: StepOptions) => Promise<StepResult<S>> {
  const step = stepReads(tx, lossFn, 'makeStepAsync', options);
  return (params, state, batch, options) => runAsync(step(params, state, batch, options));
}

const STEP_OPTION_KEYS: readonly (keyof StepOptions)[] = ['curvatureBatch', 'key'];

/** Options of {@link makeStep} and {@link makeStepAsync}. */
export interface MakeStepOptions {
  /**
   * With an objective: share one forward pass per batch among the gradient and every piece of the
   * step (the step context; default true). False runs each piece's own forward pass, and the
   * gradient by the tape: the cost of a step without the context, for benchmarks.
   */
  reuse?: boolean;
}

/** Whether the loss given to a step is an {@link Objective} (a model and its output loss). */
function isObjective(loss: unknown): loss is Objective<any> {
  return typeof loss === 'object' && loss !== null && typeof (loss as Objective).predict === 'function';
}

/** The step of {@link makeStep} and {@link makeStepAsync} as a {@link Reads} computation. */
function stepReads<S, B>(tx: GradientTransformation<S>, loss: LossFn<B> | Objective<any>, name: string, stepOptions: MakeStepOptions) {
  if (typeof tx?.update !== 'function') throw new HyperparameterError(`${name}: tx must be a GradientTransformation`);
  const objective = isObjective(loss) ? loss : undefined;
  if (typeof loss !== 'function' && objective === undefined) {
    throw new HyperparameterError(`${name}: the loss must be a function (params, batch) → tf.Scalar, or an objective { predict, loss }`);
  }
  const { reuse } = resolveOptions(name, stepOptions, { reuse: true });
  ensureWasmKernels(); // the wasm backend may have been loaded after somax
  const vg = valueAndGrad(objective ? (objectiveLoss(objective) as LossFn<B>) : (loss as LossFn<B>));
  return function* (params: Tree, state: S, batch: B, options: StepOptions = {}): Reads<StepResult<S>> {
    checkOptionKeys(name, options, STEP_OPTION_KEYS);
    const { curvatureBatch, key } = options;
    checkStepInputs(params, state, batch, curvatureBatch);
    const context = objective ? stepContext({ reuse }) : undefined;
    let value: tf.Scalar;
    let grads: Tree;
    try {
      // With an objective and reuse, the loss and g = Jᵀr / B come from the context's forward pass.
      const b = batch as unknown as SupervisedBatch<unknown>;
      if (objective && reuse) {
        const shared = context as StepContext;
        ({ value, grads } = { value: shared.loss(objective, params, b).clone(), grads: shared.gradient(objective, params, b) });
      } else ({ value, grads } = vg(params, batch));
    } catch (e) {
      context?.dispose();
      throw e;
    }
    let updates: Tree;
    let newState: S;
    try {
      const extra = { batch, curvatureBatch: curvatureBatch ?? batch, value, grad: grads, key, ...(context && { context }) };
      [updates, newState] = yield* updateReadsOf(tx, grads, state, params, extra);
    } catch (e) {
      tree.dispose(grads);
      value.dispose();
      throw e;
    } finally {
      context?.dispose();
    }
    return finishStep(params, state, grads, value, updates, newState);
  };
}

/**
 * The checks at the start of a step, before any tensor is computed or disposed (so a refused step
 * leaves params and state as they were): params are a non-empty tree of live float32 tensors, and
 * no tensor in the state or the batches is disposed (e.g. params or a state an earlier step consumed).
 * Property reads only: no device work.
 */
function checkStepInputs(params: Tree, state: unknown, batch: unknown, curvatureBatch: unknown): void {
  tree.assertNonEmpty(params, 'params');
  tree.assertLive(params, 'params');
  tree.assertFloat(params, 'params');
  tree.assertLive(state, 'state');
  tree.assertLive(batch, 'batch');
  tree.assertLive(curvatureBatch, 'curvatureBatch');
}

/** The end of a step: apply the updates, dispose what the step consumed, collect the telemetry. */
function finishStep<S>(params: Tree, state: S, grads: Tree, value: tf.Scalar, updates: Tree, newState: S): StepResult<S> {
  let newParams: Tree;
  try {
    newParams = applyUpdates(params, updates);
  } catch (e) {
    tree.dispose(grads);
    tree.dispose(updates);
    value.dispose();
    throw e;
  }
  const keep = new Set<tf.Tensor>([...tree.tensors(newParams), ...tree.tensors(newState as StateTree), value]);
  const oldParams = tree.leaves(params).filter((p) => !isVariable(p));
  const done = new Set<tf.Tensor>([...tree.leaves(grads), ...tree.leaves(updates), ...tree.tensors(state as StateTree), ...oldParams]);
  for (const t of done) if (!keep.has(t) && !t.isDisposed) t.dispose();
  return { params: newParams, state: newState, loss: value, info: collectInfo(newState) };
}
