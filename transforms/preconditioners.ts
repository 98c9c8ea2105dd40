/**
 * Diagonal preconditioning: curvature-diagonal estimators and the exponential-moving-average
 * diagonal preconditioner of AdaHessian and Sophia (somax v1 `diag_ema`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { hessianDiag } from '../lib/autodiff';
import { assertInRange, assertInteger, assertNonNegative, assertPositive, InputError } from '../lib/errors';
import type { Objective, SupervisedBatch } from '../lib/objective';
import { foldIn, key as makeKey } from '../lib/random';
import * as tree from '../lib/tree';
import type { Extra, GradientTransformation, LossFn, PRNGKey, Tree } from '../lib/types';
import type { Curvature } from './curvature';
import { gaussNewtonBartlettDiag, hutchinsonDiag, spatialAverage } from './estimators';

/** Estimates the curvature diagonal at `params` on a batch: a tree shaped like the params. */
export type DiagonalEstimator = (params: Tree, batch: unknown, key: PRNGKey) => Tree;

/** Hutchinson's estimator on a curvature (see {@link hutchinsonDiag}). */
export function hutchinsonEstimator(
  curvature: Curvature,
  { nProbes = 1, useAbs = false }: { nProbes?: number; useAbs?: boolean } = {},
): DiagonalEstimator {
  assertInteger('nProbes', nProbes);
  return (params, batch, key) => {
    const op = curvature(params, batch, key);
    try {
      return hutchinsonDiag(op, params, key, { nProbes, useAbs });
    } finally {
      op.dispose();
    }
  };
}

/** The Gauss-Newton-Bartlett estimator of Sophia-G (see {@link gaussNewtonBartlettDiag}). */
export function gaussNewtonBartlettEstimator<X>(
  objective: Objective<X>,
  { nSamples = 1 }: { nSamples?: number } = {},
): DiagonalEstimator {
  assertInteger('nSamples', nSamples);
  return (params, batch, key) => gaussNewtonBartlettDiag(objective, params, batch as SupervisedBatch<X>, key, { nSamples });
}

/** The exact Hessian diagonal (P Hessian-vector products: tiny models and tests only). */
export function exactDiagEstimator<B>(lossFn: LossFn<B>): DiagonalEstimator {
  return (params, batch) => hessianDiag(lossFn, params, batch as B);
}

/** State of {@link scaleByDiagonalCurvature}. */
export interface ScaleByDiagonalCurvatureState {
  /** Steps taken so far (the refresh cadence counts from 0, so step 0 refreshes). */
  readonly step: number;
  /** Number of refreshes of `v` so far (its bias correction). */
  readonly refreshes: number;
  /** Numerator momentum m (EMA of gradients). */
  readonly m: Tree;
  /** EMA of the diagonal contribution (d² for AdaHessian, d for Sophia). */
  readonly v: Tree;
  /** Key used when the step's `extra.key` is absent. */
  readonly key: PRNGKey;
}

/** Options of {@link scaleByDiagonalCurvature}. */
export interface DiagonalCurvatureOptions {
  /** `'adahessian'`: c = d², denominator max(v̂, 0)^(k/2) + eps; `'sophia'`: c = d, denominator max(γ v̂, eps). */
  mode: 'adahessian' | 'sophia';
  /** Decay of the gradient momentum m (default 0.9 for AdaHessian, 0.965 for Sophia). */
  beta1?: number;
  /** Decay of the curvature EMA v (default 0.999 for AdaHessian, 0.99 for Sophia). */
  beta2?: number;
  /** Floor of the denominator (default 1e-8). */
  eps?: number;
  /** AdaHessian's Hessian power k ∈ [0, 1]. */
  hessianPower?: number;
  /**
   * AdaHessian's relative floor ρ of the denominator: v̂^(k/2) is raised to at least ρ times its
   * mean over the leaf (default 0: the paper's formula). Guards coordinates whose curvature
   * estimate is exactly zero while their gradient is not (a curvature batch smaller than the
   * gradient batch, e.g. blank pixels), where m̂ / ε would be a huge step.
   */
  relativeFloor?: number;
  /** Sophia's γ. */
  gamma?: number;
  /** Refresh the diagonal every k steps (step 0 refreshes). */
  evalEveryK?: number;
  /** Average the estimate over kernel axes (see {@link spatialAverage}). */
  spatialAveraging?: boolean;
  /** Seed of the probe keys when the step passes no `extra.key`. */
  seed?: number;
}

/** v^(k/2) for v ≥ 0: `tf.sqrt` for the default k = 1 (wasm's Pow kernel is ~20× slower than Sqrt). */
function hessianRoot(v: tf.Tensor, k: number): tf.Tensor {
  return k === 1 ? tf.sqrt(v) : tf.pow(v, k / 2);
}

/** max(d, ρ·mean(d)) element-wise (d itself when ρ = 0). */
function flooredRelative(d: tf.Tensor, rho: number): tf.Tensor {
  return rho > 0 ? tf.maximum(d, tf.mul(tf.mean(d), rho)) : d;
}

/**
 * The diagonal lane of AdaHessian and Sophia (somax v1 `diag_ema` + numerator momentum):
 *
 *   on refresh (every `evalEveryK` steps): d = estimate(θ, curvatureBatch), c = d² (AdaHessian) or d
 *   (Sophia), v ← β₂v + (1 − β₂)c, t ← t + 1;
 *   every step: m ← β₁m + (1 − β₁)g, m̂ = m / (1 − β₁^(step+1)), v̂ = v / (1 − β₂^t);
 *   s = m̂ / (max(D, ρ·mean(D)) + ε), D = max(v̂, 0)^(k/2)  (AdaHessian; mean over each leaf, ρ = 0 by default)
 *   or   s = m̂ / max(γ v̂, ε)  (Sophia).
 *
 * The output s has no sign: a descent chain follows with a negative learning rate. The estimate
 * uses `extra.curvatureBatch` (default `extra.batch`) and `extra.key` (default: a key from `seed`
 * folded with the step).
 *
 * @see Yao et al., "ADAHESSIAN" (2021), arXiv 2006.00719; Liu et al., "Sophia" (2023), arXiv 2305.14342.
 */
export function scaleByDiagonalCurvature(
  estimator: DiagonalEstimator,
  {
    mode,
    beta1 = mode === 'adahessian' ? 0.9 : 0.965,
    beta2 = mode === 'adahessian' ? 0.999 : 0.99,
    eps = 1e-8,
    hessianPower = 1,
    relativeFloor = 0,
    gamma = 0.01,
    evalEveryK = mode === 'adahessian' ? 1 : 10,
    spatialAveraging = mode === 'adahessian',
    seed = 0,
  }: DiagonalCurvatureOptions,
): GradientTransformation<ScaleByDiagonalCurvatureState> {
  assertInRange('beta1', beta1, 0, 1, { hiOpen: true });
  assertInRange('beta2', beta2, 0, 1, { hiOpen: true });
  assertNonNegative('eps', eps);
  assertInRange('hessianPower', hessianPower, 0, 1);
  assertInRange('relativeFloor', relativeFloor, 0, 1);
  assertPositive('gamma', gamma);
  assertInteger('evalEveryK', evalEveryK);
  if (mode !== 'adahessian' && mode !== 'sophia') throw new InputError(`mode must be 'adahessian' or 'sophia', got '${String(mode)}'`);
  return {
    init: (params) => ({ step: 0, refreshes: 0, m: tree.zerosLike(params), v: tree.zerosLike(params), key: makeKey(seed) }),
    update: (updates, state, params, extra: Extra = {}) => {
      if (params === undefined) throw new InputError('scaleByDiagonalCurvature needs params');
      const refresh = state.step % evalEveryK === 0;
      const out = tf.tidy(() => {
        let v = state.v;
        if (refresh) {
          const batch = extra.curvatureBatch ?? extra.batch;
          const k = extra.key ?? foldIn(state.key, state.step);
          let d = estimator(params, batch, k);
          if (spatialAveraging) d = spatialAverage(d);
          const c = mode === 'adahessian' ? tree.mul(d, d) : d;
          v = tree.map((vi: tf.Tensor, ci: tf.Tensor) => tf.add(tf.mul(vi, beta2), tf.mul(ci, 1 - beta2)), state.v, c);
        }
        const refreshes = state.refreshes + (refresh ? 1 : 0);
        const m = tree.map((mi: tf.Tensor, gi: tf.Tensor) => tf.add(tf.mul(mi, beta1), tf.mul(gi, 1 - beta1)), state.m, updates);
        const mScale = 1 / (1 - beta1 ** (state.step + 1));
        const vScale = 1 / (1 - beta2 ** refreshes);
        const s = tree.map((mi: tf.Tensor, vi: tf.Tensor) => {
          const vHat = tf.mul(vi, vScale);
          const denom = mode === 'adahessian'
            ? tf.add(flooredRelative(hessianRoot(tf.relu(vHat), hessianPower), relativeFloor), eps)
            : tf.maximum(tf.mul(vHat, gamma), eps);
          return tf.div(tf.mul(mi, mScale), denom);
        }, m, v);
        return { s, m, v: v === state.v ? tree.clone(v) : v } as unknown as tf.TensorContainer;
      }) as unknown as { s: Tree; m: Tree; v: Tree };
      return [out.s, { step: state.step + 1, refreshes: state.refreshes + (refresh ? 1 : 0), m: out.m, v: out.v, key: state.key }];
    },
  };
}
