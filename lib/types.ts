/**
 * The core types of somax: parameter trees, gradient transformations and what they receive at
 * step time. Mirrors Optax's `base.py` (GradientTransformation, Schedule, ...).
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { StepContext } from './stepContext';

/**
 * A parameter tree: a tensor, or nested plain arrays / objects of tensors. Object keys are
 * visited in sorted order, so two trees with the same keys match whatever their insertion order.
 */
export type Tree = tf.Tensor | readonly Tree[] | { readonly [key: string]: Tree };

/** Parameters of a model, as a {@link Tree}. */
export type Params = Tree;
/** Gradients or updates, with the structure of the params. */
export type Updates = Tree;

/**
 * What optimizer state may hold: tensors, numbers, booleans, strings, null, and nested plain
 * arrays / objects of those. No classes, so state can be inspected, saved and restored.
 */
export type StateTree =
  tf.Tensor | number | boolean | string | null | undefined | readonly StateTree[] | { readonly [key: string]: StateTree };

/** A learning-rate (or any hyperparameter) schedule: step count → value. */
export type Schedule = (step: number) => number;

/** A constant or a schedule. */
export type ScalarOrSchedule = number | Schedule;

/** A pseudo-random key (an unsigned 32-bit integer); see `random.split` / `random.foldIn`. */
export type PRNGKey = number;

/** A scalar loss of the params on a batch: `lossFn(params, batch) → tf.Scalar`. */
export type LossFn<B = unknown> = (params: Tree, batch: B) => tf.Scalar;

/**
 * What a transform may receive at step time besides the updates and params.
 * - `batch`: the batch the gradient was computed on;
 * - `curvatureBatch`: the batch every curvature quantity uses (defaults to `batch`);
 * - `value`: the loss at the current params, when already computed;
 * - `key`: randomness for this step;
 * - anything else a user's own transform wants.
 */
export interface Extra {
  /** The batch the gradient was computed on. */
  batch?: unknown;
  /** The batch every curvature quantity uses (defaults to `batch`). */
  curvatureBatch?: unknown;
  /** The loss at the current params, when already computed. */
  value?: tf.Scalar | number;
  /** Randomness for this step (Hutchinson probes, sampled targets). */
  key?: PRNGKey;
  /** The step's shared forward passes (see `stepContext`), when the step made one. */
  context?: StepContext;
  [name: string]: unknown;
}

/**
 * A gradient transformation (Optax's `GradientTransformationExtraArgs`): a pair of pure functions.
 *
 * - `init(params)` returns the initial state.
 * - `update(updates, state, params?, extra?)` returns `[newUpdates, newState]`.
 *
 * Tensor ownership: `update` never disposes or mutates its inputs, and its outputs (updates and
 * state) never alias them; the caller disposes what it no longer needs (the old state, the old
 * updates). `makeStep` does this for the common loop.
 */
export interface GradientTransformation<S = unknown> {
  /** The initial state for these params (fresh tensors the caller owns). */
  init(params: Tree): S;
  /** One step: `[newUpdates, newState]` from the incoming updates (gradients), the state, and optionally the params and the extras. */
  update(updates: Tree, state: S, params?: Tree, extra?: Extra): [Tree, S];
  /**
   * The same step as a {@link Reads} computation, for transforms that read values from the device
   * (solvers, damping, guards): it yields each tensor before reading it, so that `makeStepAsync`
   * can fetch it with `await data()` (WebGPU cannot read synchronously). Optional: without it a
   * transform is taken to read nothing.
   */
  updateReads?(updates: Tree, state: S, params?: Tree, extra?: Extra): Reads<[Tree, S]>;
}

/**
 * A computation that yields every tensor it is about to read from the device, then reads it with
 * `dataSync()`. Run synchronously (`runSync`: nothing to do at a yield) or asynchronously
 * (`runAsync`: `await t.data()` at a yield, which leaves the values cached for `dataSync()`).
 */
export type Reads<T> = Generator<tf.Tensor, T, void>;

/** The state type of a transformation. */
export type StateOf<T> = T extends GradientTransformation<infer S> ? S : never;
