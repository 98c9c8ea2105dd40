/**
 * A compiled tfjs-layers model as an {@link Objective}: its forward pass as a function of a params
 * tree (keyed by the names of its trainable variables), its compiled loss as an output loss on
 * the logits, and the batch `model.fit` is training on, so that every somax method can be built
 * from the model in one line and trained by `model.fit` (see `make(name, { model })`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, HyperparameterError, InputError } from '../lib/errors';
import { resolveOptions } from '../lib/options';
import { meanSquaredErrorPerOutput, sigmoidCrossEntropy, softmaxCrossEntropy } from '../lib/objective';
import type { Objective, OutputLoss, SupervisedBatch } from '../lib/objective';
import { updateReadsOf, withReads } from '../lib/reads';
import { isTensor } from '../lib/tree';
import { linearization } from '../lib/autodiff';
import type { Linearization } from '../lib/objective';
import { activationLayer, averagePoolLayer, chainLinearization, conv2dLayer, denseLayer, globalAveragePoolLayer } from './layerChain';
import { identityLayer, maxPoolLayer, reshapeLayer } from './layerChain';
import type { ChainLayer, ChainLinearization, ChainLinearize } from './layerChain';
import type { Extra, GradientTransformation, Tree } from '../lib/types';

/** An activation of a tfjs-layers layer (`layer.activation`). */
interface LayerActivation {
  getClassName(): string;
  apply(x: tf.Tensor): tf.Tensor;
}

/** A weight of a tfjs-layers model (`LayerVariable`): `read()` returns the `tf.Variable`. */
interface LayerVariable {
  read(): tf.Tensor;
}

/**
 * What somax uses of a tfjs-layers `LayersModel` (Sequential or functional), structurally, so that
 * somax does not depend on tfjs-layers: its weights, layers, forward pass and compiled loss.
 */
export interface LayersModelLike {
  /** The trainable weights, in the order `model.fit` updates them. */
  readonly trainableWeights: readonly LayerVariable[];
  /** The layers, the output layer last (for a Sequential model). */
  readonly layers: readonly unknown[];
  /** The forward pass. */
  apply(inputs: tf.Tensor | tf.Tensor[], kwargs?: { training?: boolean }): tf.Tensor | tf.Tensor[] | unknown;
  /** The compiled loss (set by `model.compile`). */
  readonly loss?: unknown;
}

/** The loss names of tfjs-layers a model may be compiled with, and the output layer each needs. */
const LOSSES: Record<string, { loss: OutputLoss; activation: readonly string[]; sparse?: boolean }> = {
  meansquarederror: { loss: meanSquaredErrorPerOutput, activation: [] },
  mse: { loss: meanSquaredErrorPerOutput, activation: [] },
  categoricalcrossentropy: { loss: softmaxCrossEntropy, activation: ['softmax'] },
  sparsecategoricalcrossentropy: { loss: softmaxCrossEntropy, activation: ['softmax'], sparse: true },
  binarycrossentropy: { loss: sigmoidCrossEntropy, activation: ['sigmoid'] },
};

/** The output layer of a model: the last of its layers. */
function outputLayer(model: LayersModelLike): { activation?: LayerActivation } {
  const layers = model.layers;
  if (layers.length === 0) throw new InputError('the model has no layers');
  return layers[layers.length - 1] as { activation?: LayerActivation };
}

/** How the compiled loss of a model is taken: the output loss, and whether the last activation is folded into it. */
interface CompiledLoss {
  readonly loss: OutputLoss;
  /** The activation folded into the loss (softmax, sigmoid), run as linear in `predict`. */
  readonly folded: boolean;
  /** Integer class labels `[B]` from tfjs-layers' sparse labels (`[B]` or `[B, 1]`, any dtype). */
  readonly sparse: boolean;
}

/** The output loss of a compiled model, on its logits; an error names what is not supported. */
function compiledLoss(model: LayersModelLike): CompiledLoss {
  const given = Array.isArray(model.loss) ? (model.loss.length === 1 ? model.loss[0] : undefined) : model.loss;
  if (typeof given !== 'string') {
    throw new InputError(
      'the model must be compiled with one loss given by name (meanSquaredError, categoricalCrossentropy, ' +
        `sparseCategoricalCrossentropy or binaryCrossentropy) before its first step; got ${given === undefined ? 'none' : typeof given}`,
    );
  }
  const entry = LOSSES[given.replace(/_/g, '').toLowerCase()];
  if (entry === undefined) {
    throw new InputError(`loss '${given}' is not supported by somax's model route: use ${Object.keys(LOSSES).join(', ')}`);
  }
  const activation = outputLayer(model).activation?.getClassName().toLowerCase() ?? 'linear';
  if (entry.activation.length > 0 && !entry.activation.includes(activation)) {
    throw new InputError(
      `loss '${given}' needs a final ${entry.activation.join(' or ')} activation (somax folds it into the loss, on the logits); ` +
        `the output layer's activation is ${activation}`,
    );
  }
  return { loss: entry.loss, folded: entry.activation.length > 0, sparse: entry.sparse === true };
}

/** A linear activation, to run an output layer on its logits. */
const LINEAR: LayerActivation = {
  getClassName: () => 'linear',
  apply: (x) => x,
};

/** `fn()` with the model's weights read from `params` (by variable name), restored afterwards. */
function withWeights<T>(model: LayersModelLike, params: Tree, fn: () => T): T {
  const values = params as Record<string, tf.Tensor>;
  const swapped: [{ val: tf.Tensor }, tf.Tensor][] = [];
  try {
    for (const weight of model.trainableWeights) {
      const variable = weight.read() as tf.Variable;
      const value = values[variable.name];
      if (value === undefined)
        throw new InputError(`params has no entry '${variable.name}' (params are keyed by the model's variable names)`);
      if (value === variable) continue;
      const holder = weight as unknown as { val: tf.Tensor };
      swapped.push([holder, holder.val]);
      holder.val = value;
    }
    return fn();
  } finally {
    for (const [holder, original] of swapped) holder.val = original;
  }
}

/** `fn()` with the output layer's activation linear when `fold` (the loss takes the logits). */
function withLogits<T>(model: LayersModelLike, fold: boolean, fn: () => T): T {
  const layer = outputLayer(model);
  if (!fold || layer.activation === undefined) return fn();
  const activation = layer.activation;
  layer.activation = LINEAR;
  try {
    return fn();
  } finally {
    layer.activation = activation;
  }
}

/** A layer whose tfjs-layers `call` runs a fused op, with what its plain-op forward pass reads. */
interface FusedLayer {
  getClassName(): string;
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: unknown): tf.Tensor | tf.Tensor[];
  activation: LayerActivation;
  kernel: LayerVariable;
  bias?: LayerVariable | null;
  strides?: number[];
  padding?: string;
  dataFormat?: string;
  dilationRate?: number | number[];
  rank?: number;
}

/**
 * Plain-op forward passes of the layers whose `call` runs a fused op (`tf.fused.matMul` in
 * Dense, `tf.fused.conv2d` in Conv2D): fused ops cannot be differentiated twice, and in an ESM
 * bundle `tf.fused` cannot be routed (see lib/autodiff/install.ts), but a layer's `call` can.
 */
const PLAIN_CALLS: Record<string, (layer: FusedLayer, x: tf.Tensor) => tf.Tensor> = {
  Dense: (layer, x) => {
    const kernel = layer.kernel.read() as tf.Tensor2D;
    const [inputs, units] = kernel.shape;
    const bias = layer.bias ? layer.bias.read() : undefined;
    const flat = (x.rank === 2 ? x : tf.reshape(x, [-1, inputs])) as tf.Tensor2D;
    const z = bias === undefined ? tf.matMul(flat, kernel) : tf.add(tf.matMul(flat, kernel), bias);
    return layer.activation.apply(x.rank === 2 ? z : tf.reshape(z, [...x.shape.slice(0, -1), units]));
  },
  Conv2D: (layer, x) => {
    const channelsFirst = layer.dataFormat === 'channelsFirst';
    const input = (channelsFirst ? tf.transpose(x, [0, 2, 3, 1]) : x) as tf.Tensor4D;
    const kernel = layer.kernel.read() as tf.Tensor4D;
    const bias = layer.bias ? layer.bias.read() : undefined;
    const pad = layer.padding === 'same' ? 'same' : 'valid';
    const strides = layer.strides as [number, number];
    const y = tf.conv2d(input, kernel, strides, pad, 'NHWC', (layer.dilationRate ?? 1) as [number, number]);
    const z = bias === undefined ? y : tf.add(y, bias);
    const out = layer.activation.apply(z);
    return channelsFirst ? tf.transpose(out, [0, 3, 1, 2]) : out;
  },
};

/** Whether a conv layer's dilation is 1 (the chain's patches assume it). */
function unitDilation(layer: FusedLayer): boolean {
  const d = layer.dilationRate;
  return d === undefined || (Array.isArray(d) ? d.every((v) => v === 1) : d === 1);
}

/** `fn()` with the model's fused layers running their plain-op forward passes (see {@link PLAIN_CALLS}). */
function withPlainCalls<T>(model: LayersModelLike, fn: () => T): T {
  const swapped: [FusedLayer, FusedLayer['call']][] = [];
  try {
    for (const l of model.layers) {
      const layer = l as FusedLayer;
      const plain = PLAIN_CALLS[layer.getClassName?.()];
      if (plain === undefined || (layer.getClassName() === 'Conv2D' && layer.rank !== 2)) continue;
      swapped.push([layer, layer.call]);
      layer.call = (inputs) => tf.tidy(() => plain(layer, Array.isArray(inputs) ? inputs[0] : inputs));
    }
    return fn();
  } finally {
    for (const [layer, call] of swapped) layer.call = call;
  }
}

/** A layer of a Sequential model as the chain reads it (tfjs-layers' fields, all optional). */
interface ChainableLayer extends Partial<FusedLayer> {
  getClassName(): string;
  poolSize?: [number, number];
  outputShape?: (number | null)[];
  input?: { shape: (number | null)[] };
}

/** The input shape of a layer used once (`[null, ...]`); `[]` when it has several. */
function inputShapeOf(layer: ChainableLayer): (number | null)[] {
  try {
    return layer.input?.shape ?? [];
  } catch {
    return []; // tfjs-layers throws for a layer with several inbound nodes
  }
}

/** Whether an activation is elementwise (all of tfjs-layers' but softmax and logSoftmax). */
function elementwise(activation: LayerActivation): boolean {
  return !['softmax', 'logsoftmax'].includes(activation.getClassName().toLowerCase());
}

/** The activation of a layer as chain layers: none when linear or folded into the loss, undefined when not elementwise. */
function activationOf(layer: ChainableLayer, folded: boolean): ChainLayer[] | undefined {
  const activation = layer.activation;
  if (activation === undefined || folded || activation.getClassName().toLowerCase() === 'linear') return [];
  return elementwise(activation) ? [activationLayer((z) => activation.apply(z))] : undefined;
}

/** Whether a 2-D pooling layer's windows do not overlap and cover its input ('valid', or 'same' on a divisible input). */
function wholeWindows(layer: ChainableLayer): boolean {
  const [ph, pw] = layer.poolSize ?? [0, 0];
  const [sh, sw] = layer.strides ?? [0, 0];
  const [h, w] = inputShapeOf(layer).slice(1, 3) as number[];
  const divisible = h % ph === 0 && w % pw === 0;
  return ph === sh && pw === sw && layer.dataFormat !== 'channelsFirst' && (layer.padding !== 'same' || divisible);
}

/** The chain layers of one tfjs-layers layer, undefined for a layer the chain does not know. */
function chainLayersOf(layer: ChainableLayer, last: boolean, folded: boolean): ChainLayer[] | undefined {
  const name = layer.getClassName();
  const key = (v: LayerVariable | null | undefined) => (v ? (v.read() as tf.Variable).name : undefined);
  const then = (core: ChainLayer) => {
    const act = activationOf(layer, last && folded);
    return act && [core, ...act];
  };
  const channelsLast = layer.dataFormat !== 'channelsFirst';
  switch (name) {
    case 'Dense':
      return inputShapeOf(layer).length === 2 && layer.kernel ? then(denseLayer(key(layer.kernel) as string, key(layer.bias))) : undefined;
    case 'Conv2D': {
      const ok = layer.rank === 2 && channelsLast && unitDilation(layer as FusedLayer) && layer.kernel;
      const pad = layer.padding === 'same' ? 'same' : 'valid';
      return ok ? then(conv2dLayer(key(layer.kernel) as string, key(layer.bias), layer.strides as [number, number], pad)) : undefined;
    }
    case 'MaxPooling2D':
      return wholeWindows(layer) ? [maxPoolLayer(layer.poolSize as [number, number])] : undefined;
    case 'AveragePooling2D':
      return wholeWindows(layer) ? [averagePoolLayer(layer.poolSize as [number, number])] : undefined;
    case 'GlobalAveragePooling2D':
      return channelsLast ? [globalAveragePoolLayer] : undefined;
    case 'Flatten':
    case 'Reshape':
      return name === 'Flatten' && !channelsLast ? undefined : [reshapeLayer((layer.outputShape ?? []).slice(1) as number[])];
    case 'Dropout':
    case 'InputLayer':
      return [identityLayer];
    case 'Activation':
      return activationOf(layer, last && folded);
    default:
      return undefined;
  }
}

/**
 * A Sequential model of layers the chain knows (Dense on rank-2 inputs, Conv2D NHWC with dilation
 * 1, non-overlapping Max/AveragePooling2D, GlobalAveragePooling2D, Flatten, Reshape, Dropout,
 * elementwise activations) as the layers of `layerChain.ts`; undefined for any other model (the
 * tape linearizes it). `folded`: the output layer's activation is folded into the loss.
 */
function layerChainOf(model: LayersModelLike, folded: boolean): ChainLayer[] | undefined {
  if ((model as { getClassName?: () => string }).getClassName?.() !== 'Sequential') return undefined;
  const layers = model.layers as ChainableLayer[];
  const parts = layers.map((layer, i) => chainLayersOf(layer, i === layers.length - 1, folded));
  return parts.every((p) => p !== undefined) ? (parts as ChainLayer[][]).flat() : undefined;
}

/** The batch `model.fit` is training on, recorded by the train function while it runs. */
const FIT_BATCHES = new WeakMap<object, SupervisedBatch<tf.Tensor | tf.Tensor[]>>();

/** The part of tfjs-layers' `LayersModel` that builds the train function of `fit`. */
interface Trainable {
  makeTrainFunction(): (data: tf.Tensor[]) => unknown;
  inputs?: unknown[];
}

/**
 * Records, for the duration of each training step of `model.fit` / `fitDataset` /
 * `trainOnBatch`, the inputs and targets of the batch, under the model that trains (idempotent).
 * tfjs-layers builds its train function with `LayersModel.prototype.makeTrainFunction`, whose
 * argument is the batch: inputs, then targets. The method is patched on the prototype that
 * defines it (a `Sequential` trains through an inner `LayersModel`), and records nothing outside
 * a step.
 */
function recordFitBatches(model: LayersModelLike): void {
  let proto = Object.getPrototypeOf(model) as (Trainable & { __somaxRecords?: boolean }) | null;
  while (proto !== null && !Object.prototype.hasOwnProperty.call(proto, 'makeTrainFunction')) proto = Object.getPrototypeOf(proto);
  if (proto === null || proto.__somaxRecords) return;
  const make = proto.makeTrainFunction;
  proto.makeTrainFunction = function (this: Trainable) {
    const train = make.call(this);
    return (data: tf.Tensor[]) => {
      const n = this.inputs?.length ?? 1;
      FIT_BATCHES.set(this, { x: n === 1 ? data[0] : data.slice(0, n), y: data[n] });
      try {
        return train(data);
      } finally {
        FIT_BATCHES.delete(this);
      }
    };
  };
  proto.__somaxRecords = true;
}

/** The batch of the step `model.fit` is running on `model` (or on a Sequential's inner model). */
function currentFitBatch(model: LayersModelLike): SupervisedBatch<tf.Tensor | tf.Tensor[]> | undefined {
  const inner = (model as unknown as { model?: object }).model;
  return FIT_BATCHES.get(model) ?? (inner === undefined ? undefined : FIT_BATCHES.get(inner));
}

/** An objective built from a tfjs-layers model (see {@link layersObjective}). */
export interface LayersObjective extends Objective<tf.Tensor | tf.Tensor[]> {
  /** The model. */
  readonly model: LayersModelLike;
  /** The batch `model.fit` is training on while one of its steps runs, else undefined. */
  fitBatch(): SupervisedBatch<tf.Tensor | tf.Tensor[]> | undefined;
}

/**
 * A compiled tfjs-layers model (Sequential or functional, one output) as an {@link Objective}:
 *
 * - `predict(params, x)` runs the model in inference mode (Dropout off) with its trainable weights
 *   read from `params`, a tree keyed by the models's variable names — the variables themselves
 *   (as `asTfOptimizer` passes them) or any other tensors (a trust-region or line-search point):
 *   the products differentiate through them. Dense and Conv2D layers run as plain ops (matMul or
 *   conv2d, bias, activation) instead of tfjs's fused ops, so that the forward pass is twice
 *   differentiable in every module system, ESM bundles included;
 * - `loss` is the loss the model is compiled with, on the logits: `categoricalCrossentropy` /
 *   `sparseCategoricalCrossentropy` of a final softmax → softmax cross-entropy of the logits,
 *   `binaryCrossentropy` of a final sigmoid → sigmoid cross-entropy of the logits,
 *   `meanSquaredError` → squared error averaged over the outputs, as tfjs-layers defines it. The
 *   loss is read at the first step, so the model may be compiled after the method is built;
 * - a Sequential model of the layers `models/layerChain.ts` knows (Dense, Conv2D, pooling,
 *   Flatten, Reshape, Dropout, elementwise activations) is linearized in closed form: J v, Jᵀ u
 *   and the row Gram from one kept forward pass, no tape (a few gradients' cost for the Gram, not
 *   one backward pass per sample and output); other models use the tape, and the Jacobian rows.
 *
 * Regularization losses of the layers (kernelRegularizer) are not part of it.
 *
 * @example
 * const objective = layersObjective(model);
 * const tx = egn(objective, { lam0: 1 });   // or make('egn', { model, lam0: 1 })
 */
export function layersObjective(model: LayersModelLike): LayersObjective {
  if (typeof model?.apply !== 'function' || !Array.isArray(model.trainableWeights)) {
    throw new HyperparameterError('layersObjective: model must be a tfjs-layers LayersModel');
  }
  recordFitBatches(model);
  let compiled: CompiledLoss | undefined;
  const resolved = (): CompiledLoss => (compiled ??= compiledLoss(model));
  const targets = (y: tf.Tensor): tf.Tensor => (resolved().sparse ? tf.cast(tf.reshape(y, [-1]), 'int32') : y);
  const loss: OutputLoss = {
    get name() {
      return resolved().loss.name;
    },
    value: (f, y) => tf.tidy(() => resolved().loss.value(f, targets(y))),
    residual: (f, y) => tf.tidy(() => resolved().loss.residual(f, targets(y))),
    hessianProduct: (f, u) => resolved().loss.hessianProduct(f, u),
    hessianBlocks: (f) => resolved().loss.hessianBlocks(f),
    sampleTargets: (f, key) => resolved().loss.sampleTargets(f, key),
  };
  const predict = (params: Tree, x: tf.Tensor | tf.Tensor[]): tf.Tensor =>
    withWeights(model, params, () =>
      withLogits(model, resolved().folded, () =>
        withPlainCalls(model, () => {
          const out = model.apply(x, { training: false });
          if (!isTensor(out)) throw new InputError('somax supports models with one output');
          return out;
        }),
      ),
    );
  // The closed-form chain of a Sequential model of known layers (built at the first step, when the
  // compiled loss says whether the output activation is folded), else the tape.
  let chain: ChainLinearize | null | undefined;
  const chainOf = () => {
    if (chain === undefined) {
      const layers = layerChainOf(model, resolved().folded);
      chain = layers ? chainLinearization(layers) : null;
    }
    return chain;
  };
  const linearize = (params: Tree, x: tf.Tensor | tf.Tensor[]): Linearization => {
    const closed = isTensor(x) ? chainOf() : null;
    return closed ? closed(params, x as tf.Tensor) : linearization({ predict, loss }, params, { x });
  };
  const rowGram = (params: Tree, x: tf.Tensor | tf.Tensor[], cotangents: tf.Tensor): tf.Tensor2D => {
    const lin = linearize(params, x);
    try {
      return (lin as ChainLinearization).rowGram(cotangents);
    } finally {
      lin.dispose();
    }
  };
  // The chain is known once the compiled loss is (whether the output activation folds); before
  // `compile`, from the layers alone, folding the output activation.
  const chained = (): boolean => {
    try {
      return chainOf() !== null;
    } catch {
      return layerChainOf(model, true) !== undefined;
    }
  };
  return {
    model,
    predict,
    loss,
    linearize,
    /** The closed-form row Gram of the chain (`rowGram` of its linearization); absent for other models. */
    get rowGram() {
      return chained() ? rowGram : undefined;
    },
    /** The chain's dense and conv layers (K-FAC's factors); absent for other models. */
    get layerParams() {
      return chained() ? () => (chainOf() as ChainLinearize).layerParams : undefined;
    },
    fitBatch: () => currentFitBatch(model),
  };
}

/** Options of {@link withFitBatch}. */
export interface FitBatchOptions {
  /**
   * Curvature on the first k samples of each batch of `model.fit` (default: the whole batch). The
   * gradient stays the whole batch's.
   */
  curvatureSamples?: number;
}

/** The first `k` samples of a batch (fresh tensors). */
function firstSamples(batch: SupervisedBatch<tf.Tensor | tf.Tensor[]>, k: number): SupervisedBatch<tf.Tensor | tf.Tensor[]> {
  const head = (t: tf.Tensor) => tf.slice(t, 0, Math.min(k, t.shape[0]));
  return { x: Array.isArray(batch.x) ? batch.x.map(head) : head(batch.x), y: head(batch.y) };
}

/**
 * `tx` fed the batch `model.fit` is training on: while a step of `model.fit` runs (through
 * `asTfOptimizer`), `extra.batch` becomes `{ x, y }` of that batch and `extra.curvatureBatch` its
 * first `curvatureSamples` samples (or the same batch); `extra.value` is dropped, since fit's
 * loss is taken in training mode (Dropout on) and with the regularizers, and the objective's is
 * not. Outside `model.fit` the extras pass through as given.
 *
 * @example
 * const tx = withFitBatch(egn(objective, { lam0: 1 }), objective, { curvatureSamples: 16 });
 * model.compile({ optimizer: asTfOptimizer(tx), loss: 'categoricalCrossentropy' });
 */
export function withFitBatch<S>(
  tx: GradientTransformation<S>,
  objective: LayersObjective,
  options: FitBatchOptions = {},
): GradientTransformation<S> {
  const { curvatureSamples } = resolveOptions('withFitBatch', options, { curvatureSamples: undefined });
  if (curvatureSamples !== undefined) assertInteger('curvatureSamples', curvatureSamples);
  return withReads(tx.init, function* (updates, state, params, extra: Extra = {}) {
    const batch = objective.fitBatch();
    if (batch === undefined) return yield* updateReadsOf(tx, updates, state, params, extra);
    const curvature = curvatureSamples === undefined ? batch : firstSamples(batch, curvatureSamples);
    const { value: _fitLoss, ...rest } = extra;
    try {
      return yield* updateReadsOf(tx, updates, state, params, { ...rest, batch, curvatureBatch: curvature });
    } finally {
      if (curvature !== batch) tf.dispose([curvature.x, curvature.y] as tf.Tensor[]);
    }
  });
}
