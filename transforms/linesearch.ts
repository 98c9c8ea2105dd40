/**
 * Line searches as gradient transformations, placed last in a chain: they take the incoming
 * descent direction u and return η·u with η chosen on the current batch.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { valueAndGrad } from '../lib/autodiff';
import { assertInRange, assertInteger, assertNonNegative, assertPositive, InputError } from '../lib/errors';
import * as tree from '../lib/tree';
import type { Extra, GradientTransformation, LossFn, Tree } from '../lib/types';

/** State of {@link scaleByBacktrackingLinesearch}. */
export interface BacktrackingLinesearchState {
  /** The step size accepted at the last step (the next search starts from it). */
  readonly learningRate: number;
  /** Telemetry of the last search. */
  readonly info: { readonly numBacktracks: number; readonly accepted: boolean; readonly value: number; readonly newValue: number };
}

/** Options of {@link scaleByBacktrackingLinesearch} (Optax's names and defaults). */
export interface BacktrackingLinesearchOptions {
  maxBacktrackingSteps?: number;
  /** c in the Armijo condition. */
  slopeRtol?: number;
  decreaseFactor?: number;
  /** The next search starts from min(η_prev · increaseFactor, maxLearningRate). */
  increaseFactor?: number;
  maxLearningRate?: number;
  /** Absolute slack ε of the condition. */
  atol?: number;
  /** Relative slack δ of the condition. */
  rtol?: number;
}

/** Reads a scalar tensor or number as a JS number. */
function toNumber(x: tf.Scalar | number): number {
  return typeof x === 'number' ? x : x.dataSync()[0];
}

/**
 * Backtracking (Armijo) line search, stochastic when evaluated on minibatches (Vaswani et al.
 * 2019): starting from η = min(η_prev · increaseFactor, maxLearningRate), shrink η by
 * `decreaseFactor` until
 *
 *   L(θ + η u) ≤ (1 + δ) L(θ) + η c ⟨u, ∇L(θ)⟩ + ε
 *
 * on `extra.batch`, at most `maxBacktrackingSteps` times (the last η is then taken as is).
 * Uses `extra.value` and `extra.grad` when given, else computes them. Each trial reads the loss
 * (one device sync per trial).
 *
 * @see Armijo (1966); Vaswani et al., "Painless Stochastic Gradient" (2019), arXiv 1905.09997.
 */
export function scaleByBacktrackingLinesearch<B>(
  lossFn: LossFn<B>,
  {
    maxBacktrackingSteps = 15,
    slopeRtol = 1e-4,
    decreaseFactor = 0.8,
    increaseFactor = 1.5,
    maxLearningRate = 1.0,
    atol = 0,
    rtol = 0,
  }: BacktrackingLinesearchOptions = {},
): GradientTransformation<BacktrackingLinesearchState> {
  assertInteger('maxBacktrackingSteps', maxBacktrackingSteps, 0);
  assertInRange('slopeRtol', slopeRtol, 0, 1, { loOpen: true, hiOpen: true });
  assertInRange('decreaseFactor', decreaseFactor, 0, 1, { loOpen: true, hiOpen: true });
  assertInRange('increaseFactor', increaseFactor, 1, Infinity);
  assertPositive('maxLearningRate', maxLearningRate);
  assertNonNegative('atol', atol);
  assertNonNegative('rtol', rtol);
  return {
    init: () => ({ learningRate: maxLearningRate, info: { numBacktracks: 0, accepted: true, value: NaN, newValue: NaN } }),
    update: (updates, state, params, extra: Extra = {}) => {
      if (params === undefined) throw new InputError('scaleByBacktrackingLinesearch needs params');
      const batch = extra.batch as B;
      let value: number;
      let slope: number;
      if (extra.value !== undefined && extra.grad !== undefined) {
        value = toNumber(extra.value);
        slope = tree.readScalar(() => tree.vdot(updates, extra.grad as Tree));
      } else {
        const vg = valueAndGrad(lossFn)(params, batch);
        value = vg.value.dataSync()[0];
        slope = tree.readScalar(() => tree.vdot(updates, vg.grads));
        tree.dispose([vg.value, vg.grads]);
      }
      let eta = Math.min(state.learningRate * increaseFactor, maxLearningRate);
      let numBacktracks = 0;
      let accepted = false;
      let newValue = NaN;
      for (;;) {
        newValue = tree.readScalar(() => lossFn(tree.axpy(eta, updates, params), batch));
        accepted = newValue <= (1 + rtol) * value + eta * slopeRtol * slope + atol;
        if (accepted || numBacktracks >= maxBacktrackingSteps) break;
        eta *= decreaseFactor;
        numBacktracks += 1;
      }
      return [tree.scale(updates, eta), { learningRate: eta, info: { numBacktracks, accepted, value, newValue } }];
    },
  };
}
