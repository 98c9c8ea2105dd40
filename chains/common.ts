/**
 * What the second-order methods share: the post-direction chain of somax v1 (`build_optax_tx`),
 * which turns a direction s (no sign) into the final update, and the damping policy.
 * @module
 */
import { chain, guardNonFinite, identity } from '../lib/combine';
import { HyperparameterError } from '../lib/errors';
import type { Mask } from '../lib/combine';
import type { GradientTransformation, ScalarOrSchedule } from '../lib/types';
import { clipByGlobalNorm } from '../transforms/clipping';
import { trace } from '../transforms/moments';
import { scaleByLearningRate } from '../transforms/scale';
import { addDecayedWeights } from '../transforms/weightDecay';
import { constantDamping, trustRegionDamping } from '../transforms/damping';
import type { Damping, TrustRegionOptions } from '../transforms/damping';
import { scaleBySecondOrder } from '../transforms/secondOrder';
import type { SecondOrderOptions } from '../transforms/secondOrder';

/** Every method's guard against NaN / Inf (see {@link guardNonFinite}). */
export interface GuardOptions {
  /**
   * Skip a step — zero update, state kept, `info.skipped` — when the gradient or the method's
   * update has a NaN or an Inf (default true; costs one or two boolean reads per step).
   */
  guardNonFinite?: boolean;
}

/**
 * `tx` wrapped by {@link guardNonFinite} unless the user turned the guard off; `sync: false` for
 * methods that never read from the device otherwise (so that they stay read-free on WebGPU).
 */
export function guarded(tx: GradientTransformation<any>, { guardNonFinite: guard = true }: GuardOptions, { sync = true } = {}): GradientTransformation<any> {
  return guard ? guardNonFinite(tx, { sync }) : tx;
}

/** The knobs every method accepts after its direction (somax v1 names in camelCase). */
export interface PostDirectionOptions extends GuardOptions {
  /** Learning rate or schedule (somax v1 default 1.0). */
  learningRate?: ScalarOrSchedule;
  /** Momentum on the direction (`trace` decay). */
  directionMomentum?: number;
  /** Nesterov momentum on the direction (with `directionMomentum`; default false). */
  nesterov?: boolean;
  /** Global-norm clipping of the direction. */
  clipNorm?: number;
  /** Decoupled weight decay, with an optional mask. */
  weightDecay?: number;
  /** Which params the weight decay applies to (a tree of booleans or a function of the params). */
  mask?: Mask;
  /** Replaces the whole post-direction chain with the user's own (it must end with a descent step). */
  tx?: GradientTransformation<any>;
}

/**
 * `trace(directionMomentum, nesterov)` → `clipByGlobalNorm(clipNorm)` → `addDecayedWeights(weightDecay,
 * mask)` → `scaleByLearningRate(learningRate)`, each only if set (somax v1 order), or the user's `tx`.
 */
export function postDirection({
  learningRate = 1.0,
  directionMomentum,
  nesterov = false,
  clipNorm,
  weightDecay,
  mask,
  tx,
}: PostDirectionOptions = {}): GradientTransformation<any> {
  if (tx) return tx;
  return chain(
    directionMomentum === undefined ? identity() : trace(directionMomentum, { nesterov }),
    clipNorm === undefined ? identity() : clipByGlobalNorm(clipNorm),
    weightDecay === undefined ? identity() : addDecayedWeights(weightDecay, { mask }),
    scaleByLearningRate(learningRate),
  );
}

/** The damping knobs of the second-order methods (somax v1 names). */
export interface DampingOptions {
  /** Initial (or constant) damping λ (v1 default 1.0). */
  lam0?: number;
  /** `'const'` keeps λ; `'trustRegion'` adapts it Levenberg-Marquardt style. */
  lamPolicy?: 'const' | 'trustRegion';
  /** Extra options of the trust-region rule (thresholds, factors, bounds). */
  lamKwargs?: Omit<TrustRegionOptions, 'lam0'>;
  /** With `'trustRegion'`, skip steps that raised the loss (default true; see `scaleBySecondOrder`). */
  rejectBadSteps?: boolean;
}

/** The damping rule for a method's options. */
export function dampingFrom({ lam0 = 1.0, lamPolicy = 'const', lamKwargs = {} }: DampingOptions): Damping {
  if (lamPolicy === 'const') return constantDamping(lam0);
  if (lamPolicy === 'trustRegion') return trustRegionDamping({ lam0, ...lamKwargs });
  throw new HyperparameterError(`lamPolicy must be 'const' or 'trustRegion', got '${String(lamPolicy)}'`);
}

/**
 * A second-order method from its parts (curvature, solver, loss, seed) and the user's damping and
 * post-direction options: `scaleBySecondOrder` (solve (C + λI) s = g) → `postDirection`.
 */
export function secondOrderMethod(
  parts: Omit<SecondOrderOptions, 'damping' | 'tx'>,
  { lam0, lamPolicy, lamKwargs, rejectBadSteps, guardNonFinite: guard, ...post }: DampingOptions & PostDirectionOptions,
): GradientTransformation<any> {
  const damping = dampingFrom({ lam0, lamPolicy, lamKwargs });
  return guarded(scaleBySecondOrder({ ...parts, damping, rejectBadSteps, tx: postDirection(post) }), { guardNonFinite: guard });
}
