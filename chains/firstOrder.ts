/**
 * First-order optimizers (Optax `alias.py`), each nothing but a {@link chain} of transforms.
 * Every alias ends with `scaleByLearningRate`, so its updates are added to the params.
 * @module
 */
import { chain, identity } from '../lib/combine';
import type { Mask } from '../lib/combine';
import type { GradientTransformation, ScalarOrSchedule } from '../lib/types';
import { addNoise } from '../transforms/misc';
import { scaleByAdam, scaleByLion, scaleByRms, scaleByRss, scaleByStddev, trace } from '../transforms/moments';
import type { ScaleByAdamOptions } from '../transforms/moments';
import { scaleByLearningRate } from '../transforms/scale';
import { addDecayedWeights } from '../transforms/weightDecay';

/** @inline */
type Tx = GradientTransformation<any>;

/**
 * Stochastic gradient descent, with optional (Nesterov) momentum:
 * `t ← g + μ t`, `θ ← θ − lr · t` (or `θ ← θ − lr (g + μ t)` with Nesterov).
 *
 * @example
 * const tx = sgd(0.1, { momentum: 0.9, nesterov: true });
 * @see Robbins & Monro (1951); Sutskever et al. (2013).
 */
export function sgd(learningRate: ScalarOrSchedule, { momentum, nesterov = false }: { momentum?: number; nesterov?: boolean } = {}): Tx {
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
  return chain(scaleByAdam(options), scaleByLearningRate(learningRate));
}

/**
 * AdamW: Adam with decoupled weight decay, `θ ← θ − lr (m̂ / (sqrt(v̂) + eps) + wd · θ)`.
 *
 * @example
 * const tx = adamw(1e-3, { weightDecay: 1e-4, mask: { w: true, b: false } });
 * @see Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (2019), arXiv 1711.05101.
 */
export function adamw(
  learningRate: ScalarOrSchedule,
  { weightDecay = 1e-4, mask, ...options }: Omit<ScaleByAdamOptions, 'amsgrad'> & { weightDecay?: number; mask?: Mask } = {},
): Tx {
  return chain(scaleByAdam(options), addDecayedWeights(weightDecay, { mask }), scaleByLearningRate(learningRate));
}

/**
 * NAdam: Adam with Nesterov momentum (Dozat 2016).
 *
 * @example
 * const tx = nadam(1e-3);
 */
export function nadam(learningRate: ScalarOrSchedule, options: Omit<ScaleByAdamOptions, 'amsgrad' | 'nesterov'> = {}): Tx {
  return chain(scaleByAdam({ ...options, nesterov: true }), scaleByLearningRate(learningRate));
}

/**
 * AMSGrad: Adam with the running maximum of the second moment (Reddi, Kale & Kumar 2018).
 *
 * @example
 * const tx = amsgrad(1e-3);
 */
export function amsgrad(learningRate: ScalarOrSchedule, options: Omit<ScaleByAdamOptions, 'amsgrad' | 'nesterov'> = {}): Tx {
  return chain(scaleByAdam({ ...options, amsgrad: true }), scaleByLearningRate(learningRate));
}

/**
 * RMSProp: `θ ← θ − lr · g / sqrt(v + eps)` (centered: `v − m²`), with optional momentum.
 *
 * @example
 * const tx = rmsprop(1e-3, { decay: 0.9, momentum: 0.9 });
 * @see Tieleman & Hinton (2012); Graves, "Generating Sequences With RNNs" (2013) for the centered form.
 */
export function rmsprop(
  learningRate: ScalarOrSchedule,
  {
    decay = 0.9,
    eps = 1e-8,
    initialScale = 0,
    centered = false,
    momentum,
    nesterov = false,
  }: { decay?: number; eps?: number; initialScale?: number; centered?: boolean; momentum?: number; nesterov?: boolean } = {},
): Tx {
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
export function adagrad(
  learningRate: ScalarOrSchedule,
  { initialAccumulatorValue = 0.1, eps = 1e-7 }: { initialAccumulatorValue?: number; eps?: number } = {},
): Tx {
  return chain(scaleByRss({ initialAccumulatorValue, eps }), scaleByLearningRate(learningRate));
}

/**
 * Lion: `θ ← θ − lr (sign(b1 m + (1 − b1) g) + wd · θ)`.
 *
 * @example
 * const tx = lion(1e-4, { weightDecay: 1e-2 });
 * @see Chen et al., "Symbolic Discovery of Optimization Algorithms" (2023), arXiv 2302.06675.
 */
export function lion(
  learningRate: ScalarOrSchedule,
  { b1 = 0.9, b2 = 0.99, weightDecay = 1e-3, mask }: { b1?: number; b2?: number; weightDecay?: number; mask?: Mask } = {},
): Tx {
  return chain(scaleByLion({ b1, b2 }), addDecayedWeights(weightDecay, { mask }), scaleByLearningRate(learningRate));
}

/**
 * SGD with annealed Gaussian gradient noise, variance `eta / (1 + t)^gamma`.
 *
 * @example
 * const tx = noisySgd(0.01, { eta: 0.01, gamma: 0.55, seed: 0 });
 * @see Neelakantan et al., "Adding Gradient Noise Improves Learning for Very Deep Networks" (2015).
 */
export function noisySgd(
  learningRate: ScalarOrSchedule,
  { eta = 0.01, gamma = 0.55, seed = 0 }: { eta?: number; gamma?: number; seed?: number } = {},
): Tx {
  return chain(addNoise(eta, gamma, seed), scaleByLearningRate(learningRate));
}
