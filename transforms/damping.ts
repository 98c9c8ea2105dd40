/**
 * Damping λ of second-order steps, `(C + λI) s = g`: constant, or adapted from the gain ratio of
 * the last step (Levenberg-Marquardt / trust region). Small pure objects; the second-order core
 * keeps their state.
 * @module
 */
import { assertFinite, assertInRange, assertInteger, assertPositive, HyperparameterError } from '../lib/errors';
import { checkOptionKeys, resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';

/** Damping state: λ and how many ratios it has been offered. */
export interface DampingState {
  /** The current damping λ. */
  readonly lam: number;
  /** How many decrease ratios the rule has been offered (its cadence counter). */
  readonly step: number;
}

/** What a damping rule decided from one step's decrease. */
export interface DampingUpdate {
  /** The next damping state (λ possibly moved). */
  readonly state: DampingState;
  /** The (clipped) gain ratio, NaN when invalid. */
  readonly rho: number;
  /** Whether ρ was valid (finite, positive predicted decrease) and on cadence. */
  readonly valid: boolean;
}

/** A damping rule. */
export interface Damping {
  /** Whether λ adapts (the step then measures actual and predicted decrease). */
  readonly adaptive: boolean;
  /** The initial state (λ = `lam0`, clamped to the rule's bounds). */
  init(): DampingState;
  /** Moves λ from one step's actual and predicted decrease. */
  update(state: DampingState, decrease: { actualDecrease: number; predictedDecrease: number }): DampingUpdate;
}

/**
 * The decrease the quadratic model predicts for an update δ: `−(gᵀδ + ½(δᵀCδ + λ‖δ‖²))`, from the
 * three inner products `gᵀδ`, `δᵀCδ`, `λ‖δ‖²`.
 */
export function predictedDecrease(gDotDelta: number, deltaCDelta: number, lamDeltaSq: number): number {
  return -(gDotDelta + 0.5 * (deltaCDelta + lamDeltaSq));
}

/** Constant damping λ = `lam0` (somax v1 `constant`, default 1.0). */
export function constantDamping(lam0 = 1.0): Damping {
  assertInRange('lam0', lam0, 0, Infinity);
  return {
    adaptive: false,
    init: () => ({ lam: lam0, step: 0 }),
    update: (state) => ({ state: { lam: state.lam, step: state.step + 1 }, rho: NaN, valid: false }),
  };
}

/** Options of {@link trustRegionDamping}. */
export interface TrustRegionOptions {
  /** Initial λ (default 1.0). */
  lam0?: number;
  /** ρ below this grows λ (default 0.25). */
  lower?: number;
  /** ρ above this shrinks λ (default 0.75). */
  upper?: number;
  /** λ ← λ · increaseFactor when ρ < lower (≥ 1; default 1.5). */
  increaseFactor?: number;
  /** λ ← λ · decreaseFactor when ρ > upper (in (0, 1]; default 0.5). */
  decreaseFactor?: number;
  /** Adapt every k offered ratios (the first, step 0, adapts; default 1). */
  everyK?: number;
  /** Lower bound of λ (default 1e-12). */
  minLam?: number;
  /** Upper bound of λ (default 1e6). */
  maxLam?: number;
  /** ρ is clipped to [−rhoClip, rhoClip] (default 5). */
  rhoClip?: number;
}

const TRUST_REGION_DEFAULTS = {
  lam0: 1.0,
  lower: 0.25,
  upper: 0.75,
  increaseFactor: 1.5,
  decreaseFactor: 0.5,
  everyK: 1,
  minLam: 1e-12,
  maxLam: 1e6,
  rhoClip: 5,
} as const satisfies Defaults<TrustRegionOptions>;

/**
 * Levenberg-Marquardt / trust-region damping (somax v1 `trust_region`): with
 * ρ = actual decrease / predicted decrease, valid only when finite and predicted > 1e-16, clipped
 * to [−rhoClip, rhoClip]: ρ < lower → λ ← λ·increaseFactor; ρ > upper → λ ← λ·decreaseFactor;
 * λ clamped to [minLam, maxLam]; unchanged when ρ is invalid (NaN) or the step is off cadence.
 * A step that raised the loss while the model predicted no decrease (negative curvature, where
 * somax v1 leaves λ alone and Newton-CG can climb forever) or raised it to +∞ counts as ρ = −rhoClip.
 *
 * @see Levenberg (1944); Marquardt (1963); Martens, "Deep learning via Hessian-free optimization" (2010).
 */
export function trustRegionDamping(options: TrustRegionOptions = {}): Damping {
  const { lam0, lower, upper, increaseFactor, decreaseFactor, everyK, minLam, maxLam, rhoClip } = resolveOptions(
    'trustRegionDamping',
    options,
    TRUST_REGION_DEFAULTS,
  );
  assertPositive('lam0', lam0);
  assertFinite('lower', lower);
  assertFinite('upper', upper);
  if (!(lower <= upper)) throw new HyperparameterError(`lower (${lower}) must not exceed upper (${upper})`);
  assertInRange('increaseFactor', increaseFactor, 1, Infinity);
  assertInRange('decreaseFactor', decreaseFactor, 0, 1, { loOpen: true });
  assertInteger('everyK', everyK);
  assertPositive('minLam', minLam);
  if (!(maxLam >= minLam)) throw new HyperparameterError(`maxLam (${maxLam}) must be at least minLam (${minLam})`);
  assertPositive('rhoClip', rhoClip);
  return {
    adaptive: true,
    init: () => ({ lam: Math.min(Math.max(lam0, minLam), maxLam), step: 0 }),
    update: (state, { actualDecrease, predictedDecrease: predicted }) => {
      const step = state.step + 1;
      const raw = actualDecrease / predicted;
      // The model promised no decrease (negative curvature) and the loss rose, or rose to +∞: a bad step.
      const failed = actualDecrease < 0 && !(predicted > 1e-16 && Number.isFinite(actualDecrease));
      const valid = (failed || (Number.isFinite(raw) && predicted > 1e-16)) && state.step % everyK === 0;
      if (!valid) return { state: { lam: state.lam, step }, rho: Number.isFinite(raw) ? raw : NaN, valid: false };
      const rho = failed ? -rhoClip : Math.min(Math.max(raw, -rhoClip), rhoClip);
      let lam = state.lam;
      if (rho < lower) lam *= increaseFactor;
      else if (rho > upper) lam *= decreaseFactor;
      return { state: { lam: Math.min(Math.max(lam, minLam), maxLam), step }, rho, valid: true };
    },
  };
}

/**
 * The adaptive rule of somax's 2024 Newton-CG and SWM-NG (recommended by Kiros 2013):
 * λ ← 1.01 λ when ρ < 0.25, 0.99 λ when ρ > 0.75 — {@link trustRegionDamping} with those factors.
 */
export function kirosDamping(options: TrustRegionOptions = {}): Damping {
  checkOptionKeys('kirosDamping', options, Object.keys(TRUST_REGION_DEFAULTS));
  return trustRegionDamping({ increaseFactor: 1.01, decreaseFactor: 0.99, ...options });
}
