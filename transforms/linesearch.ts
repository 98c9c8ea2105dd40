/**
 * Line searches as gradient transformations, placed last in a chain: they take the incoming
 * descent direction u and return η·u with η chosen on the current batch.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { valueAndGrad } from '../lib/autodiff';
import { assertInRange, assertInteger, assertNonNegative, assertPositive, InputError } from '../lib/errors';
import { resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';
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

/** Defaults of {@link BacktrackingLinesearchOptions} (Optax's). */
const BACKTRACKING_LINESEARCH_DEFAULTS = {
  maxBacktrackingSteps: 15,
  slopeRtol: 1e-4,
  decreaseFactor: 0.8,
  increaseFactor: 1.5,
  maxLearningRate: 1.0,
  atol: 0,
  rtol: 0,
} satisfies Defaults<BacktrackingLinesearchOptions>;

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
 * An unknown option key is an error (see `resolveOptions`).
 *
 * @example
 * const tx = chain(scale(-1), scaleByBacktrackingLinesearch(lossFn, { maxLearningRate: 1 }));
 * const step = makeStep(tx, lossFn);
 * @see Armijo (1966); Vaswani et al., "Painless Stochastic Gradient" (2019), arXiv 1905.09997.
 */
export function scaleByBacktrackingLinesearch<B>(
  lossFn: LossFn<B>,
  options: BacktrackingLinesearchOptions = {},
): GradientTransformation<BacktrackingLinesearchState> {
  const { maxBacktrackingSteps, slopeRtol, decreaseFactor, increaseFactor, maxLearningRate, atol, rtol } = resolveOptions(
    'scaleByBacktrackingLinesearch',
    options,
    BACKTRACKING_LINESEARCH_DEFAULTS,
  );
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
  /** The step size taken at the last step, or 1 after a zero step (the next search starts afresh). */
  readonly learningRate: number;
  /** Telemetry of the last search. */
  readonly info: {
    /** Loss/gradient evaluations of the last search. */
    readonly numEvaluations: number;
    /** Whether the step taken satisfies both strong Wolfe conditions (its decrease exact or approximate). */
    readonly wolfe: boolean;
    /** Whether the step taken passed the decrease test only by Hager–Zhang's approximate test (Armijo fails). */
    readonly approximateDecrease: boolean;
    /** The step size η taken: 0 when no trial was acceptable (no move). */
    readonly stepSize: number;
    /** Loss before the step. */
    readonly value: number;
    /** Loss at the step taken. */
    readonly newValue: number;
  };
}

/** Options of {@link scaleByZoomLinesearch} (Optax's names and defaults). */
export interface ZoomLinesearchOptions {
  /** Most loss/gradient evaluations per step (default 15). */
  maxLinesearchSteps?: number;
  /** Largest step size tried (unbounded by default). */
  maxLearningRate?: number;
  /** c₁ of the sufficient-decrease condition (default 1e-4). */
  slopeRtol?: number;
  /** c₂ of the curvature condition (default 0.9). */
  curvRtol?: number;
  /** Growth of the trial step while bracketing (default 2). */
  increaseFactor?: number;
  /**
   * c₃ of Hager & Zhang's approximate sufficient-decrease test (default 1e-6): a trial that fails
   * Armijo still decreases enough when φ(η) ≤ φ(0) + c₃|φ(0)| and φ'(η) ≤ (2c₁ − 1) φ'(0). Near a
   * minimum, where float32 cannot resolve the decrease Armijo asks for, this keeps the search
   * moving. `null` turns the test off (Armijo only, Optax's `None`); `Infinity` drops its value
   * bound (the slope bound alone); 0 keeps it with φ(η) ≤ φ(0).
   */
  approxDecRtol?: number | null;
  /** First trial: the last accepted step (`'keep'`) or 1 (`'one'`). */
  initialGuessStrategy?: 'keep' | 'one';
}

/** Defaults of {@link ZoomLinesearchOptions} (Optax's). */
const ZOOM_LINESEARCH_DEFAULTS = {
  maxLinesearchSteps: 15,
  maxLearningRate: Infinity,
  slopeRtol: 1e-4,
  curvRtol: 0.9,
  increaseFactor: 2,
  approxDecRtol: 1e-6,
  initialGuessStrategy: 'keep',
} satisfies Defaults<ZoomLinesearchOptions>;

/** A trial of a line search along u: the step size η, φ(η) = L(θ + η u) and φ'(η) = ⟨∇L(θ + η u), u⟩. */
interface Trial {
  readonly eta: number;
  readonly f: number;
  readonly d: number;
}

/** A failure measure with NaN read as +∞ (a NaN trial never passes). */
const failure = (e: number): number => (Number.isNaN(e) ? Infinity : e);

/**
 * How far a trial misses the Armijo condition φ(η) ≤ φ(0) + c₁ η φ'(0): φ(η) − φ(0) − c₁ η φ'(0),
 * > 0 when it fails.
 */
function armijoError(t: Trial, origin: Trial, slopeRtol: number): number {
  return failure(t.f - origin.f - slopeRtol * t.eta * origin.d);
}

/**
 * How far a trial misses Hager & Zhang's approximate sufficient decrease (their eq. 23, with the
 * value bound of eqs. 26–27 simplified to the start point, as Optax):
 *
 *   φ'(η) ≤ (2c₁ − 1) φ'(0)   and   φ(η) ≤ φ(0) + c₃|φ(0)|,
 *
 * as the larger of the two violations (> 0 when it fails; +∞ when `approxDecRtol` c₃ is null).
 */
function approxDecreaseError(t: Trial, origin: Trial, slopeRtol: number, approxDecRtol: number | null): number {
  if (approxDecRtol === null) return Infinity;
  // c₃ = ∞ drops the value bound (∞·|φ(0)| would be NaN when φ(0) = 0).
  const slack = approxDecRtol === Infinity ? Infinity : approxDecRtol * Math.abs(origin.f);
  return failure(Math.max(t.d - (2 * slopeRtol - 1) * origin.d, t.f - origin.f - slack));
}

/** Whether |φ'(η)| ≤ c₂ |φ'(0)| (strong curvature condition; false for NaN). */
function flatEnough(t: Trial, origin: Trial, curvRtol: number): boolean {
  return Math.abs(t.d) <= curvRtol * Math.abs(origin.d);
}

/**
 * The next trial inside the bracket (lo, hi): the minimizer of the quadratic through φ(lo), φ'(lo)
 * and φ(hi), kept in the bracket's middle 80% (else its midpoint).
 */
function interpolate(lo: Trial, hi: Trial): number {
  const width = hi.eta - lo.eta;
  const denom = 2 * (hi.f - lo.f - lo.d * width);
  const a = denom !== 0 ? lo.eta - (lo.d * width * width) / denom : NaN;
  const lower = Math.min(lo.eta, hi.eta) + 0.1 * Math.abs(width);
  const upper = Math.max(lo.eta, hi.eta) - 0.1 * Math.abs(width);
  return a >= lower && a <= upper ? a : lo.eta + width / 2;
}

/** The trial of lowest value (the earliest on ties), or undefined for none. */
function lowest(trials: readonly Trial[]): Trial | undefined {
  return trials.reduce<Trial | undefined>((best, t) => (best === undefined || t.f < best.f ? t : best), undefined);
}

/**
 * The step taken when no trial satisfied both conditions: the lowest trial that decreases enough
 * (Optax's safe step), else the lowest trial that does not raise the loss (φ(η) ≤ φ(0); Optax takes
 * its last trial then, even when it rises), else none (a zero step: every trial rose or was NaN).
 */
function fallbackTrial(trials: readonly Trial[], origin: Trial, decreases: (t: Trial) => boolean): Trial | undefined {
  return lowest(trials.filter(decreases)) ?? lowest(trials.filter((t) => t.f <= origin.f));
}

/**
 * Line search for the strong Wolfe conditions (Nocedal & Wright, Alg. 3.5 bracketing + 3.6 zoom,
 * with safeguarded quadratic interpolation): finds η with
 *
 *   φ(η) ≤ φ(0) + c₁ η φ'(0)   and   |φ'(η)| ≤ c₂ |φ'(0)|,   φ(η) = L(θ + η u),
 *
 * on `extra.batch`, where the first (sufficient-decrease) condition may also be met by Hager &
 * Zhang's approximate test, φ'(η) ≤ (2c₁ − 1) φ'(0) and φ(η) ≤ φ(0) + c₃|φ(0)| (`approxDecRtol`
 * c₃): near a float32 minimum the decrease c₁ η φ'(0) is below the resolution of φ, Armijo fails at
 * every trial, and only the slope still says the step is good. Each trial evaluates the loss and
 * its gradient (one device sync). If no trial satisfies both within `maxLinesearchSteps`
 * evaluations, the lowest trial that decreases enough is taken, else the lowest trial that does
 * not raise the loss, else no step (e.g. u is not a descent direction). Meant for deterministic
 * (full-batch) problems, as in Optax. An unknown option key is an error (see `resolveOptions`).
 *
 * @example
 * const tx = chain(scaleByLbfgs(), scale(-1), scaleByZoomLinesearch(lossFn, { initialGuessStrategy: 'one' }));
 * const step = makeStep(tx, lossFn);
 * @see Nocedal & Wright, Numerical Optimization (2006), §3.5; Hager & Zhang, "A new conjugate
 * gradient method with guaranteed descent and an efficient line search", SIAM J. Optim. 16 (2005),
 * and "Algorithm 851: CG_DESCENT" (2006), https://doi.org/10.1145/1132973.1132979; Optax
 * `scale_by_zoom_linesearch`.
 */
export function scaleByZoomLinesearch<B>(
  lossFn: LossFn<B>,
  options: ZoomLinesearchOptions = {},
): GradientTransformation<ZoomLinesearchState> {
  const { maxLinesearchSteps, maxLearningRate, slopeRtol, curvRtol, increaseFactor, approxDecRtol, initialGuessStrategy } = resolveOptions(
    'scaleByZoomLinesearch',
    options,
    ZOOM_LINESEARCH_DEFAULTS,
  );
  assertInteger('maxLinesearchSteps', maxLinesearchSteps);
  if (maxLearningRate !== Infinity) assertPositive('maxLearningRate', maxLearningRate);
  assertInRange('slopeRtol', slopeRtol, 0, 1, { loOpen: true, hiOpen: true });
  assertInRange('curvRtol', curvRtol, slopeRtol, 1, { loOpen: true, hiOpen: true });
  assertInRange('increaseFactor', increaseFactor, 1, Infinity, { loOpen: true });
  if (approxDecRtol !== null && approxDecRtol !== Infinity) assertNonNegative('approxDecRtol', approxDecRtol);
  const vg = valueAndGrad(lossFn);
  return withReads<ZoomLinesearchState>(
    () => ({
      learningRate: 1,
      info: { numEvaluations: 0, wolfe: true, approximateDecrease: false, stepSize: 0, value: NaN, newValue: NaN },
    }),
    function* (updates, state, params, extra: Extra = {}) {
      if (params === undefined) throw new InputError('scaleByZoomLinesearch needs params');
      const theta = params;
      const batch = extra.batch as B;
      const [f0, d0] = yield* valueAndSlope(lossFn, updates, params, extra);
      const origin: Trial = { eta: 0, f: f0, d: d0 };
      const trials: Trial[] = [];
      /** φ(η) and φ'(η), one read; recorded in `trials`. */
      function* evaluate(eta: number): Reads<Trial> {
        const [f, d] = yield* fetchValues(() => {
          const { value, grads } = vg(tree.axpy(eta, updates, theta), batch);
          return tf.stack([value, tree.vdot(grads, updates)]);
        });
        const t = { eta, f, d };
        trials.push(t);
        return t;
      }
      // Sufficient decrease: Armijo, or the approximate test (Optax's decrease error ≤ 0).
      const decreases = (t: Trial) =>
        Math.min(armijoError(t, origin, slopeRtol), approxDecreaseError(t, origin, slopeRtol, approxDecRtol)) <= 0;
      const flat = (t: Trial) => flatEnough(t, origin, curvRtol);
      /** Alg. 3.6: shrinks the bracket (lo decreases enough, φ(lo) ≤ φ(hi)) to a trial meeting both conditions. */
      function* zoom(lo: Trial, hi: Trial): Reads<Trial | undefined> {
        while (trials.length < maxLinesearchSteps) {
          const t = yield* evaluate(interpolate(lo, hi));
          if (!decreases(t) || t.f >= lo.f) {
            hi = t;
          } else {
            if (flat(t)) return t;
            if (t.d * (hi.eta - lo.eta) >= 0) hi = lo;
            lo = t;
          }
        }
        return undefined;
      }
      /** Alg. 3.5: grows η from the first guess until a trial meets both conditions or brackets one. */
      function* search(): Reads<Trial | undefined> {
        let prev = origin;
        let eta = Math.min(initialGuessStrategy === 'one' ? 1 : state.learningRate, maxLearningRate);
        while (trials.length < maxLinesearchSteps) {
          const t = yield* evaluate(eta);
          if (!decreases(t) || (prev.eta > 0 && t.f >= prev.f)) return yield* zoom(prev, t);
          if (flat(t)) return t;
          if (t.d >= 0) return yield* zoom(t, prev);
          // At the largest step allowed, sufficient decrease holds but not curvature: the fallback takes it.
          if (eta >= maxLearningRate) return undefined;
          prev = t;
          eta = Math.min(eta * increaseFactor, maxLearningRate);
        }
        return undefined;
      }
      const found = yield* search();
      const taken = found ?? fallbackTrial(trials, origin, decreases);
      const stepSize = taken?.eta ?? 0;
      const approximateDecrease = taken !== undefined && decreases(taken) && armijoError(taken, origin, slopeRtol) > 0;
      const newValue = taken?.f ?? f0;
      const info = { numEvaluations: trials.length, wolfe: found !== undefined, approximateDecrease, stepSize, value: f0, newValue };
      return [tree.scale(updates, stepSize), { learningRate: stepSize > 0 ? stepSize : 1, info }];
    },
  );
}
