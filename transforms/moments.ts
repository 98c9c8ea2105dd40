/**
 * Moment-based transforms (Optax `transform.py`): momentum traces, EMAs, Adam, RMSProp, Adagrad,
 * Lion. Step counters are JS numbers; moments are trees shaped like the params.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInRange, assertNonNegative } from '../lib/errors';
import { checkOptionKeys, resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';
import * as tree from '../lib/tree';
import type { GradientTransformation, Tree } from '../lib/types';

/**
 * One EMA step of a moment, leafwise: `decay · m + (1 − decay) · g` (order 1) or with g² (order 2).
 * Every moment of somax (Adam's, the diagonal methods', IGND's) is updated by this function.
 */
export function updateMoment(m: Tree, g: Tree, decay: number, order: 1 | 2): Tree {
  return tree.tidy(() => {
    // The two factors as scalar tensors once for the tree (a number would become one per leaf).
    const [keep, take] = [tf.scalar(decay), tf.scalar(1 - decay)];
    return tree.map((mi: tf.Tensor, gi: tf.Tensor) => tf.add(tf.mul(mi, keep), tf.mul(order === 1 ? gi : tf.square(gi), take)), m, g);
  });
}

function assertDecay(name: string, value: number): void {
  assertInRange(name, value, 0, 1, { hiOpen: true });
}

/** State of {@link trace}. */
export interface TraceState {
  /** The momentum trace t, shaped like the params. */
  readonly trace: Tree;
}

/** Options of {@link trace}. */
export interface TraceOptions {
  /** Output `g + decay · t` (Nesterov) instead of `t` (default false). */
  nesterov?: boolean;
}

const TRACE_DEFAULTS = { nesterov: false } as const satisfies Defaults<TraceOptions>;

/**
 * Momentum: `t ← g + decay · t`, output `t` (or `g + decay · t` with Nesterov).
 *
 * @example
 * const tx = chain(trace(0.9), scaleByLearningRate(0.1));   // heavy-ball SGD
 * @see Polyak (1964); Sutskever et al., "On the importance of initialization and momentum" (2013).
 */
export function trace(decay: number, options: TraceOptions = {}): GradientTransformation<TraceState> {
  const { nesterov } = resolveOptions('trace', options, TRACE_DEFAULTS);
  assertDecay('decay', decay);
  return {
    init: (params) => ({ trace: tree.zerosLike(params) }),
    update: (updates, state) => {
      tree.assertFloat(updates);
      return tree.tidy(() => {
        const t = tree.axpy(decay, state.trace, updates);
        const out = nesterov ? tree.axpy(decay, t, updates) : tree.clone(t);
        return [out, { trace: t }] as [Tree, TraceState];
      });
    },
  };
}

/** State of {@link ema}. */
export interface EmaState {
  /** Steps taken so far (the t of the debiasing 1 − decay^t). */
  readonly count: number;
  /** The EMA e of the updates, shaped like the params. */
  readonly ema: Tree;
}

/** Options of {@link ema}. */
export interface EmaOptions {
  /** Output the bias-corrected `e / (1 − decay^t)` (default true). */
  debias?: boolean;
}

const EMA_DEFAULTS = { debias: true } as const satisfies Defaults<EmaOptions>;

/**
 * Exponential moving average: `e ← decay · e + (1 − decay) · g`, output `e / (1 − decay^t)` with
 * `debias` (the default) or `e`.
 *
 * @example
 * const tx = ema(0.99);   // Polyak averaging of the updates
 */
export function ema(decay: number, options: EmaOptions = {}): GradientTransformation<EmaState> {
  const { debias } = resolveOptions('ema', options, EMA_DEFAULTS);
  assertDecay('decay', decay);
  return {
    init: (params) => ({ count: 0, ema: tree.zerosLike(params) }),
    update: (updates, state) => {
      tree.assertFloat(updates);
      const count = state.count + 1;
      return tree.tidy(() => {
        const e = updateMoment(state.ema, updates, decay, 1);
        const out = debias ? tree.scale(e, 1 / (1 - decay ** count)) : tree.clone(e);
        return [out, { count, ema: e }] as [Tree, EmaState];
      });
    },
  };
}

/** State of {@link scaleByAdam}. */
export interface ScaleByAdamState {
  /** Steps taken so far (t of the bias corrections). */
  readonly count: number;
  /** First moment m (EMA of the gradients), shaped like the params. */
  readonly mu: Tree;
  /** Second moment v (EMA of the squared gradients), shaped like the params. */
  readonly nu: Tree;
  /** Running maximum of ν̂ (AMSGrad only, else null). */
  readonly nuMax: Tree | null;
}

/** Options of {@link scaleByAdam}. */
export interface ScaleByAdamOptions {
  /** Decay of the first moment (default 0.9). */
  b1?: number;
  /** Decay of the second moment (default 0.999). */
  b2?: number;
  /** Added to the denominator outside the root (default 1e-8). */
  eps?: number;
  /** Added to v̂ inside the root (default 0). */
  epsRoot?: number;
  /** Nesterov momentum (NAdam; default false). */
  nesterov?: boolean;
  /** Divide by the running maximum of v̂ (AMSGrad; default false). */
  amsgrad?: boolean;
}

/** Defaults of {@link ScaleByAdamOptions} (Optax's). */
export const SCALE_BY_ADAM_DEFAULTS = {
  b1: 0.9,
  b2: 0.999,
  eps: 1e-8,
  epsRoot: 0,
  nesterov: false,
  amsgrad: false,
} as const satisfies Defaults<ScaleByAdamOptions>;

/**
 * Adam's scaling: `m ← b1 m + (1 − b1) g`, `v ← b2 v + (1 − b2) g²`, output
 * `m̂ / (sqrt(v̂ + epsRoot) + eps)` with `m̂ = m / (1 − b1^t)`, `v̂ = v / (1 − b2^t)`.
 * `nesterov` uses `m̂ = b1 m / (1 − b1^(t+1)) + (1 − b1) g / (1 − b1^t)` (NAdam); `amsgrad` uses the
 * running maximum of `v̂`.
 *
 * @example
 * const tx = chain(scaleByAdam({ b1: 0.9, b2: 0.999 }), scaleByLearningRate(1e-3));
 * @see Kingma & Ba, "Adam" (2015), arXiv 1412.6980; Dozat (2016); Reddi et al. (2018).
 */
export function scaleByAdam(options: ScaleByAdamOptions = {}): GradientTransformation<ScaleByAdamState> {
  const { b1, b2, eps, epsRoot, nesterov, amsgrad } = resolveOptions('scaleByAdam', options, SCALE_BY_ADAM_DEFAULTS);
  assertDecay('b1', b1);
  assertDecay('b2', b2);
  assertNonNegative('eps', eps);
  assertNonNegative('epsRoot', epsRoot);
  return {
    init: (params) => ({
      count: 0,
      mu: tree.zerosLike(params),
      nu: tree.zerosLike(params),
      nuMax: amsgrad ? tree.zerosLike(params) : null,
    }),
    update: (updates, state) => {
      tree.assertFloat(updates);
      const count = state.count + 1;
      return tree.tidy(() => {
        const mu = updateMoment(state.mu, updates, b1, 1);
        const nu = updateMoment(state.nu, updates, b2, 2);
        const c1 = 1 / (1 - b1 ** count);
        const c2 = 1 / (1 - b2 ** count);
        const muHat = nesterov
          ? tree.map((m: tf.Tensor, g: tf.Tensor) => tf.add(tf.mul(m, b1 / (1 - b1 ** (count + 1))), tf.mul(g, (1 - b1) * c1)), mu, updates)
          : tree.scale(mu, c1);
        let nuHat = tree.scale(nu, c2);
        let nuMax: Tree | null = null;
        if (amsgrad && state.nuMax) {
          nuMax = tree.map((a: tf.Tensor, b: tf.Tensor) => tf.maximum(a, b), state.nuMax, nuHat);
          nuHat = nuMax;
        }
        // One scalar tensor each for the tree (a number would become one per leaf).
        const epsT = tf.scalar(eps);
        const epsRootT = epsRoot === 0 ? null : tf.scalar(epsRoot);
        const out = tree.map(
          (m: tf.Tensor, v: tf.Tensor) => tf.div(m, tf.add(tf.sqrt(epsRootT === null ? v : tf.add(v, epsRootT)), epsT)),
          muHat,
          nuHat,
        );
        return [out, { count, mu, nu, nuMax }] as [Tree, ScaleByAdamState];
      });
    },
  };
}

/** AMSGrad's scaling: {@link scaleByAdam} with `amsgrad: true` (Reddi et al. 2018). */
export function scaleByAmsgrad(options: Omit<ScaleByAdamOptions, 'amsgrad'> = {}): GradientTransformation<ScaleByAdamState> {
  checkOptionKeys(
    'scaleByAmsgrad',
    options,
    Object.keys(SCALE_BY_ADAM_DEFAULTS).filter((k) => k !== 'amsgrad'),
  );
  return scaleByAdam({ ...options, amsgrad: true });
}

/** Options of {@link scaleByRms} and {@link scaleByStddev} (Optax's names and defaults). */
export interface ScaleByRmsOptions {
  /** Decay of the moments (default 0.9). */
  decay?: number;
  /** Added inside the root (default 1e-8). */
  eps?: number;
  /** Initial value of the second moment (default 0). */
  initialScale?: number;
}

/** Defaults of {@link ScaleByRmsOptions}. */
export const SCALE_BY_RMS_DEFAULTS = { decay: 0.9, eps: 1e-8, initialScale: 0 } as const satisfies Defaults<ScaleByRmsOptions>;

/** State of {@link scaleByRms}. */
export interface ScaleByRmsState {
  /** EMA v of the squared gradients (starts at `initialScale`). */
  readonly nu: Tree;
}

/**
 * RMSProp's scaling: `v ← decay v + (1 − decay) g²`, output `g / sqrt(v + eps)` (eps inside the
 * root, as Optax's default and tfjs's `tf.train.rmsprop`).
 *
 * @example
 * const tx = chain(scaleByRms({ decay: 0.9 }), scaleByLearningRate(1e-3));
 * @see Tieleman & Hinton, Lecture 6.5 (2012).
 */
export function scaleByRms(options: ScaleByRmsOptions = {}): GradientTransformation<ScaleByRmsState> {
  const { decay, eps, initialScale } = resolveOptions('scaleByRms', options, SCALE_BY_RMS_DEFAULTS);
  assertDecay('decay', decay);
  assertNonNegative('eps', eps);
  assertNonNegative('initialScale', initialScale);
  return {
    init: (params) => ({ nu: tree.fullLike(params, initialScale) }),
    update: (updates, state) => {
      tree.assertFloat(updates);
      return tree.tidy(() => {
        const nu = updateMoment(state.nu, updates, decay, 2);
        const out = tree.map((g: tf.Tensor, v: tf.Tensor) => tf.div(g, tf.sqrt(tf.add(v, eps))), updates, nu);
        return [out, { nu }] as [Tree, ScaleByRmsState];
      });
    },
  };
}

/** State of {@link scaleByStddev}. */
export interface ScaleByStddevState {
  /** EMA m of the gradients. */
  readonly mu: Tree;
  /** EMA v of the squared gradients (starts at `initialScale`). */
  readonly nu: Tree;
}

/**
 * Centered RMSProp's scaling: `m ← decay m + (1 − decay) g`, `v ← decay v + (1 − decay) g²`, output
 * `g / sqrt(v − m² + eps)`.
 *
 * @example
 * const tx = chain(scaleByStddev(), scaleByLearningRate(1e-3));   // centered RMSProp
 * @see Graves, "Generating Sequences With Recurrent Neural Networks" (2013), arXiv 1308.0850.
 */
export function scaleByStddev(options: ScaleByRmsOptions = {}): GradientTransformation<ScaleByStddevState> {
  const { decay, eps, initialScale } = resolveOptions('scaleByStddev', options, SCALE_BY_RMS_DEFAULTS);
  assertDecay('decay', decay);
  assertNonNegative('eps', eps);
  assertNonNegative('initialScale', initialScale);
  return {
    init: (params) => ({ mu: tree.zerosLike(params), nu: tree.fullLike(params, initialScale) }),
    update: (updates, state) => {
      tree.assertFloat(updates);
      return tree.tidy(() => {
        const mu = updateMoment(state.mu, updates, decay, 1);
        const nu = updateMoment(state.nu, updates, decay, 2);
        const out = tree.map(
          (g: tf.Tensor, m: tf.Tensor, v: tf.Tensor) => tf.div(g, tf.sqrt(tf.add(tf.sub(v, tf.square(m)), eps))),
          updates,
          mu,
          nu,
        );
        return [out, { mu, nu }] as [Tree, ScaleByStddevState];
      });
    },
  };
}

/** Options of {@link scaleByRss} (Optax's names and defaults). */
export interface ScaleByRssOptions {
  /** Initial value of the running sum (default 0.1). */
  initialAccumulatorValue?: number;
  /** Added inside the root (default 1e-7). */
  eps?: number;
}

/** Defaults of {@link ScaleByRssOptions}. */
export const SCALE_BY_RSS_DEFAULTS = { initialAccumulatorValue: 0.1, eps: 1e-7 } as const satisfies Defaults<ScaleByRssOptions>;

/** State of {@link scaleByRss}. */
export interface ScaleByRssState {
  /** Running sum s of the squared gradients (starts at `initialAccumulatorValue`). */
  readonly sumOfSquares: Tree;
}

/**
 * Adagrad's scaling: `s ← s + g²`, output `g / sqrt(s + eps)` (0 where s = 0).
 *
 * @example
 * const tx = chain(scaleByRss(), scaleByLearningRate(0.1));
 * @see Duchi, Hazan & Singer, "Adaptive Subgradient Methods" (JMLR 2011).
 */
export function scaleByRss(options: ScaleByRssOptions = {}): GradientTransformation<ScaleByRssState> {
  const { initialAccumulatorValue, eps } = resolveOptions('scaleByRss', options, SCALE_BY_RSS_DEFAULTS);
  assertNonNegative('initialAccumulatorValue', initialAccumulatorValue);
  assertNonNegative('eps', eps);
  return {
    init: (params) => ({ sumOfSquares: tree.fullLike(params, initialAccumulatorValue) }),
    update: (updates, state) => {
      tree.assertFloat(updates);
      return tree.tidy(() => {
        const s = tree.map((a: tf.Tensor, g: tf.Tensor) => tf.add(a, tf.square(g)), state.sumOfSquares, updates);
        const out = tree.map(
          (g: tf.Tensor, si: tf.Tensor) => tf.where(tf.greater(si, 0), tf.mul(g, tf.rsqrt(tf.add(si, eps))), tf.zerosLike(g)),
          updates,
          s,
        );
        return [out, { sumOfSquares: s }] as [Tree, ScaleByRssState];
      });
    },
  };
}

/** Options of {@link scaleByLion} (Optax's names and defaults). */
export interface ScaleByLionOptions {
  /** Interpolation of the momentum and the gradient in the sign (default 0.9). */
  b1?: number;
  /** Decay of the momentum (default 0.99). */
  b2?: number;
}

/** Defaults of {@link ScaleByLionOptions}. */
export const SCALE_BY_LION_DEFAULTS = { b1: 0.9, b2: 0.99 } as const satisfies Defaults<ScaleByLionOptions>;

/** State of {@link scaleByLion}. */
export interface ScaleByLionState {
  /** EMA m of the gradients (decay b2). */
  readonly mu: Tree;
}

/**
 * Lion's scaling: output `sign(b1 m + (1 − b1) g)`, then `m ← b2 m + (1 − b2) g`.
 *
 * @example
 * const tx = chain(scaleByLion(), scaleByLearningRate(1e-4));
 *
 * @see Chen et al., "Symbolic Discovery of Optimization Algorithms" (2023), arXiv 2302.06675.
 */
export function scaleByLion(options: ScaleByLionOptions = {}): GradientTransformation<ScaleByLionState> {
  const { b1, b2 } = resolveOptions('scaleByLion', options, SCALE_BY_LION_DEFAULTS);
  assertDecay('b1', b1);
  assertDecay('b2', b2);
  return {
    init: (params) => ({ mu: tree.zerosLike(params) }),
    update: (updates, state) => {
      tree.assertFloat(updates);
      return tree.tidy(() => {
        const out = tree.map((m: tf.Tensor, g: tf.Tensor) => tf.sign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1))), state.mu, updates);
        return [out, { mu: updateMoment(state.mu, updates, b2, 1) }] as [Tree, ScaleByLionState];
      });
    },
  };
}
