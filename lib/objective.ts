/**
 * Objectives of Gauss-Newton methods: a model `predict(params, x)` and an output loss, as somax
 * builds them. The output loss supplies what curvature products need beyond its value: the
 * per-sample residual ∂ℓᵢ/∂fᵢ, the per-sample output-Hessian product Qᵢu, its dense blocks (for
 * row-space solves) and targets sampled from the model (for Fisher / Gauss-Newton-Bartlett).
 *
 * Conventions (somax v1): losses are means over the B samples of a batch;
 * squared error ℓᵢ = ½‖fᵢ − yᵢ‖² (Qᵢ = I), softmax cross-entropy ℓᵢ = −Σₖ yᵢₖ log softmax(fᵢ)ₖ
 * (Qᵢ = diag(pᵢ) − pᵢpᵢᵀ). The GGN is G = (1/B) Σᵢ Jᵢᵀ Qᵢ Jᵢ.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { HyperparameterError, InputError } from './errors';
import * as losses from './losses';
import type { PRNGKey, Tree } from './types';

/** A batch of inputs and targets for an {@link Objective}. */
export interface SupervisedBatch<X = tf.Tensor> {
  /** Inputs, as `predict(params, x)` takes them (e.g. `[B, D]`). */
  readonly x: X;
  /** Targets: `[B, C]` (or `[B]`) for squared error; int32 labels `[B]` or one-hot `[B, C]` for softmax cross-entropy. */
  readonly y: tf.Tensor;
}

/** An output loss: the loss of the model's outputs, with the pieces curvature products need. */
export interface OutputLoss {
  /** A name for messages and telemetry. */
  readonly name: string;
  /** Mean over samples of ℓᵢ(fᵢ, yᵢ); twice differentiable in `outputs`. */
  value(outputs: tf.Tensor, targets: tf.Tensor): tf.Scalar;
  /** Per-sample residuals rᵢ = ∂ℓᵢ/∂fᵢ, shaped like `outputs` (no 1/B factor). */
  residual(outputs: tf.Tensor, targets: tf.Tensor): tf.Tensor;
  /** Per-sample output-Hessian products Qᵢuᵢ, shaped like `outputs` (no 1/B factor). */
  hessianProduct(outputs: tf.Tensor, u: tf.Tensor): tf.Tensor;
  /** The per-sample output Hessians Qᵢ as float64 blocks, `B·C·C` entries, row-major. */
  hessianBlocks(outputs: tf.Tensor): Float64Array;
  /** Targets drawn from the model's predictive distribution at `outputs` (Fisher, GNB). */
  sampleTargets(outputs: tf.Tensor, key: PRNGKey): tf.Tensor;
  /**
   * Optional: the loss is unchanged when a constant is added to a sample's outputs (softmax), so
   * Qᵢ1 = 0 and rᵢ ⊥ 1. The row-space solvers then factor each Qᵢ with C − 1 columns instead of C
   * (a smaller and exact row system: no jitter on the null direction).
   */
  readonly shiftInvariant?: boolean;
}

/** The names of the built-in output losses. */
export type OutputLossName = 'meanSquaredError' | 'meanSquaredErrorPerOutput' | 'softmaxCrossEntropy' | 'sigmoidCrossEntropy';

/** A model and its output loss, as Gauss-Newton methods take them. */
export interface Objective<X = tf.Tensor> {
  /** The model: outputs of shape `[B, C]` (or `[B]` for one output) for a batch of inputs. */
  predict(params: Tree, x: X): tf.Tensor;
  /** The output loss: a built-in name or a user's {@link OutputLoss}. */
  readonly loss: OutputLossName | OutputLoss;
  /**
   * Optional fast path of the row-space solvers: the Gram matrix of the
   * per-sample vector-Jacobian products, computed without forming them. With cotangents `U` of
   * shape `[K, ...outputs.shape]` and Jᵢ the Jacobian of sample i's outputs, the vectors are
   * vᵢₖ = Jᵢᵀ U[k, i] and the result is the `[B·K, B·K]` matrix G[(i,k), (j,l)] = ⟨vᵢₖ, vⱼₗ⟩,
   * sample-major (row i·K + k). `U` = the output basis gives J Jᵀ; `U` = the residuals gives the
   * Gram L Lᵀ of the per-sample gradients. A model made of dense layers can build it by the
   * per-example "delta" trick (see `models/`); objectives without it get the same numbers from B·C
   * single-sample backward passes (`jacobianRows`).
   *
   * @see Goodfellow, "Efficient per-example gradient computations" (2015), arXiv 1510.01799.
   */
  rowGram?(params: Tree, x: X, cotangents: tf.Tensor): tf.Tensor;
  /**
   * Optional fast path of the Gauss-Newton products (`ggnvp`, the curvature operators, the row
   * products of the row-space solvers): the model linearized at `params` on inputs `x`,
   * f(θ + v) ≈ f(θ) + J v, with the forward pass run once and kept, so that each J v and Jᵀ u is
   * a few matrix products without a gradient tape (an MLP has it in closed form, see `models/`);
   * objectives without it get the same numbers from `jvp` (double VJP) and `vjp`. A step context
   * keeps a linearization for the whole step, so what it holds must survive the `tf.tidy` scope
   * it was made in (`tf.keep` it, as `models/layerChain.ts` does).
   */
  linearize?(params: Tree, x: X): Linearization;
  /**
   * Optional, with a closed-form `linearize` whose linearizations report per-layer statistics
   * (`layerStatistics`: each dense and conv layer's inputs and output deltas): those layers'
   * params, weight and bias keys, in chain order. Kronecker-factored methods (K-FAC) size their
   * factors from it at `init`.
   */
  layerParams?(params: Tree): readonly LayerParams[];
}

/** The params of a dense or conv layer, by key: what its Kronecker factors are keyed by. */
export interface LayerParams {
  /** The key of the weight. */
  readonly weight: string;
  /** The key of the bias, when the layer has one. */
  readonly bias?: string;
}

/**
 * A model linearized at fixed params on a fixed batch of inputs (JAX's `linearize`): the outputs
 * f(θ) and the linear maps v ↦ J v and u ↦ Jᵀ u of its Jacobian J = ∂f/∂θ. Every method returns
 * fresh tensors the caller owns; `dispose` releases what the linearization keeps.
 */
export interface Linearization {
  /** f(θ) on the batch, owned by the linearization. */
  readonly outputs: tf.Tensor;
  /** J v for a tree v shaped like the params: a tensor shaped like `outputs`. */
  jvp(v: Tree): tf.Tensor;
  /** Jᵀ u for u shaped like `outputs`: a tree shaped like the params. */
  vjp(u: tf.Tensor): Tree;
  /**
   * Optional: the Gram of the per-sample vector-Jacobian products for cotangents `U`
   * (`[K, ...outputs.shape]`), as {@link Objective.rowGram}, from the kept forward pass (a
   * closed-form linearization sweeps the K cotangents backward once; see `models/layerChain.ts`).
   */
  rowGram?(cotangents: tf.Tensor): tf.Tensor2D;
  /** Releases the kept forward pass (and `outputs`). */
  dispose(): void;
}

/**
 * The output basis as cotangents for {@link Objective.rowGram}: `U[k, i] = e_k` for every sample i,
 * shape `[C, ...outputs.shape]` (C outputs per sample), so that vᵢₖ = Jᵢᵀ e_k is row (i, k) of J.
 */
export function outputBasis(outputs: tf.Tensor): tf.Tensor {
  const [b, c] = [batchSize(outputs), outputsPerSample(outputs)];
  return tf.tidy(() => tf.reshape(tf.mul(tf.reshape(tf.eye(c), [c, 1, c]), tf.ones([1, b, c])), [c, ...outputs.shape]));
}

/** Number of samples in a batch of outputs (the leading dimension). */
export function batchSize(outputs: tf.Tensor): number {
  return outputs.rank === 0 ? 1 : outputs.shape[0];
}

/** Outputs per sample (the product of the non-leading dimensions). */
export function outputsPerSample(outputs: tf.Tensor): number {
  return outputs.size / batchSize(outputs);
}

/**
 * Squared-error targets in the outputs' shape. Targets shaped like the outputs are used as they
 * are. One output per sample is the one deliberate reshape: `[B]` targets for `[B, 1]` outputs (or
 * `[B, 1]` for `[B]`) are reshaped to the outputs' shape, since a plain subtraction would broadcast
 * them to `[B, B]` and give a silently wrong loss. Any other difference raises an
 * {@link InputError} naming both shapes.
 */
export function squaredErrorTargets(outputs: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  return needsReshape(outputs, targets) ? tf.reshape(targets, outputs.shape) : targets;
}

/**
 * The shape check of {@link squaredErrorTargets}: false when the shapes are equal, true for one
 * output per sample given in the other form (`[B]` vs `[B, 1]`), else an {@link InputError}.
 */
function needsReshape(outputs: tf.Tensor, targets: tf.Tensor): boolean {
  const same = outputs.rank === targets.rank && outputs.shape.every((d, i) => d === targets.shape[i]);
  if (same) return false;
  const onePerSample = outputsPerSample(outputs) === 1 && targets.size === outputs.size && batchSize(targets) === batchSize(outputs);
  if (onePerSample && outputs.rank <= 2 && targets.rank <= 2) return true;
  throw new InputError(
    `meanSquaredError: targets of shape [${targets.shape.join(', ')}] do not match outputs of shape [${outputs.shape.join(', ')}] ` +
      '(targets must be shaped like the outputs; [B] is accepted for [B, 1])',
  );
}

/**
 * Squared error, ℓᵢ = ½‖fᵢ − yᵢ‖², L = mean over samples. Qᵢ = I. Sampled targets are
 * fᵢ + ε with ε ~ N(0, I) (the Gaussian likelihood whose Fisher is the GGN). Targets are shaped
 * like the outputs, or `[B]` for `[B, 1]` outputs (reshaped; see {@link squaredErrorTargets});
 * any other shape raises an error naming both shapes, never a broadcast.
 */
export const meanSquaredError: OutputLoss = {
  name: 'meanSquaredError',
  value: (f, y) => tf.tidy(() => tf.div(tf.mul(0.5, tf.sum(tf.square(tf.sub(f, squaredErrorTargets(f, y))))), batchSize(f)) as tf.Scalar),
  residual: (f, y) => tf.tidy(() => tf.sub(f, squaredErrorTargets(f, y))),
  hessianProduct: (_f, u) => tf.clone(u),
  hessianBlocks: (f) => {
    const b = batchSize(f);
    const c = outputsPerSample(f);
    const out = new Float64Array(b * c * c);
    for (let i = 0; i < b; i++) for (let k = 0; k < c; k++) out[i * c * c + k * c + k] = 1;
    return out;
  },
  sampleTargets: (f, key) => tf.tidy(() => tf.add(f, tf.randomNormal(f.shape, 0, 1, 'float32', key))),
};

/**
 * One-hot float targets from integer labels `[B]` or float one-hot / soft labels `[B, C]`, for
 * outputs of shape `[B, C]` when `batch` (B) is given (checked: labels of another batch size would
 * broadcast). Integer labels outside `[0, C)` raise an error naming the label and C where the check
 * costs no device read (cpu, wasm, tfjs-node: the labels are read on the host); on WebGL / WebGPU
 * it would cost one per loss evaluation, so there they are not checked (see `losses.oneHotFloat`).
 */
export function oneHotTargets(targets: tf.Tensor, numClasses: number, batch?: number): tf.Tensor {
  if (batch !== undefined && batchSize(targets) !== batch) {
    throw new InputError(
      `softmaxCrossEntropy targets of shape [${targets.shape.join(', ')}] do not match outputs of shape [${batch}, ${numClasses}]`,
    );
  }
  if (targets.dtype === 'int32' && targets.rank === 1) return losses.oneHotFloat(targets, numClasses);
  if (targets.rank === 2 && targets.shape[1] === numClasses) return tf.cast(targets, 'float32');
  throw new InputError(
    `softmaxCrossEntropy targets must be int32 labels of shape [B] or one-hot of shape [B, ${numClasses}], ` +
      `got ${targets.dtype} [${targets.shape.join(', ')}]`,
  );
}

/** {@link oneHotTargets} for outputs `f` of shape `[B, C]`. */
function oneHotFor(f: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return oneHotTargets(y, f.shape[1] as number, batchSize(f));
}

/**
 * Softmax cross-entropy, ℓᵢ = −Σₖ yᵢₖ log softmax(fᵢ)ₖ, with one-hot (or soft) `[B, C]` or
 * integer `[B]` targets; L = mean over samples. rᵢ = pᵢ − yᵢ, Qᵢ = diag(pᵢ) − pᵢpᵢᵀ (Qᵢ1 = 0: shift-invariant).
 * Sampled targets are one-hot draws ŷᵢ ~ Categorical(pᵢ). Targets of another batch size or class
 * count raise an error naming both shapes; integer labels outside `[0, C)` raise one naming the
 * label and C on the backends where that is free (see {@link oneHotTargets}).
 */
export const softmaxCrossEntropy: OutputLoss = {
  name: 'softmaxCrossEntropy',
  shiftInvariant: true,
  value: (f, y) =>
    tf.tidy(() => {
      const logp = losses.logSoftmax(f);
      return tf.div(tf.neg(tf.sum(tf.mul(oneHotFor(f, y), logp))), batchSize(f)) as tf.Scalar;
    }),
  residual: (f, y) => tf.tidy(() => tf.sub(tf.softmax(f), oneHotFor(f, y))),
  hessianProduct: (f, u) =>
    tf.tidy(() => {
      const p = tf.softmax(f);
      const pu = tf.mul(p, u);
      return tf.sub(pu, tf.mul(p, tf.sum(pu, -1, true)));
    }),
  hessianBlocks: (f) => {
    const [b, c] = f.shape as [number, number];
    // The softmax in float64 from the logits themselves (no new device tensor to read).
    const z = f.dataSync();
    const p = new Float64Array(b * c);
    for (let i = 0; i < b; i++) {
      const row = z.subarray(i * c, (i + 1) * c);
      const top = Math.max(...row);
      let sum = 0;
      for (let k = 0; k < c; k++) sum += p[i * c + k] = Math.exp(row[k] - top);
      for (let k = 0; k < c; k++) p[i * c + k] /= sum;
    }
    const out = new Float64Array(b * c * c);
    for (let i = 0; i < b; i++) {
      for (let k = 0; k < c; k++) {
        for (let l = 0; l < c; l++) {
          out[i * c * c + k * c + l] = (k === l ? p[i * c + k] : 0) - p[i * c + k] * p[i * c + l];
        }
      }
    }
    return out;
  },
  // Inverse-CDF sampling from uniforms drawn in JS (tf.randomUniform), so that one key gives the
  // same labels on every backend (tf.multinomial's stream differs between cpu, wasm and webgpu).
  sampleTargets: (f, key) =>
    tf.tidy(() => {
      const c = f.shape[1] as number;
      const u = tf.randomUniform([f.shape[0], 1], 0, 1, 'float32', key);
      const below = tf.cast(tf.less(tf.cumsum(tf.softmax(f), 1), u), 'int32');
      const draws = tf.minimum(tf.sum(below, 1), tf.scalar(c - 1, 'int32'));
      return losses.oneHotFloat(draws, c, { checked: false }); // in [0, C) by construction; a check would read them
    }),
};

/**
 * Squared error averaged over the outputs of each sample, ℓᵢ = (1/C)‖fᵢ − yᵢ‖², L = mean over
 * samples: tfjs-layers' (Keras's) `meanSquaredError`, so that a model compiled with it and
 * trained by a Gauss-Newton method sees the same loss as `model.fit` reports.
 * rᵢ = (2/C)(fᵢ − yᵢ), Qᵢ = (2/C) I; sampled targets fᵢ + √(C/2) ε (the Gaussian whose Fisher is
 * the GGN). Targets as {@link meanSquaredError}'s.
 */
export const meanSquaredErrorPerOutput: OutputLoss = {
  name: 'meanSquaredErrorPerOutput',
  value: (f, y) => tf.tidy(() => tf.div(tf.sum(tf.square(tf.sub(f, squaredErrorTargets(f, y)))), f.size) as tf.Scalar),
  residual: (f, y) => tf.tidy(() => tf.mul(tf.sub(f, squaredErrorTargets(f, y)), 2 / outputsPerSample(f))),
  hessianProduct: (f, u) => tf.mul(u, 2 / outputsPerSample(f)),
  hessianBlocks: (f) => {
    const b = batchSize(f);
    const c = outputsPerSample(f);
    const out = new Float64Array(b * c * c);
    for (let i = 0; i < b; i++) for (let k = 0; k < c; k++) out[i * c * c + k * c + k] = 2 / c;
    return out;
  },
  sampleTargets: (f, key) =>
    tf.tidy(() => tf.add(f, tf.mul(tf.randomNormal(f.shape, 0, 1, 'float32', key), Math.sqrt(outputsPerSample(f) / 2)))),
};

/**
 * Binary cross-entropy of logits, averaged over the outputs of each sample:
 * ℓᵢ = (1/C) Σₖ softplus(fᵢₖ) − yᵢₖ fᵢₖ, L = mean over samples — tfjs-layers' (Keras's)
 * `binaryCrossentropy` of a final sigmoid, in logit space. rᵢ = (σ(fᵢ) − yᵢ)/C,
 * Qᵢ = diag(σ(fᵢ)(1 − σ(fᵢ)))/C; sampled targets are Bernoulli draws of σ(fᵢ). Targets are
 * shaped like the outputs (0/1 or soft labels).
 */
export const sigmoidCrossEntropy: OutputLoss = {
  name: 'sigmoidCrossEntropy',
  value: (f, y) =>
    tf.tidy(() => {
      checkSameShape('sigmoidCrossEntropy', f, y);
      return tf.div(tf.sum(tf.sub(tf.softplus(f), tf.mul(tf.cast(y, 'float32'), f))), f.size) as tf.Scalar;
    }),
  residual: (f, y) =>
    tf.tidy(() => {
      checkSameShape('sigmoidCrossEntropy', f, y);
      return tf.div(tf.sub(tf.sigmoid(f), tf.cast(y, 'float32')), outputsPerSample(f));
    }),
  hessianProduct: (f, u) =>
    tf.tidy(() => {
      const p = tf.sigmoid(f);
      return tf.div(tf.mul(tf.mul(p, tf.sub(1, p)), u), outputsPerSample(f));
    }),
  hessianBlocks: (f) => {
    const b = batchSize(f);
    const c = outputsPerSample(f);
    const z = f.dataSync();
    const out = new Float64Array(b * c * c);
    for (let i = 0; i < b; i++) {
      for (let k = 0; k < c; k++) {
        const p = 1 / (1 + Math.exp(-z[i * c + k]));
        out[i * c * c + k * c + k] = (p * (1 - p)) / c;
      }
    }
    return out;
  },
  sampleTargets: (f, key) => tf.tidy(() => tf.cast(tf.less(tf.randomUniform(f.shape, 0, 1, 'float32', key), tf.sigmoid(f)), 'float32')),
};

/** Refuses targets not shaped like the outputs (a broadcast would give a silently wrong loss). */
function checkSameShape(name: string, outputs: tf.Tensor, targets: tf.Tensor): void {
  if (outputs.rank !== targets.rank || outputs.shape.some((d, i) => d !== targets.shape[i])) {
    throw new InputError(
      `${name}: targets of shape [${targets.shape.join(', ')}] do not match outputs of shape [${outputs.shape.join(', ')}]`,
    );
  }
}

const OUTPUT_LOSSES: Record<OutputLossName, OutputLoss> = {
  meanSquaredError,
  meanSquaredErrorPerOutput,
  softmaxCrossEntropy,
  sigmoidCrossEntropy,
};

/** Resolves a loss name or object to an {@link OutputLoss}; unknown names list the known ones. */
export function resolveOutputLoss(loss: OutputLossName | OutputLoss): OutputLoss {
  if (typeof loss === 'string') {
    const found = OUTPUT_LOSSES[loss as OutputLossName];
    if (found === undefined) {
      throw new HyperparameterError(
        `unknown loss '${loss}': use one of ${Object.keys(OUTPUT_LOSSES)
          .map((k) => `'${k}'`)
          .join(', ')} or an OutputLoss object`,
      );
    }
    return found;
  }
  const needed = ['value', 'residual', 'hessianProduct', 'hessianBlocks', 'sampleTargets'] as const;
  const missing = needed.filter((k) => typeof (loss as unknown as Record<string, unknown>)?.[k] !== 'function');
  if (missing.length > 0) throw new HyperparameterError(`the loss object lacks ${missing.join(', ')}`);
  return loss;
}

/** Checks an objective when a transform is built: `predict` is a function, the loss is known. */
export function checkObjective<X>(objective: Objective<X>): OutputLoss {
  if (typeof objective?.predict !== 'function') {
    throw new HyperparameterError('objective.predict must be a function (params, x) => outputs');
  }
  if (objective.rowGram !== undefined && typeof objective.rowGram !== 'function') {
    throw new HyperparameterError('objective.rowGram must be a function (params, x, cotangents) => Gram matrix, or absent');
  }
  if (objective.linearize !== undefined && typeof objective.linearize !== 'function') {
    throw new HyperparameterError('objective.linearize must be a function (params, x) => Linearization, or absent');
  }
  return resolveOutputLoss(objective.loss);
}

/**
 * Runs `predict` on a batch, turning a shape error deep in tfjs into one that names the batch.
 */
export function predictOn<X>(objective: Objective<X>, params: Tree, batch: SupervisedBatch<X>): tf.Tensor {
  return onInputs(batch, 'predict(params, batch.x)', (x) => objective.predict(params, x));
}

/**
 * `fn(batch.x)` for a model call named `call`: a missing batch, or a shape error deep in tfjs, becomes
 * an {@link InputError} that names the call and the shape of `batch.x`.
 */
export function onInputs<X, T>(batch: Pick<SupervisedBatch<X>, 'x'>, call: string, fn: (x: X) => T): T {
  if (batch === undefined || batch === null || !('x' in batch)) {
    throw new InputError('a Gauss-Newton objective needs a batch { x, y }, got ' + String(batch));
  }
  try {
    return fn(batch.x);
  } catch (err) {
    const shape = (batch.x as unknown as tf.Tensor)?.shape;
    throw new InputError(`${call} failed${shape ? ` for batch.x of shape [${shape.join(', ')}]` : ''}: ${(err as Error).message}`);
  }
}

/** The objective's scalar loss as a `lossFn(params, batch)`: L(θ) = loss(predict(θ, x), y). */
export function objectiveLoss<X>(objective: Objective<X>): (params: Tree, batch: SupervisedBatch<X>) => tf.Scalar {
  const loss = checkObjective(objective);
  return (params, batch) =>
    tf.tidy(() => {
      const outputs = predictOn(objective, params, batch);
      checkTargets(outputs, batch.y, loss);
      return loss.value(outputs, batch.y);
    });
}

/**
 * Per-sample residuals rᵢ = ∂ℓᵢ/∂fᵢ at the targets, after {@link checkTargets}. Squared-error
 * targets are reshaped like the outputs only when there is one output per sample (`[B]` targets of
 * `[B, 1]` outputs, see {@link squaredErrorTargets}); any other mismatch raises an error naming both
 * shapes. The other losses take their own target forms.
 */
export function residualAt(loss: OutputLoss, outputs: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  checkTargets(outputs, targets, loss);
  return tf.tidy(() => loss.residual(outputs, loss.name === 'meanSquaredError' ? squaredErrorTargets(outputs, targets) : targets));
}

/**
 * Checks targets against the outputs before a loss uses them, naming both shapes on a mismatch: as
 * many samples as the outputs, and, for the built-in losses (when `loss` is given), the shapes that
 * loss takes (squared error: the outputs' shape, or `[B]` for `[B, 1]`; softmax cross-entropy:
 * int32 labels `[B]` or `[B, C]`). Shapes only: no device read.
 */
export function checkTargets(outputs: tf.Tensor, targets: tf.Tensor, loss?: OutputLoss): void {
  if (batchSize(targets) !== batchSize(outputs)) {
    throw new InputError(
      `batch.y has ${batchSize(targets)} samples but predict returned ${batchSize(outputs)} ` +
        `(outputs [${outputs.shape.join(', ')}], targets [${targets.shape.join(', ')}])`,
    );
  }
  if (loss === meanSquaredError) needsReshape(outputs, targets);
  if (loss === softmaxCrossEntropy) checkClassTargets(outputs, targets);
}

/** The shape part of {@link oneHotTargets}, without building the one-hot rows. */
function checkClassTargets(outputs: tf.Tensor, targets: tf.Tensor): void {
  const c = outputs.shape[outputs.rank - 1];
  const labels = targets.dtype === 'int32' && targets.rank === 1;
  const oneHot = targets.rank === 2 && targets.shape[1] === c;
  if (!labels && !oneHot) {
    throw new InputError(
      `softmaxCrossEntropy targets must be int32 labels of shape [B] or one-hot of shape [B, ${c}], ` +
        `got ${targets.dtype} [${targets.shape.join(', ')}] for outputs [${outputs.shape.join(', ')}]`,
    );
  }
}
