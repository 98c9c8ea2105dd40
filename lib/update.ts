/**
 * Applying updates, and the common training step in one call.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { valueAndGrad } from './autodiff';
import { assertInRange, assertInteger } from './errors';
import * as tree from './tree';
import type { GradientTransformation, LossFn, PRNGKey, StateTree, Tree } from './types';

/** True when `t` is a `tf.Variable` (duck-typed: it can be assigned in place). */
export function isVariable(t: tf.Tensor): t is tf.Variable {
  return typeof (t as unknown as { assign?: unknown }).assign === 'function' && 'trainable' in t;
}

/**
 * Applies updates to params: `θ ← θ + u` leafwise, keeping each param's dtype.
 *
 * - Params that are plain tensors: returns a NEW tree; the old params are untouched (the caller
 *   disposes them when no longer needed).
 * - Params that are `tf.Variable`s: assigns `θ + u` in place (the tfjs way) and returns the same
 *   variables.
 *
 * @example
 * const newParams = applyUpdates(params, updates);
 */
export function applyUpdates<T extends Tree>(params: T, updates: Tree): T {
  tree.assertSameStructure(params, updates, { names: ['params have', 'updates have'], root: 'updates' });
  const { leaves, def } = tree.flatten(params);
  const us = tree.leaves(updates);
  const out = leaves.map((p, i) => {
    const sum = () => (p.dtype === us[i].dtype ? tf.add(p, us[i]) : tf.cast(tf.add(p, us[i]), p.dtype));
    if (isVariable(p)) {
      tf.tidy(() => p.assign(sum()));
      return p;
    }
    return tf.tidy(sum);
  });
  return tree.unflatten(def, out) as T;
}

/**
 * Polyak / EMA averaging of two trees: `stepSize · new + (1 − stepSize) · old` (fresh tensors).
 */
export function incrementalUpdate(newTensors: Tree, oldTensors: Tree, stepSize: number): Tree {
  assertInRange('stepSize', stepSize, 0, 1);
  return tree.map((n: tf.Tensor, o: tf.Tensor) => tf.tidy(() => tf.add(tf.mul(n, stepSize), tf.mul(o, 1 - stepSize))), newTensors, oldTensors);
}

/** `newTensors` when `steps` is a multiple of `updatePeriod`, else `oldTensors` (fresh copies). */
export function periodicUpdate(newTensors: Tree, oldTensors: Tree, steps: number, updatePeriod: number): Tree {
  assertInteger('updatePeriod', updatePeriod);
  tree.assertSameStructure(newTensors, oldTensors);
  return tree.clone(steps % updatePeriod === 0 ? newTensors : oldTensors);
}

/** Telemetry gathered from a transform's state: every `info` object found in it. */
export type StepInfo = Readonly<Record<string, number | boolean>>;

/** What one training step returns. */
export interface StepResult<S> {
  readonly params: Tree;
  readonly state: S;
  /** The loss at the params before the step (a scalar tensor the caller owns). */
  readonly loss: tf.Scalar;
  readonly info: StepInfo;
}

/** Merges the `info` objects found in a state (chains hold their members' states in arrays). */
function collectInfo(state: unknown): StepInfo {
  const out: Record<string, number | boolean> = {};
  const walk = (s: unknown): void => {
    if (s === null || typeof s !== 'object' || tree.isTensor(s)) return;
    if (Array.isArray(s)) return s.forEach(walk);
    for (const [k, v] of Object.entries(s)) {
      if (k === 'info' && v !== null && typeof v === 'object') Object.assign(out, v);
      else walk(v);
    }
  };
  walk(state);
  return out;
}

/**
 * The common training loop in one call: value and gradient of `lossFn` on the batch, the
 * transform's update (with `extra = { batch, curvatureBatch, value, grad, key }`), and the update
 * applied. It CONSUMES the old state and, when the params are plain tensors, the old params (both
 * are disposed); `tf.Variable` params are updated in place. The returned `loss` is the caller's.
 *
 * @example
 * const step = makeStep(adam(1e-3), lossFn);
 * let state = tx.init(params);
 * ({ params, state } = step(params, state, batch));
 */
export function makeStep<S, B>(
  tx: GradientTransformation<S>,
  lossFn: LossFn<B>,
): (params: Tree, state: S, batch: B, options?: { curvatureBatch?: unknown; key?: PRNGKey }) => StepResult<S> {
  const vg = valueAndGrad(lossFn);
  return (params, state, batch, { curvatureBatch, key } = {}) => {
    const { value, grads } = vg(params, batch);
    let updates: Tree;
    let newState: S;
    try {
      [updates, newState] = tx.update(grads, state, params, { batch, curvatureBatch: curvatureBatch ?? batch, value, grad: grads, key });
    } finally {
      tree.dispose(grads);
    }
    const newParams = applyUpdates(params, updates);
    tree.dispose(updates);
    tree.dispose(state as StateTree);
    tree.leaves(params).forEach((p) => {
      if (!isVariable(p)) p.dispose();
    });
    return { params: newParams, state: newState, loss: value, info: collectInfo(newState) };
  };
}
