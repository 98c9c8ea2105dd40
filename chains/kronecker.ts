/**
 * Kronecker-factored methods: K-FAC (each layer's Fisher block approximated by A ⊗ G, inverted
 * factor by factor) on the second-order assembler, with somax's damping and post-direction chain;
 * and Shampoo (each weight matrix preconditioned by the inverse fourth roots of its gradient's row
 * and column statistics), grafted onto Adam.
 * @module
 */
import { objectiveLoss } from '../lib/objective';
import type { Objective } from '../lib/objective';
import { resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';
import type { GradientTransformation } from '../lib/types';
import { ggnCurvature } from '../transforms/curvature';
import type { AdaptiveCoefficients } from '../transforms/quadraticModel';
import { HyperparameterError } from '../lib/errors';
import { KRONECKER_DEFAULTS, kroneckerSolver } from '../transforms/solvers';
import type { KroneckerOptions } from '../transforms/solvers';
import { chain, maskLeaves } from '../lib/combine';
import type { Mask } from '../lib/combine';
import { updateReadsOf, withReads } from '../lib/reads';
import * as tree from '../lib/tree';
import * as tf from '@tensorflow/tfjs-core';
import { adam } from './firstOrder';
import { SHAMPOO_DEFAULTS, scaleByShampoo } from '../transforms/shampoo';
import type { ShampooOptions } from '../transforms/shampoo';
import { GUARD_DEFAULTS, guarded, POST_DIRECTION_DEFAULTS, postDirection, SECOND_ORDER_METHOD_DEFAULTS, secondOrderMethod } from './common';
import type { GuardOptions, MethodState, PostDirectionOptions, SecondOrderMethodOptions, SecondOrderMethodState } from './common';

/** Options of {@link kfac}. */
export interface KfacOptions extends KroneckerOptions, SecondOrderMethodOptions {
  /** With `precondition`: Adam's learning rate for the params it leaves out (default 1e-3). */
  restLearningRate?: number;
  /**
   * Pick each step's learning rate from the damped quadratic model with the exact GGN on the
   * curvature batch, α = gᵀs / sᵀ(C + λI)s (kfac-jax's `use_adaptive_learning_rate`; default
   * false). Replaces `learningRate`; costs one JVP on the curvature batch and one read a step.
   */
  adaptiveLearningRate?: boolean;
  /**
   * With `adaptiveLearningRate`: pick the momentum too, minimizing the model over α s + μ p with p
   * the previous step's direction (kfac-jax's `use_adaptive_momentum`; default false). Replaces
   * `directionMomentum`; one more JVP a step.
   */
  adaptiveMomentum?: boolean;
}

const KFAC_DEFAULTS = {
  ...KRONECKER_DEFAULTS,
  ...SECOND_ORDER_METHOD_DEFAULTS,
  lam0: 1e-3, // the factored Tikhonov damping λ (kfac-jax's initial damping)
  learningRate: 0.1,
  restLearningRate: 1e-3,
  adaptiveLearningRate: false,
  adaptiveMomentum: false,
} as const satisfies Defaults<KfacOptions>;

/** State of {@link kfac}: the second-order method's, and with `precondition` Adam's for the other params. */
export type KfacState = SecondOrderMethodState | MethodState<KfacWithRestState>;

/** The inner state of {@link kfac} with `precondition`. */
export type KfacWithRestState = {
  /** K-FAC's (it sees every param; its update is kept on the selected ones). */
  readonly kfac: SecondOrderMethodState;
  /** Adam's, for the params K-FAC leaves out. */
  readonly rest: unknown;
};

/**
 * `method`'s update on the leaves `mask` selects, `rest`'s on the others (both see every leaf: K-FAC's
 * linearization needs the whole params, which `partition`'s holes would not give it).
 */
function withRest(
  method: GradientTransformation<SecondOrderMethodState>,
  mask: Mask,
  rest: GradientTransformation<unknown>,
): GradientTransformation<KfacWithRestState> {
  return withReads(
    (params) => ({ kfac: method.init(params), rest: rest.init(params) }),
    function* (updates, state, params, extra) {
      const keep = maskLeaves(mask, params ?? updates);
      const [ours, kfacState] = yield* updateReadsOf(method, updates, state.kfac, params, extra);
      const [theirs, restState] = yield* updateReadsOf(rest, updates, state.rest, params, extra);
      const [a, b] = [tree.leaves(ours), tree.leaves(theirs)];
      tf.dispose(keep.map((k, i) => (k ? b[i] : a[i])));
      const merged = tree.unflatten(
        tree.flatten(updates).def,
        keep.map((k, i) => (k ? a[i] : b[i])),
      );
      return [merged, { kfac: kfacState, rest: restState }];
    },
  );
}

/**
 * K-FAC: per dense or conv layer, s = (A + π√λ I)⁻¹ Ḡ (G + √λ/π I)⁻¹ with A the second moment of
 * the layer's inputs (bias as a homogeneous coordinate) and G that of the deltas of residuals at
 * labels sampled from the model, both averaged over steps (EMA 0.95, updated every
 * `statisticsEvery` steps: 1) and inverted every
 * `inverseEvery` steps (10) in float64 blocks of at most `blockSize` (256); then the post-direction
 * chain (learning rate 0.1, optional momentum). λ constant (1e-3) or adapted from the gain ratio of
 * the GGN (`lamPolicy: 'trustRegion'`). The factors use the curvature batch; the model must be
 * linearized in closed form (`mlpObjective`, or a Sequential tfjs-layers model: `make('kfac', { model })`).
 * With `precondition` (a mask of the layers' leaves) only those layers are K-FAC's; the other params
 * are Adam's (`restLearningRate`, 1e-3), from the same gradients. With `adaptiveLearningRate` (and
 * `adaptiveMomentum`) the step size (and momentum) minimize the damped quadratic model with the
 * exact GGN, as in Martens & Grosse §7 and kfac-jax, instead of fixed values.
 *
 * @example
 * const tx = kfac(mlpObjective({ loss: 'softmaxCrossEntropy' }), { learningRate: 0.1, directionMomentum: 0.9 });
 * @see Martens & Grosse, "Optimizing neural networks with Kronecker-factored approximate curvature"
 *   (ICML 2015), arXiv 1503.05671; Grosse & Martens, "A Kronecker-factored approximate Fisher
 *   matrix for convolution layers" (ICML 2016).
 */
export function kfac<X>(objective: Objective<X>, options: KfacOptions = {}): GradientTransformation<KfacState> {
  const o = resolveOptions('kfac', options, KFAC_DEFAULTS);
  const { labels, decay, statisticsEvery, inverseEvery, blockSize, precondition } = o;
  const coefficients = adaptiveCoefficients(options);
  const solver = kroneckerSolver(objective, { labels, decay, statisticsEvery, inverseEvery, blockSize, precondition });
  const parts = {
    // Only ρ and the adaptive coefficients need C v.
    curvature: o.lamPolicy === 'const' && coefficients === undefined ? undefined : ggnCurvature(objective),
    solver,
    lossFn: objectiveLoss(objective),
    objective,
    coefficients,
  };
  const method = secondOrderMethod(parts, coefficients ? { ...o, learningRate: 1 } : o);
  if (precondition === undefined) return method;
  // The other params: Adam, from the same gradients; the pair guarded as one (a skipped step moves neither).
  return guarded(withRest(method, precondition, adam(o.restLearningRate)), o.skipNonFinite, { sync: false });
}

/** The adaptive coefficients K-FAC's options ask for, checked against the fixed ones they replace. */
function adaptiveCoefficients(options: KfacOptions): AdaptiveCoefficients | undefined {
  const { adaptiveLearningRate = false, adaptiveMomentum = false } = options;
  if (adaptiveMomentum && !adaptiveLearningRate) {
    throw new HyperparameterError('adaptiveMomentum needs adaptiveLearningRate: the model picks both or the learning rate alone');
  }
  if (adaptiveLearningRate && options.learningRate !== undefined) {
    throw new HyperparameterError('adaptiveLearningRate picks the learning rate: drop `learningRate`');
  }
  if (adaptiveMomentum && options.directionMomentum !== undefined) {
    throw new HyperparameterError('adaptiveMomentum picks the momentum: drop `directionMomentum`');
  }
  if (!adaptiveLearningRate) return undefined;
  return adaptiveMomentum ? 'learningRateAndMomentum' : 'learningRate';
}

/** Options of {@link shampoo}. */
export interface ShampooMethodOptions extends ShampooOptions, PostDirectionOptions, GuardOptions {}

const SHAMPOO_METHOD_DEFAULTS = {
  ...SHAMPOO_DEFAULTS,
  ...POST_DIRECTION_DEFAULTS,
  learningRate: 1e-3, // the step has Adam's norm (grafting): Adam's learning rate
  ...GUARD_DEFAULTS,
} as const satisfies Defaults<ShampooMethodOptions>;

/**
 * Shampoo: each weight matrix preconditioned by L^{-1/4} M R^{-1/4} (row and column statistics of
 * the gradient, EMA 0.999, roots every `inverseEvery` steps by coupled Newton iterations on the
 * device, blocks of at most `blockSize`), grafted onto Adam's step norm; then the post-direction
 * chain (learning rate 1e-3, weight decay, clipping). Needs only gradients.
 *
 * @example
 * const tx = shampoo({ learningRate: 1e-3, inverseEvery: 10 });
 * @see Gupta, Koren & Singer (ICML 2018); Anil et al., "Scalable Second Order Optimization for Deep
 *   Learning" (2020), arXiv 2002.09018.
 */
export function shampoo(options: ShampooMethodOptions = {}): GradientTransformation<MethodState<readonly unknown[]>> {
  const o = resolveOptions('shampoo', options, SHAMPOO_METHOD_DEFAULTS);
  const { b1, b2, eps, ridge, inverseEvery, blockSize, roots, iterations, precondition } = o;
  const direction = chain(
    scaleByShampoo({ b1, b2, eps, ridge, inverseEvery, blockSize, roots, iterations, precondition }),
    postDirection(o),
  );
  return guarded(direction as GradientTransformation<readonly unknown[]>, o.skipNonFinite, { sync: false });
}
