/**
 * Dense P×P matrices of linear operators on parameter trees, float64 on the host, for small models
 * (P ≤ `MAX_DENSE_PARAMS`): the matrix of a matvec as a read protocol (what a direct solver
 * factors) and the exact Hessian diagonal (an exact estimator) are library features; the dense
 * Hessian and GGN are the float64 references the test kit (`somax/testing`) hands on.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import { batchSize, checkObjective, predictOn } from '../objective';
import type { Objective, SupervisedBatch } from '../objective';
import { fetchValues, runSync } from '../reads';
import * as tree from '../tree';
import type { Reads, Tree } from '../types';
import { hvp, jacobianRows } from './products';

/** Largest parameter count for which the dense (P×P) helpers run. */
export const MAX_DENSE_PARAMS = 4096;

function assertDenseSize(params: Tree, what: string): number {
  const p = tree.numel(params);
  if (p > MAX_DENSE_PARAMS) {
    throw new InputError(`${what} builds a dense ${p}×${p} matrix; it is meant for models of at most ${MAX_DENSE_PARAMS} parameters`);
  }
  return p;
}

/** The basis vector e_j shaped like `params`. */
function basisLike(params: Tree, j: number): Tree {
  return tree.tidy(() => tree.unravel(tree.flatten(params).def, basisVector(tree.numel(params), j)));
}

/** The j-th basis vector of length p (float32; built on the host: wasm's float32 oneHot is broken). */
function basisVector(p: number, j: number): tf.Tensor1D {
  const values = new Float32Array(p);
  values[j] = 1;
  return tf.tensor1d(values);
}

/**
 * The dense Hessian of `lossFn` (P HVPs with basis vectors), row-major float64 `P×P`, raveled
 * like `tree.ravel(params)`. Tiny models and tests only (P ≤ `MAX_DENSE_PARAMS`).
 */
export function denseHessian<B>(lossFn: (params: Tree, batch: B) => tf.Scalar, params: Tree, batch: B): Float64Array {
  return denseMatrix((v) => hvp(lossFn, params, v, batch), params);
}

/**
 * The dense matrix of a linear operator on trees (P matvecs with basis vectors), row-major
 * float64 P×P. Tiny models only (P ≤ `MAX_DENSE_PARAMS`).
 */
function denseMatrix(matvec: (v: Tree) => Tree, like: Tree): Float64Array {
  return runSync(denseMatrixReads(matvec, like));
}

/** Entries of the columns read from the device at once by {@link denseMatrixReads} (4 MB). */
const DENSE_READ_ENTRIES = 1 << 20;

/**
 * {@link denseMatrix} as a {@link Reads} computation: the columns are computed on the device and
 * read in blocks of about 2²⁰ entries (one read for a model of up to 1024 parameters).
 */
export function* denseMatrixReads(matvec: (v: Tree) => Tree, like: Tree): Reads<Float64Array> {
  const p = assertDenseSize(like, 'denseMatrix');
  const { def } = tree.flatten(like);
  const out = new Float64Array(p * p);
  const block = Math.max(1, Math.floor(DENSE_READ_ENTRIES / p));
  for (let first = 0; first < p; first += block) {
    const cols = Math.min(block, p - first);
    // Row c of the block is column first + c of the matrix.
    const values = yield* fetchValues(() =>
      tf.stack(
        Array.from({ length: cols }, (_, c) => tf.tidy(() => tree.ravel(matvec(tree.unravel(def, basisVector(p, first + c)))).vector)),
      ),
    );
    for (let c = 0; c < cols; c++) {
      for (let i = 0; i < p; i++) out[i * p + first + c] = values[c * p + i];
    }
  }
  return out;
}

/**
 * The exact Hessian diagonal of `lossFn` by P Hessian-vector products with basis vectors: tiny
 * models and tests only (P ≤ `MAX_DENSE_PARAMS`). Returns a tree shaped like `params`.
 */
export function hessianDiag<B>(lossFn: (params: Tree, batch: B) => tf.Scalar, params: Tree, batch: B): Tree {
  const p = assertDenseSize(params, 'hessianDiag');
  const { def } = tree.flatten(params);
  // No read from the device: each entry stays a tensor until the diagonal is assembled.
  return tree.tidy(() => {
    const entries = Array.from({ length: p }, (_, j) =>
      tf.tidy(() => tf.slice(tree.ravel(hvp(lossFn, params, basisLike(params, j), batch)).vector, j, 1)),
    );
    return tree.unravel(def, tf.concat(entries));
  });
}

/**
 * The dense GGN `(1/B) Jᵀ Q J` of an objective on a batch, row-major float64 `P×P` (tiny models
 * and tests only).
 */
export function denseGgn<X>(objective: Objective<X>, params: Tree, batch: SupervisedBatch<X>): Float64Array {
  const p = assertDenseSize(params, 'denseGgn');
  const loss = checkObjective(objective);
  const [jRows, outputs] = tf.tidy(() => [jacobianRows(objective, params, batch.x), predictOn(objective, params, batch)]);
  const j = jRows.dataSync();
  const q = loss.hessianBlocks(outputs);
  const b = batchSize(outputs);
  const c = outputs.size / b;
  tf.dispose([jRows, outputs]);
  const g = new Float64Array(p * p);
  for (let i = 0; i < b; i++) {
    for (let k = 0; k < c; k++) {
      for (let l = 0; l < c; l++) {
        const qkl = q[i * c * c + k * c + l] / b;
        if (qkl === 0) continue;
        const rk = (i * c + k) * p;
        const rl = (i * c + l) * p;
        for (let a = 0; a < p; a++) {
          const ja = j[rk + a] * qkl;
          if (ja === 0) continue;
          for (let bb = 0; bb < p; bb++) g[a * p + bb] += ja * j[rl + bb];
        }
      }
    }
  }
  return g;
}
