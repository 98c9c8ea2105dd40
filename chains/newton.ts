/**
 * Newton methods on the exact Hessian: Newton-CG (matrix-free) and the direct Newton step.
 * The Hessian-vector products use `extra.curvatureBatch` (default: the gradient batch); the
 * gradient, and the losses of the trust-region ratio, use `extra.batch`.
 * @module
 */
import { resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';
import type { GradientTransformation, LossFn } from '../lib/types';
import { hessianCurvature } from '../transforms/curvature';
import { hutchinsonEstimator } from '../transforms/estimators';
import { CG_SOLVER_DEFAULTS, cgSolver, directSolver } from '../transforms/solvers';
import type { CgSolverOptions } from '../transforms/solvers';
import { SECOND_ORDER_METHOD_DEFAULTS, secondOrderMethod } from './common';
import type { SecondOrderMethodOptions, SecondOrderMethodState } from './common';

/** The CG knobs of the CG-based methods: those of `cgSolver` (somax v1 preset defaults: tol 1e-5, 20 iterations, warm start). */
export type CgMethodOptions = Pick<CgSolverOptions, 'tol' | 'maxIterations' | 'warmStart'>;

/** Defaults of {@link CgMethodOptions}: `cgSolver`'s. */
export const CG_METHOD_DEFAULTS = {
  tol: CG_SOLVER_DEFAULTS.tol,
  maxIterations: CG_SOLVER_DEFAULTS.maxIterations,
  warmStart: CG_SOLVER_DEFAULTS.warmStart,
} as const satisfies Defaults<CgMethodOptions>;

/** Options of {@link newtonCg}. */
export interface NewtonCgOptions extends CgMethodOptions, SecondOrderMethodOptions {
  /** Precondition CG by a Hutchinson estimate of the Hessian diagonal with this many probes (default none). */
  numProbes?: number;
  /** Seed of the probe keys when the step passes no `key` (default 0). */
  seed?: number;
}

const NEWTON_CG_DEFAULTS = {
  ...CG_METHOD_DEFAULTS,
  ...SECOND_ORDER_METHOD_DEFAULTS,
  numProbes: undefined,
  seed: 0,
} as const satisfies Defaults<NewtonCgOptions>;

/**
 * Newton-CG (Hessian-free): solve (H + λI) s = g by conjugate gradient with Hessian-vector products
 * (stopping at negative curvature), then the post-direction chain. somax v1 defaults: λ = 1
 * constant, 20 CG iterations, tol 1e-5, warm start; `lamPolicy: 'trustRegion'` adapts λ;
 * `numProbes` preconditions CG with a Hutchinson diagonal (extra products per step).
 *
 * @example
 * const tx = newtonCg(lossFn, { learningRate: 1, lam0: 1e-2, lamPolicy: 'trustRegion' });
 * @see Martens, "Deep learning via Hessian-free optimization" (ICML 2010).
 */
export function newtonCg<B>(lossFn: LossFn<B>, options: NewtonCgOptions = {}): GradientTransformation<SecondOrderMethodState> {
  const o = resolveOptions('newtonCg', options, NEWTON_CG_DEFAULTS);
  const curvature = hessianCurvature(lossFn);
  const diagonal = o.numProbes === undefined ? undefined : hutchinsonEstimator(curvature, { numProbes: o.numProbes });
  const solver = cgSolver({ tol: o.tol, maxIterations: o.maxIterations, warmStart: o.warmStart, diagonal });
  return secondOrderMethod({ curvature, solver, lossFn, seed: o.seed }, o);
}

/** Options of {@link newtonDirect}. */
export type NewtonDirectOptions = SecondOrderMethodOptions;

/**
 * The direct Newton step (H + λI) s = g with the dense Hessian (P HVPs; tiny models and tests).
 *
 * @example
 * const tx = newtonDirect(lossFn, { lam0: 1e-3 });
 */
export function newtonDirect<B>(lossFn: LossFn<B>, options: NewtonDirectOptions = {}): GradientTransformation<SecondOrderMethodState> {
  const o = resolveOptions('newtonDirect', options, SECOND_ORDER_METHOD_DEFAULTS);
  return secondOrderMethod({ curvature: hessianCurvature(lossFn), solver: directSolver(), lossFn }, o);
}
