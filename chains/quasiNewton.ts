/**
 * Stochastic quasi-Newton and line-search methods of somax 2024: SQN (online L-BFGS) and SGD with
 * the stochastic Armijo line search.
 * @module
 */
import { chain } from '../lib/combine';
import { resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';
import type { GradientTransformation, LossFn } from '../lib/types';
import { SCALE_BY_SQN_DEFAULTS, scaleBySqn } from '../transforms/lbfgs';
import type { ScaleBySqnState } from '../transforms/lbfgs';
import { scaleByBacktrackingLinesearch } from '../transforms/linesearch';
import type { BacktrackingLinesearchOptions, BacktrackingLinesearchState } from '../transforms/linesearch';
import { scale } from '../transforms/scale';
import type { EmptyState } from '../lib/combine';
import { GUARD_DEFAULTS, guarded } from './common';
import type { GuardOptions, MethodState } from './common';

/**
 * The stochastic Armijo line search of somax 2024 (Vaswani et al. 2019): c = 0.1, shrink by 0.8,
 * grow by 1.5 from the last step, at most 15 backtracks, never above `maxStepsize`.
 *
 * @example
 * const tx = chain(scale(-1), stochasticArmijo(lossFn, 1.0));   // sgdArmijo
 */
export function stochasticArmijo<B>(
  lossFn: LossFn<B>,
  maxStepsize: number,
  options: BacktrackingLinesearchOptions = {},
): GradientTransformation<BacktrackingLinesearchState> {
  return scaleByBacktrackingLinesearch(lossFn, {
    slopeRtol: 0.1,
    decreaseFactor: 0.8,
    increaseFactor: 1.5,
    maxBacktrackingSteps: 15,
    maxLearningRate: maxStepsize,
    ...options,
  });
}

/** Options of {@link sqn}. */
export interface SqnOptions extends GuardOptions {
  /** Fixed step size, or the cap of the line search (default 1.0). */
  learningRate?: number;
  /** Curvature pairs kept (default 10). */
  memorySize?: number;
  /** Find the step by the stochastic Armijo line search, capped at `learningRate` (default false). */
  linesearch?: boolean;
  /** Pairs with sᵀy ≤ curvatureEps·‖s‖‖y‖ are skipped (default 1e-10). */
  curvatureEps?: number;
}

const SQN_DEFAULTS = {
  learningRate: SCALE_BY_SQN_DEFAULTS.learningRate,
  memorySize: SCALE_BY_SQN_DEFAULTS.memorySize,
  linesearch: false,
  curvatureEps: SCALE_BY_SQN_DEFAULTS.curvatureEps,
  ...GUARD_DEFAULTS,
} as const satisfies Defaults<SqnOptions>;

/**
 * SQN: online L-BFGS with curvature pairs from the gradient difference on the same (or the
 * curvature) batch, memory 10, fixed step `learningRate` or the stochastic Armijo line search
 * (`linesearch: true`, capped at `learningRate`).
 *
 * @example
 * const tx = sqn(lossFn, { learningRate: 0.1 });
 * @see Bottou, Curtis & Nocedal (2018), Alg. 6.2; Byrd, Hansen, Nocedal & Singer (2016).
 */
export function sqn<B>(lossFn: LossFn<B>, options: SqnOptions = {}): GradientTransformation<MethodState<ScaleBySqnState>> {
  const o = resolveOptions('sqn', options, SQN_DEFAULTS);
  const linesearch = o.linesearch ? stochasticArmijo(lossFn, o.learningRate) : undefined;
  return guarded(
    scaleBySqn(lossFn, { learningRate: o.learningRate, memorySize: o.memorySize, curvatureEps: o.curvatureEps, linesearch }),
    o.skipNonFinite,
  );
}

/** Options of {@link sgdArmijo}: the line search's, the step cap and the guard. */
export interface SgdArmijoOptions extends BacktrackingLinesearchOptions, GuardOptions {
  /** The largest step size η (default 1.0). */
  learningRate?: number;
}

const SGD_ARMIJO_DEFAULTS = {
  learningRate: 1.0,
  maxBacktrackingSteps: undefined,
  slopeRtol: undefined,
  decreaseFactor: undefined,
  increaseFactor: undefined,
  maxLearningRate: undefined,
  atol: undefined,
  rtol: undefined,
  ...GUARD_DEFAULTS,
} as const satisfies Defaults<SgdArmijoOptions>;

/**
 * SGD with the stochastic Armijo line search: θ ← θ − η g with η from the Armijo condition on the
 * batch, η ≤ `learningRate`.
 *
 * @example
 * const tx = sgdArmijo(lossFn, { learningRate: 1 });   // η ≤ 1, found by backtracking on each batch
 * @see Vaswani et al., "Painless Stochastic Gradient: Interpolation, Line-Search, and Convergence Rates" (2019), arXiv 1905.09997.
 */
export function sgdArmijo<B>(
  lossFn: LossFn<B>,
  options: SgdArmijoOptions = {},
): GradientTransformation<MethodState<readonly [EmptyState, BacktrackingLinesearchState]>> {
  const { learningRate, skipNonFinite, ...linesearch } = resolveOptions('sgdArmijo', options, SGD_ARMIJO_DEFAULTS);
  const defined = Object.fromEntries(Object.entries(linesearch).filter(([, v]) => v !== undefined));
  return guarded(chain(scale(-1), stochasticArmijo(lossFn, learningRate, defined)), skipNonFinite);
}
