/**
 * Newton methods on the exact Hessian: Newton-CG (matrix-free) and the direct Newton step.
 * The Hessian-vector products use `extra.curvatureBatch` (default: the gradient batch); the
 * gradient, and the losses of the trust-region ratio, use `extra.batch`.
 * @module
 */
import type { GradientTransformation, LossFn } from '../lib/types';
import { hessianCurvature } from '../transforms/curvature';
import { hutchinsonEstimator } from '../transforms/preconditioners';
import { cgSolver, directSolver } from '../transforms/solvers';
import { secondOrderMethod } from './common';
import type { DampingOptions, PostDirectionOptions } from './common';

/** CG knobs (somax v1 preset defaults: tol 1e-5, maxiter 20, warm start). */
export interface NewtonCgOptions {
  /** CG stops when ‖r‖ ≤ tol‖g‖ (default 1e-5). */
  tol?: number;
  /** At most this many CG iterations, i.e. curvature products, per step (default 20). */
  maxiter?: number;
  /** Start CG from the previous step's direction (default true). */
  warmStart?: boolean;
  /** Precondition CG by a Hutchinson estimate of the curvature diagonal with this many probes. */
  diagonalProbes?: number;
}

/**
 * Newton-CG (Hessian-free): solve (H + λI) s = g by conjugate gradient with Hessian-vector products
 * (stopping at negative curvature), then the post-direction chain. somax v1 defaults: λ = 1
 * constant, 20 CG iterations, tol 1e-5, warm start; `lamPolicy: 'trustRegion'` adapts λ;
 * `diagonalProbes` preconditions CG with a Hutchinson diagonal (extra products per step).
 *
 * @example
 * const tx = newtonCg(lossFn, { learningRate: 1, lam0: 1e-2, lamPolicy: 'trustRegion' });
 * @see Martens, "Deep learning via Hessian-free optimization" (ICML 2010).
 */
export function newtonCg<B>(
  lossFn: LossFn<B>,
  { tol = 1e-5, maxiter = 20, warmStart = true, diagonalProbes, seed = 0, ...options }: NewtonCgOptions & DampingOptions & PostDirectionOptions & { seed?: number } = {},
): GradientTransformation<any> {
  const curvature = hessianCurvature(lossFn);
  const diagonal = diagonalProbes === undefined ? undefined : hutchinsonEstimator(curvature, { nProbes: diagonalProbes });
  return secondOrderMethod({ curvature, solver: cgSolver({ tol, maxIterations: maxiter, warmStart, diagonal }), lossFn, seed }, options);
}

/**
 * The direct Newton step (H + λI) s = g with the dense Hessian (P HVPs; tiny models and tests).
 */
export function newtonDirect<B>(
  lossFn: LossFn<B>,
  options: DampingOptions & PostDirectionOptions = {},
): GradientTransformation<any> {
  return secondOrderMethod({ curvature: hessianCurvature(lossFn), solver: directSolver(), lossFn }, options);
}
