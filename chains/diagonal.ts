/**
 * The diagonal methods of somax: AdaHessian, Sophia-H, Sophia-G — a diagonal curvature estimate
 * kept as an EMA, dividing a gradient momentum (see `scaleByDiagonalCurvature`). The estimate uses
 * `extra.curvatureBatch` (default: the gradient batch); the momentum uses the gradient.
 * @module
 */
import { chain } from '../lib/combine';
import type { Mask } from '../lib/combine';
import type { Objective } from '../lib/objective';
import { resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';
import type { GradientTransformation, LossFn, ScalarOrSchedule } from '../lib/types';
import { clip } from '../transforms/clipping';
import { hessianCurvature } from '../transforms/curvature';
import { DIAGONAL_CURVATURE_DEFAULTS, scaleByDiagonalCurvature } from '../transforms/diagonal';
import type { ScaleByDiagonalCurvatureState } from '../transforms/diagonal';
import { gaussNewtonBartlettEstimator, hutchinsonEstimator } from '../transforms/estimators';
import { scaleByLearningRate } from '../transforms/scale';
import { addDecayedWeights } from '../transforms/weightDecay';
import { GUARD_DEFAULTS, POST_DIRECTION_DEFAULTS, guarded, postDirection } from './common';
import type { GuardOptions, MethodState, PostDirectionOptions } from './common';

/** State of the diagonal methods: the diagonal lane, then the chain after it. */
export type DiagonalMethodState = MethodState<readonly [ScaleByDiagonalCurvatureState, ...unknown[]]>;

/** Options of {@link adahessian} (somax v1 defaults). */
export interface AdahessianOptions extends PostDirectionOptions, GuardOptions {
  /** Decay of the gradient momentum m (default 0.9). */
  b1?: number;
  /** Decay of the EMA v of the squared Hessian-diagonal estimates (default 0.999). */
  b2?: number;
  /** Added to the denominator v̂^(k/2) (default 1e-8). */
  eps?: number;
  /** The Hessian power k ∈ [0, 1] of the denominator v̂^(k/2) (default 1). */
  hessianPower?: number;
  /**
   * Relative floor ρ of the denominator: v̂^(k/2) is raised to at least ρ times its mean over each
   * leaf (default 0.01; 0 gives the paper's formula). It keeps steps bounded where the curvature
   * batch sees an exactly-zero Hessian diagonal but the gradient batch does not.
   */
  relativeFloor?: number;
  /** Rademacher probes z per Hutchinson estimate z ⊙ Hz (default 1; each costs one HVP). */
  numProbes?: number;
  /** Average the estimate over the spatial axes of conv kernels (rank ≥ 3 leaves; default true). */
  spatialAveraging?: boolean;
  /** Refresh the Hessian diagonal every k steps (step 0 refreshes; default 1). */
  evalEveryK?: number;
  /** Seed of the probe keys when the step passes no `key` (default 0). */
  seed?: number;
}

const LANE = DIAGONAL_CURVATURE_DEFAULTS.adahessian;
const ADAHESSIAN_DEFAULTS = {
  b1: LANE.b1,
  b2: LANE.b2,
  eps: LANE.eps,
  hessianPower: LANE.hessianPower,
  relativeFloor: 0.01, // not the paper's 0: see the option
  numProbes: 1,
  spatialAveraging: LANE.spatialAveraging,
  evalEveryK: LANE.evalEveryK,
  seed: LANE.seed,
  ...POST_DIRECTION_DEFAULTS,
  ...GUARD_DEFAULTS,
} as const satisfies Defaults<AdahessianOptions>;

/**
 * AdaHessian: s = m̂ / (max(v̂^(k/2), ρ·mean(v̂^(k/2))) + ε) with v the EMA of the squared
 * Hutchinson diagonal (z ⊙ Hz)², spatially averaged for conv kernels, and the relative floor ρ
 * (default 0.01, per leaf; ρ = 0 is the paper's formula); then the post-direction chain
 * (learning rate 1.0 by default, as somax v1 — set yours).
 *
 * @example
 * const tx = adahessian(lossFn, { learningRate: 0.15 });
 * @see Yao et al., "ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning" (AAAI 2021), arXiv 2006.00719.
 */
export function adahessian<B>(lossFn: LossFn<B>, options: AdahessianOptions = {}): GradientTransformation<DiagonalMethodState> {
  const o = resolveOptions('adahessian', options, ADAHESSIAN_DEFAULTS);
  const estimator = hutchinsonEstimator(hessianCurvature(lossFn), { numProbes: o.numProbes });
  const { b1, b2, eps, hessianPower, relativeFloor, evalEveryK, spatialAveraging, seed } = o;
  const lane = scaleByDiagonalCurvature(estimator, {
    mode: 'adahessian',
    b1,
    b2,
    eps,
    hessianPower,
    relativeFloor,
    evalEveryK,
    spatialAveraging,
    seed,
  });
  return guarded(chain(lane, postDirection(o)), o.skipNonFinite, { sync: false });
}

/** Options shared by the Sophia variants (somax v1 defaults). */
export interface SophiaOptions extends GuardOptions {
  /** Learning rate or schedule (somax v1 default 1.0; the paper uses ~1e-4 to 1e-3). */
  learningRate?: ScalarOrSchedule;
  /** Decay of the gradient momentum m (default 0.965). */
  b1?: number;
  /** Decay of the EMA h of the curvature diagonal (default 0.99). */
  b2?: number;
  /** γ of the denominator max(γ ĥ, ε) (default 0.01 for Sophia-H, 0.05 for Sophia-G). */
  gamma?: number;
  /** Floor ε of the denominator (default 1e-8). */
  eps?: number;
  /** Refresh the curvature diagonal every k steps (step 0 refreshes; default 10). */
  evalEveryK?: number;
  /** Decoupled weight decay (v1: 0.2). */
  weightDecay?: number;
  /** Which params the weight decay applies to (default all). */
  mask?: Mask;
  /** Element-wise clip of the preconditioned direction (v1: 1.0). */
  clipValue?: number;
  /** Seed of the probe / sampled-label keys when the step passes no `key` (default 0). */
  seed?: number;
  /** Probes per estimate: Rademacher vectors (Sophia-H) or label draws (Sophia-G) (default 1). */
  numProbes?: number;
}

const SOPHIA_LANE = DIAGONAL_CURVATURE_DEFAULTS.sophia;
const SOPHIA_DEFAULTS = {
  learningRate: 1.0,
  b1: SOPHIA_LANE.b1,
  b2: SOPHIA_LANE.b2,
  gamma: SOPHIA_LANE.gamma,
  eps: SOPHIA_LANE.eps,
  evalEveryK: SOPHIA_LANE.evalEveryK,
  weightDecay: 0.2,
  mask: undefined,
  clipValue: 1.0,
  seed: SOPHIA_LANE.seed,
  numProbes: 1,
  ...GUARD_DEFAULTS,
} as const satisfies Defaults<SophiaOptions>;

/** Sophia from its estimator and resolved options: the lane → clip(clipValue) → addDecayedWeights → −lr. */
function sophia(estimator: (numProbes: number) => ReturnType<typeof hutchinsonEstimator>, o: Required<SophiaOptions>) {
  const { b1, b2, gamma, eps, evalEveryK, seed } = o;
  const lane = scaleByDiagonalCurvature(estimator(o.numProbes), {
    mode: 'sophia',
    b1,
    b2,
    gamma,
    eps,
    evalEveryK,
    spatialAveraging: false,
    seed,
  });
  const tail = [clip(o.clipValue), addDecayedWeights(o.weightDecay, { mask: o.mask }), scaleByLearningRate(o.learningRate)];
  return guarded(chain(lane, ...tail), o.skipNonFinite, { sync: false }) as GradientTransformation<DiagonalMethodState>;
}

/**
 * Sophia-H: u = clip(m̂ / max(γ ĥ, ε), ±1) with ĥ the bias-corrected EMA of Hutchinson's Hessian
 * diagonal refreshed every `evalEveryK` steps, then decoupled weight decay and −lr. somax v1
 * defaults the learning rate to 1.0: set yours (the paper uses ~1e-4 to 1e-3).
 *
 * @example
 * const tx = sophiaH(lossFn, { learningRate: 0.05, weightDecay: 0 });
 * @see Liu et al., "Sophia: A Scalable Stochastic Second-order Optimizer for Language Model Pre-training" (2023), arXiv 2305.14342.
 */
export function sophiaH<B>(lossFn: LossFn<B>, options: SophiaOptions = {}): GradientTransformation<DiagonalMethodState> {
  const o = resolveOptions('sophiaH', options, SOPHIA_DEFAULTS) as Required<SophiaOptions>;
  return sophia((numProbes) => hutchinsonEstimator(hessianCurvature(lossFn), { numProbes }), o);
}

/**
 * Sophia-G: Sophia with the Gauss-Newton-Bartlett estimate of the GGN diagonal (labels sampled from
 * the model's softmax; softmax cross-entropy objectives), γ = 0.05.
 *
 * @example
 * const tx = sophiaG({ predict, loss: 'softmaxCrossEntropy' }, { learningRate: 0.05, weightDecay: 0 });
 * @see Liu et al. (2023), arXiv 2305.14342.
 */
export function sophiaG<X>(objective: Objective<X>, options: SophiaOptions = {}): GradientTransformation<DiagonalMethodState> {
  const o = resolveOptions('sophiaG', options, { ...SOPHIA_DEFAULTS, gamma: 0.05 }) as Required<SophiaOptions>;
  return sophia((numProbes) => gaussNewtonBartlettEstimator(objective, { numProbes }), o);
}
