/**
 * What the second-order methods share: the post-direction chain of somax v1 (`build_optax_tx`),
 * which turns a direction s (no sign) into the final update, the damping policy, and the guard
 * against non-finite steps. Each piece has one options interface and one defaults object, which
 * the methods' own options extend.
 * @module
 */
import { chain, guardNonFinite } from '../lib/combine';
import type { GuardNonFiniteState, Mask } from '../lib/combine';
import { HyperparameterError } from '../lib/errors';
import type { Defaults } from '../lib/options';
import type { GradientTransformation, ScalarOrSchedule } from '../lib/types';
import { clipByGlobalNorm } from '../transforms/clipping';
import { constantDamping, kirosDamping, trustRegionDamping } from '../transforms/damping';
import type { Damping, TrustRegionOptions } from '../transforms/damping';
import { trace } from '../transforms/moments';
import { scaleByLearningRate } from '../transforms/scale';
import { scaleBySecondOrder } from '../transforms/secondOrder';
import type { ScaleBySecondOrderState, SecondOrderOptions } from '../transforms/secondOrder';
import { addDecayedWeights } from '../transforms/weightDecay';

/** Every method's guard against NaN / Inf (see {@link guardNonFinite}). */
export interface GuardOptions {
  /**
   * Skip a step — zero update, state kept, `info.skipped` — when the gradient or the method's
   * update has a NaN or an Inf (default true; costs one or two boolean reads per step).
   */
  skipNonFinite?: boolean;
}

/** Defaults of {@link GuardOptions}. */
export const GUARD_DEFAULTS = { skipNonFinite: true } as const satisfies Defaults<GuardOptions>;

/** The state of a method: its own, inside the guard's unless `skipNonFinite: false`. */
export type MethodState<S> = GuardNonFiniteState<S> | S;

/**
 * `tx` wrapped by {@link guardNonFinite} when `skipNonFinite`; `sync: false` for methods that never
 * read from the device otherwise (so that they stay read-free on WebGPU).
 */
export function guarded<S>(
  tx: GradientTransformation<S>,
  skipNonFinite: boolean,
  { sync = true } = {},
): GradientTransformation<MethodState<S>> {
  return skipNonFinite
    ? (guardNonFinite(tx, { sync }) as GradientTransformation<MethodState<S>>)
    : (tx as GradientTransformation<MethodState<S>>);
}

/** The knobs every method accepts after its direction (somax v1 names in camelCase). */
export interface PostDirectionOptions {
  /** Learning rate or schedule (somax v1 default 1.0). */
  learningRate?: ScalarOrSchedule;
  /** Momentum on the direction (`trace` decay; default none). */
  directionMomentum?: number;
  /** Nesterov momentum on the direction (with `directionMomentum`; default false). */
  nesterov?: boolean;
  /** Global-norm clipping of the direction (default none). */
  clipNorm?: number;
  /** Decoupled weight decay (default none). */
  weightDecay?: number;
  /** Which params the weight decay applies to (a tree of booleans or a function of the params). */
  mask?: Mask;
  /** Replaces the whole post-direction chain with the user's own (it must end with a descent step). */
  tx?: GradientTransformation<unknown>;
}

/** Defaults of {@link PostDirectionOptions}. */
export const POST_DIRECTION_DEFAULTS = {
  learningRate: 1.0,
  directionMomentum: undefined,
  nesterov: false,
  clipNorm: undefined,
  weightDecay: undefined,
  mask: undefined,
  tx: undefined,
} as const satisfies Defaults<PostDirectionOptions>;

/**
 * `trace(directionMomentum, nesterov)` → `clipByGlobalNorm(clipNorm)` → `addDecayedWeights(weightDecay,
 * mask)` → `scaleByLearningRate(learningRate)`, each only if set (somax v1 order), or the user's `tx`.
 */
export function postDirection(o: Required<PostDirectionOptions> | PostDirectionOptions): GradientTransformation<unknown> {
  if (o.tx) return o.tx;
  // Only the pieces that are set: an unset one would be an identity, one copy of the direction a step.
  const pieces: GradientTransformation<unknown>[] = [
    ...(o.directionMomentum === undefined ? [] : [trace(o.directionMomentum, { nesterov: o.nesterov ?? false })]),
    ...(o.clipNorm === undefined ? [] : [clipByGlobalNorm(o.clipNorm)]),
    ...(o.weightDecay === undefined ? [] : [addDecayedWeights(o.weightDecay, { mask: o.mask })]),
    scaleByLearningRate(o.learningRate ?? POST_DIRECTION_DEFAULTS.learningRate),
  ] as GradientTransformation<unknown>[];
  return chain(...pieces) as GradientTransformation<unknown>;
}

/** How λ moves: kept (`'const'`), Levenberg-Marquardt (`'trustRegion'`), or Kiros's ±1 % rule (`'kiros'`). */
export type LamPolicy = 'const' | 'trustRegion' | 'kiros';

/** The damping knobs of the second-order methods (somax v1 names). */
export interface DampingOptions {
  /** Initial (or constant) damping λ (v1 default 1.0). */
  lam0?: number;
  /** `'const'` keeps λ (default); `'trustRegion'` adapts it Levenberg-Marquardt style; `'kiros'` by ±1 %. */
  lamPolicy?: LamPolicy;
  /** Options of the adaptive rule (thresholds, factors, bounds; see `trustRegionDamping`). */
  lamOptions?: Omit<TrustRegionOptions, 'lam0'>;
  /** With an adaptive policy, skip steps that raised the loss (default true; see `scaleBySecondOrder`). */
  rejectBadSteps?: boolean;
}

/** Defaults of {@link DampingOptions}. */
export const DAMPING_DEFAULTS = {
  lam0: 1.0,
  lamPolicy: 'const',
  lamOptions: undefined,
  rejectBadSteps: true,
} as const satisfies Defaults<DampingOptions>;

/** The damping rule for a method's options. */
export function dampingFrom({ lam0 = 1.0, lamPolicy = 'const', lamOptions = {} }: DampingOptions): Damping {
  if (lamPolicy === 'const') return constantDamping(lam0);
  if (lamPolicy === 'trustRegion') return trustRegionDamping({ lam0, ...lamOptions });
  if (lamPolicy === 'kiros') return kirosDamping({ lam0, ...lamOptions });
  throw new HyperparameterError(`lamPolicy must be 'const', 'trustRegion' or 'kiros', got '${String(lamPolicy)}'`);
}

/** Options every second-order method on `scaleBySecondOrder` accepts. */
export interface SecondOrderMethodOptions extends DampingOptions, PostDirectionOptions, GuardOptions {}

/** Defaults of {@link SecondOrderMethodOptions}. */
export const SECOND_ORDER_METHOD_DEFAULTS = {
  ...DAMPING_DEFAULTS,
  ...POST_DIRECTION_DEFAULTS,
  ...GUARD_DEFAULTS,
} as const satisfies Defaults<SecondOrderMethodOptions>;

/** State of a second-order method: {@link ScaleBySecondOrderState}, guarded. */
export type SecondOrderMethodState = MethodState<ScaleBySecondOrderState>;

/**
 * A second-order method from its parts (curvature, solver, loss, seed) and the user's resolved
 * damping, post-direction and guard options: `scaleBySecondOrder` (solve (C + λI) s = g) →
 * `postDirection`, guarded.
 */
export function secondOrderMethod(
  parts: Omit<SecondOrderOptions, 'damping' | 'tx' | 'rejectBadSteps'>,
  options: SecondOrderMethodOptions,
): GradientTransformation<SecondOrderMethodState> {
  const damped = scaleBySecondOrder({
    ...parts,
    damping: dampingFrom(options),
    rejectBadSteps: options.rejectBadSteps,
    tx: postDirection(options),
  });
  return guarded(damped, options.skipNonFinite ?? true);
}
