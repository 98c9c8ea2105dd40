/**
 * A model as a chain of layers, linearized in closed form (JAX's `linearize`; BackPACK's and
 * kfac-jax's per-layer quantities): one forward pass keeps, for each layer, what its Jacobian
 * needs (a dense or conv layer's input, an activation's slopes σ'(z), a max-pool's argmax mask),
 * and then, without a gradient tape,
 *
 *   J v   forward, layer by layer:   ẏ = (∂y/∂x) ẋ + (∂y/∂θₗ) vₗ,
 *   Jᵀ u  backward, layer by layer:  δx = (∂y/∂x)ᵀ δy,  gₗ = (∂y/∂θₗ)ᵀ δy,
 *   R Rᵀ  the per-sample row Gram, from the deltas of K cotangents swept backward at once and
 *         each layer's kept input: Σₗ (AₗAₗᵀ + 1) ⊙ (ΔₗΔₗᵀ) for dense layers, the Gram of the
 *         per-sample kernel gradients Σₚ aᵢₚ ⊗ δᵢₚ for conv layers ({@link convLayerGram}).
 *
 * Each product costs about one forward (J v) or one backward (Jᵀ u) pass of the model, and the
 * row Gram one backward pass of K·B samples, with no forward pass: the linearization's is reused.
 * `mlpObjective` is the chain dense → activation → … → dense; a Sequential tfjs-layers model of
 * known layers is another (see `layers.ts`).
 *
 * @see Pearlmutter (1994) and Schraudolph (2002) for the forward (R-op) pass; Dangel, Kunstner &
 *   Hennig, "BackPACK: Packing more into backprop" (ICLR 2020).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../lib/errors';
import type { LayerParams, Linearization } from '../lib/objective';
import { convPatches, matMulFast, outerGram } from '../lib/ops';
import * as tree from '../lib/tree';
import type { Tree } from '../lib/types';
import { denseLayerGram } from './dense';

/**
 * One layer of a chain, linearized at fixed params on a fixed batch. Every map takes and returns
 * tensors of the caller's tidy scope. Cotangents may carry K sets of the batch, copy-major
 * (`[K·B, ...]`, row c·B + i), as the row Gram sweeps them.
 */
export interface LinearizedLayer {
  /** The layer's output on the batch. */
  readonly output: tf.Tensor;
  /** ẏ from the input's tangent ẋ (`undefined`: zero) and the params' tangent `v`; `undefined` when zero. */
  jvp(dx: tf.Tensor | undefined, v: Readonly<Record<string, tf.Tensor>>): tf.Tensor | undefined;
  /** δx = (∂y/∂x)ᵀ δy. */
  inputVjp(dy: tf.Tensor): tf.Tensor;
  /** The gradients of the layer's params from δy (batch B), keyed like the params; absent without params. */
  paramVjp?(dy: tf.Tensor): Record<string, tf.Tensor>;
  /** The layer's share of the row Gram, from the deltas at its output for K cotangent sets (`[K·B, ...]`). */
  gram?(dy: tf.Tensor, k: number): tf.Tensor2D;
  /** The layer's inputs and output deltas as Kronecker factors see them (see {@link LayerStatistics}), from δy (batch B). */
  statistics?(dy: tf.Tensor): LayerStatistics;
}

/**
 * What the Kronecker factors of one layer are made of (K-FAC, KFC): the weight's gradient on the
 * batch is Σᵣ ãᵣ δᵣᵀ over the rows r of `inputs` and `deltas` (one row per sample for a dense
 * layer, one per sample and output position for a conv layer), with ãᵣ the input row and a
 * trailing 1 when the layer has a bias.
 */
export interface LayerStatistics {
  /** The key of the weight in the params (a dense `[in, out]` or conv `[kh, kw, cin, cout]` leaf). */
  readonly weight: string;
  /** The key of the bias, when the layer has one. */
  readonly bias?: string;
  /** The input rows ã without the homogeneous 1, `[N, in]` (N = B, or B·positions for a conv). */
  readonly inputs: tf.Tensor2D;
  /** The output deltas δ, `[N, out]`. */
  readonly deltas: tf.Tensor2D;
  /** Rows per sample: 1 for a dense layer, the output positions of a conv. */
  readonly positions: number;
}

/**
 * A layer of a chain: runs the layer forward on `x` with the weights of `params` and returns it
 * linearized there. `keep` registers a tensor the linearization holds until it is disposed.
 */
export type ChainLayer = ((params: Readonly<Record<string, tf.Tensor>>, x: tf.Tensor, keep: (t: tf.Tensor) => void) => LinearizedLayer) & {
  /** The weight and bias of a layer that reports {@link LayerStatistics} (dense, conv). */
  readonly factored?: LayerParams;
};

/** A chain's linearize function, with its dense and conv layers' params in chain order. */
export type ChainLinearize = ((params: Tree, x: tf.Tensor) => ChainLinearization) & { readonly layerParams: readonly LayerParams[] };

/** A chain's linearization: {@link Linearization} with the row Gram of its per-sample products. */
export interface ChainLinearization extends Linearization {
  /**
   * The Gram of the per-sample vector-Jacobian products for cotangents `U` (`[K, ...outputs.shape]`),
   * `[B·K, B·K]` sample-major, as {@link Objective.rowGram}: no forward pass (the linearization's).
   */
  rowGram(cotangents: tf.Tensor): tf.Tensor2D;
  /**
   * For cotangents `u` at the outputs (`[B, ...]`: e.g. the per-sample residuals at sampled
   * targets), every parametric layer's inputs and the deltas of `u` at its output, first layer
   * first (the Kronecker factors' raw material). Tensors of the caller's tidy scope; the inputs
   * are the linearization's own (do not dispose them).
   */
  layerStatistics(u: tf.Tensor): LayerStatistics[];
}

/** The param of a chain layer, by key; an error names a missing key. */
function param(params: Readonly<Record<string, tf.Tensor>>, key: string): tf.Tensor {
  const p = params[key];
  if (p === undefined) throw new InputError(`params has no entry '${key}'`);
  return p;
}

/** `dy ⊙ s` (broadcasting) for kept per-sample factors `s` (batch B) and `dy` of batch B or K·B (copy-major). */
function perSampleMul(dy: tf.Tensor, s: tf.Tensor): tf.Tensor {
  const b = s.shape[0];
  if (dy.shape[0] === b) return tf.mul(dy, s);
  const product = tf.mul(tf.reshape(dy, [-1, b, ...dy.shape.slice(1)]), s);
  return tf.reshape(product, [-1, ...product.shape.slice(2)]);
}

/**
 * A dense layer `z = x W + b` (x `[B, in]`; `b` optional), params under `weight` and `bias`.
 * Keeps x, xᵀ and Wᵀ (explicit transposes: wasm multiplies by a transposed operand slowly).
 */
export function denseLayer(weight: string, bias?: string): ChainLayer {
  const layer: ChainLayer = (params, x, keep) => {
    const w = param(params, weight);
    const b = bias === undefined ? undefined : param(params, bias);
    if (x.rank !== 2) throw new InputError(`a chain's dense layer takes inputs of rank 2, got [${x.shape.join(', ')}]`);
    const input = x;
    const inputT = tf.transpose(x);
    const weightT = tf.transpose(w);
    [input, inputT, weightT].forEach(keep);
    const z = tf.matMul(x, w);
    const output = b === undefined ? z : tf.add(z, b);
    return {
      output,
      jvp: (dx, v) => {
        const direct = tf.matMul(input, v[weight]);
        const dz = dx === undefined ? direct : tf.add(direct, tf.matMul(dx, w));
        return b === undefined ? dz : tf.add(dz, v[bias as string]);
      },
      inputVjp: (dy) => tf.matMul(dy, weightT),
      paramVjp: (dy) => ({
        [weight]: tf.matMul(inputT, dy),
        ...(bias === undefined ? {} : { [bias]: tf.reshape(tf.sum(dy, 0), (b as tf.Tensor).shape) }),
      }),
      gram: (dy, k) => denseLayerGram(input as tf.Tensor2D, dy, k, b !== undefined),
      statistics: (dy) => ({ weight, bias, inputs: input as tf.Tensor2D, deltas: dy as tf.Tensor2D, positions: 1 }),
    };
  };
  return Object.assign(layer, { factored: { weight, bias } });
}

/**
 * One conv layer's share of the Gram: the per-sample kernel gradients Σₚ aᵢₚ ⊗ δᵢₚ (`[B·K, d·c]`,
 * sample-major) from the patches `[B, P, d]` and the deltas of K cotangent sets (`[K·B, P, c]`,
 * copy-major), Gram'd, plus the bias gradients' Gram. The K cotangent sets of a sample share its
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
 * A 2-D convolution `z = conv2d(x, W) + b` (NHWC, dilation 1; `b` optional), params under `weight`
 * and `bias`. Keeps x and its patches (rows `[B·P, kh·kw·cin]` and their transpose): the params'
 * products are matrix products with the patches, the input's a convolution and its transpose.
 */
export function conv2dLayer(weight: string, bias: string | undefined, strides: [number, number], pad: 'same' | 'valid'): ChainLayer {
  const layer: ChainLayer = (params, x, keep) => {
    const w = param(params, weight) as tf.Tensor4D;
    const b = bias === undefined ? undefined : param(params, bias);
    const [kh, kw, , cout] = w.shape;
    const input = x as tf.Tensor4D;
    const grid = convPatches(input, kh, kw, strides, pad);
    const patches = tf.reshape(grid, [grid.shape[0], -1, grid.shape[3]]) as tf.Tensor3D;
    const rows = tf.reshape(grid, [-1, grid.shape[3]]) as tf.Tensor2D;
    const rowsT = tf.transpose(rows);
    [input, patches, rows, rowsT].forEach(keep);
    const outShape = [grid.shape[0], grid.shape[1], grid.shape[2], cout];
    const z = tf.conv2d(input, w, strides, pad);
    const output = b === undefined ? z : tf.add(z, b);
    return {
      output,
      jvp: (dx, v) => {
        const direct = tf.reshape(tf.matMul(rows, tf.reshape(v[weight], [-1, cout])), outShape);
        const dz = dx === undefined ? direct : tf.add(direct, tf.conv2d(dx as tf.Tensor4D, w, strides, pad));
        return b === undefined ? dz : tf.add(dz, v[bias as string]);
      },
      inputVjp: (dy) =>
        tf.conv2dTranspose(dy as tf.Tensor4D, w, [dy.shape[0], ...input.shape.slice(1)] as [number, number, number, number], strides, pad),
      paramVjp: (dy) => {
        const flat = tf.reshape(dy, [-1, cout]);
        return {
          [weight]: tf.reshape(tf.matMul(rowsT, flat), w.shape),
          ...(bias === undefined ? {} : { [bias]: tf.reshape(tf.sum(flat, 0), (b as tf.Tensor).shape) }),
        };
      },
      gram: (dy, k) => convLayerGram(patches, dy, k, b !== undefined),
      statistics: (dy) => ({ weight, bias, inputs: rows, deltas: tf.reshape(dy, [-1, cout]) as tf.Tensor2D, positions: patches.shape[1] }),
    };
  };
  return Object.assign(layer, { factored: { weight, bias } });
}

/** An elementwise activation `y = σ(x)`: keeps the slopes σ'(x) (by autodiff of σ). */
export function activationLayer(sigma: (z: tf.Tensor) => tf.Tensor): ChainLayer {
  const slopeOf = tf.grad((z: tf.Tensor) => tf.sum(sigma(z)));
  return (_params, x, keep) => {
    const slope = slopeOf(x);
    keep(slope);
    return {
      output: sigma(x),
      jvp: (dx) => (dx === undefined ? undefined : tf.mul(slope, dx)),
      inputVjp: (dy) => perSampleMul(dy, slope),
    };
  };
}

/** A reshape of each sample to `sampleShape` (Flatten, Reshape); linear. */
export function reshapeLayer(sampleShape: readonly number[]): ChainLayer {
  return (_params, x) => {
    const inShape = x.shape.slice(1);
    const to = (t: tf.Tensor, shape: readonly number[]) => tf.reshape(t, [t.shape[0], ...shape]);
    return {
      output: to(x, sampleShape),
      jvp: (dx) => (dx === undefined ? undefined : to(dx, sampleShape)),
      inputVjp: (dy) => to(dy, inShape),
    };
  };
}

/** The identity (Dropout outside training, an input layer, a linear activation). */
export const identityLayer: ChainLayer = (_params, x) => ({ output: x, jvp: (dx) => dx, inputVjp: (dy) => dy });

/**
 * The non-overlapping `[ph, pw]` windows of a NHWC tensor (the rows and columns beyond whole windows
 * dropped, as 'valid' pooling drops them), as `[N, H', W', C, ph·pw]`.
 */
function windows(x: tf.Tensor, [ph, pw]: readonly [number, number]): tf.Tensor {
  const [n, h, w, c] = x.shape;
  const [oh, ow] = [Math.floor(h / ph), Math.floor(w / pw)];
  const cropped = oh * ph === h && ow * pw === w ? x : tf.slice(x, [0, 0, 0, 0], [n, oh * ph, ow * pw, c]);
  return tf.reshape(tf.transpose(tf.reshape(cropped, [n, oh, ph, ow, pw, c]), [0, 1, 3, 5, 2, 4]), [n, oh, ow, c, ph * pw]);
}

/** The adjoint of {@link windows}: `[N, H', W', C, ph·pw]` back to `[N, H, W, C]`, zeros where no window reaches. */
function fromWindows(t: tf.Tensor, [ph, pw]: readonly [number, number], [h, w]: readonly [number, number]): tf.Tensor {
  const [n, oh, ow, c] = t.shape;
  const grid = tf.reshape(tf.transpose(tf.reshape(t, [n, oh, ow, c, ph, pw]), [0, 1, 4, 2, 5, 3]), [n, oh * ph, ow * pw, c]);
  return oh * ph === h && ow * pw === w
    ? grid
    : tf.pad(grid, [
        [0, 0],
        [0, h - oh * ph],
        [0, w - ow * pw],
        [0, 0],
      ]);
}

/**
 * Max pooling over non-overlapping `[ph, pw]` windows (strides = pool size, 'valid'): keeps the
 * one-hot mask of each window's first maximum (the element tfjs's gradient picks on ties too), so
 * that ẏ = Σ_window mask ⊙ ẋ and δx = mask ⊙ δy spread back over the windows.
 */
export function maxPoolLayer(pool: readonly [number, number]): ChainLayer {
  if (pool[0] * pool[1] === 1) return identityLayer;
  return (_params, x, keep) => {
    const xw = windows(x, pool);
    const mask = tf.oneHot(tf.argMax(xw, -1), pool[0] * pool[1]) as tf.Tensor;
    const maskF = tf.cast(mask, 'float32');
    keep(maskF);
    const size: [number, number] = [x.shape[1] as number, x.shape[2] as number];
    return {
      output: tf.max(xw, -1),
      jvp: (dx) => (dx === undefined ? undefined : tf.sum(tf.mul(maskF, windows(dx, pool)), -1)),
      inputVjp: (dy) => fromWindows(perSampleMul(tf.expandDims(dy, -1), maskF), pool, size),
    };
  };
}

/** Average pooling over non-overlapping `[ph, pw]` windows (strides = pool size, 'valid'); linear. */
export function averagePoolLayer(pool: readonly [number, number]): ChainLayer {
  const area = pool[0] * pool[1];
  return (_params, x) => {
    const size: [number, number] = [x.shape[1] as number, x.shape[2] as number];
    const apply = (t: tf.Tensor) => tf.mean(windows(t, pool), -1);
    return {
      output: apply(x),
      jvp: (dx) => (dx === undefined ? undefined : apply(dx)),
      inputVjp: (dy) => fromWindows(tf.add(tf.expandDims(tf.div(dy, area), -1), tf.zeros([...dy.shape, area])), pool, size),
    };
  };
}

/** Global average pooling of NHWC inputs over H and W; linear. */
export const globalAveragePoolLayer: ChainLayer = (_params, x) => {
  const [h, w] = [x.shape[1] as number, x.shape[2] as number];
  return {
    output: tf.mean(x, [1, 2]),
    jvp: (dx) => (dx === undefined ? undefined : tf.mean(dx, [1, 2])),
    inputVjp: (dy) => tf.add(tf.reshape(tf.div(dy, h * w), [dy.shape[0], 1, 1, -1]), tf.zeros([dy.shape[0], h, w, dy.shape[1] as number])),
  };
};

/**
 * The closed-form linearization of a chain of layers (see the module comment): `(params, x)` runs
 * the chain forward once, keeping what each layer's Jacobian needs. Every parameter leaf must be
 * used by exactly one layer (checked: a leaf no layer uses would get no gradient).
 *
 * @example
 * const linearize = chainLinearization([denseLayer('w1', 'b1'), activationLayer(tf.tanh), denseLayer('w2', 'b2')]);
 * const lin = linearize(params, x);
 * const jv = lin.jvp(v);          // [B, C], no tape
 * const gram = lin.rowGram(basis); // J Jᵀ, no forward pass
 * lin.dispose();
 */
export function chainLinearization(layers: readonly ChainLayer[]): ChainLinearize {
  const linearize = (params: Tree, x: tf.Tensor): ChainLinearization => {
    const p = params as Record<string, tf.Tensor>;
    const keys = Object.keys(p);
    const kept: tf.Tensor[] = [];
    let linearized: LinearizedLayer[] = [];
    const outputs = tf.tidy(() => {
      const keep = (t: tf.Tensor) => void kept.push(t);
      let a = tf.clone(x); // kept by the first layer that keeps its input; the caller keeps x
      linearized = layers.map((layer) => {
        const l = layer(p, a, keep);
        a = l.output;
        return l;
      });
      tf.keep(a);
      kept.forEach((t) => tf.keep(t));
      return a;
    });
    const dispose = () => tf.dispose([outputs, ...kept]);
    /** δ at every layer's output, last layer first, from cotangents `dy` at the chain's output. */
    const sweep = (dy: tf.Tensor, visit: (layer: LinearizedLayer, delta: tf.Tensor) => void): void => {
      let delta = dy;
      for (let l = linearized.length - 1; l >= 0; l--) {
        visit(linearized[l], delta);
        if (l > 0) delta = linearized[l].inputVjp(delta);
      }
    };
    return {
      outputs,
      jvp: (v) =>
        tf.tidy(() => {
          tree.assertSameStructure(params, v, { names: ['params have', 'tangent has'], root: 'tangent' });
          let dx: tf.Tensor | undefined;
          for (const layer of linearized) dx = layer.jvp(dx, v as Record<string, tf.Tensor>);
          return dx ?? tf.zerosLike(outputs);
        }),
      vjp: (u) =>
        tree.tidy(() => {
          const grads: Record<string, tf.Tensor> = {};
          sweep(tf.reshape(tf.cast(u, 'float32'), outputs.shape), (layer, delta) => Object.assign(grads, layer.paramVjp?.(delta)));
          const missing = keys.filter((k) => grads[k] === undefined);
          if (missing.length > 0) throw new InputError(`no layer of the chain uses params ${missing.join(', ')}`);
          return Object.fromEntries(keys.map((k) => [k, grads[k]]));
        }),
      layerStatistics: (u) => {
        const found: LayerStatistics[] = [];
        sweep(tf.reshape(tf.cast(u, 'float32'), outputs.shape), (layer, delta) => {
          const s = layer.statistics?.(delta);
          if (s) found.unshift(s);
        });
        return found;
      },
      rowGram: (cotangents) =>
        tf.tidy(() => {
          const k = cotangents.shape[0];
          if (cotangents.rank !== outputs.rank + 1 || cotangents.shape.slice(1).some((d, i) => d !== outputs.shape[i])) {
            throw new InputError(
              `rowGram: cotangents must have shape [K, ${outputs.shape.join(', ')}], got [${cotangents.shape.join(', ')}]`,
            );
          }
          const shares: tf.Tensor2D[] = [];
          sweep(tf.reshape(cotangents, [-1, ...outputs.shape.slice(1)]), (layer, delta) => {
            if (layer.gram) shares.push(layer.gram(delta, k));
          });
          return shares.reduce((sum, g) => tf.add(sum, g)) as tf.Tensor2D;
        }),
      dispose,
    };
  };
  const layerParams = layers.flatMap((layer) => (layer.factored ? [layer.factored] : []));
  return Object.assign(linearize, { layerParams });
}
