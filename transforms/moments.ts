/**
 * Moment-based transforms (Optax `transform.py`): momentum traces, EMAs, Adam, RMSProp, Adagrad,
 * Lion. Step counters are JS numbers; moments are trees shaped like the params.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInRange, assertNonNegative } from '../lib/errors';
import * as tree from '../lib/tree';
import type { GradientTransformation, Tree } from '../lib/types';

/** `decay · m + (1 − decay) · g` leafwise (order 1) or with g² (order 2). */
function updateMoment(m: Tree, g: Tree, decay: number, order: 1 | 2): Tree {
  return tree.map(
    (mi: tf.Tensor, gi: tf.Tensor) => tf.add(tf.mul(mi, decay), tf.mul(order === 1 ? gi : tf.square(gi), 1 - decay)),
    m,
    g,
  );
}

function assertDecay(name: string, value: number): void {
  assertInRange(name, value, 0, 1, { hiOpen: true });
}

/** State of {@link trace}. */
export interface TraceState {
  /** The momentum trace t, shaped like the params. */
  readonly trace: Tree;
}

/**
 * Momentum: `t ← g + decay · t`, output `t` (or `g + decay · t` with Nesterov).
 *
 * @example
 * const tx = chain(trace(0.9), scaleByLearningRate(0.1));   // heavy-ball SGD
 * @see Polyak (1964); Sutskever et al., "On the importance of initialization and momentum" (2013).
 */
export function trace(decay: number, { nesterov = false }: { nesterov?: boolean } = {}): GradientTransformation<TraceState> {
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

/**
 * Exponential moving average: `e ← decay · e + (1 − decay) · g`, output `e / (1 − decay^t)` with
 * `debias` (the default) or `e`.
 */
export function ema(decay: number, { debias = true }: { debias?: boolean } = {}): GradientTransformation<EmaState> {
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
export function scaleByAdam({
  b1 = 0.9,
  b2 = 0.999,
  eps = 1e-8,
  epsRoot = 0,
  nesterov = false,
  amsgrad = false,
}: ScaleByAdamOptions = {}): GradientTransformation<ScaleByAdamState> {
  assertDecay('b1', b1);
  assertDecay('b2', b2);
  assertNonNegative('eps', eps);
  assertNonNegative('epsRoot', epsRoot);
  return {
    init: (params) => ({ count: 0, mu: tree.zerosLike(params), nu: tree.zerosLike(params), nuMax: amsgrad ? tree.zerosLike(params) : null }),
    update: (updates, state) => {
      tree.assertFloat(updates);
      const count = state.count + 1;
      return tree.tidy(() => {
        const mu = updateMoment(state.mu, updates, b1, 1);
        const nu = updateMoment(state.nu, updates, b2, 2);
        const c1 = 1 / (1 - b1 ** count);
        const c2 = 1 / (1 - b2 ** count);
        const muHat = nesterov
          ? tree.map(
              (m: tf.Tensor, g: tf.Tensor) => tf.add(tf.mul(m, (b1 / (1 - b1 ** (count + 1)))), tf.mul(g, (1 - b1) * c1)),
              mu,
              updates,
            )
          : tree.scale(mu, c1);
        let nuHat = tree.scale(nu, c2);
        let nuMax: Tree | null = null;
        if (amsgrad && state.nuMax) {
          nuMax = tree.map((a: tf.Tensor, b: tf.Tensor) => tf.maximum(a, b), state.nuMax, nuHat);
          nuHat = nuMax;
        }
        const out = tree.map((m: tf.Tensor, v: tf.Tensor) => tf.div(m, tf.add(tf.sqrt(epsRoot === 0 ? v : tf.add(v, epsRoot)), eps)), muHat, nuHat);
        return [out, { count, mu, nu, nuMax }] as [Tree, ScaleByAdamState];
      });
    },
  };
}

/** AMSGrad's scaling: {@link scaleByAdam} with `amsgrad: true` (Reddi et al. 2018). */
export function scaleByAmsgrad(options: Omit<ScaleByAdamOptions, 'amsgrad'> = {}): GradientTransformation<ScaleByAdamState> {
  return scaleByAdam({ ...options, amsgrad: true });
}

/** State of {@link scaleByRms}. */
export interface ScaleByRmsState {
  /** EMA v of the squared gradients (starts at `initialScale`). */
  readonly nu: Tree;
}

/**
 * RMSProp's scaling: `v ← decay v + (1 − decay) g²`, output `g / sqrt(v + eps)` (eps inside the
 * root, as Optax's default and tfjs's `tf.train.rmsprop`).
 *
 * @see Tieleman & Hinton, Lecture 6.5 (2012).
 */
export function scaleByRms({
  decay = 0.9,
  eps = 1e-8,
  initialScale = 0,
}: { decay?: number; eps?: number; initialScale?: number } = {}): GradientTransformation<ScaleByRmsState> {
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
 * `g / sqrt(v − m² + eps)` (Graves 2013).
 */
export function scaleByStddev({
  decay = 0.9,
  eps = 1e-8,
  initialScale = 0,
}: { decay?: number; eps?: number; initialScale?: number } = {}): GradientTransformation<ScaleByStddevState> {
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

/** State of {@link scaleByRss}. */
export interface ScaleByRssState {
  /** Running sum s of the squared gradients (starts at `initialAccumulatorValue`). */
  readonly sumOfSquares: Tree;
}

/**
 * Adagrad's scaling: `s ← s + g²`, output `g / sqrt(s + eps)` (0 where s = 0).
 *
 * @see Duchi, Hazan & Singer, "Adaptive Subgradient Methods" (JMLR 2011).
 */
export function scaleByRss({
  initialAccumulatorValue = 0.1,
  eps = 1e-7,
}: { initialAccumulatorValue?: number; eps?: number } = {}): GradientTransformation<ScaleByRssState> {
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

/** State of {@link scaleByLion}. */
export interface ScaleByLionState {
  /** EMA m of the gradients (decay b2). */
  readonly mu: Tree;
}

/**
 * Lion's scaling: output `sign(b1 m + (1 − b1) g)`, then `m ← b2 m + (1 − b2) g`.
 *
 * @see Chen et al., "Symbolic Discovery of Optimization Algorithms" (2023), arXiv 2302.06675.
 */
export function scaleByLion({ b1 = 0.9, b2 = 0.99 }: { b1?: number; b2?: number } = {}): GradientTransformation<ScaleByLionState> {
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
