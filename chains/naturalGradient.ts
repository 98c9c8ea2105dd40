/**
 * SWM-NG: natural gradient on the empirical Fisher, solved in sample space (somax 2024).
 * @module
 */
import { objectiveLoss } from '../lib/objective';
import type { Objective } from '../lib/objective';
import { resolveOptions } from '../lib/options';
import type { GradientTransformation } from '../lib/types';
import { fisherCurvature } from '../transforms/curvature';
import { fisherWoodburySolver } from '../transforms/solvers';
import { SECOND_ORDER_METHOD_DEFAULTS, secondOrderMethod } from './common';
import type { SecondOrderMethodOptions, SecondOrderMethodState } from './common';

/** Options of {@link swmng}. */
export type SwmngOptions = SecondOrderMethodOptions;

/**
 * SWM-NG: s = (F + λI)⁻¹ g with the empirical Fisher F of the curvature batch, by Woodbury in
 * sample space; λ constant (1.0) or, with `lamPolicy: 'kiros'` (somax 2024's rule), moved ×1.01 /
 * ×0.99 from the gain ratio; heavy-ball momentum through `directionMomentum`.
 *
 * @example
 * const tx = swmng({ predict, loss: 'softmaxCrossEntropy' }, { lam0: 1, learningRate: 0.5 });
 * const out = makeStep(tx, objectiveLoss(objective))(params, state, batch, { curvatureBatch });
 * @see somax (2024) `SWMNG`; Ren & Goldfarb (2019), arXiv 1906.02353.
 */
export function swmng<X>(objective: Objective<X>, options: SwmngOptions = {}): GradientTransformation<SecondOrderMethodState> {
  const o = resolveOptions('swmng', options, SECOND_ORDER_METHOD_DEFAULTS);
  const parts = {
    curvature: o.lamPolicy === 'const' ? undefined : fisherCurvature(objective), // only ρ needs F v
    solver: fisherWoodburySolver(objective),
    lossFn: objectiveLoss(objective),
    objective,
  };
  return secondOrderMethod(parts, o);
}
