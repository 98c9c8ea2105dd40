/**
 * Backend-aware primitives: tensor ops written around what tfjs backends (tfjs-backend-wasm 4.22
 * above all) compute slowly, each the same math as the plain tfjs call it replaces. Every op used
 * here is second-order safe (see `autodiff/kernels.ts`), so gradients may use them. The
 * measurements behind each choice are in the bench notes (bench/results/README.md, "Backend-aware
 * primitives").
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * The tensor each output of {@link swapLastAxes} was swapped from, keyed by the output's data so
 * that the aliases a backward pass saves of it find it too.
 */
const swappedFrom = new WeakMap<object, tf.Tensor>();

/** `x` with its last two axes swapped (an explicit transpose). */
export function swapLastAxes(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  const swapped = tf.transpose(x, perm);
  swappedFrom.set(swapped.dataId, x);
  return swapped;
}

/**
 * `x` with its last two axes swapped, as a matMul operand: when `x` is a swap of a live tensor,
 * that tensor, with no kernel (a second-order sweep transposes back what the first sweep
 * transposed: the input of a matMul, in the gradient of its weights). Only the undoing is
 * shortcut: an earlier swap of `x` may not be on the tape that differentiates this product.
 */
function swappedOperand(x: tf.Tensor): tf.Tensor {
  const known = swappedFrom.get(x.dataId);
  const r = x.rank;
  const swappedShape = [...x.shape.slice(0, -2), x.shape[r - 1], x.shape[r - 2]];
  const usable = known !== undefined && !known.isDisposed && tf.util.arraysEqual(known.shape, swappedShape);
  return usable ? known : swapLastAxes(x);
}

/**
 * `tf.matMul(a, b, transposeA, transposeB)` with the transposes made explicit on wasm, whose
 * BatchMatMul is many times slower with a transposed operand.
 */
export function matMulFast(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  if (tf.getBackend() !== 'wasm' || (!transposeA && !transposeB)) return tf.matMul(a, b, transposeA, transposeB);
  return tf.matMul(transposeA ? swappedOperand(a) : a, transposeB ? swappedOperand(b) : b);
}

/** The Gram matrix `a aᵀ` of the rows of `a` (batched over leading axes), by {@link matMulFast}. */
export function outerGram<T extends tf.Tensor>(a: T): T {
  return matMulFast(a, a, false, true) as T;
}

/**
 * `x` broadcast to `shape`, as `x + zeros(shape)`: a broadcasting Add instead of the Tile kernel of
 * `tf.broadcastTo`, which wasm computes many times slower. Float32.
 */
export function broadcastTo(x: tf.Tensor, shape: readonly number[]): tf.Tensor {
  return tf.add(x, tf.zeros(shape as number[]));
}

/**
 * `ok ? a : b` for a scalar boolean `ok`, as a select with a full-shape condition: `tf.where`
 * broadcasts a scalar condition with the Tile kernel (see {@link broadcastTo}).
 */
export function selectIf(ok: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.where(tf.cast(broadcastTo(tf.cast(ok, 'float32'), a.shape), 'bool'), a, b));
}

/**
 * `x` with its rows repeated `k` times along axis 0 (copy c of row i is row c·B + i), by
 * concatenation instead of `tf.tile`'s Tile kernel.
 */
export function repeatRows(x: tf.Tensor, k: number): tf.Tensor {
  return k === 1 ? x : tf.concat(new Array<tf.Tensor>(k).fill(x), 0);
}

/**
 * The input patches of a convolution with a kh × kw kernel (NHWC, dilation 1), `[B, oh, ow,
 * kh·kw·cin]`, each flattened in the kernel's `[kh, kw, cin]` order, so that
 * `patches · reshape(W, [kh·kw·cin, cout])` is the convolution: computed as a convolution with an
 * identity kernel, whose kernels every backend has, with their gradients.
 */
export function convPatches(
  x: tf.Tensor4D,
  kh: number,
  kw: number,
  strides: [number, number] | number,
  pad: 'same' | 'valid' | number,
): tf.Tensor4D {
  const d = kh * kw * x.shape[3];
  return tf.tidy(() => tf.conv2d(x, tf.reshape(tf.eye(d), [kh, kw, x.shape[3], d]) as tf.Tensor4D, strides, pad));
}

/**
 * A float32 scalar that is 0 when every entry of the float tensors `xs` is finite and NaN
 * otherwise: `Σ 0·x` over them raveled (`0·x` is NaN exactly for ±∞ and NaN, and a sum of zeros
 * cannot overflow, as `Σ x` could). Three kernels for any number of tensors (concat, multiply, sum),
 * where a per-tensor `all(isFinite(x))` takes three each. Integer tensors are always finite.
 *
 * @example
 * nonFiniteProbe([tf.tensor([1, 2]), tf.tensor([Infinity])]) // NaN
 */
export function nonFiniteProbe(xs: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    const floats = xs.filter((x) => x.dtype === 'float32');
    if (floats.length === 0) return tf.scalar(0);
    const flat = floats.length === 1 ? tf.reshape(floats[0], [-1]) : tf.concat(floats.map((x) => tf.reshape(x, [-1])));
    return tf.sum(tf.mul(flat, 0));
  });
}
