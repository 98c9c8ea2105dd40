/**
 * The second-order-safe gradient table: one gradient per tfjs kernel that can be differentiated
 * again (to any order).
 *
 * Stock tfjs 4.22 computes Hessian-vector products by nested reverse mode WRONGLY for many models,
 * without a word: when a kernel's gradient uses the kernel's saved *output* (Tanh, Sigmoid, Exp,
 * Softmax, Elu, Pow, ...), the engine records the copy of that output on the tape before the kernel
 * itself, so the backward sweep of a second differentiation drops every term that flows through
 * it. Comparison ops (Equal, Greater, ...) used as masks inside gradients have no gradient at all,
 * Prod's gradient uses Cumprod (no gradient), and the backprop kernels of Conv2D's filter and of
 * pooling are not differentiable.
 *
 * Every gradient of `SECOND_ORDER_KERNELS` saves only *inputs* and recomputes what it needs
 * from primitive ops that are themselves in the list. The kernels whose stock gradient is wrong or
 * missing at second order (`REPLACED_KERNELS`) always get somax's gradient, and so do those where
 * somax's runs fewer kernels (`leaner`: no Cast of a float32 input, no Reshape to the same shape;
 * inside a second-order product every kernel of a gradient is recorded, saved and differentiated
 * again); the others keep a stock gradient when one is registered (stock is correct for them,
 * tested). The installer is
 * `install.ts`; the check that a computation used only these kernels is `tapeCheck.ts`.
 *
 * See docs/second-order-ops.md for the table of covered kernels.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { UnsupportedOpError } from '../errors';
import { broadcastTo, convPatches, matMulFast } from '../ops';
import { savedOutputUsable } from './engine';

type Attrs = Record<string, any>;
type GradMap = Record<string, () => tf.Tensor> | (() => tf.Tensor)[];
type GradFunc = (dy: any, saved: tf.Tensor[], attrs: Attrs) => GradMap;

/** A gradient somax registers for one kernel. */
export interface SomaxGradConfig {
  readonly kernelName: string;
  readonly inputsToSave?: string[];
  readonly saveAllInputs?: boolean;
  /** Outputs saved for the first-order form of the gradient (see `unaryFromOutput`). */
  readonly outputsToSave?: boolean[];
  readonly gradFunc: GradFunc;
  /** What stock tfjs gets wrong for this kernel; absent when its stock gradient is correct and kept. */
  readonly replaces?: string;
  /**
   * Why somax's gradient is installed over a correct stock one: it runs fewer kernels (each kernel
   * of a gradient is also recorded, saved and differentiated again inside a second-order product).
   */
  readonly leaner?: string;
}

// ---------------------------------------------------------------------------------------------
// Helpers (every op used inside a gradient is itself in SECOND_ORDER_KERNELS).

const f32 = (t: tf.Tensor): tf.Tensor => (t.dtype === 'float32' ? t : tf.cast(t, 'float32'));

/**
 * Sums a broadcast gradient back to `shape` (leading and size-1 axes); `g` itself when it already
 * has that shape (no kernel).
 */
function unbroadcast(g: tf.Tensor, shape: readonly number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape as number[], g.shape);
  // Same rank: the size-1 axes kept by the sum are the target's (no Reshape after it).
  const summed = axes.length > 0 ? tf.sum(g, axes, g.rank === shape.length) : g;
  return tf.util.arraysEqual(summed.shape, shape as number[]) ? summed : tf.reshape(summed, shape as number[]);
}

/**
 * `t`, as a tensor of its own when it is the incoming gradient `dy` itself (a Reshape to the same
 * shape: no copy). tfjs's backprop accumulates into, and then disposes, the tensor a gradient
 * returns; returning `dy` itself would let that dispose `dy` (or the caller's cotangent) while
 * another input or the caller still holds it.
 */
const fresh = (t: tf.Tensor, dy: tf.Tensor): tf.Tensor => (t === dy ? tf.reshape(dy, dy.shape) : t);

/** The float32 zeros shaped like `t` (the gradient of a piecewise-constant input). */
const zerosOf = (t: tf.Tensor): tf.Tensor => tf.zeros(t.shape, 'float32');

/** A unary gradient `dy ⊙ f'(x)`, f' recomputed from the saved input. */
function unary(kernelName: string, derivative: (x: tf.Tensor) => tf.Tensor, replaces?: string, leaner?: string): SomaxGradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor, [x]) => ({ x: () => tf.mul(dy, derivative(f32(x))) }),
    replaces,
    leaner,
  };
}

/**
 * {@link unary} for a kernel whose derivative is cheaper from its output y: `dy ⊙ fromOutput(y)`
 * from the saved output at first order (as stock tfjs) and inside somax's second-order products,
 * which save y as an alias of the taped output; `dy ⊙ derivative(x)`, recomputed from the input,
 * inside any other recorded sweep (tfjs's saved copy of y would drop the second-order terms).
 * E.g. tanh: 1 − y² (no second Tanh kernel).
 */
function unaryFromOutput(
  kernelName: string,
  derivative: (x: tf.Tensor) => tf.Tensor,
  fromOutput: (y: tf.Tensor) => tf.Tensor,
  replaces: string,
): SomaxGradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy: tf.Tensor, [x, y]) => ({ x: () => tf.mul(dy, savedOutputUsable(y) ? fromOutput(y) : derivative(f32(x))) }),
    replaces,
  };
}

/** A zero gradient for each input of a piecewise-constant kernel. */
function zero(kernelName: string, inputs: string[], replaces?: string): SomaxGradConfig {
  return {
    kernelName,
    inputsToSave: inputs,
    gradFunc: (_dy, saved) => Object.fromEntries(inputs.map((name, i) => [name, () => zerosOf(saved[i])])),
    replaces,
  };
}

/** A binary elementwise gradient with broadcasting: `{a: dy ⊙ ∂a, b: dy ⊙ ∂b}` summed back. */
function binary(
  kernelName: string,
  da: (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  db: (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  replaces?: string,
  leaner?: string,
): SomaxGradConfig {
  return {
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy: tf.Tensor, [a, b]) => ({
      a: () => fresh(unbroadcast(da(dy, f32(a), f32(b)), a.shape), dy),
      b: () => fresh(unbroadcast(db(dy, f32(a), f32(b)), b.shape), dy),
    }),
    replaces,
    leaner,
  };
}

/** The shape of `x` with the reduced `axes` kept as size 1. */
function keptShape(shape: readonly number[], axes: number[]): number[] {
  const out = shape.slice();
  axes.forEach((a) => (out[a] = 1));
  return out;
}

const axesOf = (axis: number | number[] | null | undefined, shape: number[]): number[] =>
  tf.util.parseAxisParam(axis ?? (null as unknown as number[]), shape);

/** Gradient of Max/Min: dy routed to every position equal to the extremum (mask constant). */
function extremumGrad(kernelName: 'Max' | 'Min', axisAttr: string): SomaxGradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor, [x], attrs) => ({
      x: () => {
        const axes = axesOf(attrs[axisAttr], x.shape);
        const shape = keptShape(x.shape, axes);
        const y = kernelName === 'Max' ? tf.max(x, axes, true) : tf.min(x, axes, true);
        return tf.mul(tf.reshape(dy, shape), tf.cast(tf.equal(x, y), 'float32'));
      },
    }),
  };
}

/**
 * Exclusive products along the last axis, `e_i = Π_{j≠i} x_j`, from prefix and suffix products
 * built with slices and multiplications (differentiable again; Cumprod has no gradient). Costs
 * about 3n small ops for an axis of length n.
 */
function exclusiveProducts(x: tf.Tensor): tf.Tensor {
  const n = x.shape[x.rank - 1];
  const lead = x.shape.slice(0, -1);
  const col = (i: number) => tf.slice(x, [...lead.map(() => 0), i], [...lead, 1]);
  const ones = tf.ones([...lead, 1]);
  const prefix: tf.Tensor[] = [ones];
  for (let i = 1; i < n; i++) prefix.push(tf.mul(prefix[i - 1], col(i - 1)));
  const suffix: tf.Tensor[] = new Array(n);
  suffix[n - 1] = ones;
  for (let i = n - 2; i >= 0; i--) suffix[i] = tf.mul(suffix[i + 1], col(i + 1));
  return tf.concat(
    prefix.map((p, i) => tf.mul(p, suffix[i])),
    x.rank - 1,
  );
}

/** `x` padded so that windows of a pool with `info` fit, with strided subsampling at offsets. */
function poolWindows(info: tf.backend_util.Conv2DInfo) {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth, padInfo } =
    info;
  const padded = (t: tf.Tensor, value: number) => {
    const bottom = Math.max(0, filterHeight - 1 + outHeight * strideHeight - inHeight - padInfo.top);
    const right = Math.max(0, filterWidth - 1 + outWidth * strideWidth - inWidth - padInfo.left);
    return tf.pad(
      t,
      [
        [0, 0],
        [padInfo.top, bottom],
        [padInfo.left, right],
        [0, 0],
      ],
      value,
    );
  };
  /** The elements at window offset (u, v) of every output position: `[B, outH, outW, C]`. */
  const at = (p: tf.Tensor, u: number, v: number) => {
    const block = tf.slice(p, [0, u, v, 0], [batchSize, outHeight * strideHeight, outWidth * strideWidth, inChannels]);
    // Rank-4 views only: tfjs-backend-wasm slices and pads rank > 4 element by element in JS.
    const split = tf.reshape(block, [batchSize * outHeight, strideHeight, outWidth, strideWidth * inChannels]);
    const picked = tf.slice(split, [0, 0, 0, 0], [batchSize * outHeight, 1, outWidth, inChannels]);
    return tf.reshape(picked, [batchSize, outHeight, outWidth, inChannels]);
  };
  /** The transpose of `at`: `[B, outH, outW, C]` values placed at window offset (u, v) of the unpadded input. */
  const place = (t: tf.Tensor, u: number, v: number) => {
    const split = tf.reshape(t, [batchSize * outHeight, 1, outWidth, inChannels]);
    const spread = tf.pad(split, [
      [0, 0],
      [0, strideHeight - 1],
      [0, 0],
      [0, (strideWidth - 1) * inChannels],
    ]);
    const block = tf.reshape(spread, [batchSize, outHeight * strideHeight, outWidth * strideWidth, inChannels]);
    const top = u - padInfo.top;
    const left = v - padInfo.left;
    // Pad the block to the padded input's frame at (u, v), then cut the unpadded input out of it.
    const framed = tf.pad(block, [
      [0, 0],
      [Math.max(0, top), Math.max(0, inHeight - top - outHeight * strideHeight)],
      [Math.max(0, left), Math.max(0, inWidth - left - outWidth * strideWidth)],
      [0, 0],
    ]);
    return tf.slice(framed, [0, Math.max(0, -top), Math.max(0, -left), 0], [batchSize, inHeight, inWidth, inChannels]);
  };
  return { padded, at, place, filterHeight, filterWidth };
}

/**
 * The selection masks of a max pool, one per window offset (u, v), `[B, outH, outW, C]` each: 1
 * where the output picks that offset, the first maximum of its window in row-major order (as the
 * cpu and WebGPU kernels do). Computed from the input and treated as constants.
 */
function maxPoolMasks(x: tf.Tensor, attrs: Attrs) {
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const w = poolWindows(info);
  const xp = w.padded(x, -Infinity);
  const y = tf.maxPool(x as tf.Tensor4D, filterSize, strides, pad, dimRoundingMode);
  let found: tf.Tensor = tf.zerosLike(y);
  const masks: { u: number; v: number; hit: tf.Tensor }[] = [];
  for (let u = 0; u < w.filterHeight; u++) {
    for (let v = 0; v < w.filterWidth; v++) {
      const hit = tf.mul(tf.cast(tf.equal(w.at(xp, u, v), y), 'float32'), tf.sub(1, found));
      found = tf.add(found, hit);
      masks.push({ u, v, hit });
    }
  }
  return { w, masks };
}

/** `M g` for the selection matrix M of a max pool: the transpose of MaxPoolGrad. */
function maxPoolSelect(x: tf.Tensor, g: tf.Tensor, attrs: Attrs): tf.Tensor {
  const { w, masks } = maxPoolMasks(x, attrs);
  const gp = w.padded(g, 0);
  return masks.map(({ u, v, hit }) => tf.mul(hit, w.at(gp, u, v))).reduce((a, b) => tf.add(a, b));
}

/**
 * `Mᵀ dy`, what the MaxPoolGrad kernel computes, from ops of this list. tfjs-backend-wasm's
 * MaxPoolGrad (4.22) starts each window's maximum at `std::numeric_limits<float>::min()`, the
 * smallest *positive* float: a window whose entries are all ≤ 0 (a tanh or relu output) sends its
 * gradient to offset 0 of the whole tensor instead of to its maximum (it is lost), and ties go to
 * the last maximum. On wasm the gradient of MaxPool is this instead.
 */
function maxPoolScatter(x: tf.Tensor, dy: tf.Tensor, attrs: Attrs): tf.Tensor {
  const { w, masks } = maxPoolMasks(x, attrs);
  return masks.map(({ u, v, hit }) => w.place(tf.mul(hit, dy), u, v)).reduce((a, b) => tf.add(a, b));
}

/**
 * The transpose of tfjs's AvgPoolGrad kernel (which spreads `dy / (filterHeight·filterWidth)`
 * over every window, padded positions included): window sums of the zero-padded incoming
 * gradient over the full window size, i.e. `avgPool` with padding counted.
 */
function avgPoolGradTranspose(input: tf.Tensor, g: tf.Tensor, attrs: Attrs): tf.Tensor {
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const w = poolWindows(info);
  const gp = w.padded(g, 0);
  let out: tf.Tensor | null = null;
  for (let u = 0; u < w.filterHeight; u++) {
    for (let v = 0; v < w.filterWidth; v++) out = out ? tf.add(out, w.at(gp, u, v)) : w.at(gp, u, v);
  }
  return tf.div(out as tf.Tensor, w.filterHeight * w.filterWidth);
}

const runKernel = (name: string, inputs: Record<string, tf.Tensor>, attrs: Attrs): tf.Tensor =>
  tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs) as tf.Tensor;

function conv2dBackpropInput(inputShape: number[], dy: tf.Tensor, filter: tf.Tensor, attrs: Attrs): tf.Tensor {
  const { strides, pad, dataFormat, dimRoundingMode } = attrs;
  return runKernel('Conv2DBackpropInput', { dy, filter }, { strides, pad, dataFormat, dimRoundingMode, inputShape });
}

/**
 * The filter gradient of a 2-D convolution. tfjs-backend-wasm has no `Conv2DBackpropFilter`
 * kernel: there it is computed from the input patches, dW = patchesᵀ · dy (NHWC, dilation 1).
 */
function conv2dBackpropFilter(x: tf.Tensor, dy: tf.Tensor, filterShape: number[], attrs: Attrs): tf.Tensor {
  const { strides, pad, dataFormat, dimRoundingMode } = attrs;
  if (tf.getKernel('Conv2DBackpropFilter', tf.getBackend()) !== undefined) {
    return runKernel('Conv2DBackpropFilter', { x, dy }, { strides, pad, dataFormat, dimRoundingMode, filterShape });
  }
  if (dataFormat === 'NCHW' || (typeof pad !== 'string' && typeof pad !== 'number')) {
    throw new UnsupportedOpError(
      `the filter gradient of a conv2d with data format ${dataFormat} and pad ${String(pad)} on ${tf.getBackend()}`,
    );
  }
  const [kh, kw, , cout] = filterShape;
  const patches = convPatches(x as tf.Tensor4D, kh, kw, strides, pad as 'same' | 'valid' | number);
  const rows = tf.reshape(patches, [-1, patches.shape[3]]);
  return tf.reshape(matMulFast(rows, tf.reshape(dy, [-1, cout]), true, false), filterShape);
}

function conv2d(x: tf.Tensor, filter: tf.Tensor, attrs: Attrs): tf.Tensor {
  const { strides, pad, dataFormat, dimRoundingMode } = attrs;
  return tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, strides, pad, dataFormat, 1, dimRoundingMode);
}

function depthwiseBackpropInput(inputShape: number[], dy: tf.Tensor, filter: tf.Tensor, attrs: Attrs): tf.Tensor {
  const { strides, pad, dilations = [1, 1], dimRoundingMode } = attrs;
  return runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { strides, pad, dilations, dimRoundingMode, inputShape });
}

function depthwiseBackpropFilter(x: tf.Tensor, dy: tf.Tensor, filterShape: number[], attrs: Attrs): tf.Tensor {
  const { strides, pad, dilations = [1, 1], dimRoundingMode } = attrs;
  return runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { strides, pad, dilations, dimRoundingMode, filterShape });
}

function depthwiseConv2d(x: tf.Tensor, filter: tf.Tensor, attrs: Attrs): tf.Tensor {
  const { strides, pad, dilations = [1, 1], dimRoundingMode } = attrs;
  return tf.depthwiseConv2d(x as tf.Tensor4D, filter as tf.Tensor4D, strides, pad, 'NHWC', dilations, dimRoundingMode);
}

function assertUnitDilations(attrs: Attrs, op = 'conv2d'): void {
  const d = attrs.dilations ?? 1;
  if (!(Array.isArray(d) ? d : [d]).every((v: number) => v === 1)) {
    throw new UnsupportedOpError(
      `the gradient of ${op} with dilations [${String(d)}] is not supported (tfjs has none either); use dilations 1`,
    );
  }
}

/** The gradient of GatherV2 w.r.t. its params for batchDims = 0 (unsortedSegmentSum of dy). */
function gatherParamsGrad(x: tf.Tensor, indices: tf.Tensor, dy: tf.Tensor, axis: number): tf.Tensor {
  const outer = x.shape.slice(0, axis);
  const inner = x.shape.slice(axis + 1);
  const n = indices.size;
  const values = tf.reshape(dy, [...outer, n, ...inner]);
  const perm = [outer.length, ...outer.map((_, i) => i), ...inner.map((_, i) => outer.length + 1 + i)];
  const moved = tf.transpose(values, perm);
  const summed = tf.unsortedSegmentSum(moved, tf.reshape(indices, [n]) as tf.Tensor1D, x.shape[axis]);
  return tf.transpose(summed, tf.backend_util.getUndoAxesPermutation(perm));
}

const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

// ---------------------------------------------------------------------------------------------
// The gradients.

const BROADCAST = 'stock gradient does not sum over broadcast dimensions: a shape error whenever the inputs broadcast, even at first order';
const NO_MASK_GRADIENT =
  'no gradient: throws when a mask built from it is differentiated (inside the gradients of Max, Min, Relu6, LeakyRelu, Elu, ' +
  'ClipByValue, or a tf.where condition that depends on the input, even at first order)';
const WASM_FILTER = 'stock gradient runs the Conv2DBackpropFilter kernel, which tfjs-backend-wasm does not have';
const WASM_MAX_POOL =
  'stock gradient runs the MaxPoolGrad kernel, which on tfjs-backend-wasm loses the gradient of every window whose entries are all <= 0';
const BROADCAST_RESHAPE = 'stock reshapes every gradient to its input shape, even a sum over broadcast axes that has it (one more op)';
const NO_CAST = 'stock casts each saved float32 input to float32 first (a Cast kernel that copies nothing but is one more op)';
const SAVED_OUTPUT =
  'stock gradient uses the saved output, whose tape copy precedes the kernel: second-order terms through it are dropped (wrong ' +
  'HVP or throws)';

/** The gradients somax registers, one per kernel. */
export const GRADIENTS: readonly SomaxGradConfig[] = [
  // Elementwise arithmetic.
  binary(
    'Add',
    (dy) => dy,
    (dy) => dy,
    undefined,
    BROADCAST_RESHAPE,
  ),
  {
    kernelName: 'AddN',
    saveAllInputs: true,
    gradFunc: (dy: tf.Tensor, saved) => saved.map(() => () => tf.clone(dy)),
  },
  binary(
    'Sub',
    (dy) => dy,
    (dy) => tf.neg(dy),
    undefined,
    BROADCAST_RESHAPE,
  ),
  binary(
    'Multiply',
    (dy, _a, b) => tf.mul(dy, b),
    (dy, a) => tf.mul(dy, a),
    undefined,
    NO_CAST,
  ),
  binary(
    'RealDiv',
    (dy, _a, b) => tf.div(dy, b),
    (dy, a, b) => tf.neg(tf.div(tf.mul(dy, a), tf.square(b))),
    undefined,
    NO_CAST,
  ),
  binary(
    'SquaredDifference',
    (dy, a, b) => tf.mul(dy, tf.mul(2, tf.sub(a, b))),
    (dy, a, b) => tf.mul(dy, tf.mul(-2, tf.sub(a, b))),
    BROADCAST,
  ),
  binary(
    'Pow',
    (dy, a, b) => tf.mul(dy, tf.mul(b, tf.pow(a, tf.sub(b, 1)))),
    // d(a^b)/db = a^b log a, recomputed (stock multiplies by the saved output); 0 where a ≤ 0.
    (dy, a, b) => tf.mul(dy, tf.mul(tf.pow(a, b), tf.where(tf.greater(a, 0), tf.log(tf.maximum(a, 1e-37)), tf.zerosLike(a)))),
    SAVED_OUTPUT + ' (the exponent gradient)',
  ),
  binary(
    'Maximum',
    (dy, a, b) => tf.mul(dy, tf.cast(tf.greaterEqual(a, b), 'float32')),
    (dy, a, b) => tf.mul(dy, tf.cast(tf.less(a, b), 'float32')),
    BROADCAST,
  ),
  binary(
    'Minimum',
    (dy, a, b) => tf.mul(dy, tf.cast(tf.lessEqual(a, b), 'float32')),
    (dy, a, b) => tf.mul(dy, tf.cast(tf.greater(a, b), 'float32')),
    BROADCAST,
  ),
  {
    kernelName: 'Prelu',
    inputsToSave: ['x', 'alpha'],
    gradFunc: (dy: tf.Tensor, [x, alpha]) => ({
      x: () => tf.where(tf.greater(x, 0), dy, tf.mul(dy, alpha)),
      alpha: () => unbroadcast(tf.where(tf.greater(x, 0), tf.zerosLike(dy), tf.mul(dy, x)), alpha.shape),
    }),
  },

  // Elementwise unary.
  { kernelName: 'Neg', gradFunc: (dy: tf.Tensor) => ({ x: () => tf.neg(dy) }) },
  unary('Square', (x) => tf.mul(x, 2), undefined, NO_CAST),
  unary('Sqrt', (x) => tf.div(0.5, tf.sqrt(x))),
  unary('Rsqrt', (x) => tf.div(tf.mul(-0.5, tf.rsqrt(x)), x)),
  unary('Reciprocal', (x) => tf.neg(tf.reciprocal(tf.square(x)))),
  unaryFromOutput(
    'Exp',
    (x) => tf.exp(x),
    (y) => y,
    SAVED_OUTPUT,
  ),
  unary('Log', (x) => tf.reciprocal(x)),
  unary('Log1p', (x) => tf.reciprocal(tf.add(x, 1))),
  unary('Abs', (x) => tf.step(x, -1)),
  unaryFromOutput(
    'Tanh',
    (x) => tf.sub(1, tf.square(tf.tanh(x))),
    (y) => tf.sub(1, tf.square(y)),
    SAVED_OUTPUT,
  ),
  unaryFromOutput(
    'Sigmoid',
    (x) => {
      const s = tf.sigmoid(x);
      return tf.mul(s, tf.sub(1, s));
    },
    (s) => tf.mul(s, tf.sub(1, s)),
    SAVED_OUTPUT,
  ),
  unary('Relu', (x) => tf.step(x)),
  unary('Relu6', (x) => tf.mul(tf.cast(tf.lessEqual(x, 6), 'float32'), tf.step(x))),
  {
    kernelName: 'LeakyRelu',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor, [x], { alpha }) => ({ x: () => tf.where(tf.greater(x, 0), dy, tf.mul(dy, alpha)) }),
  },
  unary('Elu', (x) => tf.where(tf.greater(x, 0), tf.onesLike(x), tf.exp(x)), SAVED_OUTPUT + ' (through EluGrad, which has no gradient)'),
  unary('Selu', (x) => tf.where(tf.greater(x, 0), tf.fill(x.shape, SELU_SCALE), tf.mul(tf.exp(x), SELU_SCALE * SELU_ALPHA))),
  unary('Softplus', (x) => tf.sigmoid(x)),
  unary('Erf', (x) => tf.mul(2 / Math.sqrt(Math.PI), tf.exp(tf.neg(tf.square(x))))),
  unary('Sin', (x) => tf.cos(x)),
  unary('Cos', (x) => tf.neg(tf.sin(x))),
  unary('Atan', (x) => tf.reciprocal(tf.add(tf.square(x), 1))),
  {
    kernelName: 'Softmax',
    inputsToSave: ['logits'],
    gradFunc: (dy: tf.Tensor, [logits], { dim }) => ({
      logits: () => {
        const y = tf.softmax(logits, dim);
        const dyy = tf.mul(dy, y);
        return tf.sub(dyy, tf.mul(tf.sum(dyy, [dim], true), y));
      },
    }),
    replaces: SAVED_OUTPUT,
  },
  {
    kernelName: 'ClipByValue',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor, [x], { clipValueMin, clipValueMax }) => ({
      x: () => tf.where(tf.logicalAnd(tf.greaterEqual(x, clipValueMin), tf.lessEqual(x, clipValueMax)), dy, tf.zerosLike(dy)),
    }),
  },
  {
    kernelName: 'Select',
    inputsToSave: ['condition'],
    gradFunc: (dy: tf.Tensor, [condition]) => ({
      condition: () => zerosOf(condition),
      t: () => tf.mul(dy, tf.cast(condition, 'float32')),
      e: () => tf.mul(dy, tf.cast(tf.logicalNot(condition), 'float32')),
    }),
  },
  // A Reshape to the same shape rather than stock's clone: both share dy's data on cpu, but the
  // Identity kernel of a clone copies it on wasm.
  { kernelName: 'Cast', gradFunc: (dy: tf.Tensor) => ({ x: () => tf.reshape(dy, dy.shape) }), leaner: 'stock clones dy (a copy on wasm)' },
  { kernelName: 'Identity', gradFunc: (dy: tf.Tensor) => ({ x: () => f32(dy) }) },

  // Piecewise-constant kernels: zero gradients (stock has none for the comparisons and logical
  // ops, which the gradients of Max, Min, Relu6, LeakyRelu, Elu, ClipByValue, ... use as masks).
  ...['Equal', 'NotEqual', 'Greater', 'Less', 'LessEqual', 'LogicalAnd', 'LogicalOr'].map((k) => zero(k, ['a', 'b'], NO_MASK_GRADIENT)),
  zero('GreaterEqual', ['a', 'b']),
  zero('LogicalNot', ['x'], NO_MASK_GRADIENT),
  ...['Step', 'Sign', 'Floor', 'Ceil', 'Round', 'IsFinite', 'IsNan', 'OnesLike', 'ZerosLike', 'ArgMax', 'ArgMin'].map((k) =>
    zero(k, ['x']),
  ),
  zero('OneHot', ['indices']),

  // Reductions.
  {
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor, [x], { axis }) => ({
      // A scalar, or a sum that kept its axes, broadcasts as it is (no Reshape).
      x: () => broadcastTo(dy.rank === 0 || dy.rank === x.rank ? dy : tf.reshape(dy, keptShape(x.shape, axesOf(axis, x.shape))), x.shape),
    }),
    leaner: 'stock reshapes dy even where it broadcasts as it is (a scalar, or a sum that kept its axes)',
  },
  {
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor, [x], { axis }) => ({
      x: () => {
        const axes = axesOf(axis, x.shape);
        const count = axes.reduce((n, a) => n * x.shape[a], 1);
        return tf.div(broadcastTo(tf.reshape(dy, keptShape(x.shape, axes)), x.shape), count);
      },
    }),
  },
  extremumGrad('Max', 'reductionIndices'),
  extremumGrad('Min', 'axis'),
  {
    kernelName: 'Prod',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor, [x], { axis }) => ({
      x: () => {
        const axes = axesOf(axis, x.shape);
        const rest = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
        const perm = [...rest, ...axes];
        const moved = tf.transpose(f32(x), perm);
        const n = axes.reduce((m, a) => m * x.shape[a], 1);
        const flat = tf.reshape(moved, [...rest.map((i) => x.shape[i]), n]);
        const excl = tf.reshape(exclusiveProducts(flat), moved.shape);
        const back = tf.transpose(excl, tf.backend_util.getUndoAxesPermutation(perm));
        return tf.mul(tf.reshape(dy, keptShape(x.shape, axes)), back);
      },
    }),
    replaces: 'stock gradient uses Cumprod, which has no gradient: throws at second order',
  },

  // Linear algebra and convolutions (bilinear: their gradients are the same kernels).
  {
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy: tf.Tensor, [a, b], { transposeA, transposeB }) => {
      const [ga, gb] =
        !transposeA && !transposeB
          ? [() => matMulFast(dy, b, false, true), () => matMulFast(a, dy, true, false)]
          : !transposeA && transposeB
            ? [() => matMulFast(dy, b), () => matMulFast(dy, a, true, false)]
            : transposeA && !transposeB
              ? [() => matMulFast(b, dy, false, true), () => matMulFast(a, dy)]
              : [() => matMulFast(b, dy, true, true), () => matMulFast(dy, a, true, true)];
      return { a: () => unbroadcast(ga(), a.shape), b: () => unbroadcast(gb(), b.shape) };
    },
    replaces: BROADCAST + ' (batch dimensions)',
  },
  {
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy: tf.Tensor, [x, filter], attrs) => {
      assertUnitDilations(attrs);
      return {
        x: () => conv2dBackpropInput(x.shape, dy, filter, attrs),
        filter: () => conv2dBackpropFilter(x, dy, filter.shape, attrs),
      };
    },
    replaces: WASM_FILTER,
  },
  {
    kernelName: 'Conv2DBackpropInput',
    inputsToSave: ['dy', 'filter'],
    gradFunc: (ddx: tf.Tensor, [dy, filter], attrs) => ({
      dy: () => conv2d(ddx, filter, attrs),
      filter: () => conv2dBackpropFilter(ddx, dy, filter.shape, attrs),
    }),
    replaces: WASM_FILTER,
  },
  {
    // dw = Conv2DBackpropFilter(x, dy) is bilinear: its gradient is two convolutions.
    kernelName: 'Conv2DBackpropFilter',
    inputsToSave: ['x', 'dy'],
    gradFunc: (ddw: tf.Tensor, [x, dy], attrs) => ({
      x: () => conv2dBackpropInput(x.shape, dy, ddw, attrs),
      dy: () => conv2d(x, ddw, attrs),
    }),
    replaces: 'no gradient: the second derivative of conv2d w.r.t. its filter throws',
  },
  {
    kernelName: 'DepthwiseConv2dNative',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy: tf.Tensor, [x, filter], attrs) => {
      assertUnitDilations(attrs, 'depthwiseConv2d');
      return {
        x: () => depthwiseBackpropInput(x.shape, dy, filter, attrs),
        filter: () => depthwiseBackpropFilter(x, dy, filter.shape, attrs),
      };
    },
  },
  {
    kernelName: 'DepthwiseConv2dNativeBackpropInput',
    inputsToSave: ['dy', 'filter'],
    gradFunc: (ddx: tf.Tensor, [dy, filter], attrs) => ({
      dy: () => depthwiseConv2d(ddx, filter, attrs),
      filter: () => depthwiseBackpropFilter(ddx, dy, filter.shape, attrs),
    }),
    replaces: 'no gradient: the second derivative of depthwiseConv2d w.r.t. its input throws',
  },
  {
    kernelName: 'DepthwiseConv2dNativeBackpropFilter',
    inputsToSave: ['x', 'dy'],
    gradFunc: (ddw: tf.Tensor, [x, dy], attrs) => ({
      x: () => depthwiseBackpropInput(x.shape, dy, ddw, attrs),
      dy: () => depthwiseConv2d(x, ddw, attrs),
    }),
    replaces: 'no gradient: the second derivative of depthwiseConv2d w.r.t. its filter throws',
  },
  {
    kernelName: 'AvgPool',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor, [x], { filterSize, strides, pad }) => ({
      x: () => runKernel('AvgPoolGrad', { dy, input: x }, { filterSize, strides, pad }),
    }),
  },
  {
    // dx = AvgPoolGrad(dy) = Aᵀ dy is linear in dy: its gradient is A g.
    kernelName: 'AvgPoolGrad',
    inputsToSave: ['dy', 'input'],
    gradFunc: (g: tf.Tensor, [, input], attrs) => ({
      dy: () => avgPoolGradTranspose(input, g, attrs),
      input: () => zerosOf(input),
    }),
    replaces: 'no gradient: the second derivative of avgPool throws',
  },
  {
    // Recomputes the output instead of saving it (the output only enters MaxPoolGrad's mask).
    kernelName: 'MaxPool',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor, [x], attrs) => ({
      x: () => {
        const { filterSize, strides, pad, dimRoundingMode } = attrs;
        if (tf.getBackend() === 'wasm') return maxPoolScatter(x, dy, attrs);
        const output = tf.maxPool(x as tf.Tensor4D, filterSize, strides, pad, dimRoundingMode);
        return runKernel('MaxPoolGrad', { dy, input: x, output }, { filterSize, strides, pad, dimRoundingMode });
      },
    }),
    replaces: WASM_MAX_POOL,
  },
  {
    // dx = MaxPoolGrad(dy) = Mᵀ dy is linear in dy (M selects each window's argmax; piecewise
    // constant in the input): its gradient is M g, zero w.r.t. input and output.
    kernelName: 'MaxPoolGrad',
    inputsToSave: ['dy', 'input', 'output'],
    gradFunc: (g: tf.Tensor, [dy, input, output], attrs) => ({
      dy: () => (dy.size === 0 ? zerosOf(dy) : maxPoolSelect(input, g, attrs)),
      input: () => zerosOf(input),
      output: () => zerosOf(output),
    }),
    replaces: 'no gradient: the second derivative of maxPool throws',
  },

  // Shape and indexing kernels (linear: their gradients are shape kernels of this list).
  { kernelName: 'Reshape', inputsToSave: ['x'], gradFunc: (dy: tf.Tensor, [x]) => ({ x: () => tf.reshape(dy, x.shape) }) },
  {
    kernelName: 'ExpandDims',
    inputsToSave: ['input'],
    gradFunc: (dy: tf.Tensor, [input]) => ({ input: () => tf.reshape(dy, input.shape) }),
  },
  {
    kernelName: 'Transpose',
    gradFunc: (dy: tf.Tensor, _s, { perm }) => ({ x: () => tf.transpose(dy, tf.backend_util.getUndoAxesPermutation(perm)) }),
  },
  {
    kernelName: 'Concat',
    saveAllInputs: true,
    gradFunc: (dy: tf.Tensor, saved, { axis }) => {
      const ax = axesOf(axis, saved[0].shape)[0];
      const parts = tf.split(
        dy,
        saved.map((t) => t.shape[ax]),
        ax,
      );
      return parts.map((p) => () => p);
    },
  },
  {
    kernelName: 'SplitV',
    gradFunc: (dys: tf.Tensor | tf.Tensor[], _s, { axis }) => ({ x: () => (Array.isArray(dys) ? tf.concat(dys, axis) : tf.clone(dys)) }),
  },
  {
    kernelName: 'Pack',
    saveAllInputs: true,
    gradFunc: (dy: tf.Tensor, _s, { axis }) => tf.unstack(dy, axis).map((t) => () => t),
  },
  {
    kernelName: 'Unpack',
    gradFunc: (dys: tf.Tensor | tf.Tensor[], _s, { axis }) => ({ value: () => tf.stack(Array.isArray(dys) ? dys : [dys], axis) }),
  },
  {
    kernelName: 'Slice',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor, [x], { begin, size }) => {
      const [b, s] = tf.slice_util.parseSliceParams(x, begin, size);
      return {
        x: () =>
          tf.pad(
            dy,
            x.shape.map((n, i) => [b[i], n - b[i] - s[i]] as [number, number]),
          ),
      };
    },
  },
  {
    kernelName: 'PadV2',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor, [x], { paddings }) => ({
      x: () =>
        tf.slice(
          dy,
          paddings.map((p: number[]) => p[0]),
          x.shape,
        ),
    }),
  },
  {
    kernelName: 'Tile',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor, [x], { reps }) => ({
      x: () => {
        // dy is [r0·s0, r1·s1, ...]: view it as [r0, s0, r1, s1, ...] and sum the r axes.
        const split = tf.reshape(
          dy,
          x.shape.flatMap((s, i) => [reps[i], s]),
        );
        return tf.reshape(
          tf.sum(
            split,
            x.shape.map((_, i) => 2 * i),
          ),
          x.shape,
        );
      },
    }),
  },
  {
    kernelName: 'GatherV2',
    inputsToSave: ['x', 'indices'],
    gradFunc: (dy: tf.Tensor, [x, indices], { axis, batchDims }) => {
      const ax = axesOf(axis, x.shape)[0];
      const params = () => {
        if (!batchDims) return gatherParamsGrad(x, indices, dy, ax);
        if (batchDims !== 1)
          throw new UnsupportedOpError(`the gradient of gather with batchDims ${batchDims} is not supported; use batchDims 0 or 1`);
        const n = x.shape[0];
        const rows = Array.from({ length: n }, (_, i) =>
          gatherParamsGrad(tf.slice(x, i, 1), tf.slice(indices, i, 1), tf.slice(dy, i, 1), ax),
        );
        return tf.reshape(tf.stack(rows), x.shape);
      };
      return { x: params, indices: () => zerosOf(indices) };
    },
  },
  {
    kernelName: 'UnsortedSegmentSum',
    inputsToSave: ['segmentIds'],
    gradFunc: (dy: tf.Tensor, [segmentIds]) => ({
      x: () => {
        const gathered = tf.gather(dy, tf.maximum(segmentIds, tf.zerosLike(segmentIds)));
        const valid = tf.reshape(tf.cast(tf.greaterEqual(segmentIds, 0), 'float32'), [
          ...segmentIds.shape,
          ...gathered.shape.slice(segmentIds.rank).map(() => 1),
        ]);
        return tf.mul(gathered, valid);
      },
      segmentIds: () => zerosOf(segmentIds),
    }),
  },
];

/**
 * The kernels whose gradients somax provides and has tested to be correct when differentiated
 * again (an HVP test per kernel against a float64 reference, tests/lib/autodiff/kernels.test.ts).
 */
export const SECOND_ORDER_KERNELS: readonly string[] = GRADIENTS.map((g) => g.kernelName);

/**
 * The kernels whose stock tfjs gradient is wrong or missing at second order, with what is wrong:
 * somax's gradient always replaces them (the others keep a registered stock gradient).
 */
export const REPLACED_KERNELS: Readonly<Record<string, string>> = Object.fromEntries(
  GRADIENTS.filter((g) => g.replaces).map((g) => [g.kernelName, g.replaces as string]),
);
