/**
 * Row-space products without Jacobian rows. The row-space methods (`egn`, `ignd`, `swmng`) need,
 * for the per-sample vectors vᵢₖ = Jᵢᵀ uₖᵢ (rows of J for the output basis, per-sample gradients
 * for the residuals), three things: their Gram matrix, R v and Rᵀ w (R: the vectors as rows).
 * Materializing R costs B·K single-sample backward passes. Here:
 *
 * - Rᵀ w is one vector-Jacobian product of the batch outputs, R v one Jacobian-vector product;
 * - the Gram comes from the objective's {@link Objective.rowGram} hook, which {@link denseObjective}
 *   and {@link mlpObjective} implement for models made of dense layers by the per-example "delta"
 *   trick: one backward pass of the batch tiled K times, differentiated with respect to zero
 *   perturbations of every dense layer's pre-activation, gives the per-sample deltas Δₗ, and
 *
 *     R Rᵀ = Σₗ (Aₗ₋₁Aₗ₋₁ᵀ + 1) ⊙ (Δₗ Δₗᵀ)      (Aₗ₋₁: the layer's inputs, + 1 for its bias),
 *
 *   since the gradient of sample i with respect to the weights of layer l is aₗ₋₁,ᵢ ⊗ δₗ,ᵢ.
 *
 * On an MLP 784-128-10 with 32 samples × 10 outputs, J Jᵀ costs a few gradients instead of hundreds.
 *
 * @see Goodfellow, "Efficient per-example gradient computations" (2015), arXiv 1510.01799;
 *   Korbit et al., "Exact Gauss-Newton optimization" (2024), arXiv 2405.14402.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { jacobianRows, linearization, perSampleGradients } from './autodiff';
import { HyperparameterError, InputError } from './errors';
import { batchSize, checkObjective, outputBasis, residualAt } from './objective';
import type { Linearization, Objective, OutputLoss, OutputLossName, SupervisedBatch } from './objective';
import * as tree from './tree';
import type { Tree } from './types';

// ---------------------------------------------------------------------------------------------
// Models made of dense layers, and their row Gram by the delta trick.

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
    throw new InputError(leaves.includes(t)
      ? `denseObjective: ${paths[leaves.indexOf(t)]} is used by two dense layers (shared weights are not supported by the row Gram)`
      : `denseObjective: a dense layer's ${role} is not a parameter leaf (pass params' tensors to dense() as they are)`);
  };
  const calls: DenseCall[] = [];
  const dense: DenseLayer = (a, w, b) => {
    claim(w, 'weight');
    claim(b, 'bias');
    if (a.rank !== 2 || w.rank !== 2) {
      throw new InputError(`denseObjective: dense(a, w) needs a of rank 2 and w of rank 2, got [${a.shape.join(', ')}] and [${w.shape.join(', ')}]`);
    }
    calls.push({ input: a as tf.Tensor2D, width: w.shape[1] as number, hasBias: b !== undefined });
    return affine(a, w, b);
  };
  const outputs = forward(params, x, dense);
  if (unused.size > 0) {
    const names = leaves.filter((t) => unused.has(t)).map((t) => paths[leaves.indexOf(t)]);
    throw new InputError(`denseObjective: ${names.join(', ')} ${names.length > 1 ? 'do' : 'does'} not enter the model through a dense layer; the row Gram would miss ${names.length > 1 ? 'them' : 'it'}`);
  }
  return { calls, outputs };
}

/**
 * `x` with its samples repeated `k` times along axis 0 (copy c of sample i is row c·B + i); by
 * concatenation, which on wasm is about 60× faster than `tf.tile`.
 */
function tileSamples(x: unknown, k: number): tf.Tensor {
  if (!tree.isTensor(x)) throw new InputError('the row Gram of a dense model needs batch.x to be a tensor with samples along axis 0');
  return k === 1 ? x : tf.concat(new Array<tf.Tensor>(k).fill(x), 0);
}

/** `a aᵀ`, with an explicit transpose: wasm's matMul with `transposeB` is several times slower. */
function outerGram(a: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(a, tf.transpose(a));
}

/** A `[K·B, w]` matrix in copy-major order (row c·B + i) reordered sample-major (row i·K + c). */
function sampleMajor(rows: tf.Tensor, k: number, b: number): tf.Tensor2D {
  return k === 1 ? (rows as tf.Tensor2D) : tf.reshape(tf.transpose(tf.reshape(rows, [k, b, -1]), [1, 0, 2]), [b * k, -1]);
}

/**
 * One dense layer's share of the Gram, `(A Aᵀ + 1) ⊙ (Δ Δᵀ)` with A Aᵀ (`[B, B]`) broadcast over
 * the K × K cotangent pairs of each pair of samples; the `+ 1` (bias) only when the layer has one.
 */
function denseLayerGram(input: tf.Tensor2D, deltas: tf.Tensor, k: number, hasBias: boolean): tf.Tensor2D {
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
      const tiled = tileSamples(x, k) as unknown as X;
      const perturbations = calls.map((c) => tf.zeros([k * b, c.width]));
      const dy = tf.reshape(cotangents, [k * b, ...outputs.shape.slice(1)]);
      const deltas = tf.grads((...eps: tf.Tensor[]) => {
        let layer = 0;
        const perturbed: DenseLayer = (a, w, bias) => tf.add(affine(a, w, bias), eps[layer++]);
        const out = forward(params, tiled, perturbed);
        if (layer !== calls.length) throw new InputError(`denseObjective: the forward pass used ${calls.length} dense layers, then ${layer}`);
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
 * ({@link denseRowGram}): `predict(params, x) = forward(params, x, (a, W, b) => a W + b)`.
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
export function denseObjective<X = tf.Tensor>({ forward, loss }: DenseObjectiveOptions<X>): DenseObjective<X> {
  if (typeof forward !== 'function') throw new HyperparameterError('denseObjective: forward must be a function (params, x, dense) => outputs');
  const objective = { predict: (params: Tree, x: X) => forward(params, x, affine), loss, rowGram: denseRowGram(forward) };
  checkObjective(objective);
  return objective;
}

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
  if (fn === undefined) throw new HyperparameterError(`unknown activation '${activation}': use one of ${Object.keys(ACTIVATIONS).map((a) => `'${a}'`).join(', ')} or a function`);
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
 * The MLP of {@link mlpForward} linearized in closed form ({@link Linearization}): one forward pass
 * keeps each layer's input aₗ₋₁ (and its transpose), Wₗᵀ and the slopes σ'(zₗ); then, without a
 * gradient tape,
 *
 *   J v:  żₗ = ȧₗ₋₁ Wₗ + aₗ₋₁ Vₗ + vbₗ,  ȧₗ = σ'(zₗ) ⊙ żₗ  (ȧ₀ = 0),  J v = ż_L;
 *   Jᵀu:  δ_L = u,  ∂Wₗ = aₗ₋₁ᵀ δₗ,  ∂bₗ = Σᵢ δₗᵢ,  δₗ₋₁ = (δₗ Wₗᵀ) ⊙ σ'(zₗ₋₁).
 *
 * Each product is two matrix products per layer (a tape-based JVP by double VJP runs about three
 * backward passes). The transposes are made once (tfjs-backend-wasm 4.22 multiplies transposed
 * operands 10–20× slower). σ' is the elementwise derivative of the activation, by autodiff.
 *
 * @see Pearlmutter (1994), Schraudolph (2002) for the forward (R-op) pass of a network.
 */
export function mlpLinearize(activation: Activation = 'tanh'): (params: Tree, x: tf.Tensor) => Linearization {
  const sigma = activationFn(activation);
  const slopeOf = tf.grad((z: tf.Tensor) => tf.sum(sigma(z)));
  return (params, x) => {
    const p = params as Record<string, tf.Tensor>;
    const depth = mlpDepth(params);
    const w = (l: number) => p[`w${l + 1}`];
    const kept = tf.tidy(() => {
      const inputs: tf.Tensor[] = [];
      const slopes: tf.Tensor[] = [];
      let a = x;
      let z = x;
      for (let l = 0; l < depth; l++) {
        inputs.push(a);
        z = tf.add(tf.matMul(a, w(l)), p[`b${l + 1}`]);
        if (l < depth - 1) {
          slopes.push(slopeOf(z));
          a = sigma(z);
        }
      }
      return {
        outputs: z,
        inputs: inputs.map((t, l) => (l === 0 ? tf.clone(t) : t)),
        inputsT: inputs.map((t) => tf.transpose(t)),
        weightsT: Array.from({ length: depth }, (_, l) => tf.transpose(w(l))),
        slopes,
      };
    });
    const { outputs, inputs, inputsT, weightsT, slopes } = kept;
    return {
      outputs,
      jvp: (v) => tf.tidy(() => {
        tree.assertSameStructure(params, v, { names: ['params have', 'tangent has'], root: 'tangent' });
        const t = v as Record<string, tf.Tensor>;
        let da: tf.Tensor | undefined; // ȧₗ₋₁; ȧ₀ = 0
        for (let l = 0; ; l++) {
          const direct = tf.add(tf.matMul(inputs[l], t[`w${l + 1}`]), t[`b${l + 1}`]);
          const dz = da === undefined ? direct : tf.add(direct, tf.matMul(da, w(l)));
          if (l === depth - 1) return dz;
          da = tf.mul(slopes[l], dz);
        }
      }),
      vjp: (u) => tree.tidy(() => {
        const grads: Record<string, tf.Tensor> = {};
        let delta = tf.reshape(tf.cast(u, 'float32'), outputs.shape);
        for (let l = depth - 1; l >= 0; l--) {
          grads[`w${l + 1}`] = tf.matMul(inputsT[l], delta);
          grads[`b${l + 1}`] = tf.reshape(tf.sum(delta, 0), p[`b${l + 1}`].shape);
          if (l > 0) delta = tf.mul(tf.matMul(delta, weightsT[l]), slopes[l - 1]);
        }
        return Object.fromEntries(Object.keys(p).map((k) => [k, grads[k]]));
      }),
      dispose: () => tf.dispose([outputs, ...inputs, ...inputsT, ...weightsT, ...slopes]),
    };
  };
}

/** Options of {@link mlpObjective}. */
export interface MlpObjectiveOptions {
  /** Hidden-layer activation (default `'tanh'`); the last layer is linear. */
  readonly activation?: Activation;
  /** The output loss. */
  readonly loss: OutputLossName | OutputLoss;
}

/** An MLP objective: {@link denseObjective} of {@link mlpForward}, and an initializer. */
export interface MlpObjective extends DenseObjective<tf.Tensor> {
  /**
   * LeCun-normal weights (std 1/√fan-in, seed `seed + l` for wₗ) and zero biases for layer sizes
   * `[n₀, n₁, ..., n_L]`: params `{ w1, b1, ..., wL, bL }`, the same on every call.
   */
  init(sizes: readonly number[], seed?: number): Tree;
  /** The closed-form linearization of the MLP ({@link mlpLinearize}): fast J v and Jᵀ u. */
  linearize(params: Tree, x: tf.Tensor): Linearization;
}

/**
 * The objective of a multilayer perceptron, f(x) = W_L σ(... σ(x W₁ + b₁) ...) + b_L with params
 * `{ w1, b1, ..., wL, bL }`, carrying the fast {@link Objective.rowGram} of the delta trick
 * ({@link denseRowGram}), so that `egn`, `ignd` and `swmng` never form Jacobian rows: on an MLP
 * 784-128-10 with a curvature batch of 32, J Jᵀ costs a few gradients instead of hundreds; and
 * the closed-form {@link Objective.linearize} ({@link mlpLinearize}), so that the Gauss-Newton
 * products of `sgn`, `ggnvp` and the row products J v, Jᵀ u skip the gradient tape.
 *
 * @see Goodfellow, "Efficient per-example gradient computations" (2015), arXiv 1510.01799;
 *   Korbit et al., "Exact Gauss-Newton optimization" (2024), arXiv 2405.14402.
 * @example
 * const objective = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });
 * const params = objective.init([784, 128, 10]);
 * const tx = egn(objective, { lam0: 1 });
 */
export function mlpObjective({ activation = 'tanh', loss }: MlpObjectiveOptions): MlpObjective {
  const base = denseObjective({ forward: mlpForward(activation), loss });
  return { ...base, linearize: mlpLinearize(activation), init: mlpInit };
}

/** LeCun-normal weights and zero biases for layer sizes `sizes` (see {@link MlpObjective.init}). */
function mlpInit(sizes: readonly number[], seed = 0): Tree {
  if (sizes.length < 2 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new HyperparameterError(`mlpObjective.init: sizes must be at least two positive integers [inputs, ..., outputs], got [${sizes.join(', ')}]`);
  }
  return tf.tidy(() => Object.fromEntries(sizes.slice(1).flatMap((n, i) => [
    [`w${i + 1}`, tf.mul(tf.randomNormal([sizes[i], n], 0, 1, 'float32', seed + i + 1), Math.sqrt(1 / sizes[i]))],
    [`b${i + 1}`, tf.zeros([n])],
  ])));
}

// ---------------------------------------------------------------------------------------------
// Per-sample rows, materialized or not.

/**
 * A per-sample matrix R (`m × P`, m = B·K rows, sample-major: row i·K + k belongs to sample i) as
 * the operations row-space solvers need. Every method returns fresh tensors the caller owns.
 */
export interface SampleRows {
  /** Samples B. */
  readonly samples: number;
  /** Rows per sample K. */
  readonly rowsPerSample: number;
  /** R Rᵀ, `[m, m]`. */
  gram(): tf.Tensor2D;
  /** The per-sample diagonal blocks Rᵢ Rᵢᵀ, `[B, K, K]`. */
  blockGram(): tf.Tensor3D;
  /** R v for a tree v shaped like the params, `[m]`. */
  times(v: Tree): tf.Tensor1D;
  /** Rᵀ w for w of length m, shaped like the params. */
  transposeTimes(w: tf.Tensor): Tree;
  /** Disposes what the rows hold. */
  dispose(): void;
}

/** {@link SampleRows} of a materialized `[m, P]` matrix (rows raveled like the params `def`). */
export function materializedRows(rows: tf.Tensor2D, def: tree.TreeDef, rowsPerSample: number): SampleRows {
  return {
    samples: rows.shape[0] / rowsPerSample,
    rowsPerSample,
    gram: () => tf.matMul(rows, rows, false, true),
    blockGram: () => tf.tidy(() => {
      const r = tf.reshape(rows, [-1, rowsPerSample, rows.shape[1]]) as tf.Tensor3D;
      return tf.matMul(r, r, false, true);
    }),
    times: (v) => tf.tidy(() => tf.reshape(tf.matMul(rows, tf.reshape(tree.ravel(v).vector, [-1, 1])), [-1])),
    transposeTimes: (w) => tree.tidy(() => tree.unravel(def, tf.reshape(tf.matMul(tf.reshape(w, [1, -1]), rows), [-1]))),
    dispose: () => rows.dispose(),
  };
}

/** Rᵀw for host weights w (float64, sent to the device as float32), shaped like the params. */
export function transposeTimesValues(rows: SampleRows, weights: ArrayLike<number>): Tree {
  const w = tf.tensor1d(Float32Array.from(weights));
  try {
    return rows.transposeTimes(w);
  } finally {
    w.dispose();
  }
}

/** The diagonal `[K, K]` blocks of a sample-major `[B·K, B·K]` matrix, `[B, K, K]`. */
export function diagonalBlocks(gram: tf.Tensor, b: number, k: number): tf.Tensor3D {
  return tf.tidy(() => {
    const blocks = tf.transpose(tf.reshape(gram, [b, k, b, k]), [0, 2, 1, 3]); // [i, j, k, l]
    return tf.sum(tf.mul(blocks, tf.reshape(tf.eye(b), [b, b, 1, 1])), 1) as tf.Tensor3D;
  });
}

/**
 * {@link SampleRows} of the vectors vᵢₖ = Jᵢᵀ U[k, i] without forming them: the Gram from the
 * objective's {@link Objective.rowGram} hook, R v = (U[k,i] · (J v)ᵢ) from one JVP of the batch
 * outputs, Rᵀ w = Jᵀ (Σₖ wᵢₖ U[k, i]) from one VJP. `cotangents` (`[K, ...outputShape]`) is copied.
 * The products use `lin`, the model linearized at `params` on `x`, which the rows then own (made
 * here when absent).
 */
export function implicitRows<X>(objective: Objective<X>, params: Tree, x: X, cotangents: tf.Tensor, outputShape: readonly number[], lin?: Linearization): SampleRows {
  const hook = objective.rowGram;
  if (hook === undefined) {
    lin?.dispose();
    throw new InputError('implicitRows needs an objective with a rowGram hook');
  }
  const [k, b] = [cotangents.shape[0], outputShape.length === 0 ? 1 : outputShape[0]];
  const c = outputShape.slice(1).reduce((p, d) => p * d, 1);
  const u = tf.clone(cotangents);
  const perSample = () => tf.reshape(u, [k, b, c]); // U[k, i, :]
  const m = b * k;
  const linear = lin ?? linearization(objective, params, { x }); // kept like u, for R v and Rᵀ w
  const gram = (): tf.Tensor2D => {
    const g = hook(params, x, u);
    if (g.rank !== 2 || g.shape[0] !== m || g.shape[1] !== m) {
      g.dispose();
      throw new InputError(`objective.rowGram returned shape [${g.shape.join(', ')}], expected [${m}, ${m}] (B·K = ${b}·${k})`);
    }
    return g as tf.Tensor2D;
  };
  return {
    samples: b,
    rowsPerSample: k,
    gram,
    blockGram: () => tf.tidy(() => diagonalBlocks(gram(), b, k)),
    times: (v) => tf.tidy(() => {
      const jv = tf.reshape(linear.jvp(v), [1, b, c]);
      return tf.reshape(tf.transpose(tf.sum(tf.mul(perSample(), jv), -1)), [-1]) as tf.Tensor1D;
    }),
    transposeTimes: (w) => tree.tidy(() => {
      const weights = tf.reshape(tf.transpose(tf.reshape(w, [b, k])), [k, b, 1]);
      return linear.vjp(tf.reshape(tf.sum(tf.mul(weights, perSample()), 0), outputShape as number[]));
    }),
    dispose: () => {
      u.dispose();
      linear.dispose();
    },
  };
}

/**
 * The rows of the output Jacobian J (`[B·C, P]`, row i·C + k = ∂fᵢₖ/∂θ) as {@link SampleRows}:
 * implicit when the objective has a {@link Objective.rowGram} hook, else materialized by
 * `jacobianRows` (B·C backward passes; `outputShape`, when known, gives their rows per sample).
 * The implicit rows take the output shape from the model's linearization.
 *
 * @example
 * const rows = jacobianSampleRows(objective, params, batch.x);
 * const jjt = rows.gram(); // [B·C, B·C]
 * const jtw = rows.transposeTimes(w); // Jᵀw, one VJP with the hook
 * rows.dispose();
 */
export function jacobianSampleRows<X>(objective: Objective<X>, params: Tree, x: X, outputShape?: readonly number[]): SampleRows {
  if (objective.rowGram === undefined) {
    const rows = jacobianRows(objective, params, x);
    const c = outputShape ? outputShape.slice(1).reduce((p, d) => p * d, 1) : rows.shape[0] / batchSize(x as unknown as tf.Tensor);
    return materializedRows(rows, tree.flatten(params).def, c);
  }
  const lin = linearization(objective, params, { x });
  const basis = outputBasis(lin.outputs);
  try {
    return implicitRows(objective, params, x, basis, lin.outputs.shape, lin);
  } finally {
    basis.dispose();
  }
}

/**
 * The per-sample loss gradients Lᵢ = ∇ℓᵢ(θ) = Jᵢᵀ rᵢ (rᵢ = ∂ℓᵢ/∂fᵢ at `targets`, default `batch.y`) as
 * {@link SampleRows} (one row per sample): implicit when the objective has a
 * {@link Objective.rowGram} hook (L Lᵀ from one backward pass with cotangents r), else
 * materialized by `perSampleGradients` (B backward passes).
 *
 * @see Goodfellow, "Efficient per-example gradient computations" (2015), arXiv 1510.01799.
 * @example
 * const l = gradientSampleRows(objective, params, batch);
 * const llt = l.gram(); // [B, B]: ⟨∇ℓᵢ, ∇ℓⱼ⟩
 * l.dispose();
 */
export function gradientSampleRows<X>(objective: Objective<X>, params: Tree, batch: SupervisedBatch<X>, targets: tf.Tensor = batch.y): SampleRows {
  const loss = checkObjective(objective);
  if (objective.rowGram === undefined) return materializedRows(perSampleGradients(objective, params, batch, targets), tree.flatten(params).def, 1);
  // The residuals come from the linearization's outputs (one forward pass for both).
  const lin = linearization(objective, params, batch);
  let residuals: tf.Tensor;
  try {
    residuals = tf.tidy(() => tf.expandDims(residualAt(loss, lin.outputs, targets), 0));
  } catch (err) {
    lin.dispose();
    throw err;
  }
  try {
    return implicitRows(objective, params, batch.x, residuals, lin.outputs.shape, lin);
  } finally {
    residuals.dispose();
  }
}

/**
 * The row Gram matrix `J Jᵀ` (`m × m`, m = B·C, sample-major) of the model outputs on a batch, in
 * float64 — the matrix that row-space (Woodbury) solvers factor. Uses the objective's
 * {@link Objective.rowGram} hook when it has one (e.g. {@link mlpObjective}), else the Jacobian
 * rows (B·C backward passes).
 *
 * @see Korbit et al., "Exact Gauss-Newton optimization" (2024), arXiv 2405.14402.
 * @example
 * const jjt = rowGram(mlpObjective({ loss: 'softmaxCrossEntropy' }), params, x); // Float64Array, (B·C)²
 */
export function rowGram<X>(objective: Objective<X>, params: Tree, x: X): Float64Array {
  const rows = jacobianSampleRows(objective, params, x);
  try {
    return Float64Array.from(tree.readValues(() => rows.gram()));
  } finally {
    rows.dispose();
  }
}
