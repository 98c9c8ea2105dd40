/**
 * Limited-memory BFGS: the two-loop recursion, and `scaleByLbfgs` (Optax's
 * `scale_by_lbfgs`), which turns gradients into quasi-Newton directions `H g`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, assertNonNegative, InputError } from '../lib/errors';
import * as tree from '../lib/tree';
import type { GradientTransformation, Tree } from '../lib/types';

/** A curvature-pair history, oldest first: sᵢ = θᵢ₊₁ − θᵢ, yᵢ = gᵢ₊₁ − gᵢ, ρᵢ = 1 / sᵢᵀyᵢ. */
export interface LbfgsHistory {
  readonly s: readonly Tree[];
  readonly y: readonly Tree[];
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

/** State of {@link scaleByLbfgs}: the last params and gradients and a fixed-size pair memory. */
export interface ScaleByLbfgsState {
  readonly count: number;
  readonly params: Tree;
  readonly grads: Tree;
  /** Memory slots (zeros until filled); slot `i` is valid when `rho[i] > 0`. */
  readonly s: readonly Tree[];
  readonly y: readonly Tree[];
  readonly rho: readonly number[];
  /** Order of the valid slots, oldest first. */
  readonly order: readonly number[];
  /** Initial scaling γ of the last step. */
  readonly gamma: number;
}

/**
 * L-BFGS scaling (Optax `scale_by_lbfgs`): from the previous step's params and gradients, store the
 * pair (s, y) and output `H g` by the two-loop recursion with `memorySize` pairs. With
 * `scaleInitPrecond`, H₀ = γI with γ = sᵀy / yᵀy of the newest pair, and on the first step
 * γ = min(1, 1/‖g‖) (a capped reciprocal of the gradient norm). Unlike Optax, pairs with
 * sᵀy ≤ curvatureEps·‖s‖‖y‖ are skipped, which keeps H positive definite on non-convex losses.
 * Reads one scalar per step. Needs params. Best on deterministic (full-batch) problems.
 *
 * @see Nocedal & Wright, Numerical Optimization (2006), §7.2.
 */
export function scaleByLbfgs({
  memorySize = 10,
  scaleInitPrecond = true,
  curvatureEps = 1e-10,
}: { memorySize?: number; scaleInitPrecond?: boolean; curvatureEps?: number } = {}): GradientTransformation<ScaleByLbfgsState> {
  assertInteger('memorySize', memorySize);
  assertNonNegative('curvatureEps', curvatureEps);
  return {
    init: (params) => ({
      count: 0,
      params: tree.zerosLike(params),
      grads: tree.zerosLike(params),
      s: Array.from({ length: memorySize }, () => tree.zerosLike(params)),
      y: Array.from({ length: memorySize }, () => tree.zerosLike(params)),
      rho: new Array(memorySize).fill(0),
      order: [],
      gamma: 1,
    }),
    update: (updates, state, params) => {
      if (params === undefined) throw new InputError('scaleByLbfgs needs params');
      const s = state.s.slice();
      const y = state.y.slice();
      const rho = state.rho.slice();
      let order = state.order.slice();
      let gamma = state.gamma;
      const fresh = new Set<Tree>();
      if (state.count > 0) {
        const ds = tree.sub(params, state.params);
        const dy = tree.sub(updates, state.grads);
        const [sy, ss, yy] = tree.readValues(() => tf.stack([tree.vdot(ds, dy), tree.squaredNorm(ds), tree.squaredNorm(dy)]));
        if (sy > curvatureEps * Math.sqrt(ss * yy) && sy > 0) {
          const slot = order.length < memorySize ? order.length : order[0];
          if (order.length === memorySize) order = order.slice(1);
          order.push(slot);
          s[slot] = ds;
          y[slot] = dy;
          rho[slot] = 1 / sy;
          fresh.add(ds).add(dy);
          if (scaleInitPrecond) gamma = sy / yy;
        } else {
          tree.dispose([ds, dy]);
        }
      } else if (scaleInitPrecond) {
        gamma = Math.min(1, 1 / Math.sqrt(tree.readScalar(() => tree.squaredNorm(updates))));
      }
      const out = lbfgsTwoLoop(updates, { s: order.map((i) => s[i]), y: order.map((i) => y[i]), rho: order.map((i) => rho[i]) }, { gamma });
      // New state: fresh tensors everywhere (clones of the slots kept from the old state).
      const keep = (t: Tree) => (fresh.has(t) ? t : tree.clone(t));
      return [out, { count: state.count + 1, params: tree.clone(params), grads: tree.clone(updates), s: s.map(keep), y: y.map(keep), rho, order, gamma }];
    },
  };
}
