/**
 * Second-order-safe gradients for tfjs kernels.
 *
 * Stock tfjs 4.22 computes Hessian-vector products by nested reverse mode WRONGLY for many models,
 * without a word: when a kernel's gradient uses the kernel's saved *output* (Tanh, Sigmoid, Exp,
 * Softmax, Elu, Pow, ...), the engine records the copy of that output on the tape before the kernel
 * itself, so the backward sweep of a second differentiation drops every term that flows through
 * it. Comparison ops (Equal, Greater, ...) used as masks inside gradients have no gradient at all,
 * and the backprop kernels of Conv2D's filter and of pooling are not differentiable.
 *
 * This module registers gradients that save only *inputs* and recompute what they need, zero
 * gradients for piecewise-constant ops, and gradients for the backprop kernels. They are installed
 * when somax is imported; they give the same first-order results as the stock ones. Every
 * second-order entry point calls {@link ensureSecondOrderGradients} (a cheap identity check) and
 * re-installs them if another package (e.g. `@tensorflow/tfjs` loaded after somax) replaced them,
 * and {@link assertSecondOrderSafe} rejects a computation that went through a kernel not known to
 * be safe, naming it, instead of returning a wrong number.
 *
 * See docs/second-order-ops.md for the table of covered kernels.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { UnsupportedOpError } from './errors';

type GradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: Record<string, any>) => Record<string, () => tf.Tensor>;
interface GradConfig {
  kernelName: string;
  inputsToSave?: string[];
  gradFunc: GradFunc;
}

/** Sums a broadcast gradient back to `shape`. */
function unbroadcast(g: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, g.shape);
  return tf.reshape(axes.length > 0 ? tf.sum(g, axes) : g, shape);
}

/** A unary gradient dy ⊙ f'(x) with f' recomputed from the saved input. */
function unary(kernelName: string, derivative: (x: tf.Tensor) => tf.Tensor): GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy as tf.Tensor, derivative(tf.cast(x, 'float32'))) }),
  };
}

/** A zero gradient for a piecewise-constant op with the given inputs. */
function zero(kernelName: string, inputs: string[]): GradConfig {
  return {
    kernelName,
    inputsToSave: inputs,
    // Gradients are float32 whatever the input dtype (bool for logical ops).
    gradFunc: (_dy, saved) => Object.fromEntries(inputs.map((name, i) => [name, () => tf.zeros(saved[i].shape)])),
  };
}

const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

function softmaxOf(logits: tf.Tensor, dim: number): tf.Tensor {
  return tf.softmax(logits, dim);
}

/** The gradients somax installs (input-saving, differentiable again). */
const SAFE_GRADIENTS: GradConfig[] = [
  unary('Tanh', (x) => tf.sub(1, tf.square(tf.tanh(x)))),
  unary('Sigmoid', (x) => {
    const s = tf.sigmoid(x);
    return tf.mul(s, tf.sub(1, s));
  }),
  unary('Exp', (x) => tf.exp(x)),
  unary('Elu', (x) => tf.where(tf.greater(x, 0), tf.onesLike(x), tf.exp(x))),
  unary('Selu', (x) => tf.where(tf.greater(x, 0), tf.fill(x.shape, SELU_SCALE), tf.mul(SELU_SCALE * SELU_ALPHA, tf.exp(x)))),
  {
    kernelName: 'Softmax',
    inputsToSave: ['logits'],
    gradFunc: (dy, [logits], { dim }) => ({
      logits: () => {
        const y = softmaxOf(logits, dim);
        const dyy = tf.mul(dy as tf.Tensor, y);
        return tf.sub(dyy, tf.mul(tf.sum(dyy, [dim], true), y));
      },
    }),
  },
  {
    kernelName: 'LogSoftmax',
    inputsToSave: ['logits'],
    gradFunc: (dy, [logits], { axis }) => ({
      logits: () => tf.sub(dy as tf.Tensor, tf.mul(tf.sum(dy as tf.Tensor, axis, true), softmaxOf(logits, axis))),
    }),
  },
  {
    kernelName: 'Pow',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => {
      return {
        a: () => unbroadcast(tf.mul(dy as tf.Tensor, tf.mul(b, tf.pow(a, tf.sub(b, 1)))), a.shape),
        b: () => {
          const logA = tf.where(tf.greater(a, 0), tf.log(tf.maximum(a, 1e-30)), tf.zerosLike(a));
          return unbroadcast(tf.mul(dy as tf.Tensor, tf.mul(tf.pow(a, b), logA)), b.shape);
        },
      };
    },
  },
  {
    // dw = Conv2DBackpropFilter(x, dy) is bilinear: its gradient is two convolutions.
    kernelName: 'Conv2DBackpropFilter',
    inputsToSave: ['x', 'dy'],
    gradFunc: (ddw, [x, dy], { strides, pad, dataFormat, dimRoundingMode }) => ({
      x: () =>
        tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: ddw as tf.Tensor }, {
          strides, pad, dataFormat, dimRoundingMode, inputShape: x.shape,
        }) as tf.Tensor,
      dy: () => tf.conv2d(x as tf.Tensor4D, ddw as tf.Tensor4D, strides, pad, dataFormat, 1, dimRoundingMode),
    }),
  },
  {
    // dx = AvgPoolGrad(dy) = Aᵀ dy is linear in dy: its gradient is A g = avgPool(g).
    kernelName: 'AvgPoolGrad',
    inputsToSave: ['dy', 'input'],
    gradFunc: (g, [, input], { filterSize, strides, pad }) => ({
      dy: () => tf.avgPool(g as tf.Tensor4D, filterSize, strides, pad),
      input: () => tf.zerosLike(input),
    }),
  },
  {
    // dx = MaxPoolGrad(dy) = Mᵀ dy selects the argmax of each window: its gradient is M g, the
    // upstream picked at each argmax (windows must not overlap).
    kernelName: 'MaxPoolGrad',
    inputsToSave: ['dy', 'input', 'output'],
    gradFunc: (g, [dy, input, output], { filterSize, strides, pad }) => {
      const [fh, fw] = Array.isArray(filterSize) ? filterSize : [filterSize, filterSize];
      const [sh, sw] = Array.isArray(strides) ? strides : [strides, strides];
      if (fh !== sh || fw !== sw) {
        throw new UnsupportedOpError(
          'the second derivative of maxPool is supported for non-overlapping windows (strides equal to filterSize); ' +
            'use avgPool or strided convolutions instead',
        );
      }
      return {
        dy: () => {
          const mask = tf.engine().runKernel('MaxPoolGrad', { dy: tf.onesLike(output), input, output }, { filterSize, strides, pad }) as tf.Tensor;
          return tf.mul(tf.avgPool(tf.mul(mask, g as tf.Tensor) as tf.Tensor4D, filterSize, strides, pad), fh * fw);
        },
        input: () => tf.zerosLike(input),
        output: () => tf.zerosLike(dy),
      };
    },
  },
  zero('Equal', ['a', 'b']),
  zero('NotEqual', ['a', 'b']),
  zero('Greater', ['a', 'b']),
  zero('GreaterEqual', ['a', 'b']),
  zero('Less', ['a', 'b']),
  zero('LessEqual', ['a', 'b']),
  zero('LogicalAnd', ['a', 'b']),
  zero('LogicalOr', ['a', 'b']),
  zero('LogicalNot', ['x']),
];

/**
 * Kernels whose gradients are known to be correct when differentiated again: those above plus
 * stock tfjs gradients that save only inputs, each checked by an HVP test against a float64
 * reference (tests/lib/gradients.test.ts).
 */
export const SECOND_ORDER_KERNELS: readonly string[] = [
  ...SAFE_GRADIENTS.map((g) => g.kernelName),
  'Add', 'AddN', 'Sub', 'Multiply', 'RealDiv', 'Neg', 'Square', 'SquaredDifference', 'Sqrt', 'Rsqrt',
  'Reciprocal', 'Log', 'Log1p', 'Abs', 'Relu', 'Relu6', 'LeakyRelu', 'Softplus', 'Max', 'Min', 'Maximum',
  'Minimum', 'Sum', 'Mean', 'BatchMatMul', 'Reshape', 'Transpose', 'Concat', 'Slice', 'GatherV2',
  'Tile', 'PadV2', 'BroadcastTo', 'ExpandDims', 'Pack', 'Unpack', 'SplitV', 'Identity', 'Cast', 'Select',
  'ClipByValue', 'Conv2D', 'Conv2DBackpropInput', 'AvgPool', 'MaxPool', 'Step', 'Sign', 'OnesLike',
  'ZerosLike', 'Fill', 'OneHot', 'UnsortedSegmentSum', 'Prelu', 'Erf', 'Sin', 'Cos', 'Atan', 'Floor', 'Ceil', 'Round', 'IsFinite', 'IsNan',
];

const SAFE_SET = new Set(SECOND_ORDER_KERNELS);

/** What to use instead of ops that cannot be differentiated twice. */
const ALTERNATIVES: Record<string, string> = {
  logSoftmax: 'losses.logSoftmax from somax',
  softmaxCrossEntropy: "losses.softmaxCrossEntropy from somax, or an objective with loss 'softmaxCrossEntropy'",
  sigmoidCrossEntropy: 'losses.sigmoidBinaryCrossEntropy from somax',
  logSigmoid: 'tf.neg(tf.softplus(tf.neg(x)))',
  meanSquaredError: "losses.squaredError from somax, or an objective with loss 'meanSquaredError'",
  computeWeightedLoss: 'the losses of somax',
  Prod: 'tf.exp(tf.sum(tf.log(x))) for positive x (the gradient of Prod uses Cumprod, which has none)',
};

/** Explains why `kernelName` cannot take part in a second-order product. */
function explain(kernelName: string): string {
  const base = kernelName.replace(/__op$/, '').replace(/_\d+$/, '');
  const alt = Object.entries(ALTERNATIVES).find(([k]) => base.toLowerCase().includes(k.toLowerCase()));
  if (alt && base === alt[0]) return `'${base}' cannot be differentiated twice: use ${alt[1]}`;
  if (alt) return `'${base}' is built with tf.customGrad and cannot be differentiated twice: use ${alt[1]}`;
  if (base.startsWith('_Fused') || base.startsWith('fused')) return `'${base}' (a fused op) cannot be differentiated twice: use tf.matMul / tf.conv2d followed by the activation`;
  return `the kernel '${base}' has no second-order-safe gradient in somax (see docs/second-order-ops.md)`;
}

let installed: GradConfig[] = [];

/** Nesting depth of somax second-order products in progress (fused ops are unfused inside them). */
let secondOrderDepth = 0;

/** Runs `fn` as a second-order product: `tf.fused.matMul` runs unfused inside, so it is differentiable twice. */
export function withSecondOrder<T>(fn: () => T): T {
  secondOrderDepth += 1;
  try {
    return fn();
  } finally {
    secondOrderDepth -= 1;
  }
}

type FusedMatMulArgs = Parameters<typeof tf.fused.matMul>[0];

/** `tf.fused.matMul` as plain ops: matMul, bias, activation (all second-order safe). */
function unfusedMatMul({ a, b, transposeA = false, transposeB = false, bias, activation = 'linear', preluActivationWeights, leakyreluAlpha = 0.2 }: FusedMatMulArgs): tf.Tensor {
  let y = tf.matMul(a, b, transposeA, transposeB);
  if (bias) y = tf.add(y, bias);
  switch (activation) {
    case 'linear': return y;
    case 'relu': return tf.relu(y);
    case 'relu6': return tf.relu6(y);
    case 'elu': return tf.elu(y);
    case 'sigmoid': return tf.sigmoid(y);
    case 'leakyrelu': return tf.leakyRelu(y, leakyreluAlpha);
    case 'prelu': return tf.prelu(y, preluActivationWeights as tf.Tensor);
    default: throw new UnsupportedOpError(`fused activation '${String(activation)}' in a second-order product`);
  }
}

const fused = tf.fused as unknown as { matMul: (args: FusedMatMulArgs) => tf.Tensor; __somaxOriginal?: (args: FusedMatMulArgs) => tf.Tensor };

/**
 * Routes `tf.fused.matMul` (used by tfjs-layers' Dense) through plain ops while a somax
 * second-order product runs; outside them the fused kernel runs as before.
 */
function installUnfusing(): void {
  if (fused.__somaxOriginal) return;
  const original = fused.matMul;
  fused.__somaxOriginal = original;
  fused.matMul = (args) => (secondOrderDepth > 0 ? unfusedMatMul(args) : original(args));
}

function quietly<T>(fn: () => T): T {
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    return fn();
  } finally {
    console.warn = warn;
  }
}

/**
 * Registers somax's second-order-safe gradients (idempotent). Called when somax is imported;
 * call it again only if you re-register tfjs's gradients yourself.
 */
export function installSecondOrderGradients(): void {
  installUnfusing();
  quietly(() => SAFE_GRADIENTS.forEach((g) => tf.registerGradient(g as unknown as tf.GradConfig)));
  installed = SAFE_GRADIENTS.map((g) => tf.getGradient(g.kernelName) as unknown as GradConfig);
}

/**
 * Makes sure somax's gradients are the registered ones, re-installing them if another package
 * replaced them (loading `@tensorflow/tfjs` after somax does, silently). A cheap identity check;
 * every second-order entry point calls it.
 */
export function ensureSecondOrderGradients(): void {
  for (let i = 0; i < SAFE_GRADIENTS.length; i++) {
    if ((tf.getGradient(SAFE_GRADIENTS[i].kernelName) as unknown) !== installed[i]) {
      installSecondOrderGradients();
      return;
    }
  }
}

interface TapeNode {
  kernelName: string;
  inputs: Record<string, unknown>;
  outputs: unknown[];
}

/**
 * The engine records the copies it keeps for backprop as tape nodes named after the enclosing
 * scope (not a kernel), with one input `x`; custom-gradient ops have inputs keyed '0', '1', ...
 */
function isCloneNode(node: TapeNode): boolean {
  const keys = Object.keys(node.inputs);
  return keys.length === 1 && keys[0] === 'x' && node.outputs.length === 1 && !SAFE_SET.has(node.kernelName) &&
    tf.getGradient(node.kernelName) == null;
}

/**
 * Throws an {@link UnsupportedOpError} if the computation recorded on tfjs's active tape went
 * through a kernel that is not second-order safe, naming it and what to use instead. Called by
 * the second-order products while their outer tape is recording.
 */
export function assertSecondOrderSafe(): void {
  const tape = (tf.engine() as unknown as { state: { activeTape: TapeNode[] | null } }).state.activeTape;
  if (!tape) return;
  for (const node of tape) {
    if (isCloneNode(node) || Object.keys(node.inputs).length === 0) continue; // copies and constants
    if (!SAFE_SET.has(node.kernelName)) throw new UnsupportedOpError(`second-order product: ${explain(node.kernelName)}`);
    if (tf.getGradient(node.kernelName) == null && !SAFE_GRADIENTS.some((g) => g.kernelName === node.kernelName)) {
      throw new UnsupportedOpError(
        `no gradient is registered for '${node.kernelName}': import '@tensorflow/tfjs' (or ` +
          `'@tensorflow/tfjs-core/dist/register_all_gradients') before somax`,
      );
    }
  }
}

installSecondOrderGradients();
