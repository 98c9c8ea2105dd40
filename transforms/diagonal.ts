/**
 * The diagonal lane of AdaHessian and Sophia (somax v1 `diag_ema` with the numerator momentum):
 * one EMA of a curvature-diagonal estimate, refreshed every k steps and bias-corrected by its own
 * refresh count, under one of two small denominators.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInRange, assertInteger, assertNonNegative, assertPositive, InputError } from '../lib/errors';
import { resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';
import { foldIn, key as makeKey } from '../lib/random';
import * as tree from '../lib/tree';
import type { Extra, GradientTransformation, PRNGKey, Tree } from '../lib/types';
import { spatialAverage } from './estimators';
import type { DiagonalEstimator } from './estimators';
import { updateMoment } from './moments';

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
  b1?: number;
  /** Decay of the curvature EMA v (default 0.999 for AdaHessian, 0.99 for Sophia). */
  b2?: number;
  /** Floor of the denominator (default 1e-8). */
  eps?: number;
  /** AdaHessian's Hessian power k ∈ [0, 1] (default 1). */
  hessianPower?: number;
  /**
   * AdaHessian's relative floor ρ of the denominator: v̂^(k/2) is raised to at least ρ times its
   * mean over the leaf (default 0: the paper's formula). Guards coordinates whose curvature
   * estimate is exactly zero while their gradient is not (a curvature batch smaller than the
   * gradient batch, e.g. blank pixels), where m̂ / ε would be a huge step.
   */
  relativeFloor?: number;
  /** Sophia's γ (default 0.01). */
  gamma?: number;
  /** Refresh the diagonal every k steps (step 0 refreshes; default 1 for AdaHessian, 10 for Sophia). */
  evalEveryK?: number;
  /** Average the estimate over kernel axes (see `spatialAverage`; default true for AdaHessian). */
  spatialAveraging?: boolean;
  /** Seed of the probe keys when the step passes no `extra.key` (default 0). */
  seed?: number;
}

const COMMON_DEFAULTS = {
  eps: 1e-8,
  hessianPower: 1,
  relativeFloor: 0,
  gamma: 0.01,
  seed: 0,
} as const;

/** The defaults of {@link DiagonalCurvatureOptions} for each mode (somax v1's). */
export const DIAGONAL_CURVATURE_DEFAULTS = {
  adahessian: { ...COMMON_DEFAULTS, mode: 'adahessian', b1: 0.9, b2: 0.999, evalEveryK: 1, spatialAveraging: true },
  sophia: { ...COMMON_DEFAULTS, mode: 'sophia', b1: 0.965, b2: 0.99, evalEveryK: 10, spatialAveraging: false },
} as const satisfies Record<'adahessian' | 'sophia', Defaults<DiagonalCurvatureOptions>>;

/** What a mode puts in the EMA and how it divides by it. */
interface Denominator {
  /** The contribution c of an estimate d to the EMA. */
  contribution(d: Tree): Tree;
  /** The denominator of m̂ from the bias-corrected EMA v̂. */
  of(vHat: tf.Tensor): tf.Tensor;
}

/** v^(k/2) for v ≥ 0: `tf.sqrt` for the default k = 1 (wasm's Pow kernel is slower than Sqrt). */
function hessianRoot(v: tf.Tensor, k: number): tf.Tensor {
  return k === 1 ? tf.sqrt(v) : tf.pow(v, k / 2);
}

/** AdaHessian's: c = d², denominator max(D, ρ·mean(D)) + ε with D = max(v̂, 0)^(k/2). */
function adahessianDenominator(hessianPower: number, relativeFloor: number, eps: number): Denominator {
  return {
    contribution: (d) => tree.mul(d, d),
    of: (vHat) => {
      const root = hessianRoot(tf.relu(vHat), hessianPower);
      return tf.add(relativeFloor > 0 ? tf.maximum(root, tf.mul(tf.mean(root), relativeFloor)) : root, eps);
    },
  };
}

/** Sophia's: c = d, denominator max(γ v̂, ε). */
function sophiaDenominator(gamma: number, eps: number): Denominator {
  return { contribution: (d) => tree.clone(d), of: (vHat) => tf.maximum(tf.mul(vHat, gamma), eps) };
}

/**
 * The diagonal lane of AdaHessian and Sophia:
 *
 *   on refresh (every `evalEveryK` steps): d = estimate(θ, curvatureBatch), c = d² (AdaHessian) or d
 *   (Sophia), v ← b₂v + (1 − b₂)c, t ← t + 1;
 *   every step: m ← b₁m + (1 − b₁)g, m̂ = m / (1 − b₁^(step+1)), v̂ = v / (1 − b₂^t);
 *   s = m̂ / (max(D, ρ·mean(D)) + ε), D = max(v̂, 0)^(k/2)  (AdaHessian; mean over each leaf, ρ = 0 by default)
 *   or   s = m̂ / max(γ v̂, ε)  (Sophia).
 *
 * The output s has no sign: a descent chain follows with a negative learning rate. The estimate
 * uses `extra.curvatureBatch` (default `extra.batch`) and `extra.key` (default: a key from `seed`
 * folded with the step).
 *
 * @example
 * const tx = chain(scaleByDiagonalCurvature(hutchinsonEstimator(hessianCurvature(lossFn)), { mode: 'sophia' }), scale(-0.05));
 * @see Yao et al., "ADAHESSIAN" (2021), arXiv 2006.00719; Liu et al., "Sophia" (2023), arXiv 2305.14342.
 */
export function scaleByDiagonalCurvature(
  estimator: DiagonalEstimator,
  options: DiagonalCurvatureOptions,
): GradientTransformation<ScaleByDiagonalCurvatureState> {
  const mode = options?.mode;
  if (mode !== 'adahessian' && mode !== 'sophia') throw new InputError(`mode must be 'adahessian' or 'sophia', got '${String(mode)}'`);
  const defaults = DIAGONAL_CURVATURE_DEFAULTS[mode];
  const { b1, b2, eps, hessianPower, relativeFloor, gamma, evalEveryK, spatialAveraging, seed } = resolveOptions(
    'scaleByDiagonalCurvature',
    options,
    defaults,
  );
  assertInRange('b1', b1, 0, 1, { hiOpen: true });
  assertInRange('b2', b2, 0, 1, { hiOpen: true });
  assertNonNegative('eps', eps);
  assertInRange('hessianPower', hessianPower, 0, 1);
  assertInRange('relativeFloor', relativeFloor, 0, 1);
  assertPositive('gamma', gamma);
  assertInteger('evalEveryK', evalEveryK);
  const denominator = mode === 'adahessian' ? adahessianDenominator(hessianPower, relativeFloor, eps) : sophiaDenominator(gamma, eps);
  return {
    init: (params) => ({ step: 0, refreshes: 0, m: tree.zerosLike(params), v: tree.zerosLike(params), key: makeKey(seed) }),
    update: (updates, state, params, extra: Extra = {}) => {
      if (params === undefined) throw new InputError('scaleByDiagonalCurvature needs params');
      tree.assertFloat(updates);
      const refresh = state.step % evalEveryK === 0;
      const refreshes = state.refreshes + (refresh ? 1 : 0);
      const out = tree.tidy(() => {
        let v = state.v;
        if (refresh) {
          const k = extra.key ?? foldIn(state.key, state.step);
          const d = estimator(params, extra.curvatureBatch ?? extra.batch, k, extra.context);
          v = updateMoment(state.v, denominator.contribution(spatialAveraging ? spatialAverage(d) : d), b2, 1);
        }
        const m = updateMoment(state.m, updates, b1, 1);
        const mScale = 1 / (1 - b1 ** (state.step + 1));
        const vScale = 1 / (1 - b2 ** refreshes);
        const s = tree.map((mi: tf.Tensor, vi: tf.Tensor) => tf.div(tf.mul(mi, mScale), denominator.of(tf.mul(vi, vScale))), m, v);
        return { s, m, v: v === state.v ? tree.clone(v) : v };
      });
      return [out.s, { step: state.step + 1, refreshes, m: out.m, v: out.v, key: state.key }];
    },
  };
}
