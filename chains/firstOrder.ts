/**
 * First-order optimizers (Optax `alias.py`), each nothing but a {@link chain} of transforms.
 * Every alias ends with `scaleByLearningRate`, so its updates are added to the params.
 * @module
 */
import { chain, identity } from '../lib/combine';
import type { Mask } from '../lib/combine';
import type { GradientTransformation, ScalarOrSchedule } from '../lib/types';
import { addNoise } from '../transforms/misc';
import { checkOptionKeys, resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';
import {
  SCALE_BY_ADAM_DEFAULTS,
  SCALE_BY_RMS_DEFAULTS,
  SCALE_BY_RSS_DEFAULTS,
  scaleByAdam,
  scaleByLion,
  scaleByRms,
  scaleByRss,
  scaleByStddev,
  trace,
} from '../transforms/moments';
import type { ScaleByAdamOptions, ScaleByRmsOptions, ScaleByRssOptions } from '../transforms/moments';
import { scaleByLearningRate } from '../transforms/scale';
import { addDecayedWeights } from '../transforms/weightDecay';

/** @inline */
type Tx = GradientTransformation<readonly unknown[]>;

/** The keys of Adam's options an alias accepts (all but those it sets itself). */
function adamKeys(...fixed: (keyof ScaleByAdamOptions)[]): string[] {
  return Object.keys(SCALE_BY_ADAM_DEFAULTS).filter((k) => !fixed.includes(k as keyof ScaleByAdamOptions));
}

/** Options of {@link sgd}. */
export interface SgdOptions {
  /** Momentum decay μ (default none: plain SGD). */
  momentum?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
}

const SGD_DEFAULTS = { momentum: undefined, nesterov: false } as const satisfies Defaults<SgdOptions>;

/**
 * Stochastic gradient descent, with optional (Nesterov) momentum:
 * `t ← g + μ t`, `θ ← θ − lr · t` (or `θ ← θ − lr (g + μ t)` with Nesterov).
 *
 * @example
 * const tx = sgd(0.1, { momentum: 0.9, nesterov: true });
 * @see Robbins & Monro (1951); Sutskever et al. (2013).
 */
export function sgd(learningRate: ScalarOrSchedule, options: SgdOptions = {}): Tx {
  const { momentum, nesterov } = resolveOptions('sgd', options, SGD_DEFAULTS);
  return chain(momentum === undefined ? identity() : trace(momentum, { nesterov }), scaleByLearningRate(learningRate));
}

/**
 * Adam: `θ ← θ − lr · m̂ / (sqrt(v̂ + epsRoot) + eps)`.
 *
 * @example
 * const tx = adam(1e-3, { b1: 0.9, b2: 0.999 });
 * @see Kingma & Ba, "Adam: A Method for Stochastic Optimization" (2015), arXiv 1412.6980.
 */
export function adam(learningRate: ScalarOrSchedule, options: Omit<ScaleByAdamOptions, 'amsgrad'> = {}): Tx {
  checkOptionKeys('adam', options, adamKeys('amsgrad'));
  return chain(scaleByAdam(options), scaleByLearningRate(learningRate));
}

/** Options of {@link adamw}: Adam's, and the decoupled weight decay. */
export interface AdamwOptions extends Omit<ScaleByAdamOptions, 'amsgrad'> {
  /** Weight decay coefficient (default 1e-4, as Optax). */
  weightDecay?: number;
  /** Which params decay (a tree of booleans or a function of the params; default all). */
  mask?: Mask;
}

/**
 * AdamW: Adam with decoupled weight decay, `θ ← θ − lr (m̂ / (sqrt(v̂) + eps) + wd · θ)`.
 *
 * @example
 * const tx = adamw(1e-3, { weightDecay: 1e-4, mask: { w: true, b: false } });
 * @see Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (2019), arXiv 1711.05101.
 */
export function adamw(learningRate: ScalarOrSchedule, options: AdamwOptions = {}): Tx {
  checkOptionKeys('adamw', options, [...adamKeys('amsgrad'), 'weightDecay', 'mask']);
  const { weightDecay = 1e-4, mask, ...adamOptions } = options;
  return chain(scaleByAdam(adamOptions), addDecayedWeights(weightDecay, { mask }), scaleByLearningRate(learningRate));
}

/**
 * NAdam: Adam with Nesterov momentum (Dozat 2016).
 *
 * @example
 * const tx = nadam(1e-3);
 */
export function nadam(learningRate: ScalarOrSchedule, options: Omit<ScaleByAdamOptions, 'amsgrad' | 'nesterov'> = {}): Tx {
  checkOptionKeys('nadam', options, adamKeys('amsgrad', 'nesterov'));
  return chain(scaleByAdam({ ...options, nesterov: true }), scaleByLearningRate(learningRate));
}

/**
 * AMSGrad: Adam with the running maximum of the second moment (Reddi, Kale & Kumar 2018).
 *
 * @example
 * const tx = amsgrad(1e-3);
 */
export function amsgrad(learningRate: ScalarOrSchedule, options: Omit<ScaleByAdamOptions, 'amsgrad' | 'nesterov'> = {}): Tx {
  checkOptionKeys('amsgrad', options, adamKeys('amsgrad', 'nesterov'));
  return chain(scaleByAdam({ ...options, amsgrad: true }), scaleByLearningRate(learningRate));
}

/** Options of {@link rmsprop} (Optax's names and defaults). */
export interface RmspropOptions extends ScaleByRmsOptions, SgdOptions {
  /** Divide by the standard deviation instead of the root mean square (default false). */
  centered?: boolean;
}

const RMSPROP_DEFAULTS = { ...SCALE_BY_RMS_DEFAULTS, ...SGD_DEFAULTS, centered: false } as const satisfies Defaults<RmspropOptions>;

/**
 * RMSProp: `θ ← θ − lr · g / sqrt(v + eps)` (centered: `v − m²`), with optional momentum.
 *
 * @example
 * const tx = rmsprop(1e-3, { decay: 0.9, momentum: 0.9 });
 * @see Tieleman & Hinton (2012); Graves, "Generating Sequences With RNNs" (2013) for the centered form.
 */
export function rmsprop(learningRate: ScalarOrSchedule, options: RmspropOptions = {}): Tx {
  const { decay, eps, initialScale, centered, momentum, nesterov } = resolveOptions('rmsprop', options, RMSPROP_DEFAULTS);
  // Optax's order: the learning rate before the momentum trace (they differ under a schedule).
  return chain(
    centered ? scaleByStddev({ decay, eps, initialScale }) : scaleByRms({ decay, eps, initialScale }),
    scaleByLearningRate(learningRate),
    momentum === undefined ? identity() : trace(momentum, { nesterov }),
  );
}

/**
 * Adagrad: `s ← s + g²`, `θ ← θ − lr · g / sqrt(s + eps)`.
 *
 * @example
 * const tx = adagrad(0.1);
 * @see Duchi, Hazan & Singer (JMLR 2011).
 */
export function adagrad(learningRate: ScalarOrSchedule, options: ScaleByRssOptions = {}): Tx {
  checkOptionKeys('adagrad', options, Object.keys(SCALE_BY_RSS_DEFAULTS));
  return chain(scaleByRss(options), scaleByLearningRate(learningRate));
}

/** Options of {@link lion} (Optax's names and defaults). */
export interface LionOptions {
  /** Interpolation of the momentum and the gradient in the sign (default 0.9). */
  b1?: number;
  /** Decay of the momentum (default 0.99). */
  b2?: number;
  /** Decoupled weight decay (default 1e-3). */
  weightDecay?: number;
  /** Which params decay (default all). */
  mask?: Mask;
}

const LION_DEFAULTS = { b1: 0.9, b2: 0.99, weightDecay: 1e-3, mask: undefined } as const satisfies Defaults<LionOptions>;

/**
 * Lion: `θ ← θ − lr (sign(b1 m + (1 − b1) g) + wd · θ)`.
 *
 * @example
 * const tx = lion(1e-4, { weightDecay: 1e-2 });
 * @see Chen et al., "Symbolic Discovery of Optimization Algorithms" (2023), arXiv 2302.06675.
 */
export function lion(learningRate: ScalarOrSchedule, options: LionOptions = {}): Tx {
  const { b1, b2, weightDecay, mask } = resolveOptions('lion', options, LION_DEFAULTS);
  return chain(scaleByLion({ b1, b2 }), addDecayedWeights(weightDecay, { mask }), scaleByLearningRate(learningRate));
}

/** Options of {@link noisySgd} (Optax's names and defaults). */
export interface NoisySgdOptions {
  /** Initial noise variance (default 0.01). */
  eta?: number;
  /** Decay exponent of the variance (default 0.55). */
  gamma?: number;
  /** Seed of the noise (default 0). */
  seed?: number;
}

const NOISY_SGD_DEFAULTS = { eta: 0.01, gamma: 0.55, seed: 0 } as const satisfies Defaults<NoisySgdOptions>;

/**
 * SGD with annealed Gaussian gradient noise, variance `eta / (1 + t)^gamma`.
 *
 * @example
 * const tx = noisySgd(0.01, { eta: 0.01, gamma: 0.55, seed: 0 });
 * @see Neelakantan et al., "Adding Gradient Noise Improves Learning for Very Deep Networks" (2015).
 */
export function noisySgd(learningRate: ScalarOrSchedule, options: NoisySgdOptions = {}): Tx {
  const { eta, gamma, seed } = resolveOptions('noisySgd', options, NOISY_SGD_DEFAULTS);
  return chain(addNoise(eta, gamma, seed), scaleByLearningRate(learningRate));
}
