/**
 * Stochastic quasi-Newton and line-search methods of somax 2024: SQN (online L-BFGS) and SGD with
 * the stochastic Armijo line search.
 * @module
 */
import { chain } from '../lib/combine';
import type { GradientTransformation, LossFn } from '../lib/types';
import { scaleBySqn } from '../transforms/lbfgs';
import { scaleByBacktrackingLinesearch } from '../transforms/linesearch';
import type { BacktrackingLinesearchOptions } from '../transforms/linesearch';
import { scale } from '../transforms/scale';
import { guarded } from './common';
import type { GuardOptions } from './common';

/**
 * The stochastic Armijo line search of somax 2024 (Vaswani et al. 2019): c = 0.1, shrink by 0.8,
 * grow by 1.5 from the last step, at most 15 backtracks, never above `maxStepsize`.
 *
 * @example
 * const tx = chain(scale(-1), stochasticArmijo(lossFn, 1.0));   // sgdArmijo
 */
export function stochasticArmijo<B>(lossFn: LossFn<B>, maxStepsize: number, options: BacktrackingLinesearchOptions = {}): GradientTransformation<any> {
  return scaleByBacktrackingLinesearch(lossFn, {
    slopeRtol: 0.1,
    decreaseFactor: 0.8,
    increaseFactor: 1.5,
    maxBacktrackingSteps: 15,
    maxLearningRate: maxStepsize,
    ...options,
  });
}

/**
 * SQN: online L-BFGS with curvature pairs from the gradient difference on the same (or the
 * curvature) batch, history 10, fixed step `learningRate` or the stochastic Armijo line search
 * (`lineSearch: true`, capped at `learningRate`).
 *
 * @example
 * const tx = sqn(lossFn, { learningRate: 0.1 });
 * @see Bottou, Curtis & Nocedal (2018), Alg. 6.2; Byrd, Hansen, Nocedal & Singer (2016).
 */
export function sqn<B>(
  lossFn: LossFn<B>,
  { learningRate = 1.0, historySize = 10, lineSearch = false, curvatureEps = 1e-10, guardNonFinite }: { learningRate?: number; historySize?: number; lineSearch?: boolean; curvatureEps?: number } & GuardOptions = {},
): GradientTransformation<any> {
  return guarded(scaleBySqn(lossFn, {
    learningRate,
    memorySize: historySize,
    curvatureEps,
    linesearch: lineSearch ? stochasticArmijo(lossFn, learningRate) : undefined,
  }), { guardNonFinite });
}

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
  { learningRate = 1.0, guardNonFinite, ...options }: BacktrackingLinesearchOptions & { learningRate?: number } & GuardOptions = {},
): GradientTransformation<any> {
  return guarded(chain(scale(-1), stochasticArmijo(lossFn, learningRate, options)), { guardNonFinite });
}
