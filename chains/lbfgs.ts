/**
 * L-BFGS with a strong-Wolfe line search, as Optax's `lbfgs`: nothing but a chain.
 * @module
 */
import { chain } from '../lib/combine';
import type { GradientTransformation, LossFn, ScalarOrSchedule } from '../lib/types';
import { scaleByLbfgs } from '../transforms/lbfgs';
import { scaleByZoomLinesearch } from '../transforms/linesearch';
import type { ZoomLinesearchOptions } from '../transforms/linesearch';
import { scale, scaleByLearningRate } from '../transforms/scale';
import { guarded } from './common';
import type { GuardOptions } from './common';

/**
 * L-BFGS: `chain(scaleByLbfgs, scale(−1) or scaleByLearningRate(lr), scaleByZoomLinesearch)`, with
 * Optax's defaults (memory 10, γ-scaled initial inverse Hessian, zoom line search of at most 20
 * steps starting from η = 1). Best on deterministic (full-batch) problems; pass `linesearch: null`
 * and a `learningRate` for a fixed step.
 *
 * @example
 * const tx = lbfgs(lossFn);
 * const step = makeStep(tx, lossFn);
 * @see Liu & Nocedal (1989); Nocedal & Wright, Numerical Optimization, Alg. 7.5.
 */
export function lbfgs<B>(
  lossFn: LossFn<B>,
  {
    learningRate,
    memorySize = 10,
    scaleInitPrecond = true,
    linesearch = { maxLinesearchSteps: 20, initialGuessStrategy: 'one' },
    guardNonFinite,
  }: { learningRate?: ScalarOrSchedule; memorySize?: number; scaleInitPrecond?: boolean; linesearch?: ZoomLinesearchOptions | null } & GuardOptions = {},
): GradientTransformation<any> {
  const step = learningRate === undefined ? scale(-1) : scaleByLearningRate(learningRate);
  const parts: GradientTransformation<any>[] = [scaleByLbfgs({ memorySize, scaleInitPrecond }), step];
  if (linesearch !== null) parts.push(scaleByZoomLinesearch(lossFn, linesearch));
  return guarded(chain(...parts), { guardNonFinite });
}
