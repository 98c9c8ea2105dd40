/**
 * Models made of dense layers, with the row Gram of their per-sample vector-Jacobian products in
 * closed form ({@link Objective.rowGram}) by the per-example "delta" trick: one backward pass of the
 * batch tiled K times, differentiated with respect to zero perturbations of every dense layer's
 * pre-activation, gives the per-sample deltas Δₗ, and
 *
 *   R Rᵀ = Σₗ (Aₗ₋₁Aₗ₋₁ᵀ + 1) ⊙ (Δₗ Δₗᵀ)      (Aₗ₋₁: the layer's inputs, + 1 for its bias),
 *
 * since the gradient of sample i with respect to the weights of layer l is aₗ₋₁,ᵢ ⊗ δₗ,ᵢ.
 * On an MLP 784-128-10 with 32 samples × 10 outputs, J Jᵀ costs a few gradients instead of hundreds.
 *
 * @see Goodfellow, "Efficient per-example gradient computations" (2015), arXiv 1510.01799;
 *   Korbit et al., "Exact Gauss-Newton optimization" (2024), arXiv 2405.14402.
 * @module
 */
import { checkOptionKeys } from '../lib/options';
import * as tf from '@tensorflow/tfjs-core';
import { HyperparameterError, InputError } from '../lib/errors';
import { batchSize, checkObjective } from '../lib/objective';
import type { Objective, OutputLoss, OutputLossName } from '../lib/objective';
import { outerGram, repeatRows } from '../lib/ops';
import * as tree from '../lib/tree';
import type { Tree } from '../lib/types';

/**
 * A dense layer as a model's forward pass applies it: `z = a W + b`, with `a` of shape `[N, in]`,
 * `W` a parameter leaf of shape `[in, out]` and the optional bias `b` a parameter leaf `[out]`.
 */
export type DenseLayer = (a: tf.Tensor, w: tf.Tensor, b?: tf.Tensor) => tf.Tensor;

/**
 * A model's forward pass written with a {@link DenseLayer}: every parameter leaf enters the model
 * through exactly one dense layer (as its weight or its bias), and samples do not interact (no
 * batch normalization). Everything else (activations, skip connections, ...) is free.
 */
export type DenseForward<X = tf.Tensor> = (params: Tree, x: X, dense: DenseLayer) => tf.Tensor;

/** The plain dense layer `a W + b`. */
const affine: DenseLayer = (a, w, b) => {
  const z = tf.matMul(a as tf.Tensor2D, w as tf.Tensor2D);
  return b === undefined ? z : tf.add(z, b);
};

/** What the delta trick needs of one dense layer: its input A (`[B, in]`), width, and bias. */
interface DenseCall {
  readonly input: tf.Tensor2D;
  readonly width: number;
  readonly hasBias: boolean;
}

/**
 * Runs `forward` once and records each dense layer's input and width; throws unless every
 * parameter leaf enters through exactly one dense layer (a leaf used elsewhere or twice would make
 * the Gram wrong, silently).
 */
function recordDenseLayers<X>(forward: DenseForward<X>, params: Tree, x: X): { calls: DenseCall[]; outputs: tf.Tensor } {
  const leaves = tree.leaves(params);
  const paths = tree.paths(params, 'params');
  const unused = new Set(leaves);
  const claim = (t: tf.Tensor | undefined, role: string) => {
    if (t === undefined || unused.delete(t)) return;
    throw new InputError(
      leaves.includes(t)
        ? `denseObjective: ${paths[leaves.indexOf(t)]} is used by two dense layers (shared weights are not supported by the row Gram)`
        : `denseObjective: a dense layer's ${role} is not a parameter leaf (pass params' tensors to dense() as they are)`,
    );
  };
  const calls: DenseCall[] = [];
  const dense: DenseLayer = (a, w, b) => {
    claim(w, 'weight');
    claim(b, 'bias');
    if (a.rank !== 2 || w.rank !== 2) {
      throw new InputError(
        `denseObjective: dense(a, w) needs a of rank 2 and w of rank 2, got [${a.shape.join(', ')}] and [${w.shape.join(', ')}]`,
      );
    }
    calls.push({ input: a as tf.Tensor2D, width: w.shape[1] as number, hasBias: b !== undefined });
    return affine(a, w, b);
  };
  const outputs = forward(params, x, dense);
  if (unused.size > 0) {
    const names = leaves.filter((t) => unused.has(t)).map((t) => paths[leaves.indexOf(t)]);
    throw new InputError(
      `denseObjective: ${names.join(', ')} ${names.length > 1 ? 'do' : 'does'} not enter the model through a dense layer; the row ` +
        `Gram would miss ${names.length > 1 ? 'them' : 'it'}`,
    );
  }
  return { calls, outputs };
}

/** A `[K·B, w]` matrix in copy-major order (row c·B + i) reordered sample-major (row i·K + c). */
export function sampleMajor(rows: tf.Tensor, k: number, b: number): tf.Tensor2D {
  return k === 1 ? (rows as tf.Tensor2D) : tf.reshape(tf.transpose(tf.reshape(rows, [k, b, -1]), [1, 0, 2]), [b * k, -1]);
}

/**
 * One dense layer's share of the Gram, `(A Aᵀ + 1) ⊙ (Δ Δᵀ)` with A Aᵀ (`[B, B]`) broadcast over
 * the K × K cotangent pairs of each pair of samples; the `+ 1` (bias) only when the layer has one.
 */
export function denseLayerGram(input: tf.Tensor2D, deltas: tf.Tensor, k: number, hasBias: boolean): tf.Tensor2D {
  const b = input.shape[0];
  const inputs = outerGram(input);
  const inner = hasBias ? tf.add(inputs, 1) : inputs;
  const outer = outerGram(sampleMajor(deltas, k, b));
  return tf.reshape(tf.mul(tf.reshape(outer, [b, k, b, k]), tf.reshape(inner, [b, 1, b, 1])), [b * k, b * k]);
}

/**
 * The {@link Objective.rowGram} of a model made of dense layers, by the delta trick: one forward
 * pass to record each layer's input Aₗ₋₁, then one backward pass of the batch tiled K times with
 * the cotangents `U` (`[K, ...outputs.shape]`), differentiated with respect to zero perturbations
 * εₗ added to every pre-activation, gives the per-sample deltas Δₗ = ∂⟨U, f⟩/∂εₗ; then
 *
 *   G = Σₗ (Aₗ₋₁Aₗ₋₁ᵀ + 1) ⊙ (ΔₗΔₗᵀ),   G[(i,k),(j,l)] = ⟨Jᵢᵀ U[k,i], Jⱼᵀ U[l,j]⟩.
 *
 * Exact whenever samples do not interact. About one forward and backward pass of K·B samples
 * (the weight gradients are never formed) plus the small Gram products.
 *
 * @see Goodfellow, "Efficient per-example gradient computations" (2015), arXiv 1510.01799.
 * @example
 * const gram = denseRowGram(mlpForward('tanh'))(params, x, outputBasis(outputs)); // J Jᵀ
 */
export function denseRowGram<X = tf.Tensor>(forward: DenseForward<X>): (params: Tree, x: X, cotangents: tf.Tensor) => tf.Tensor2D {
  return (params, x, cotangents) =>
    tf.tidy(() => {
      const { calls, outputs } = recordDenseLayers(forward, params, x);
      const [k, b] = [cotangents.shape[0], batchSize(outputs)];
      if (cotangents.rank !== outputs.rank + 1 || cotangents.shape.slice(1).some((d, i) => d !== outputs.shape[i])) {
        throw new InputError(`rowGram: cotangents must have shape [K, ${outputs.shape.join(', ')}], got [${cotangents.shape.join(', ')}]`);
      }
      if (!tree.isTensor(x)) throw new InputError('the row Gram of a dense model needs batch.x to be a tensor with samples along axis 0');
      const tiled = repeatRows(x, k) as unknown as X;
      const perturbations = calls.map((c) => tf.zeros([k * b, c.width]));
      const dy = tf.reshape(cotangents, [k * b, ...outputs.shape.slice(1)]);
      const deltas = tf.grads((...eps: tf.Tensor[]) => {
        let layer = 0;
        const perturbed: DenseLayer = (a, w, bias) => tf.add(affine(a, w, bias), eps[layer++]);
        const out = forward(params, tiled, perturbed);
        if (layer !== calls.length)
          throw new InputError(`denseObjective: the forward pass used ${calls.length} dense layers, then ${layer}`);
        return out;
      })(perturbations, dy);
      return calls.map((c, l) => denseLayerGram(c.input, deltas[l], k, c.hasBias)).reduce((sum, g) => tf.add(sum, g));
    });
}

/** An {@link Objective} whose {@link Objective.rowGram} hook is always there (the delta trick). */
export interface DenseObjective<X = tf.Tensor> extends Objective<X> {
  /** The Gram of the per-sample vector-Jacobian products, `[B·K, B·K]` (see {@link Objective.rowGram}). */
  rowGram(params: Tree, x: X, cotangents: tf.Tensor): tf.Tensor2D;
}

/** Options of {@link denseObjective}. */
export interface DenseObjectiveOptions<X> {
  /** The forward pass, applying every parameter through the `dense` layer it is given. */
  readonly forward: DenseForward<X>;
  /** The output loss. */
  readonly loss: OutputLossName | OutputLoss;
}

/**
 * An {@link Objective} for a model made of dense layers, with the fast {@link Objective.rowGram}
 * (`denseRowGram`): `predict(params, x) = forward(params, x, (a, W, b) => a W + b)`.
 * Every parameter leaf must enter through exactly one dense layer (checked: the hook throws
 * otherwise), and samples must not interact.
 *
 * @example
 * const objective = denseObjective({
 *   forward: (p, x, dense) => dense(tf.relu(dense(x, p.w1, p.b1)), p.w2, p.b2),
 *   loss: 'softmaxCrossEntropy',
 * });
 * const tx = egn(objective, { lam0: 1 }); // J Jᵀ by the delta trick, no Jacobian rows
 */
export function denseObjective<X = tf.Tensor>(options: DenseObjectiveOptions<X>): DenseObjective<X> {
  checkOptionKeys('denseObjective', options, ['forward', 'loss']);
  const { forward, loss } = options;
  if (typeof forward !== 'function')
    throw new HyperparameterError('denseObjective: forward must be a function (params, x, dense) => outputs');
  const objective = { predict: (params: Tree, x: X) => forward(params, x, affine), loss, rowGram: denseRowGram(forward) };
  checkObjective(objective);
  return objective;
}
