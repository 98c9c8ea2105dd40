/**
 * Adaptive coefficients (Martens & Grosse 2015, §7; kfac-jax's adaptive learning rate and
 * momentum): the update is δ = −(α s + μ p), along the method's direction s and the previous
 * update's direction p, with (α, μ) minimizing the damped quadratic model of the loss
 *
 *   M(δ) = gᵀδ + ½ δᵀ(C + λI)δ   →   [α; μ] = A⁻¹ b,
 *   A = [sᵀ(C+λ)s  sᵀ(C+λ)p; pᵀ(C+λ)s  pᵀ(C+λ)p],   b = [gᵀs; gᵀp],
 *
 * with C the exact curvature (e.g. the GGN) on the curvature batch: the step's size and momentum
 * come from the curvature instead of a tuned learning rate and momentum. With the learning rate
 * alone (`'learningRate'`), α = gᵀs / sᵀ(C+λ)s: exact line minimization of the model along s.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tree from '../lib/tree';
import type { Tree } from '../lib/types';
import { curvatureGram } from './curvature';
import type { CurvatureOperator } from './curvature';

/** Which coefficients the quadratic model picks: α alone, or α and the momentum μ. */
export type AdaptiveCoefficients = 'learningRate' | 'learningRateAndMomentum';

/** The coefficients of one step and the decrease the model predicts for them. */
export interface ModelCoefficients {
  /** α: the learning rate along the direction s. */
  readonly alpha: number;
  /** μ: the momentum on the previous direction p (0 without one). */
  readonly mu: number;
  /** −M(δ) = ½ (α gᵀs + μ gᵀp): the decrease the damped model predicts (≥ 0). */
  readonly predictedDecrease: number;
}

/**
 * The model's terms for the directions `vs` (s, then p when present), in one tensor: the k × k
 * Gram `vᵢᵀ(C + λI)vⱼ` row-major, then `gᵀvᵢ` (k + k² entries).
 *
 * @example
 * const terms = modelTerms(op, grads, [s, p], lam).dataSync(); // [sᵀ(C+λ)s, sᵀ(C+λ)p, pᵀ(C+λ)s, pᵀ(C+λ)p, gᵀs, gᵀp]
 * const { alpha, mu } = modelCoefficients(terms);
 */
export function modelTerms(op: CurvatureOperator, grads: Tree, vs: readonly Tree[], lam: number): tf.Tensor1D {
  return tf.tidy(() => {
    const plain = tf.stack(vs.map((vi) => tf.stack(vs.map((vj) => tree.vdot(vi, vj)))));
    const damped = tf.add(curvatureGram(op, vs), tf.mul(lam, plain));
    return tf.concat([tf.reshape(damped, [-1]), tf.stack(vs.map((v) => tree.vdot(grads, v)))]) as tf.Tensor1D;
  });
}

/**
 * The minimizer (α, μ) of the damped model from its terms (as `modelTerms` lays them out):
 * α = gᵀs / sᵀ(C+λ)s with one direction, the 2 × 2 solve with two. A degenerate system (s = 0, or p
 * parallel to s, or p = 0 on the first step) falls back to the one-direction solution; a
 * non-positive or non-finite sᵀ(C+λ)s gives α = 0.
 *
 * @example
 * modelCoefficients([4, 2])  // sᵀ(C+λ)s = 4, gᵀs = 2: { alpha: 0.5, mu: 0, predictedDecrease: 0.5 }
 */
export function modelCoefficients(terms: ArrayLike<number>): ModelCoefficients {
  const k = terms.length === 2 ? 1 : 2;
  const [a11, b1] = [terms[0], terms[k * k]];
  const alone = a11 > 0 && Number.isFinite(a11) && Number.isFinite(b1) ? b1 / a11 : 0;
  const single = { alpha: alone, mu: 0, predictedDecrease: 0.5 * alone * (Number.isFinite(b1) ? b1 : 0) };
  if (k === 1) return single;
  const [a12, a22, b2] = [terms[1], terms[3], terms[5]];
  const det = a11 * a22 - a12 * a12;
  if (!(a22 > 0) || !(det > 1e-10 * a11 * a22) || !Number.isFinite(det) || !Number.isFinite(b2)) return single;
  const alpha = (a22 * b1 - a12 * b2) / det;
  const mu = (a11 * b2 - a12 * b1) / det;
  return { alpha, mu, predictedDecrease: 0.5 * (alpha * b1 + mu * b2) };
}

/**
 * `α s + μ p` (a fresh tree; p only when μ ≠ 0).
 *
 * @example
 * const direction = combineDirections(s, previous, modelCoefficients(terms));
 */
export function combineDirections(s: Tree, p: Tree | undefined, { alpha, mu }: ModelCoefficients): Tree {
  return tree.tidy(() => (p !== undefined && mu !== 0 ? tree.axpy(mu, p, tree.scale(s, alpha)) : tree.scale(s, alpha)));
}
