/**
 * Installs the second-order-safe gradients of `kernels.ts` into tfjs's gradient registry, keeps
 * them installed, and runs `tf.fused.matMul`, `tf.fused.conv2d` and `tf.fused.depthwiseConv2d`
 * unfused inside second-order products. The tensors kernels save for their backward pass are
 * aliases rather than tfjs's taped `Identity` copies (see `aliasForBackward`): about a third of the
 * kernels of a reverse-over-reverse HVP were those copies and their gradients, and a quarter of a
 * first-order gradient's.
 *
 * They are installed when somax is imported. Every second-order entry point calls
 * {@link ensureSecondOrderGradients} (a cheap identity check), which re-installs them if another
 * package replaced them (loading `@tensorflow/tfjs` after somax does, silently). The
 * `@tensorflow/tfjs-core` CommonJS bundle registers no gradients at all, so a somax user with only
 * tfjs-core and a backend still gets working first- and second-order gradients for these kernels.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { UnsupportedOpError } from '../errors';
import { ensureWasmKernels } from '../wasmKernels';
import { engineInternals, markSavedAlias } from './engine';
import type { EngineInternals } from './engine';
import { GRADIENTS } from './kernels';

/** The gradients installed over stock ones: stock is wrong at second order, or runs more kernels. */
const REPLACED = GRADIENTS.filter((g) => g.replaces !== undefined || g.leaner !== undefined);

let installedReplaced: unknown[] = [];

/** The backend {@link ensureSecondOrderGradients} last checked somax's wasm kernels on. */
let wasmKernelsCheckedFor: string | undefined;

/** Nesting depth of somax second-order products in progress (fused ops run unfused inside them). */
let secondOrderDepth = 0;

/**
 * Runs `fn` as a second-order product: `tf.fused.matMul`, `tf.fused.conv2d` and
 * `tf.fused.depthwiseConv2d` run unfused inside, so they are differentiable twice.
 */
export function withSecondOrder<T>(fn: () => T): T {
  secondOrderDepth += 1;
  try {
    return fn();
  } finally {
    secondOrderDepth -= 1;
  }
}

type FusedMatMulArgs = Parameters<typeof tf.fused.matMul>[0];
type FusedConv2DArgs = Parameters<typeof tf.fused.conv2d>[0];
type FusedDepthwiseArgs = Parameters<typeof tf.fused.depthwiseConv2d>[0];
/** What follows the matMul / convolution in a fused op (the same fields in all three). */
type Epilogue = Pick<FusedMatMulArgs, 'bias' | 'activation' | 'preluActivationWeights' | 'leakyreluAlpha'>;

/**
 * The bias and activation of a fused op as plain ops (all second-order safe), as tfjs's fused
 * kernels apply them. In NCHW a 1-D bias or PReLU weight runs along the channel axis (axis 1).
 */
function biasAndActivation(
  y: tf.Tensor,
  { bias, activation, preluActivationWeights, leakyreluAlpha }: Epilogue,
  channelsFirst = false,
): tf.Tensor {
  const alongChannels = (t: tf.Tensor | tf.TensorLike): tf.Tensor => {
    const c = t instanceof tf.Tensor ? t : tf.tensor(t);
    return channelsFirst && c.rank === 1 ? tf.reshape(c, [c.shape[0], 1, 1]) : c;
  };
  const z = bias != null ? tf.add(y, alongChannels(bias)) : y;
  switch (activation ?? 'linear') {
    case 'linear':
      return z;
    case 'relu':
      return tf.relu(z);
    case 'relu6':
      return tf.relu6(z);
    case 'elu':
      return tf.elu(z);
    case 'sigmoid':
      return tf.sigmoid(z);
    case 'leakyrelu':
      return tf.leakyRelu(z, leakyreluAlpha ?? 0.2);
    case 'prelu':
      return tf.prelu(z, alongChannels(preluActivationWeights as tf.Tensor));
    default:
      throw new UnsupportedOpError(`fused activation '${String(activation)}' in a second-order product`);
  }
}

/** The fused ops routed through plain ops inside second-order products, each as those plain ops. */
const UNFUSED = {
  matMul: (args: FusedMatMulArgs): tf.Tensor =>
    biasAndActivation(tf.matMul(args.a, args.b, args.transposeA ?? false, args.transposeB ?? false), args),
  conv2d: (args: FusedConv2DArgs): tf.Tensor => {
    const { x, filter, strides, pad, dataFormat = 'NHWC', dilations = [1, 1], dimRoundingMode } = args;
    const y = tf.conv2d(x, filter, strides, pad, dataFormat, dilations, dimRoundingMode);
    return biasAndActivation(y, args, dataFormat === 'NCHW');
  },
  depthwiseConv2d: (args: FusedDepthwiseArgs): tf.Tensor => {
    const { x, filter, strides, pad, dataFormat = 'NHWC', dilations = [1, 1], dimRoundingMode } = args;
    const y = tf.depthwiseConv2d(x, filter, strides, pad, dataFormat, dilations, dimRoundingMode);
    return biasAndActivation(y, args, dataFormat === 'NCHW');
  },
};

type FusedName = keyof typeof UNFUSED;
type FusedOp = (args: never) => tf.Tensor;
const fused = tf.fused as unknown as Record<FusedName, FusedOp> & { __somaxOriginal?: Partial<Record<FusedName, FusedOp>> };

/**
 * Routes `tf.fused.matMul` (tfjs-layers' Dense), `tf.fused.conv2d` (Conv2D) and
 * `tf.fused.depthwiseConv2d` through plain ops while a somax second-order product runs; outside
 * them the fused kernels run as before.
 */
function installUnfusing(): void {
  if (fused.__somaxOriginal) return;
  // In ESM bundles `tf.fused` is a frozen module namespace (or getter-only): it cannot be patched,
  // and a fused op with a custom gradient is then reported by the second-order safety check.
  if (!Object.isExtensible(fused)) return;
  const names = (Object.keys(UNFUSED) as FusedName[]).filter((k) => Object.getOwnPropertyDescriptor(fused, k)?.writable);
  const originals: Partial<Record<FusedName, FusedOp>> = {};
  for (const name of names) {
    const original = fused[name];
    const unfused = UNFUSED[name] as FusedOp;
    originals[name] = original;
    fused[name] = ((args: never) => (secondOrderDepth > 0 ? unfused(args) : original(args))) as FusedOp;
  }
  fused.__somaxOriginal = originals;
}

/**
 * What a kernel saves for its backward pass, as aliases: a second handle on the same data (one
 * more reference) that carries the *same tensor id* as the original. tfjs saves an `Identity`
 * copy instead, recorded on the tape; inside a second-order product that copy costs an
 * `Identity` kernel (a full memory copy on wasm), a tape node, and a `Cast` on the way back for
 * every saved tensor. With the id shared, the outer differentiation sends the gradient of every
 * use of the saved tensor straight to the original — the same sum the copy's tape node forwarded
 * (its gradient is the identity), so the product is unchanged. Disposing the alias after
 * backprop (the engine does) drops the extra reference only.
 */
function aliasForBackward(engine: EngineInternals, t: tf.Tensor): tf.Tensor | null {
  const backend = engine.state.tensorInfo.get(t.dataId)?.backend;
  if (backend?.incRef == null || t.dtype === 'string') return null;
  backend.incRef(t.dataId);
  const alias = engine.makeTensorFromTensorInfo({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }, backend);
  (alias as { id: number }).id = t.id;
  markSavedAlias(alias);
  return engine.keep(alias);
}

/**
 * Saves tensors for backprop as aliases ({@link aliasForBackward}) instead of tfjs's `Identity`
 * copies inside somax's second-order products (where the copies were a third of an HVP's kernels)
 * and in first-order gradients (one tape recording), where the copies only cost a kernel each (a
 * full copy on wasm: the MLP 784-128-10 gradient runs 42 kernels instead of 65). A user's own
 * nested `tf.grad` keeps tfjs's saving, as does a backend without `incRef`.
 */
function installAliasSaving(): void {
  const engine = engineInternals();
  const original = engine.saveTensorsForBackwardMode;
  if (original == null || original.__somaxOriginal) return;
  const patched = (tensors: tf.Tensor[]): tf.Tensor[] =>
    secondOrderDepth > 0 || engine.state.gradientDepth <= 1
      ? tensors.map((t) => aliasForBackward(engine, t) ?? original.call(engine, [t])[0])
      : original.call(engine, tensors);
  engine.saveTensorsForBackwardMode = Object.assign(patched, { __somaxOriginal: original });
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
 * Registers somax's second-order-safe gradients (idempotent): always for the kernels of
 * `REPLACED_KERNELS` and for those where somax's gradient runs fewer kernels than stock's (Add,
 * Sub, Multiply, RealDiv, Square, Sum, Cast), and for every other kernel of `SECOND_ORDER_KERNELS` that has
 * no gradient registered (tfjs-core alone registers none). Called when somax is imported; call it
 * again only after re-registering or unregistering tfjs's gradients yourself.
 *
 * @example
 * import '@tensorflow/tfjs'; // registers tfjs's stock gradients over somax's
 * installSecondOrderGradients();
 */
export function installSecondOrderGradients(): void {
  installUnfusing();
  installAliasSaving();
  quietly(() => {
    for (const g of GRADIENTS) {
      if (REPLACED.includes(g) || tf.getGradient(g.kernelName) == null) tf.registerGradient(g as unknown as tf.GradConfig);
    }
  });
  installedReplaced = REPLACED.map((g) => tf.getGradient(g.kernelName));
}

/**
 * Makes sure somax's gradients are in place, re-installing them if another package replaced or
 * removed them (loading `@tensorflow/tfjs` after somax does, silently). Cheap: one registry
 * lookup per covered kernel (an identity check for the replaced ones); every second-order entry
 * point of somax calls it.
 *
 * @example
 * ensureSecondOrderGradients();
 * const hv = hvp(lossFn, params, v, batch);
 */
export function ensureSecondOrderGradients(): void {
  const backend = tf.getBackend();
  if (backend !== wasmKernelsCheckedFor) {
    wasmKernelsCheckedFor = backend; // once per backend change, not per product
    ensureWasmKernels();
  }
  for (let i = 0; i < REPLACED.length; i++) {
    if (tf.getGradient(REPLACED[i].kernelName) !== installedReplaced[i]) {
      installSecondOrderGradients();
      return;
    }
  }
  for (const g of GRADIENTS) {
    if (tf.getGradient(g.kernelName) == null) {
      installSecondOrderGradients();
      return;
    }
  }
}

installSecondOrderGradients();
