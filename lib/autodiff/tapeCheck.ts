/**
 * The tape check of second-order products: {@link assertSecondOrderSafe} rejects a computation that
 * went through a kernel without a second-order-safe gradient, naming it and what to use instead,
 * rather than return a wrong number; {@link explainSecondOrderFailure} turns tfjs's own autodiff
 * errors into the same explanation.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { UnsupportedOpError } from '../errors';
import { SECOND_ORDER_KERNELS } from './kernels';

const SAFE_SET = new Set(SECOND_ORDER_KERNELS);

/** What to use instead of ops that cannot be differentiated twice. */
const ALTERNATIVES: Record<string, string> = {
  logSoftmax: 'losses.logSoftmax from somax',
  softmaxCrossEntropy: "losses.softmaxCrossEntropy from somax, or an objective with loss 'softmaxCrossEntropy'",
  logSigmoid: 'losses.logSigmoid from somax (−softplus(−x))',
  LRN: 'a normalization written with primitive ops (tf.div, tf.pow, ...)',
};

/**
 * Fused ops reach the tape only where somax could not route them through plain ops: it patches
 * `tf.fused.matMul`, `tf.fused.conv2d` and `tf.fused.depthwiseConv2d` (tfjs-layers' Dense and
 * Conv2D) in tfjs-core's CommonJS build, but an ESM bundle's `tf.fused` is frozen.
 */
const FUSED_HELP = (base: string): string =>
  `'${base}' (a fused op) cannot be differentiated twice, and somax could not route it through plain ops here: ` +
  'it does so for tf.fused.matMul / conv2d / depthwiseConv2d (tfjs-layers Dense, Conv2D) when ' +
  "@tensorflow/tfjs-core is loaded as CommonJS, but an ESM bundle's tf.fused is frozen. Load tfjs-core's CommonJS build " +
  '(Node require, or alias @tensorflow/tfjs-core to its CommonJS main in the bundler), or write the layer with ' +
  'tf.matMul / tf.conv2d / tf.depthwiseConv2d followed by tf.add(bias) and the activation';

/** Explains why `kernelName` cannot take part in a second-order product. */
function explain(kernelName: string): string {
  const base = kernelName.replace(/__op$/, '').replace(/_\d+$/, '');
  const alt = Object.entries(ALTERNATIVES).find(([k]) => base.toLowerCase().includes(k.toLowerCase()));
  if (alt && base === alt[0]) return `'${base}' cannot be differentiated twice: use ${alt[1]}`;
  if (alt) return `'${base}' is built with tf.customGrad and cannot be differentiated twice: use ${alt[1]}`;
  if (base.startsWith('_Fused') || base.startsWith('Fused') || base.startsWith('fused')) return FUSED_HELP(base);
  return `the kernel '${base}' has no second-order-safe gradient in somax (supported kernels: docs/second-order-ops.md)`;
}

/**
 * Turns an error thrown by tfjs's autodiff during a second-order product into an
 * {@link UnsupportedOpError} that names the op and what to use instead; other errors are
 * returned unchanged. Use it as `catch (e) { throw explainSecondOrderFailure(e); }`.
 *
 * - "gradient function not found for K": K has no gradient (somax covers the kernels of
 *   `SECOND_ORDER_KERNELS`; for others, rewrite the op with covered ones).
 * - "Cannot compute gradient of y=f(x)": the second differentiation met a tensor the tape lost,
 *   the mark of an op built with `tf.customGrad` (`tf.logSoftmax`, `tf.losses.*`, `tf.logSigmoid`,
 *   fused ops where they could not be routed through plain ops) or of a stock gradient that uses
 *   its saved output (somax's gradients not installed).
 *
 * @example
 * try { hv = tf.grad(...nested...) } catch (e) { throw explainSecondOrderFailure(e); }
 */
export function explainSecondOrderFailure(err: unknown): unknown {
  if (err instanceof UnsupportedOpError || !(err instanceof Error)) return err;
  const missing = /gradient function not found for ([\w.]+?)\.?$/m.exec(err.message);
  if (missing) {
    const kernel = missing[1];
    const why = SAFE_SET.has(kernel)
      ? `no gradient is registered for '${kernel}': call installSecondOrderGradients() (somax's gradients were unregistered)`
      : explain(kernel);
    return new UnsupportedOpError(`second-order product: ${why}`);
  }
  if (/Cannot compute gradient of y=f\(x\)/.test(err.message)) {
    return new UnsupportedOpError(
      'second-order product: the second differentiation lost its path through an op that cannot be ' +
        'differentiated twice, an op built with tf.customGrad: tf.logSoftmax (use losses.logSoftmax), ' +
        'tf.losses.* (use the losses of somax), tf.logSigmoid (use losses.logSigmoid), tf.fused.* where somax ' +
        'cannot route it through plain ops (an ESM bundle: use the plain op, then the bias and activation); ' +
        "or tfjs's stock gradients replaced " +
        "somax's (call ensureSecondOrderGradients()). Original error: " +
        err.message.split('\n')[0],
    );
  }
  return err;
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
  return (
    keys.length === 1 &&
    keys[0] === 'x' &&
    node.outputs.length === 1 &&
    !SAFE_SET.has(node.kernelName) &&
    tf.getGradient(node.kernelName) == null
  );
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
  }
}
