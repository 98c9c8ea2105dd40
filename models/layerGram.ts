/**
 * The row Gram of a model made of dense and convolutional layers, in closed form (BackPACK's
 * per-sample quantities, kfac-jax's layer tags): the model's forward pass is written with
 * {@link LayerTaps}, which record each layer's input on a first pass, then add zero perturbations
 * to each pre-activation on a backward pass of the batch tiled K times, whose gradients are the
 * per-sample deltas Δₗ. The gradient of sample i with respect to a layer's weights is
 *
 *   dense:  aᵢ ⊗ δᵢ,                          so ⟨gᵢ, gⱼ⟩ = (aᵢ·aⱼ + 1)(δᵢ·δⱼ)   (+ 1: the bias);
 *   conv:   Σₚ aᵢₚ ⊗ δᵢₚ over output positions p (aᵢₚ the input patch), a small d × c matrix per
 *           sample, formed from the patches and the deltas and Gram'd directly; the bias Σₚ δᵢₚ.
 *
 * Exact whenever samples do not interact; about one forward and one backward pass of K·B samples
 * plus small per-layer products, instead of one backward pass per sample and output.
 *
 * @see Dangel, Kunstner & Hennig, "BackPACK: Packing more into backprop" (ICLR 2020);
 *   Goodfellow, "Efficient per-example gradient computations" (2015), arXiv 1510.01799.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../lib/errors';
import { batchSize } from '../lib/objective';
import { convPatches, matMulFast, outerGram, repeatRows } from '../lib/ops';
import * as tree from '../lib/tree';
import type { Tree } from '../lib/types';
import { denseLayerGram } from './dense';

/** The layer operations a tapped forward pass is written with; each returns the pre-activation. */
export interface LayerTaps {
  /** `a W + b`, `a` of shape `[N, in]`. */
  dense(a: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor): tf.Tensor;
  /** `conv2d(x, W) + b` (NHWC, dilation 1). */
  conv2d(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor | undefined, strides: [number, number], pad: 'same' | 'valid'): tf.Tensor;
}

/** A forward pass written with {@link LayerTaps}; every parameter leaf enters through one tap. */
export type TappedForward<X> = (params: Tree, x: X, taps: LayerTaps) => tf.Tensor;

/** The plain layer operations. */
export const PLAIN_TAPS: LayerTaps = {
  dense: (a, w, b) => (b === undefined ? tf.matMul(a, w) : tf.add(tf.matMul(a, w), b)),
  conv2d: (x, w, b, strides, pad) => {
    const y = tf.conv2d(x, w, strides, pad);
    return b === undefined ? y : tf.add(y, b);
  },
};

/** What one tapped layer needs for its share of the Gram. */
type Recorded =
  | { readonly kind: 'dense'; readonly input: tf.Tensor2D; readonly hasBias: boolean }
  | { readonly kind: 'conv'; readonly patches: tf.Tensor3D; readonly hasBias: boolean };

/**
 * One conv layer's share of the Gram: the per-sample kernel gradients Σₚ aᵢₚ ⊗ δᵢₚ (`[B·K, d·c]`,
 * sample-major), Gram'd, plus the bias gradients' Gram. The K cotangent sets of a sample share its
 * patches, so their kernel gradients are one product per sample: Aᵢᵀ [Δᵢ⁽¹⁾ … Δᵢ⁽ᴷ⁾].
 */
export function convLayerGram(patches: tf.Tensor3D, deltas: tf.Tensor, k: number, hasBias: boolean): tf.Tensor2D {
  const [b, positions, d] = patches.shape;
  const c = deltas.shape[deltas.rank - 1] as number;
  // Δ copy-major [K·B, P, c] → per sample [B, P, K·c].
  const delta = tf.reshape(tf.transpose(tf.reshape(deltas, [k, b, positions, c]), [1, 2, 0, 3]), [b, positions, k * c]);
  const kernels = tf.reshape(matMulFast(patches, delta, true, false), [b, d, k, c]); // [B, d, K·c]
  const perSample = tf.reshape(tf.transpose(kernels, [0, 2, 1, 3]), [b * k, d * c]);
  const rows = hasBias ? tf.concat([perSample, tf.reshape(tf.sum(delta, 1), [b * k, c])], 1) : perSample;
  return outerGram(rows as tf.Tensor2D);
}

/**
 * The {@link Objective.rowGram} of a model written with {@link LayerTaps}: a first pass records
 * each tapped layer's input (its patches for a conv), a backward pass of the batch tiled K times
 * with the cotangents `U` (`[K, ...outputs.shape]`) gives the deltas, and the Gram is the sum of
 * the layers' shares (see the module comment). The recorded inputs are kept copies, disposed at
 * the end: a tfjs-layers model disposes its intermediate tensors when its forward pass ends.
 * Every parameter leaf must enter through exactly one tap, on unreshaped samples (checked).
 *
 * @example
 * const gram = tappedRowGram((p, x, taps) => taps.dense(x, p.w, p.b))(params, x, outputBasis(outputs));
 */
export function tappedRowGram<X>(forward: TappedForward<X>): (params: Tree, x: X, cotangents: tf.Tensor) => tf.Tensor2D {
  return (params, x, cotangents) => {
    const kept: tf.Tensor[] = [];
    const keep = (t: tf.Tensor) => {
      const copy = tf.keep(tf.clone(t));
      kept.push(copy);
      return copy;
    };
    try {
      return tf.tidy(() => {
        const k = cotangents.shape[0];
        const recorded: Recorded[] = [];
        const shapes: number[][] = [];
        const unused = new Set(tree.leaves(params));
        const claim = (...ts: (tf.Tensor | undefined)[]) => {
          for (const t of ts) {
            if (t !== undefined && !unused.delete(t)) {
              throw new InputError('closed-form row Gram: a layer weight is not a params leaf, or is used by two layers');
            }
          }
        };
        const recording: LayerTaps = {
          dense: (a, w, b) => {
            claim(w, b);
            const input = keep(a) as tf.Tensor2D;
            recorded.push({ kind: 'dense', input, hasBias: b !== undefined });
            const z = PLAIN_TAPS.dense(input, w, b);
            shapes.push([k * z.shape[0], ...z.shape.slice(1)]);
            return z;
          },
          conv2d: (xi, w, b, strides, pad) => {
            claim(w, b);
            const input = keep(xi) as tf.Tensor4D;
            const grid = convPatches(input, w.shape[0], w.shape[1], strides, pad);
            const patches = keep(tf.reshape(grid, [grid.shape[0], -1, grid.shape[3]])) as tf.Tensor3D;
            recorded.push({ kind: 'conv', patches, hasBias: b !== undefined });
            const z = PLAIN_TAPS.conv2d(input, w, b, strides, pad);
            shapes.push([k * z.shape[0], ...z.shape.slice(1)]);
            return z;
          },
        };
        const outputs = forward(params, x, recording);
        const b = batchSize(outputs);
        if (unused.size > 0) throw new InputError('closed-form row Gram: some params do not enter the model through a dense or conv layer');
        recorded.forEach((r) => {
          const rows = r.kind === 'dense' ? r.input.shape[0] : r.patches.shape[0];
          if (rows !== b)
            throw new InputError(`closed-form row Gram: a layer sees ${rows} rows for ${b} samples (samples must not be reshaped)`);
        });
        if (cotangents.rank !== outputs.rank + 1 || cotangents.shape.slice(1).some((d, i) => d !== outputs.shape[i])) {
          throw new InputError(
            `rowGram: cotangents must have shape [K, ${outputs.shape.join(', ')}], got [${cotangents.shape.join(', ')}]`,
          );
        }
        if (!tree.isTensor(x)) throw new InputError('the closed-form row Gram needs batch.x to be a tensor with samples along axis 0');
        const tiled = repeatRows(x, k) as unknown as X;
        const perturbations = shapes.map((shape) => tf.zeros(shape));
        const dy = tf.reshape(cotangents, [k * b, ...outputs.shape.slice(1)]);
        const deltas = tf.grads((...eps: tf.Tensor[]) => {
          let layer = 0;
          const perturbed: LayerTaps = {
            dense: (a, w, bias) => tf.add(PLAIN_TAPS.dense(a, w, bias), eps[layer++]),
            conv2d: (xi, w, bias, strides, pad) => tf.add(PLAIN_TAPS.conv2d(xi, w, bias, strides, pad), eps[layer++]),
          };
          return forward(params, tiled, perturbed);
        })(perturbations, dy);
        return recorded
          .map((r, l) =>
            r.kind === 'dense' ? denseLayerGram(r.input, deltas[l], k, r.hasBias) : convLayerGram(r.patches, deltas[l], k, r.hasBias),
          )
          .reduce((sum, g) => tf.add(sum, g)) as tf.Tensor2D;
      });
    } finally {
      tf.dispose(kept);
    }
  };
}
