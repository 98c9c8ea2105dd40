/**
 * Limited-memory BFGS: the two-loop recursion, and `scaleByLbfgs` (Optax's
 * `scale_by_lbfgs`), which turns gradients into quasi-Newton directions `H g`.
 * @module
 */
import { resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, assertNonNegative, InputError } from '../lib/errors';
import * as tree from '../lib/tree';
import { valueAndGrad } from '../lib/autodiff';
import { fetchScalar, fetchValues, runSync, updateReadsOf, withReads } from '../lib/reads';
import type { Extra, GradientTransformation, LossFn, Reads, Tree } from '../lib/types';

/** A curvature-pair history, oldest first: sᵢ = θᵢ₊₁ − θᵢ, yᵢ = gᵢ₊₁ − gᵢ, ρᵢ = 1 / sᵢᵀyᵢ. */
export interface LbfgsHistory {
  /** Parameter differences sᵢ, oldest first. */
  readonly s: readonly Tree[];
  /** Gradient differences yᵢ, oldest first. */
  readonly y: readonly Tree[];
  /** ρᵢ = 1 / sᵢᵀyᵢ. */
  readonly rho: readonly number[];
}

/**
 * The L-BFGS two-loop recursion (Nocedal & Wright, Numerical Optimization, Alg. 7.4): `H g` for
 * the inverse-Hessian approximation built from the pairs by BFGS updates of `H₀ = γ I`. No device
 * sync: the αᵢ, βᵢ stay scalar tensors. Returns a fresh tree.
 *
 *   q = g; for i = newest..oldest: αᵢ = ρᵢ sᵢᵀq, q ← q − αᵢyᵢ;  r = γ q;
 *   for i = oldest..newest: β = ρᵢ yᵢᵀr, r ← r + (αᵢ − β) sᵢ.
 *
 * @see Nocedal (1980); Liu & Nocedal, "On the limited memory BFGS method" (1989).
 */
export function lbfgsTwoLoop(g: Tree, history: LbfgsHistory, { gamma = 1 }: { gamma?: number } = {}): Tree {
  const k = history.s.length;
  if (history.y.length !== k || history.rho.length !== k) throw new InputError('lbfgsTwoLoop: s, y and rho must have the same length');
  return tree.tidy(() => {
    let q: Tree = g;
    const alphas: tf.Scalar[] = new Array(k);
    for (let i = k - 1; i >= 0; i--) {
      alphas[i] = tf.mul(history.rho[i], tree.vdot(history.s[i], q)) as tf.Scalar;
      q = tree.axpy(tf.neg(alphas[i]) as tf.Scalar, history.y[i], q);
    }
    let r = tree.scale(q, gamma);
    for (let i = 0; i < k; i++) {
      const beta = tf.mul(history.rho[i], tree.vdot(history.y[i], r)) as tf.Scalar;
      r = tree.axpy(tf.sub(alphas[i], beta) as tf.Scalar, history.s[i], r);
    }
    return r === g ? tree.clone(g) : r;
  });
}

/**
 * A fixed-size L-BFGS pair memory: slots of s and y (zeros until filled), ρ = 1/sᵀy (0 for an
 * empty slot), the order of the filled slots (oldest first), and the initial scaling γ.
 */
export interface LbfgsMemory {
  /** Parameter differences sᵢ, one per slot (zeros in empty slots). */
  readonly s: readonly Tree[];
  /** Gradient differences yᵢ, one per slot (zeros in empty slots). */
  readonly y: readonly Tree[];
  /** ρᵢ = 1 / sᵢᵀyᵢ per slot (0 in empty slots). */
  readonly rho: readonly number[];
  /** When each slot was filled (1, 2, ...; 0 = empty): a fixed-size record of the pair order. */
  readonly stamp: readonly number[];
  /** Scale γ of the initial inverse Hessian H₀ = γI (sᵀy / yᵀy of the last pair). */
  readonly gamma: number;
}

/** The filled slots of a memory, oldest first. */
export function memoryOrder(memory: LbfgsMemory): number[] {
  return memory.stamp.flatMap((t, i) => (t > 0 ? [i] : [])).sort((a, b) => memory.stamp[a] - memory.stamp[b]);
}

/** An empty memory of `memorySize` slots shaped like `params`. */
export function initLbfgsMemory(params: Tree, memorySize: number): LbfgsMemory {
  return {
    s: Array.from({ length: memorySize }, () => tree.zerosLike(params)),
    y: Array.from({ length: memorySize }, () => tree.zerosLike(params)),
    rho: new Array(memorySize).fill(0),
    stamp: new Array(memorySize).fill(0),
    gamma: 1,
  };
}

/**
 * A new memory with the pair (s, y) stored in the oldest slot when it satisfies the curvature
 * condition sᵀy > curvatureEps·‖s‖‖y‖ (else skipped, keeping H positive definite) and 1/sᵀy and
 * sᵀy/yᵀy are finite in float32, and γ = sᵀy/yᵀy when `updateGamma`. Takes ownership of `ds` and `dy`; every tensor of the result is fresh.
 * Reads three scalars from the device (one read; {@link pushPairReads} exposes it).
 */
export function pushPair(memory: LbfgsMemory, ds: Tree, dy: Tree, options: PushPairOptions = {}): PushPairResult {
  return runSync(pushPairReads(memory, ds, dy, options));
}

/** Options of {@link pushPair}. */
export interface PushPairOptions {
  /** ε of the curvature test sᵀy > ε‖s‖‖y‖ (default 1e-10). */
  curvatureEps?: number;
  /** Whether γ becomes sᵀy/yᵀy of the new pair (default true). */
  updateGamma?: boolean;
}

/** Result of {@link pushPair}. */
export interface PushPairResult {
  /** The memory with the pair (or the old one, `ds` and `dy` disposed, when refused). */
  memory: LbfgsMemory;
  /** Whether the pair passed the curvature test sᵀy > ε‖s‖‖y‖. */
  accepted: boolean;
}

/** {@link pushPair} as a {@link Reads} computation (its one read of sᵀy, sᵀs, yᵀy is yielded). */
export function* pushPairReads(
  memory: LbfgsMemory,
  ds: Tree,
  dy: Tree,
  { curvatureEps = 1e-10, updateGamma = true }: PushPairOptions = {},
): Reads<PushPairResult> {
  let values: tf.TypedArray;
  try {
    values = yield* fetchValues(() => tf.stack([tree.vdot(ds, dy), tree.squaredNorm(ds), tree.squaredNorm(dy)]));
  } catch (e) {
    tree.dispose([ds, dy]);
    throw e;
  }
  const [sy, ss, yy] = values;
  // ρ = 1/sᵀy and γ = sᵀy/yᵀy must also be finite in float32 (curvature vanishing at infinity,
  // e.g. separable logistic regression, underflows yᵀy).
  const representable = Number.isFinite(Math.fround(1 / sy)) && Number.isFinite(Math.fround(sy / yy));
  const accepted = sy > 0 && sy > curvatureEps * Math.sqrt(ss * yy) && representable;
  if (!accepted) {
    tree.dispose([ds, dy]);
    return { memory: { ...memory, s: memory.s.map((t) => tree.clone(t)), y: memory.y.map((t) => tree.clone(t)) }, accepted };
  }
  // The oldest slot (an empty one has stamp 0, so it is taken first).
  const slot = memory.stamp.reduce((best, t, i) => (t < memory.stamp[best] ? i : best), 0);
  const replace = (slots: readonly Tree[], fresh: Tree) => slots.map((t, i) => (i === slot ? fresh : tree.clone(t)));
  const rho = memory.rho.slice();
  rho[slot] = 1 / sy;
  const stamp = memory.stamp.slice();
  stamp[slot] = Math.max(...memory.stamp) + 1;
  return {
    memory: { s: replace(memory.s, ds), y: replace(memory.y, dy), rho, stamp, gamma: updateGamma ? sy / yy : memory.gamma },
    accepted,
  };
}

/** `H g` from a memory (the two-loop recursion over its filled slots, oldest first). */
export function memoryDirection(memory: LbfgsMemory, g: Tree): Tree {
  const o = memoryOrder(memory);
  return lbfgsTwoLoop(
    g,
    { s: o.map((i) => memory.s[i]), y: o.map((i) => memory.y[i]), rho: o.map((i) => memory.rho[i]) },
    { gamma: memory.gamma },
  );
}

/** State of {@link scaleByLbfgs}: the last params and gradients and the pair memory. */
export interface ScaleByLbfgsState {
  /** Steps taken so far. */
  readonly count: number;
  /** The params of the last step (to form s = θ − θ_prev). */
  readonly params: Tree;
  /** The gradient of the last step (to form y = g − g_prev). */
  readonly grads: Tree;
  /** The curvature pairs. */
  readonly memory: LbfgsMemory;
}

/** Options of {@link scaleByLbfgs} (Optax's names and defaults). */
export interface ScaleByLbfgsOptions {
  /** Pairs (s, y) kept (default 10). */
  memorySize?: number;
  /** H₀ = γI with γ = sᵀy / yᵀy of the newest pair (default true); else H₀ = I. */
  scaleInitPrecond?: boolean;
  /** Pairs with sᵀy ≤ curvatureEps·‖s‖‖y‖ are skipped (default 1e-10). */
  curvatureEps?: number;
}

export const SCALE_BY_LBFGS_DEFAULTS = {
  memorySize: 10,
  scaleInitPrecond: true,
  curvatureEps: 1e-10,
} as const satisfies Defaults<ScaleByLbfgsOptions>;

/**
 * L-BFGS scaling (Optax `scale_by_lbfgs`): from the previous step's params and gradients, store the
 * pair (s, y) and output `H g` by the two-loop recursion with `memorySize` pairs. With
 * `scaleInitPrecond`, H₀ = γI with γ = sᵀy / yᵀy of the newest pair, and on the first step
 * γ = min(1, 1/‖g‖) (a capped reciprocal of the gradient norm). Unlike Optax, pairs with
 * sᵀy ≤ curvatureEps·‖s‖‖y‖ are skipped, which keeps H positive definite on non-convex losses.
 * Reads a few scalars per step. Needs params. Best on deterministic (full-batch) problems.
 *
 * @see Nocedal & Wright, Numerical Optimization (2006), §7.2.
 */
export function scaleByLbfgs(options: ScaleByLbfgsOptions = {}): GradientTransformation<ScaleByLbfgsState> {
  const { memorySize, scaleInitPrecond, curvatureEps } = resolveOptions('scaleByLbfgs', options, SCALE_BY_LBFGS_DEFAULTS);
  assertInteger('memorySize', memorySize);
  assertNonNegative('curvatureEps', curvatureEps);
  return withReads(
    (params) => ({ count: 0, params: tree.zerosLike(params), grads: tree.zerosLike(params), memory: initLbfgsMemory(params, memorySize) }),
    function* (updates, state, params) {
      if (params === undefined) throw new InputError('scaleByLbfgs needs params');
      let memory: LbfgsMemory;
      if (state.count > 0) {
        memory = (yield* pushPairReads(state.memory, tree.sub(params, state.params), tree.sub(updates, state.grads), {
          curvatureEps,
          updateGamma: scaleInitPrecond,
        })).memory;
      } else {
        const gamma = scaleInitPrecond ? Math.min(1, 1 / Math.sqrt(yield* fetchScalar(() => tree.squaredNorm(updates)))) : 1;
        memory = { ...state.memory, s: state.memory.s.map((t) => tree.clone(t)), y: state.memory.y.map((t) => tree.clone(t)), gamma };
      }
      return [memoryDirection(memory, updates), { count: state.count + 1, params: tree.clone(params), grads: tree.clone(updates), memory }];
    },
  );
}

/** State of {@link scaleBySqn}. */
export interface ScaleBySqnState {
  /** The curvature pairs. */
  readonly memory: LbfgsMemory;
  /** The line search's state (when it is on), else null. */
  readonly linesearch: unknown;
}

/** Options of {@link scaleBySqn}. */
export interface ScaleBySqnOptions {
  /** Fixed step size η when there is no line search (default 1.0). */
  learningRate?: number;
  /** Pairs (s, y) kept (default 10). */
  memorySize?: number;
  /** Pairs with sᵀy ≤ curvatureEps·‖s‖‖y‖ are skipped (default 1e-10). */
  curvatureEps?: number;
  /** A line search transform that scales the direction −H g (default none: η = learningRate). */
  linesearch?: GradientTransformation<unknown>;
}

export const SCALE_BY_SQN_DEFAULTS = {
  learningRate: 1.0,
  memorySize: 10,
  curvatureEps: 1e-10,
  linesearch: undefined,
} as const satisfies Defaults<ScaleBySqnOptions>;

/**
 * Online (stochastic) L-BFGS, Bottou, Curtis & Nocedal (2018) Alg. 6.2 as somax 2024's SQN: the
 * step is δ = −η H g by the two-loop recursion, then the pair s = δ, y = ∇L(θ + δ) − ∇L(θ) is
 * formed on the curvature batch (`extra.curvatureBatch`, default the gradient batch — then ∇L(θ) is
 * the incoming gradient and each step costs two gradients) and stored when sᵀy > eps‖s‖‖y‖.
 * η is `learningRate`, or found by `linesearch` (a backtracking transform, e.g. the stochastic Armijo
 * search that somax 2024 declared but never ran). Outputs the final update δ (with its sign).
 *
 * @see Bottou, Curtis & Nocedal, "Optimization Methods for Large-Scale Machine Learning" (2018), §6.2.
 */
export function scaleBySqn<B>(lossFn: LossFn<B>, options: ScaleBySqnOptions = {}): GradientTransformation<ScaleBySqnState> {
  const { learningRate, memorySize, curvatureEps, linesearch } = resolveOptions('scaleBySqn', options, SCALE_BY_SQN_DEFAULTS);
  assertInteger('memorySize', memorySize);
  assertNonNegative('learningRate', learningRate);
  const vg = valueAndGrad(lossFn);
  return withReads(
    (params) => ({ memory: initLbfgsMemory(params, memorySize), linesearch: linesearch ? linesearch.init(params) : null }),
    function* (updates, state, params, extra: Extra = {}) {
      if (params === undefined) throw new InputError('scaleBySqn needs params');
      const direction = tree.tidy(() => tree.scale(memoryDirection(state.memory, updates), -1));
      let delta: Tree;
      let lsState: unknown = null;
      if (linesearch) {
        try {
          [delta, lsState] = yield* updateReadsOf(linesearch, direction, state.linesearch, params, extra);
        } finally {
          tree.dispose(direction);
        }
      } else {
        delta = tree.tidy(() => tree.scale(direction, learningRate));
        tree.dispose(direction);
      }
      const curvatureBatch = (extra.curvatureBatch ?? extra.batch) as B;
      const sameBatch = extra.curvatureBatch === undefined || extra.curvatureBatch === extra.batch;
      const next = tree.add(params, delta);
      const after = vg(next, curvatureBatch);
      const before = sameBatch ? null : vg(params, curvatureBatch);
      const dy = tree.sub(after.grads, before ? before.grads : updates);
      tree.dispose([next, after.value, after.grads]);
      if (before) tree.dispose([before.value, before.grads]);
      const { memory } = yield* pushPairReads(state.memory, tree.clone(delta), dy, { curvatureEps });
      return [delta, { memory, linesearch: lsState }];
    },
  );
}
