/**
 * L-BFGS with a strong-Wolfe line search, as Optax's `lbfgs`: nothing but a chain.
 * @module
 */
import { chain } from '../lib/combine';
import { resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';
import type { GradientTransformation, LossFn, ScalarOrSchedule } from '../lib/types';
import { SCALE_BY_LBFGS_DEFAULTS, scaleByLbfgs } from '../transforms/lbfgs';
import type { ScaleByLbfgsState } from '../transforms/lbfgs';
import { scaleByZoomLinesearch } from '../transforms/linesearch';
import type { ZoomLinesearchOptions } from '../transforms/linesearch';
import { scale, scaleByLearningRate } from '../transforms/scale';
import { GUARD_DEFAULTS, guarded } from './common';
import type { GuardOptions, MethodState } from './common';

/** Options of {@link lbfgs} (Optax's names and defaults). */
export interface LbfgsOptions extends GuardOptions {
  /** A fixed step or schedule; default none: the line search picks the step from η = 1. */
  learningRate?: ScalarOrSchedule;
  /** Curvature pairs kept (default 10). */
  memorySize?: number;
  /** H₀ = γI with γ = sᵀy / yᵀy of the newest pair (default true). */
  scaleInitPrecond?: boolean;
  /** Options of the zoom line search, or null for none (default: at most 20 steps from η = 1). */
  linesearch?: ZoomLinesearchOptions | null;
}

const LBFGS_DEFAULTS = {
  learningRate: undefined,
  memorySize: SCALE_BY_LBFGS_DEFAULTS.memorySize,
  scaleInitPrecond: SCALE_BY_LBFGS_DEFAULTS.scaleInitPrecond,
  linesearch: { maxLinesearchSteps: 20, initialGuessStrategy: 'one' },
  ...GUARD_DEFAULTS,
} as const satisfies Defaults<LbfgsOptions>;

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
  options: LbfgsOptions = {},
): GradientTransformation<MethodState<readonly [ScaleByLbfgsState, ...unknown[]]>> {
  const o = resolveOptions('lbfgs', options, LBFGS_DEFAULTS);
  const step = o.learningRate === undefined ? scale(-1) : scaleByLearningRate(o.learningRate);
  const parts: GradientTransformation<unknown>[] = [scaleByLbfgs({ memorySize: o.memorySize, scaleInitPrecond: o.scaleInitPrecond }), step];
  if (o.linesearch !== null) parts.push(scaleByZoomLinesearch(lossFn, o.linesearch));
  return guarded(chain(...parts), o.skipNonFinite) as unknown as GradientTransformation<
    MethodState<readonly [ScaleByLbfgsState, ...unknown[]]>
  >;
}
