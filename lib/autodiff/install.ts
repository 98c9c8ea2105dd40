/**
 * Installs the second-order-safe gradients of `kernels.ts` into tfjs's gradient registry, keeps
 * them installed, and runs `tf.fused.matMul` unfused inside second-order products.
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
import { GRADIENTS } from './kernels';

const REPLACED = GRADIENTS.filter((g) => g.replaces);

let installedReplaced: unknown[] = [];

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
function unfusedMatMul({
  a,
  b,
  transposeA = false,
  transposeB = false,
  bias,
  activation = 'linear',
  preluActivationWeights,
  leakyreluAlpha = 0.2,
}: FusedMatMulArgs): tf.Tensor {
  let y = tf.matMul(a, b, transposeA, transposeB);
  if (bias) y = tf.add(y, bias);
  switch (activation) {
    case 'linear':
      return y;
    case 'relu':
      return tf.relu(y);
    case 'relu6':
      return tf.relu6(y);
    case 'elu':
      return tf.elu(y);
    case 'sigmoid':
      return tf.sigmoid(y);
    case 'leakyrelu':
      return tf.leakyRelu(y, leakyreluAlpha);
    case 'prelu':
      return tf.prelu(y, preluActivationWeights as tf.Tensor);
    default:
      throw new UnsupportedOpError(`fused activation '${String(activation)}' in a second-order product`);
  }
}

const fused = tf.fused as unknown as {
  matMul: (args: FusedMatMulArgs) => tf.Tensor;
  __somaxOriginal?: (args: FusedMatMulArgs) => tf.Tensor;
};

/**
 * Routes `tf.fused.matMul` (used by tfjs-layers' Dense) through plain ops while a somax
 * second-order product runs; outside them the fused kernel runs as before.
 */
function installUnfusing(): void {
  if (fused.__somaxOriginal) return;
  // In ESM bundles `tf.fused` is a frozen module namespace (or getter-only): it cannot be patched,
  // and a fused matMul with a custom gradient is then reported by the second-order safety check.
  if (!Object.isExtensible(fused) || !Object.getOwnPropertyDescriptor(fused, 'matMul')?.writable) return;
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
 * Registers somax's second-order-safe gradients (idempotent): always for the kernels of
 * `REPLACED_KERNELS`, and for every other kernel of `SECOND_ORDER_KERNELS` that has
 * no gradient registered (tfjs-core alone registers none). Called when somax is imported; call it
 * again only after re-registering or unregistering tfjs's gradients yourself.
 *
 * @example
 * import '@tensorflow/tfjs'; // registers tfjs's stock gradients over somax's
 * installSecondOrderGradients();
 */
export function installSecondOrderGradients(): void {
  installUnfusing();
  quietly(() => {
    for (const g of GRADIENTS) {
      if (g.replaces || tf.getGradient(g.kernelName) == null) tf.registerGradient(g as unknown as tf.GradConfig);
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
