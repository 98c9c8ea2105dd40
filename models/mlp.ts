/**
 * Multilayer perceptrons: the forward pass over params `{ w1, b1, ..., wL, bL }`, its closed-form
 * linearization ({@link Objective.linearize}), and the objective carrying both hooks (the row Gram
 * of the dense layers, and the linearization).
 * @module
 */
import { checkOptionKeys } from '../lib/options';
import * as tf from '@tensorflow/tfjs-core';
import { HyperparameterError, InputError } from '../lib/errors';
import type { Linearization, Objective, OutputLoss, OutputLossName } from '../lib/objective';
import * as tree from '../lib/tree';
import type { Tree } from '../lib/types';
import { denseObjective } from './dense';
import { activationLayer, chainLinearization, denseLayer } from './layerChain';
import type { ChainLinearization } from './layerChain';
import type { DenseForward, DenseObjective } from './dense';

/** An elementwise activation: a name, or a function of tensors. */
export type Activation = 'tanh' | 'relu' | 'sigmoid' | 'softplus' | 'elu' | 'linear' | ((z: tf.Tensor) => tf.Tensor);

const ACTIVATIONS: Record<Exclude<Activation, (z: tf.Tensor) => tf.Tensor>, (z: tf.Tensor) => tf.Tensor> = {
  tanh: tf.tanh,
  relu: tf.relu,
  sigmoid: tf.sigmoid,
  softplus: tf.softplus,
  elu: tf.elu,
  linear: (z) => z,
};

/** The activation function of a name (or the function itself). */
function activationFn(activation: Activation): (z: tf.Tensor) => tf.Tensor {
  if (typeof activation === 'function') return activation;
  const fn = ACTIVATIONS[activation];
  if (fn === undefined)
    throw new HyperparameterError(
      `unknown activation '${activation}': use one of ${Object.keys(ACTIVATIONS)
        .map((a) => `'${a}'`)
        .join(', ')} or a function`,
    );
  return fn;
}

/** The number of layers L of MLP params `{ w1, b1, ..., wL, bL }` (throws on any other shape of tree). */
function mlpDepth(params: Tree): number {
  const keys = tree.isTensor(params) || Array.isArray(params) ? [] : Object.keys(params);
  const depth = keys.length / 2;
  const expected = Array.from({ length: depth }, (_, l) => [`w${l + 1}`, `b${l + 1}`]).flat();
  if (depth < 1 || !Number.isInteger(depth) || expected.some((k) => !keys.includes(k))) {
    throw new InputError(`mlpObjective: params must be { w1, b1, ..., wL, bL }, got keys {${keys.join(', ')}}`);
  }
  return depth;
}

/**
 * The forward pass of an MLP with params `{ w1, b1, ..., wL, bL }` (`wₗ: [nₗ₋₁, nₗ]`, `bₗ: [nₗ]`):
 * aₗ = σ(aₗ₋₁ Wₗ + bₗ), a₀ = x, linear last layer (logits or regression outputs).
 */
export function mlpForward(activation: Activation = 'tanh'): DenseForward<tf.Tensor> {
  const sigma = activationFn(activation);
  return (params, x, dense) => {
    const p = params as Record<string, tf.Tensor>;
    const depth = mlpDepth(params);
    let a = x;
    for (let l = 1; l <= depth; l++) {
      const z = dense(a, p[`w${l}`], p[`b${l}`]);
      a = l < depth ? sigma(z) : z;
    }
    return a;
  };
}

/**
 * The MLP of `mlpForward` linearized in closed form ({@link Linearization}): the chain
 * dense → σ → … → dense of `layerChain.ts`, whose one forward pass keeps each layer's input aₗ₋₁
 * (and its transpose), Wₗᵀ and the slopes σ'(zₗ); then, without a gradient tape,
 *
 *   J v:  żₗ = ȧₗ₋₁ Wₗ + aₗ₋₁ Vₗ + vbₗ,  ȧₗ = σ'(zₗ) ⊙ żₗ  (ȧ₀ = 0),  J v = ż_L;
 *   Jᵀu:  δ_L = u,  ∂Wₗ = aₗ₋₁ᵀ δₗ,  ∂bₗ = Σᵢ δₗᵢ,  δₗ₋₁ = (δₗ Wₗᵀ) ⊙ σ'(zₗ₋₁);
 *
 * and the row Gram Σₗ (Aₗ₋₁Aₗ₋₁ᵀ + 1) ⊙ (ΔₗΔₗᵀ) from the deltas of the same backward sweep
 * (`rowGram`), with no forward pass of its own. Each product is two matrix products per layer (a
 * tape-based JVP by double VJP runs about three backward passes). σ' is the elementwise
 * derivative of the activation, by autodiff.
 *
 * @see Pearlmutter (1994), Schraudolph (2002) for the forward (R-op) pass of a network.
 */
export function mlpLinearize(activation: Activation = 'tanh'): (params: Tree, x: tf.Tensor) => ChainLinearization {
  const sigma = activationLayer(activationFn(activation));
  const chains = new Map<number, (params: Tree, x: tf.Tensor) => ChainLinearization>();
  const chainOf = (depth: number) => {
    const layers = Array.from({ length: depth }, (_, l) => [denseLayer(`w${l + 1}`, `b${l + 1}`), ...(l < depth - 1 ? [sigma] : [])]);
    return chainLinearization(layers.flat());
  };
  return (params, x) => {
    const depth = mlpDepth(params);
    if (!chains.has(depth)) chains.set(depth, chainOf(depth));
    return (chains.get(depth) as (params: Tree, x: tf.Tensor) => ChainLinearization)(params, x);
  };
}

/** Options of {@link mlpObjective}. */
export interface MlpObjectiveOptions {
  /** Hidden-layer activation (default `'tanh'`); the last layer is linear. */
  readonly activation?: Activation;
  /** The output loss. */
  readonly loss: OutputLossName | OutputLoss;
}

/** An MLP objective: {@link denseObjective} of `mlpForward`, and an initializer. */
export interface MlpObjective extends DenseObjective<tf.Tensor> {
  /**
   * LeCun-normal weights (std 1/√fan-in, seed `seed + l` for wₗ) and zero biases for layer sizes
   * `[n₀, n₁, ..., n_L]`: params `{ w1, b1, ..., wL, bL }`, the same on every call.
   */
  init(sizes: readonly number[], seed?: number): Tree;
  /** The closed-form linearization of the MLP (`mlpLinearize`): fast J v and Jᵀ u. */
  linearize(params: Tree, x: tf.Tensor): ChainLinearization;
}

/**
 * The objective of a multilayer perceptron, f(x) = W_L σ(... σ(x W₁ + b₁) ...) + b_L with params
 * `{ w1, b1, ..., wL, bL }`, carrying the fast {@link Objective.rowGram} of the delta trick
 * (`denseRowGram`), so that `egn`, `ignd` and `swmng` never form Jacobian rows: on an MLP
 * 784-128-10 with a curvature batch of 32, J Jᵀ costs a few gradients instead of hundreds; and
 * the closed-form {@link Objective.linearize} (`mlpLinearize`), so that the Gauss-Newton
 * products of `sgn`, `ggnvp` and the row products J v, Jᵀ u skip the gradient tape.
 *
 * @see Goodfellow, "Efficient per-example gradient computations" (2015), arXiv 1510.01799;
 *   Korbit et al., "Exact Gauss-Newton optimization" (2024), arXiv 2405.14402.
 * @example
 * const objective = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });
 * const params = objective.init([784, 128, 10]);
 * const tx = egn(objective, { lam0: 1 });
 */
export function mlpObjective(options: MlpObjectiveOptions): MlpObjective {
  checkOptionKeys('mlpObjective', options, ['activation', 'loss']);
  const { activation = 'tanh', loss } = options;
  const base = denseObjective({ forward: mlpForward(activation), loss });
  const layerParams = (params: Tree) => Array.from({ length: mlpDepth(params) }, (_, l) => ({ weight: `w${l + 1}`, bias: `b${l + 1}` }));
  return { ...base, linearize: mlpLinearize(activation), layerParams, init: mlpInit };
}

/** LeCun-normal weights and zero biases for layer sizes `sizes` (see {@link MlpObjective.init}). */
function mlpInit(sizes: readonly number[], seed = 0): Tree {
  if (sizes.length < 2 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new HyperparameterError(
      `mlpObjective.init: sizes must be at least two positive integers [inputs, ..., outputs], got [${sizes.join(', ')}]`,
    );
  }
  return tf.tidy(() =>
    Object.fromEntries(
      sizes.slice(1).flatMap((n, i) => [
        [`w${i + 1}`, tf.mul(tf.randomNormal([sizes[i], n], 0, 1, 'float32', seed + i + 1), Math.sqrt(1 / sizes[i]))],
        [`b${i + 1}`, tf.zeros([n])],
      ]),
    ),
  );
}
