/**
 * Line searches as gradient transformations, placed last in a chain: they take the incoming
 * descent direction u and return η·u with η chosen on the current batch.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { valueAndGrad } from '../lib/autodiff';
import { assertInRange, assertInteger, assertNonNegative, assertPositive, InputError } from '../lib/errors';
import { fetchScalar, fetchValues, withReads } from '../lib/reads';
import * as tree from '../lib/tree';
import type { Extra, GradientTransformation, LossFn, Reads, Tree } from '../lib/types';

/** State of {@link scaleByBacktrackingLinesearch}. */
export interface BacktrackingLinesearchState {
  /** The step size accepted at the last step (the next search starts from it). */
  readonly learningRate: number;
  /** Telemetry of the last search. */
  readonly info: {
    /** Backtracks taken. */
    readonly numBacktracks: number;
    /** Whether the Armijo condition held at the accepted step. */
    readonly accepted: boolean;
    /** Loss before the step. */
    readonly value: number;
    /** Loss at the accepted step. */
    readonly newValue: number;
  };
}

/** Options of {@link scaleByBacktrackingLinesearch} (Optax's names and defaults). */
export interface BacktrackingLinesearchOptions {
  /** Most backtracks per step; the last trial is taken even if it fails (default 15). */
  maxBacktrackingSteps?: number;
  /** c in the Armijo condition. */
  slopeRtol?: number;
  /** Shrink factor of the step size per backtrack (default 0.8). */
  decreaseFactor?: number;
  /** The next search starts from min(η_prev · increaseFactor, maxLearningRate). */
  increaseFactor?: number;
  /** Largest step size tried, and the first one (default 1.0). */
  maxLearningRate?: number;
  /** Absolute slack ε of the condition. */
  atol?: number;
  /** Relative slack δ of the condition. */
  rtol?: number;
}

/** A scalar tensor or number as a JS number (a tensor is yielded, then read; not disposed). */
function* numberOf(x: tf.Scalar | number): Reads<number> {
  if (typeof x === 'number') return x;
  yield x;
  return x.dataSync()[0];
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
  return withReads<BacktrackingLinesearchState>(
    () => ({ learningRate: maxLearningRate, info: { numBacktracks: 0, accepted: true, value: NaN, newValue: NaN } }),
    function* (updates, state, params, extra: Extra = {}) {
      if (params === undefined) throw new InputError('scaleByBacktrackingLinesearch needs params');
      const batch = extra.batch as B;
      const [value, slope] = yield* valueAndSlope(lossFn, updates, params, extra);
      let eta = Math.min(state.learningRate * increaseFactor, maxLearningRate);
      let numBacktracks = 0;
      let accepted = false;
      let newValue = NaN;
      for (;;) {
        newValue = yield* fetchScalar(() => lossFn(tree.axpy(eta, updates, params), batch));
        accepted = newValue <= (1 + rtol) * value + eta * slopeRtol * slope + atol;
        if (accepted || numBacktracks >= maxBacktrackingSteps) break;
        eta *= decreaseFactor;
        numBacktracks += 1;
      }
      return [tree.scale(updates, eta), { learningRate: eta, info: { numBacktracks, accepted, value, newValue } }];
    },
  );
}

/**
 * φ(0) = L(θ) and φ'(0) = ⟨u, ∇L(θ)⟩ of a line search along u: from `extra.value` and
 * `extra.grad` when given, else computed on `extra.batch`; one read.
 */
function* valueAndSlope<B>(lossFn: LossFn<B>, updates: Tree, params: Tree, extra: Extra): Reads<[number, number]> {
  if (extra.value !== undefined && extra.grad !== undefined) {
    return [yield* numberOf(extra.value), yield* fetchScalar(() => tree.vdot(updates, extra.grad as Tree))];
  }
  const [value, slope] = yield* fetchValues(() => {
    const vg = valueAndGrad(lossFn)(params, extra.batch as B);
    return tf.stack([vg.value, tree.vdot(updates, vg.grads)]);
  });
  return [value, slope];
}

/** State of {@link scaleByZoomLinesearch}. */
export interface ZoomLinesearchState {
  /** The step size accepted at the last step. */
  readonly learningRate: number;
  /** Telemetry of the last search. */
  readonly info: {
    /** Loss/gradient evaluations of the last search. */
    readonly numEvaluations: number;
    /** Whether the accepted step satisfies both strong Wolfe conditions. */
    readonly wolfe: boolean;
    /** Loss before the step. */
    readonly value: number;
    /** Loss at the accepted step. */
    readonly newValue: number;
  };
}

/** Options of {@link scaleByZoomLinesearch} (Optax's names and defaults). */
export interface ZoomLinesearchOptions {
  /** Most loss/gradient evaluations per step (default 15). */
  maxLinesearchSteps?: number;
  /** Largest step size tried (unbounded by default). */
  maxLearningRate?: number;
  /** c₁ of the sufficient-decrease condition. */
  slopeRtol?: number;
  /** c₂ of the curvature condition. */
  curvRtol?: number;
  /** Growth of the trial step while bracketing. */
  increaseFactor?: number;
  /** First trial: the last accepted step (`'keep'`) or 1 (`'one'`). */
  initialGuessStrategy?: 'keep' | 'one';
}

/**
 * Line search for the strong Wolfe conditions (Nocedal & Wright, Alg. 3.5 bracketing + 3.6 zoom,
 * with safeguarded quadratic interpolation): finds η with
 *
 *   φ(η) ≤ φ(0) + c₁ η φ'(0)   and   |φ'(η)| ≤ c₂ |φ'(0)|,   φ(η) = L(θ + η u),
 *
 * on `extra.batch`. Each trial evaluates the loss and its gradient (one device sync). If no step
 * satisfies both within `maxLinesearchSteps` evaluations, the best sufficient-decrease step found
 * is taken (or the smallest tried). Meant for deterministic (full-batch) problems, as in Optax.
 *
 * @see Nocedal & Wright, Numerical Optimization (2006), §3.5; Optax `scale_by_zoom_linesearch`.
 */
export function scaleByZoomLinesearch<B>(
  lossFn: LossFn<B>,
  {
    maxLinesearchSteps = 15,
    maxLearningRate = Infinity,
    slopeRtol = 1e-4,
    curvRtol = 0.9,
    increaseFactor = 2,
    initialGuessStrategy = 'keep',
  }: ZoomLinesearchOptions = {},
): GradientTransformation<ZoomLinesearchState> {
  assertInteger('maxLinesearchSteps', maxLinesearchSteps);
  if (maxLearningRate !== Infinity) assertPositive('maxLearningRate', maxLearningRate);
  assertInRange('slopeRtol', slopeRtol, 0, 1, { loOpen: true, hiOpen: true });
  assertInRange('curvRtol', curvRtol, slopeRtol, 1, { loOpen: true, hiOpen: true });
  assertInRange('increaseFactor', increaseFactor, 1, Infinity, { loOpen: true });
  const vg = valueAndGrad(lossFn);
  return withReads<ZoomLinesearchState>(
    () => ({ learningRate: 1, info: { numEvaluations: 0, wolfe: true, value: NaN, newValue: NaN } }),
    function* (updates, state, params, extra: Extra = {}) {
      if (params === undefined) throw new InputError('scaleByZoomLinesearch needs params');
      const theta = params;
      const batch = extra.batch as B;
      /** φ(η) and φ'(η) = ⟨∇L(θ + ηu), u⟩, one read. */
      function* phi(eta: number): Reads<[number, number]> {
        const [f, d] = yield* fetchValues(() => {
          const { value, grads } = vg(tree.axpy(eta, updates, theta), batch);
          return tf.stack([value, tree.vdot(grads, updates)]);
        });
        return [f, d];
      }
      const [f0, d0] = yield* valueAndSlope(lossFn, updates, params, extra);
      let evaluations = 0;
      const armijo = (eta: number, f: number) => f <= f0 + slopeRtol * eta * d0;
      const curvature = (d: number) => Math.abs(d) <= curvRtol * Math.abs(d0);
      let best = { eta: 0, f: f0 };
      const consider = (eta: number, f: number) => {
        if (armijo(eta, f) && f < best.f) best = { eta, f };
      };
      function* zoom(lo: [number, number, number], hi: [number, number, number]): Reads<[number, number, boolean]> {
        while (evaluations < maxLinesearchSteps) {
          const [aLo, fLo, dLo] = lo;
          const [aHi, fHi] = hi;
          const width = aHi - aLo;
          // Minimizer of the quadratic through (aLo, fLo, dLo) and (aHi, fHi), kept inside the bracket.
          const denom = 2 * (fHi - fLo - dLo * width);
          let a = denom !== 0 ? aLo - (dLo * width * width) / denom : NaN;
          const lower = Math.min(aLo, aHi) + 0.1 * Math.abs(width);
          const upper = Math.max(aLo, aHi) - 0.1 * Math.abs(width);
          if (!(a >= lower && a <= upper)) a = aLo + width / 2;
          const [f, d] = yield* phi(a);
          evaluations++;
          consider(a, f);
          if (!armijo(a, f) || f >= fLo) {
            hi = [a, f, d];
          } else {
            if (curvature(d)) return [a, f, true];
            if (d * width >= 0) hi = lo;
            lo = [a, f, d];
          }
        }
        return [best.eta, best.f, false];
      }
      let prev: [number, number, number] = [0, f0, d0];
      let eta = Math.min(initialGuessStrategy === 'one' ? 1 : state.learningRate, maxLearningRate);
      let result: [number, number, boolean] = [best.eta, best.f, false];
      while (evaluations < maxLinesearchSteps) {
        const [f, d] = yield* phi(eta);
        evaluations++;
        consider(eta, f);
        if (!armijo(eta, f) || (prev[0] > 0 && f >= prev[1])) {
          result = yield* zoom(prev, [eta, f, d]);
          break;
        }
        if (curvature(d)) {
          result = [eta, f, true];
          break;
        }
        if (d >= 0) {
          result = yield* zoom([eta, f, d], prev);
          break;
        }
        prev = [eta, f, d];
        if (eta >= maxLearningRate) {
          result = [eta, f, false];
          break;
        }
        eta = Math.min(eta * increaseFactor, maxLearningRate);
        result = [best.eta, best.f, false];
      }
      const [accepted, newValue] = result;
      // No step decreased the loss enough (e.g. u is not a descent direction): do not move, and
      // start the next search afresh.
      const next = accepted > 0 ? accepted : 1;
      return [tree.scale(updates, accepted), { learningRate: next, info: { numEvaluations: evaluations, wolfe: result[2], value: f0, newValue } }];
    },
  );
}
