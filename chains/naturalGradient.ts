/**
 * SWM-NG: natural gradient on the empirical Fisher, solved in sample space (somax 2024).
 * @module
 */
import { objectiveLoss } from '../lib/objective';
import type { Objective } from '../lib/objective';
import type { GradientTransformation } from '../lib/types';
import { fisherCurvature } from '../transforms/curvature';
import { constantDamping, kirosDamping } from '../transforms/damping';
import { fisherWoodburySolver } from '../transforms/naturalGradient';
import { scaleBySecondOrder } from '../transforms/secondOrder';
import { guarded, postDirection } from './common';
import type { PostDirectionOptions } from './common';

/**
 * SWM-NG: s = (F + λI)⁻¹ g with the empirical Fisher F of the curvature batch, by Woodbury in
 * sample space; λ constant (1.0) or, with `adaptiveLambda`, moved by the Kiros rule (×1.01 / ×0.99)
 * from the gain ratio; heavy-ball momentum through `directionMomentum`.
 *
 * @example
 * const tx = swmng({ predict, loss: 'softmaxCrossEntropy' }, { lam0: 1, learningRate: 0.5 });
 * const out = makeStep(tx, objectiveLoss(objective))(params, state, batch, { curvatureBatch });
 * @see somax (2024) `SWMNG`; Ren & Goldfarb (2019), arXiv 1906.02353.
 */
export function swmng<X>(
  objective: Objective<X>,
  { lam0 = 1.0, adaptiveLambda = false, guardNonFinite, ...post }: { lam0?: number; adaptiveLambda?: boolean } & PostDirectionOptions = {},
): GradientTransformation<any> {
  return guarded(scaleBySecondOrder({
    curvature: adaptiveLambda ? fisherCurvature(objective) : undefined,
    solver: fisherWoodburySolver(objective),
    damping: adaptiveLambda ? kirosDamping({ lam0 }) : constantDamping(lam0),
    tx: postDirection(post),
    lossFn: objectiveLoss(objective),
  }), { guardNonFinite });
}
