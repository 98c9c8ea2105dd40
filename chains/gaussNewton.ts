/**
 * Gauss-Newton methods on the GGN G = (1/B) Jᵀ Q J of an objective (`predict` + output loss):
 * SGN (CG in parameter space), EGN (exact solve in row space), and the direct GGN step.
 * G uses `extra.curvatureBatch` (default: the gradient batch); the gradient uses `extra.batch`.
 * @module
 */
import { chain } from '../lib/combine';
import { objectiveLoss } from '../lib/objective';
import type { Objective } from '../lib/objective';
import type { GradientTransformation } from '../lib/types';
import { ggnCurvature } from '../transforms/curvature';
import { scaleByIgnd } from '../transforms/naturalGradient';
import { cgSolver, directSolver, rowSpaceSolver } from '../transforms/solvers';
import { guarded, postDirection, secondOrderMethod } from './common';
import type { DampingOptions, PostDirectionOptions } from './common';
import type { NewtonCgOptions } from './newton';

/**
 * SGN: (G + λI) s = g by CG with Gauss-Newton-vector products, then the post-direction chain
 * (somax v1 defaults as Newton-CG).
 *
 * @see Schraudolph (2002); Martens (2010); Korbit et al., "Exact Gauss-Newton optimization" (2024), arXiv 2405.14402.
 */
export function sgn<X>(
  objective: Objective<X>,
  { tol = 1e-5, maxiter = 20, warmStart = true, ...options }: Omit<NewtonCgOptions, 'diagonalProbes'> & DampingOptions & PostDirectionOptions = {},
): GradientTransformation<any> {
  const parts = { curvature: ggnCurvature(objective), solver: cgSolver({ tol, maxIterations: maxiter, warmStart }), lossFn: objectiveLoss(objective) };
  return secondOrderMethod(parts, options);
}

/**
 * EGN: the exact regularized Gauss-Newton direction s = (G + λI)⁻¹ g computed in row space,
 * s = J̃ᵀ (J̃J̃ᵀ + BλI)⁻¹ r̃ (Woodbury), by Cholesky or (`rowSolver: 'cg'`) CG in float64 on the
 * B·C × B·C system; then the post-direction chain. For cross-entropy J̃ = blockdiag(Lᵢᵀ) J with
 * Qᵢ + εI = LᵢLᵢᵀ (not somax v1's Lᵢ J, which is not the GGN).
 *
 * @see Korbit, Adeoye, Bemporad & Zanon, "Exact Gauss-Newton Optimization for Training Deep Neural Networks" (2024), arXiv 2405.14402.
 */
export function egn<X>(
  objective: Objective<X>,
  { rowSolver = 'cholesky', ...options }: { rowSolver?: 'cholesky' | 'cg' } & DampingOptions & PostDirectionOptions = {},
): GradientTransformation<any> {
  const parts = {
    curvature: options.lamPolicy === 'trustRegion' ? ggnCurvature(objective) : undefined, // only ρ needs G v
    solver: rowSpaceSolver(objective, { rowSolver }),
    lossFn: objectiveLoss(objective),
  };
  return secondOrderMethod(parts, options);
}

/** The direct GGN step (G + λI) s = g with the dense GGN (tiny models and tests). */
export function ggnDirect<X>(
  objective: Objective<X>,
  options: DampingOptions & PostDirectionOptions = {},
): GradientTransformation<any> {
  return secondOrderMethod({ curvature: ggnCurvature(objective), solver: directSolver(), lossFn: objectiveLoss(objective) }, options);
}

/**
 * IGND (somax 2024): the average of each sample's own Gauss-Newton step,
 * s = (1/B) Σᵢ Jᵢᵀ(JᵢJᵢᵀ)⁻¹(Qᵢ + δI)⁻¹gᵢ — for scalar regression s = (1/B) Σᵢ Jᵢ rᵢ / ‖Jᵢ‖², for
 * softmax cross-entropy the classification variant somax left unimplemented — with optional
 * moments, then the post-direction chain (learning rate 0.1 by default, as somax 2024). See
 * `scaleByIgnd`.
 *
 * @example
 * const tx = ignd({ predict, loss: 'meanSquaredError' }, { learningRate: 0.1 });
 */
export function ignd<X>(
  objective: Objective<X>,
  { beta1 = 0, beta2 = 0, eps = 1e-7, outputDamping = 1e-4, learningRate = 0.1, guardNonFinite, ...post }: { beta1?: number; beta2?: number; eps?: number; outputDamping?: number } & PostDirectionOptions = {},
): GradientTransformation<any> {
  const direction = scaleByIgnd(objective, { beta1, beta2, eps, outputDamping });
  // The squared-error direction never reads from the device: keep the guard read-free too.
  const readFree = objective.loss === 'meanSquaredError';
  return guarded(chain(direction, postDirection({ learningRate, ...post })), { guardNonFinite }, { sync: !readFree });
}
