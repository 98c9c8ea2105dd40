/**
 * Gauss-Newton methods on the GGN G = (1/B) Jᵀ Q J of an objective (`predict` + output loss):
 * SGN (CG in parameter space), EGN (exact solve in row space), the direct GGN step, and IGND.
 * G uses `extra.curvatureBatch` (default: the gradient batch); the gradient uses `extra.batch`.
 * @module
 */
import { chain } from '../lib/combine';
import { objectiveLoss } from '../lib/objective';
import type { Objective } from '../lib/objective';
import { resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';
import type { GradientTransformation } from '../lib/types';
import { ggnCurvature } from '../transforms/curvature';
import { SCALE_BY_IGND_DEFAULTS, scaleByIgnd } from '../transforms/ignd';
import { ema, scaleByAdam } from '../transforms/moments';
import { identity } from '../lib/combine';
import { cgSolver, directSolver, rowSpaceSolver } from '../transforms/solvers';
import { GUARD_DEFAULTS, POST_DIRECTION_DEFAULTS, SECOND_ORDER_METHOD_DEFAULTS, guarded, postDirection, secondOrderMethod } from './common';
import type { GuardOptions, MethodState, PostDirectionOptions, SecondOrderMethodOptions, SecondOrderMethodState } from './common';
import { CG_METHOD_DEFAULTS } from './newton';
import type { CgMethodOptions } from './newton';

/** Options of {@link sgn}. */
export interface SgnOptions extends CgMethodOptions, SecondOrderMethodOptions {}

const SGN_DEFAULTS = { ...CG_METHOD_DEFAULTS, ...SECOND_ORDER_METHOD_DEFAULTS } as const satisfies Defaults<SgnOptions>;

/**
 * SGN: (G + λI) s = g by CG with Gauss-Newton-vector products, then the post-direction chain
 * (somax v1 defaults as Newton-CG).
 *
 * @example
 * const tx = sgn(mlpObjective({ loss: 'softmaxCrossEntropy' }), { lam0: 0.3, maxIterations: 3 });
 * @see Schraudolph (2002); Martens (2010); Korbit et al., "Exact Gauss-Newton optimization" (2024), arXiv 2405.14402.
 */
export function sgn<X>(objective: Objective<X>, options: SgnOptions = {}): GradientTransformation<SecondOrderMethodState> {
  const o = resolveOptions('sgn', options, SGN_DEFAULTS);
  const solver = cgSolver({ tol: o.tol, maxIterations: o.maxIterations, warmStart: o.warmStart });
  return secondOrderMethod({ curvature: ggnCurvature(objective), solver, lossFn: objectiveLoss(objective), objective }, o);
}

/** Options of {@link egn}. */
export interface EgnOptions extends SecondOrderMethodOptions {
  /** How the B·C × B·C row-space system is solved in float64: `'cholesky'` (default) or `'cg'`. */
  rowSolver?: 'cholesky' | 'cg';
}

const EGN_DEFAULTS = { rowSolver: 'cholesky', ...SECOND_ORDER_METHOD_DEFAULTS } as const satisfies Defaults<EgnOptions>;

/**
 * EGN: the exact regularized Gauss-Newton direction s = (G + λI)⁻¹ g computed in row space by
 * Woodbury, s = (1/λ)(g − J̃ᵀ (J̃J̃ᵀ + BλI)⁻¹ J̃ g), which is s = J̃ᵀ (J̃J̃ᵀ + BλI)⁻¹ r̃ when g is the
 * batch gradient (1/B) J̃ᵀ r̃; by Cholesky or (`rowSolver: 'cg'`) CG in float64 on the B·C × B·C
 * system; then the post-direction chain. For cross-entropy J̃ = blockdiag(Lᵢᵀ) J with
 * Qᵢ + εI = LᵢLᵢᵀ (not somax v1's Lᵢ J, which is not the GGN).
 *
 * @example
 * const tx = egn(mlpObjective({ loss: 'softmaxCrossEntropy' }), { lam0: 1 });
 * @see Korbit, Adeoye, Bemporad & Zanon, "Exact Gauss-Newton Optimization for Training Deep Neural Networks" (2024), arXiv 2405.14402.
 */
export function egn<X>(objective: Objective<X>, options: EgnOptions = {}): GradientTransformation<SecondOrderMethodState> {
  const o = resolveOptions('egn', options, EGN_DEFAULTS);
  const parts = {
    curvature: o.lamPolicy === 'const' ? undefined : ggnCurvature(objective), // only ρ needs G v
    solver: rowSpaceSolver(objective, { rowSolver: o.rowSolver }),
    lossFn: objectiveLoss(objective),
    objective,
  };
  return secondOrderMethod(parts, o);
}

/** Options of {@link ggnDirect}. */
export type GgnDirectOptions = SecondOrderMethodOptions;

/**
 * The direct GGN step (G + λI) s = g with the dense GGN (tiny models and tests).
 *
 * @example
 * const tx = ggnDirect({ predict, loss: 'meanSquaredError' }, { lam0: 1e-3 });
 */
export function ggnDirect<X>(objective: Objective<X>, options: GgnDirectOptions = {}): GradientTransformation<SecondOrderMethodState> {
  const o = resolveOptions('ggnDirect', options, SECOND_ORDER_METHOD_DEFAULTS);
  return secondOrderMethod({ curvature: ggnCurvature(objective), solver: directSolver(), lossFn: objectiveLoss(objective), objective }, o);
}

/** Options of {@link ignd}. */
export interface IgndOptions extends PostDirectionOptions, GuardOptions {
  /** Decay of the momentum of the direction (default 0: none). */
  b1?: number;
  /** Decay of the second moment of the direction (default 0: none; > 0 divides by its root, as Adam). */
  b2?: number;
  /** Added to the second moment's root (default 1e-7). */
  eps?: number;
  /** δ of (Qᵢ + δI)⁻¹ for classification, relative to Qᵢ's largest diagonal entry (default 1e-4). */
  outputDamping?: number;
}

const IGND_DEFAULTS = {
  b1: 0,
  b2: 0,
  eps: 1e-7, // somax 2024's IGND ε (Adam's is 1e-8)
  outputDamping: SCALE_BY_IGND_DEFAULTS.outputDamping,
  ...POST_DIRECTION_DEFAULTS,
  learningRate: 0.1,
  ...GUARD_DEFAULTS,
} as const satisfies Defaults<IgndOptions>;

/**
 * IGND (somax 2024): the average of each sample's own Gauss-Newton step,
 * s = (1/B) Σᵢ Jᵢᵀ(JᵢJᵢᵀ)⁻¹(Qᵢ + δI)⁻¹gᵢ — for scalar regression s = (1/B) Σᵢ Jᵢ rᵢ / ‖Jᵢ‖², for
 * softmax cross-entropy the classification variant somax left unimplemented — then optional
 * moments (b2 > 0: Adam's m̂ / (√v̂ + ε); b1 > 0 alone: the debiased EMA m̂), then the
 * post-direction chain (learning rate 0.1 by default, as somax 2024). See `scaleByIgnd`. Its
 * direction comes from the per-sample residuals of the curvature batch, not from the incoming
 * updates (each sample's step is solved in that sample's own row space).
 *
 * @example
 * const tx = ignd({ predict, loss: 'meanSquaredError' }, { learningRate: 0.1 });
 */
export function ignd<X>(objective: Objective<X>, options: IgndOptions = {}): GradientTransformation<MethodState<readonly unknown[]>> {
  const o = resolveOptions('ignd', options, IGND_DEFAULTS);
  const moments = o.b2 > 0 ? scaleByAdam({ b1: o.b1, b2: o.b2, eps: o.eps }) : o.b1 > 0 ? ema(o.b1) : identity();
  // The squared-error direction never reads from the device: keep the guard read-free too.
  const readFree = objective.loss === 'meanSquaredError';
  const direction = chain(scaleByIgnd(objective, { outputDamping: o.outputDamping }), moments, postDirection(o));
  return guarded(direction as GradientTransformation<readonly unknown[]>, o.skipNonFinite, { sync: !readFree });
}
