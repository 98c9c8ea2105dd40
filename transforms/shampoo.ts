/**
 * Shampoo: each weight matrix G (`[m, n]`; a conv kernel as `[kh·kw·cin, cout]`) preconditioned by
 * the inverse fourth roots of its row and column statistics,
 *
 *   L ← β₂ L + (1 − β₂) G Gᵀ,   R ← β₂ R + (1 − β₂) Gᵀ G,   s = L̂^{-1/4} M R̂^{-1/4},
 *
 * with M the debiased momentum of the gradient, L̂, R̂ the debiased statistics plus a ridge ε·‖·‖,
 * split into diagonal blocks of at most `blockSize` (Distributed Shampoo's blocking), their roots
 * recomputed every `inverseEvery` steps by matmul-only coupled Newton iterations on the device
 * (no host read) and reused in between; vectors (biases) get the diagonal version. The direction
 * of each leaf is then grafted onto Adam's: rescaled to the norm of Adam's step m̂ / (√v̂ + ε).
 *
 * @see Gupta, Koren & Singer, "Shampoo: Preconditioned Stochastic Tensor Optimization" (ICML 2018);
 *   Anil et al., "Scalable Second Order Optimization for Deep Learning" (2020), arXiv 2002.09018;
 *   Shi et al., "A Distributed Data-Parallel PyTorch Implementation of the Distributed Shampoo
 *   Optimizer" (2023), arXiv 2309.06497.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, assertInRange, assertPositive, InputError } from '../lib/errors';
import { maskLeaves } from '../lib/combine/labels';
import type { Mask } from '../lib/combine/labels';
import { scaledCopy, symmetricPower } from '../lib/linalg';
import { matMulFast } from '../lib/ops';
import { resolveOptions } from '../lib/options';
import type { Defaults } from '../lib/options';
import { fetchValues, withReads } from '../lib/reads';
import * as tree from '../lib/tree';
import type { GradientTransformation, Reads, Tree } from '../lib/types';
import { blockSizes, leftBlockProduct, rightBlockProduct } from './solvers/kronecker';

/** Options of {@link inverseRoot}. */
export interface InverseRootOptions {
  /**
   * Coupled Newton iterations (default 25; each costs 2 + ⌈log₂ p⌉ matrix products for p a power of
   * two: 4 for p = 4, Tᵖ by squaring). The start scales the
   * spectrum into (0, 1]; an eigenvalue ε of it grows about ((p+1)/p)^p-fold per iteration, then
   * converges quadratically: with the default ridge (condition number ≤ 10⁶) float32 precision is
   * reached in 20 iterations for p = 4.
   */
  iterations?: number;
  /** The ridge added before the root, relative to the matrix's Frobenius norm (default 1e-6). */
  ridge?: number;
}

/** Defaults of {@link InverseRootOptions}. */
const INVERSE_ROOT_DEFAULTS = { iterations: 25, ridge: 1e-6 } as const satisfies Defaults<InverseRootOptions>;

/** ‖t‖_F as √Σt² (tf.norm's generic path costs a Pow, Casts and Selects per call). */
function frobenius(t: tf.Tensor): tf.Scalar {
  return tf.sqrt(tf.sum(tf.square(t))) as tf.Scalar;
}

/** `tᵖ` by repeated squaring (⌊log₂ p⌋ + popcount(p) − 1 products: 2 for p = 4). */
function matrixPower(t: tf.Tensor2D, p: number): tf.Tensor2D {
  let result: tf.Tensor2D | undefined;
  let square = t;
  for (let e = p; e > 0; e >>= 1) {
    if (e & 1) result = result === undefined ? square : (tf.matMul(result, square) as tf.Tensor2D);
    if (e > 1) square = tf.matMul(square, square) as tf.Tensor2D;
  }
  return result as tf.Tensor2D;
}

/**
 * `(A + ε‖A‖_F I)^{-1/p}` of a symmetric positive semi-definite `A` (`[n, n]`) by the coupled
 * Newton iteration, matrix products only (on the device, no read):
 *
 *   X₀ = z^{1/p} I,  M₀ = z A,  z = (1 + p) / (2‖A‖_F);
 *   Tₖ = ((p + 1) I − Mₖ) / p,  Xₖ₊₁ = Xₖ Tₖ,  Mₖ₊₁ = Tₖᵖ Mₖ   (Mₖ → I, Xₖ → A^{-1/p}).
 *
 * @example
 * const root = inverseRoot(tf.tensor2d([[4, 0], [0, 16]]), 2); // ≈ [[0.5, 0], [0, 0.25]]
 * @see Guo & Higham, "A Schur–Newton method for the matrix p'th root and its inverse" (2006);
 *   Anil et al. (2020), arXiv 2002.09018.
 */
export function inverseRoot(a: tf.Tensor2D, p: number, options: InverseRootOptions = {}): tf.Tensor2D {
  const { iterations, ridge } = resolveOptions('inverseRoot', options, INVERSE_ROOT_DEFAULTS);
  assertInteger('p', p);
  assertInteger('iterations', iterations);
  const n = a.shape[0];
  return tf.tidy(() => {
    const eye = tf.eye(n);
    const norm = frobenius(a);
    const shifted = tf.add(a, tf.mul(eye, tf.mul(norm, ridge)));
    const z = tf.div(1 + p, tf.mul(frobenius(shifted), 2));
    let x = tf.mul(eye, tf.pow(z, 1 / p));
    let m = tf.mul(shifted, z);
    for (let k = 0; k < iterations; k++) {
      const t = tf.div(tf.sub(tf.mul(eye, p + 1), m), p) as tf.Tensor2D;
      x = tf.matMul(x, t);
      m = tf.matMul(matrixPower(t, p), m);
    }
    return tf.div(tf.add(x, tf.transpose(x)), 2) as tf.Tensor2D;
  });
}

/** `(A + ε‖A‖_F I)^{-1/p}` in float64 on the host, A = `scale · a` (k × k values), by its eigendecomposition. */
function hostInverseRoot(a: ArrayLike<number>, scale: number, k: number, p: number, ridge: number): Float32Array {
  const block = scaledCopy(a, scale);
  const norm = Math.sqrt(block.reduce((s, x) => s + x * x, 0));
  for (let i = 0; i < k; i++) block[i * k + i] += ridge * norm;
  return Float32Array.from(symmetricPower(block, k, -1 / p, { floor: Number.MIN_VALUE }));
}

/** Options of {@link scaleByShampoo}. */
export interface ShampooOptions {
  /** Momentum of the gradient (default 0.9). */
  b1?: number;
  /** Decay of the statistics and of Adam's second moment (default 0.999). */
  b2?: number;
  /** Adam's ε of the grafted step (default 1e-8). */
  eps?: number;
  /** Ridge of the statistics before their roots, relative to their norm (default 1e-6). */
  ridge?: number;
  /** Steps between recomputations of the inverse roots (default 10). */
  inverseEvery?: number;
  /** Statistics larger than this are split into diagonal blocks (default 256). */
  blockSize?: number;
  /**
   * How the inverse fourth roots are computed: `'newton'` (default), coupled Newton iterations on
   * the device, matrix products only, no read; `'eigen'`, float64 eigendecompositions on the host
   * (one read of the statistics per refresh; exact, O(n³) per block in JavaScript).
   */
  roots?: 'newton' | 'eigen';
  /** Coupled Newton iterations per root (default 25, see {@link InverseRootOptions}). */
  iterations?: number;
  /**
   * The leaves to precondition (a tree of booleans over the params, or a function of them, as
   * `masked` takes); the others get Adam's step. Default: every leaf of rank ≥ 2.
   */
  precondition?: Mask;
}

/** Defaults of {@link ShampooOptions}. */
export const SHAMPOO_DEFAULTS = {
  b1: 0.9,
  b2: 0.999,
  eps: 1e-8,
  ridge: 1e-6,
  inverseEvery: 10,
  blockSize: 256,
  roots: 'newton',
  iterations: 25,
  precondition: undefined,
} as const satisfies Defaults<ShampooOptions>;

/**
 * One leaf's Shampoo factors as diagonal blocks (of at most the block size): the row statistics L
 * and column statistics R (EMA, not bias-corrected) and their inverse fourth roots at the last
 * refresh. Empty lists for a leaf Shampoo leaves to Adam (a vector, or masked out).
 */
export interface ShampooFactors {
  /** The diagonal blocks of the row statistics L (EMA of G Gᵀ). */
  readonly l: readonly tf.Tensor2D[];
  /** The diagonal blocks of the column statistics R (EMA of Gᵀ G). */
  readonly r: readonly tf.Tensor2D[];
  /** L̂^{-1/4} of each block of L, at the last refresh. */
  readonly lRoot: readonly tf.Tensor2D[];
  /** R̂^{-1/4} of each block of R, at the last refresh. */
  readonly rRoot: readonly tf.Tensor2D[];
}

/** State of {@link scaleByShampoo}: per leaf, Adam's moments, and for matrices the blocks of the statistics and their roots. */
export type ShampooState = {
  /** Steps taken. */
  readonly step: number;
  /** Adam's first moment (also the momentum Shampoo preconditions), shaped like the params. */
  readonly m: Tree;
  /** Adam's second moment, shaped like the params. */
  readonly v: Tree;
  /** Per leaf (in leaf order), its factors. */
  readonly stats: readonly ShampooFactors[];
};

/** A leaf as the matrix Shampoo preconditions: `[prod(leading dims), last dim]`; null for rank < 2. */
function asMatrix(t: tf.Tensor): tf.Tensor2D | null {
  return t.rank < 2 ? null : (tf.reshape(t, [-1, t.shape[t.rank - 1]]) as tf.Tensor2D);
}

/** One leaf's step before its direction: new moments, Adam's step, and for a matrix its new statistics. */
interface LeafMoments {
  readonly m: tf.Tensor;
  readonly v: tf.Tensor;
  readonly mHat: tf.Tensor;
  readonly adam: tf.Tensor;
  readonly l: readonly tf.Tensor2D[]; // the blocks of L, or [] when Shampoo leaves the leaf to Adam
  readonly r: readonly tf.Tensor2D[];
}

/**
 * Shampoo's direction (see the module comment), grafted onto Adam's step norm, no sign (follow it
 * with a negative learning rate, as `shampoo` does). A pure gradient transformation: no model.
 *
 * @example
 * const tx = chain(scaleByShampoo({ inverseEvery: 10 }), scaleByLearningRate(1e-3));
 * @see Gupta, Koren & Singer (ICML 2018); Anil et al. (2020), arXiv 2002.09018.
 */
export function scaleByShampoo(options: ShampooOptions = {}): GradientTransformation<ShampooState> {
  const o = resolveOptions('scaleByShampoo', options, SHAMPOO_DEFAULTS);
  assertInRange('b1', o.b1, 0, 1);
  assertInRange('b2', o.b2, 0, 1);
  assertPositive('eps', o.eps);
  assertInteger('inverseEvery', o.inverseEvery);
  assertInteger('blockSize', o.blockSize);
  if (o.roots !== 'newton' && o.roots !== 'eigen') throw new InputError(`roots must be 'newton' or 'eigen', got '${String(o.roots)}'`);
  const rootOptions = { iterations: o.iterations, ridge: o.ridge };

  const init = (params: Tree): ShampooState => {
    const keep = o.precondition === undefined ? tree.leaves(params).map(() => true) : maskLeaves(o.precondition, params);
    return tf.tidy(
      () =>
        ({
          step: 0,
          m: tree.zerosLike(params),
          v: tree.zerosLike(params),
          stats: tree.leaves(params).map((p, i): ShampooFactors => {
            const g = asMatrix(p);
            if (g === null || !keep[i]) return { l: [], r: [], lRoot: [], rRoot: [] };
            const [rows, cols] = [blockSizes(g.shape[0], o.blockSize), blockSizes(g.shape[1], o.blockSize)];
            const zeros = (k: number) => tf.zeros([k, k]) as tf.Tensor2D;
            const eye = (k: number) => tf.eye(k) as tf.Tensor2D;
            return { l: rows.map(zeros), r: cols.map(zeros), lRoot: rows.map(eye), rRoot: cols.map(eye) };
          }),
        }) as unknown as tf.TensorContainer,
    ) as unknown as ShampooState;
  };

  /** Adam's moments and step, and the EMA of the statistics, per leaf. */
  const momentsOf = (grads: tf.Tensor[], state: ShampooState, t: number): LeafMoments[] => {
    const [c1, c2] = [1 - o.b1 ** t, 1 - o.b2 ** t];
    const [ms, vs] = [tree.leaves(state.m), tree.leaves(state.v)];
    return grads.map(
      (g, i) =>
        tf.tidy(() => {
          const m = tf.add(tf.mul(ms[i], o.b1), tf.mul(g, 1 - o.b1));
          const v = tf.add(tf.mul(vs[i], o.b2), tf.mul(tf.square(g), 1 - o.b2));
          const mHat = tf.div(m, c1);
          const adam = tf.div(mHat, tf.add(tf.sqrt(tf.div(v, c2)), o.eps));
          const { l: l0, r: r0 } = state.stats[i];
          if (l0.length === 0) return { m, v, mHat, adam, l: [], r: [] };
          const gm = asMatrix(g) as tf.Tensor2D;
          // Only the diagonal blocks of G Gᵀ and Gᵀ G: from the row blocks and the column blocks of G.
          const parts = (axis: number, blocks: readonly tf.Tensor2D[]) =>
            blocks.length === 1
              ? [gm]
              : tf.split(
                  gm,
                  blocks.map((b) => b.shape[0]),
                  axis,
                );
          const ema = (before: tf.Tensor2D, now: tf.Tensor) => tf.add(tf.mul(before, o.b2), tf.mul(now, 1 - o.b2)) as tf.Tensor2D;
          const l = parts(0, l0).map((gb, b) => ema(l0[b], matMulFast(gb, gb, false, true)));
          const r = parts(1, r0).map((gc, c) => ema(r0[c], matMulFast(gc, gc, true, false)));
          return { m, v, mHat, adam, l, r } as unknown as tf.TensorContainer;
        }) as unknown as LeafMoments,
    );
  };

  /** The inverse fourth roots of the debiased statistics' blocks (`[...L blocks, ...R blocks]` per leaf), new tensors. */
  function* rootsReads(blocks: readonly (readonly tf.Tensor2D[])[], c2: number): Reads<tf.Tensor2D[][]> {
    if (o.roots === 'newton') {
      return blocks.map((list) => list.map((s) => tf.tidy(() => inverseRoot(tf.div(s, c2) as tf.Tensor2D, 4, rootOptions))));
    }
    const all = blocks.flat();
    if (all.length === 0) return blocks.map(() => []);
    const values = yield* fetchValues(() => tf.concat(all.map((s) => tf.reshape(s, [-1]))));
    let offset = 0;
    return blocks.map((list) =>
      list.map((s) => {
        const k = s.shape[0];
        return tf.tensor2d(hostInverseRoot(values.subarray(offset, (offset += k * k)), 1 / c2, k, 4, o.ridge), [k, k]);
      }),
    );
  }

  function* updateReads(updates: Tree, state: ShampooState): Reads<[Tree, ShampooState]> {
    tree.assertFloat(updates);
    const t = state.step + 1;
    const grads = tree.leaves(updates);
    const leaves = momentsOf(grads, state, t);
    let roots: tf.Tensor2D[][];
    try {
      roots =
        state.step % o.inverseEvery === 0
          ? yield* rootsReads(
              leaves.map((l) => [...l.l, ...l.r]),
              1 - o.b2 ** t,
            )
          : state.stats.map((s) => [...s.lRoot, ...s.rRoot].map((x) => tf.clone(x)));
    } catch (err) {
      tf.dispose(leaves as never);
      throw err;
    }
    const directions = tf.tidy(() =>
      leaves.map((leaf, i) => {
        if (leaf.l.length === 0) return tf.clone(leaf.adam);
        const [lRoot, rRoot] = [roots[i].slice(0, leaf.l.length), roots[i].slice(leaf.l.length)];
        const shampoo = tf.reshape(rightBlockProduct(leftBlockProduct(lRoot, asMatrix(leaf.mHat) as tf.Tensor2D), rRoot), grads[i].shape);
        // Grafting: Shampoo's direction with the norm of Adam's step.
        return tf.mul(shampoo, tf.div(frobenius(leaf.adam), tf.add(frobenius(shampoo), 1e-30)));
      }),
    );
    tf.dispose(leaves.flatMap((l) => [l.mHat, l.adam]));
    const def = tree.flatten(updates).def;
    const next: ShampooState = {
      step: t,
      m: tree.unflatten(
        def,
        leaves.map((l) => l.m),
      ),
      v: tree.unflatten(
        def,
        leaves.map((l) => l.v),
      ),
      stats: leaves.map((l, i) => ({ l: l.l, r: l.r, lRoot: roots[i].slice(0, l.l.length), rRoot: roots[i].slice(l.l.length) })),
    };
    return [tree.unflatten(def, directions), next];
  }

  return withReads(init, updateReads);
}
