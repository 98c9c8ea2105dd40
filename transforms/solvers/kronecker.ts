/**
 * Kronecker-factored curvature (K-FAC; KFC for conv layers) as a direction solver: each layer's
 * block of the Fisher / GGN is approximated by A ⊗ G, with
 *
 *   A = (1/B) Σᵣ ãᵣãᵣᵀ   (ã = [a; 1]: the layer's input rows, the bias as a homogeneous coordinate),
 *   G = (1/(B·T)) Σᵣ δᵣδᵣᵀ (δ: the deltas at the layer's output of the per-sample residuals r(f, ŷ)),
 *
 * summed over the B samples (and the T output positions of a conv layer: KFC's "expand" flavour,
 * positions summed into A and averaged into G), with ŷ labels sampled from the model (the Fisher,
 * which equals the GGN in expectation for these losses) or the batch's own (empirical). The
 * factors are averaged over steps (EMA, bias-corrected); every `inverseEvery` steps the damped
 * factors are inverted on the host in float64, block by block (factors larger than `blockSize`
 * are split into diagonal blocks), with the factored Tikhonov damping
 *
 *   (A + π√λ I) ⊗ (G + √λ/π I),   π² = (tr A / dim A) / (tr G / dim G),
 *
 * and in between the previous inverses are reused. The direction of a layer is then
 * (A + π√λ I)⁻¹ Ḡ (G + √λ/π I)⁻¹ for its gradient Ḡ = [∂W; ∂b] (rows: inputs, columns: outputs) —
 * two small products per layer. The factors come from the model's closed-form linearization
 * (`models/layerChain.ts`: each dense and conv layer's inputs and deltas), shared with the rest of
 * the step through the step context.
 *
 * @see Martens & Grosse, "Optimizing neural networks with Kronecker-factored approximate curvature"
 *   (ICML 2015), arXiv 1503.05671; Grosse & Martens, "A Kronecker-factored approximate Fisher
 *   matrix for convolution layers" (ICML 2016); kfac-jax (DeepMind).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { maskLeaves } from '../../lib/combine/labels';
import type { Mask } from '../../lib/combine/labels';
import { assertInteger, assertInRange, InputError } from '../../lib/errors';
import { cholesky, choleskyInverse, scaledCopy, symmetrize } from '../../lib/linalg';
import { batchSize, checkObjective, residualAt } from '../../lib/objective';
import type { Objective, SupervisedBatch } from '../../lib/objective';
import { resolveOptions } from '../../lib/options';
import type { Defaults } from '../../lib/options';
import { matMulFast } from '../../lib/ops';
import { fetchValues, runSync } from '../../lib/reads';
import { linearizationIn } from '../../lib/stepContext';
import * as tree from '../../lib/tree';
import type { Reads, Tree } from '../../lib/types';
import type { ChainLinearization, LayerStatistics } from '../../models/layerChain';
import type { DirectionSolver, SolveProblem } from '../secondOrder';

/** Options of {@link kroneckerSolver}. */
export interface KroneckerOptions {
  /** Labels of G's deltas: sampled from the model (`'sampled'`, the Fisher; default) or the batch's (`'empirical'`). */
  labels?: 'sampled' | 'empirical';
  /** EMA decay of the factors (default 0.95, as kfac-jax). */
  decay?: number;
  /**
   * Steps between updates of the factors (default 1: every step). In between, the curvature batch
   * is not used at all (no forward pass, no sampled labels): the factors and inverses of the last
   * update stand (TCov of Martens & Grosse's implementation).
   */
  statisticsEvery?: number;
  /** Steps between inversions of the damped factors (default 10); in between, the last inverses are reused. */
  inverseEvery?: number;
  /** Factors larger than this are inverted as diagonal blocks of at most this size (default 256). */
  blockSize?: number;
  /**
   * The layers to precondition, by their weight leaf (a tree of booleans over the params, or a
   * function of them, as `masked` takes); the other layers' gradients pass through unchanged (the
   * identity block; the `kfac` method gives them to Adam). Default: every dense and conv layer.
   */
  precondition?: Mask;
}

/** Defaults of {@link KroneckerOptions}. */
export const KRONECKER_DEFAULTS = {
  labels: 'sampled',
  decay: 0.95,
  statisticsEvery: 1,
  inverseEvery: 10,
  blockSize: 256,
  precondition: undefined,
} as const satisfies Defaults<KroneckerOptions>;

/** One layer's factors A (`[dA, dA]`) and G (`[dG, dG]`), keyed by the layer's weight. */
export type KroneckerFactors = Record<string, KroneckerPair<tf.Tensor2D>>;

/** A layer's two Kronecker factors (or their blocks, or their inverses). */
export type KroneckerPair<T> = {
  /** The input factor A = E[ã ãᵀ] (`[dA, dA]`). */
  readonly a: T;
  /** The output factor G = E[δ δᵀ] (`[dG, dG]`). */
  readonly g: T;
};

/** One layer's factors as their diagonal blocks (of at most the block size), keyed by the layer's weight. */
export type KroneckerBlocks = Record<string, KroneckerPair<readonly tf.Tensor2D[]>>;

/** State of {@link kroneckerSolver}. */
export type KroneckerState = {
  /** Steps taken. */
  readonly step: number;
  /** The EMA of the factors' diagonal blocks (not bias-corrected), per layer. */
  readonly factors: KroneckerBlocks;
  /** The damped inverses of those blocks at the last refresh, per layer. */
  readonly inverses: KroneckerBlocks;
};

/**
 * The factors of one step from a chain's layer statistics (see {@link LayerStatistics}):
 * A = ÃᵀÃ / B with Ã the input rows and a column of ones for a bias, G = ΔᵀΔ / (B·T).
 *
 * @example
 * const factors = layerFactors(lin.layerStatistics(residuals), batchSize(lin.outputs));
 */
export function layerFactors(stats: readonly LayerStatistics[], samples: number): KroneckerFactors {
  const whole = layerFactorBlocks(stats, samples, Number.MAX_SAFE_INTEGER); // one block per factor
  return Object.fromEntries(Object.entries(whole).map(([k, f]) => [k, { a: f.a[0], g: f.g[0] }]));
}

/** The sizes of the diagonal blocks of a factor of dimension n: as even as possible, each ≤ `blockSize`. */
export function blockSizes(n: number, blockSize: number): number[] {
  const count = Math.ceil(n / blockSize);
  return Array.from({ length: count }, (_, i) => Math.floor((n * (i + 1)) / count) - Math.floor((n * i) / count));
}

/**
 * The diagonal blocks of one step's factors from a chain's layer statistics: A_b = Ã_bᵀÃ_b / B
 * for the column blocks Ã_b of the input rows (with the column of ones for a bias) and
 * G_c = Δ_cᵀΔ_c / (B·T); only the blocks are formed, never the whole factor.
 */
function layerFactorBlocks(stats: readonly LayerStatistics[], samples: number, blockSize: number): KroneckerBlocks {
  const gramBlocks = (rows: tf.Tensor2D, scale: number) =>
    tf.split(rows, blockSizes(rows.shape[1], blockSize), 1).map((x) => tf.div(matMulFast(x, x, true, false), scale) as tf.Tensor2D);
  return Object.fromEntries(
    stats.map((s) => {
      const inputs = s.bias === undefined ? s.inputs : (tf.concat([s.inputs, tf.ones([s.inputs.shape[0], 1])], 1) as tf.Tensor2D);
      return [s.weight, { a: gramBlocks(inputs, samples), g: gramBlocks(s.deltas, samples * s.positions) }];
    }),
  );
}

/** `(m + shift·I)⁻¹` of a symmetric positive semi-definite k × k block (float64 values, symmetrized). */
function dampedInverse(m: ArrayLike<number>, k: number, shift: number): Float32Array {
  const block = symmetrize(m, k);
  for (let i = 0; i < k; i++) block[i * k + i] += shift;
  return Float32Array.from(choleskyInverse(cholesky(block, k, { jitter: 1e-12 }), k));
}

/**
 * The damped inverses of one layer's factor blocks (float64 values, bias-corrected), with the
 * factored Tikhonov damping: (A_b + π√λ I)⁻¹ and (G_c + √λ/π I)⁻¹, π² = (tr A / dA) / (tr G / dG).
 *
 * @example
 * const { a, g, pi } = dampedInverses([aBlock1, aBlock2], [gBlock], 1e-3);
 */
export function dampedInverses(
  a: readonly ArrayLike<number>[],
  g: readonly ArrayLike<number>[],
  lam: number,
): { a: Float32Array[]; g: Float32Array[]; pi: number } {
  const side = (m: ArrayLike<number>) => Math.round(Math.sqrt(m.length));
  const meanTrace = (blocks: readonly ArrayLike<number>[]) => {
    let [trace, dim] = [0, 0];
    for (const m of blocks) {
      const k = side(m);
      for (let i = 0; i < k; i++) trace += m[i * k + i];
      dim += k;
    }
    return trace / dim;
  };
  const [ta, tg] = [meanTrace(a), meanTrace(g)];
  const pi = ta > 0 && tg > 0 ? Math.sqrt(ta / tg) : 1;
  const root = Math.sqrt(lam);
  return { a: a.map((m) => dampedInverse(m, side(m), pi * root)), g: g.map((m) => dampedInverse(m, side(m), root / pi)), pi };
}

/** `blockDiag(blocks) · m` for a block-diagonal left factor (`m`'s rows split like the blocks). */
export function leftBlockProduct(blocks: readonly tf.Tensor2D[], m: tf.Tensor2D): tf.Tensor2D {
  if (blocks.length === 1) return tf.matMul(blocks[0], m);
  const parts = tf.split(
    m,
    blocks.map((b) => b.shape[0]),
    0,
  );
  return tf.concat(
    parts.map((part, i) => tf.matMul(blocks[i], part)),
    0,
  ) as tf.Tensor2D;
}

/** `m · blockDiag(blocks)` for a block-diagonal right factor (`m`'s columns split like the blocks). */
export function rightBlockProduct(m: tf.Tensor2D, blocks: readonly tf.Tensor2D[]): tf.Tensor2D {
  if (blocks.length === 1) return tf.matMul(m, blocks[0]);
  const parts = tf.split(
    m,
    blocks.map((b) => b.shape[0]),
    1,
  );
  return tf.concat(
    parts.map((part, i) => tf.matMul(part, blocks[i])),
    1,
  ) as tf.Tensor2D;
}

/** A layer's gradient (or direction) as the matrix Ḡ = [∂W; ∂b] (`[dA, dG]`). */
function asMatrix(grads: Record<string, tf.Tensor>, weight: string, bias: string | undefined): tf.Tensor2D {
  const w = grads[weight];
  const m = tf.reshape(w, [-1, w.shape[w.rank - 1]]);
  return (bias === undefined ? m : tf.concat([m, tf.reshape(grads[bias], [1, -1])], 0)) as tf.Tensor2D;
}

/**
 * K-FAC's direction solver (see the module comment): s = (A + π√λ I)⁻¹ Ḡ (G + √λ/π I)⁻¹ per layer,
 * λ the step's damping. Needs an objective linearized in closed form with layer statistics
 * (`mlpObjective`, or a Sequential tfjs-layers model of Dense, Conv2D, pooling and activation
 * layers). Linear in g for fixed factors; one read of the factors every `inverseEvery` steps.
 *
 * @example
 * const tx = scaleBySecondOrder({ solver: kroneckerSolver(objective), damping: constantDamping(1e-3), tx: scale(-1) });
 * @see Martens & Grosse (2015), arXiv 1503.05671; Grosse & Martens (2016), KFC.
 */
export function kroneckerSolver<X>(objective: Objective<X>, options: KroneckerOptions = {}): DirectionSolver<KroneckerState> {
  const o = resolveOptions('kroneckerSolver', options, KRONECKER_DEFAULTS);
  if (o.labels !== 'sampled' && o.labels !== 'empirical')
    throw new InputError(`labels must be 'sampled' or 'empirical', got '${String(o.labels)}'`);
  assertInRange('decay', o.decay, 0, 1);
  assertInteger('statisticsEvery', o.statisticsEvery);
  assertInteger('inverseEvery', o.inverseEvery);
  assertInteger('blockSize', o.blockSize);
  const loss = checkObjective(objective);

  /** Zero factors and identity inverses, sized from the objective's dense and conv layers. */
  function initialState(params: Tree): KroneckerState {
    if (objective.layerParams === undefined) {
      throw new InputError(
        'K-FAC needs a model linearized in closed form: mlpObjective, or a Sequential tfjs-layers model of Dense, Conv2D, ' +
          'pooling and activation layers',
      );
    }
    const p = params as Record<string, tf.Tensor>;
    const keep = o.precondition === undefined ? undefined : maskLeaves(o.precondition, params);
    const selected = new Set(tree.paths(params, '').filter((_, i) => keep === undefined || keep[i]));
    const layers = objective.layerParams(params).filter(({ weight }) => selected.has(`.${weight}`));
    const sized = layers.map(({ weight, bias }) => {
      const w = p[weight];
      if (w === undefined) throw new InputError(`params has no entry '${weight}'`);
      const dG = w.shape[w.rank - 1];
      return { weight, dA: w.size / dG + (bias === undefined ? 0 : 1), dG };
    });
    const each = (make: (n: number) => tf.Tensor2D) =>
      Object.fromEntries(
        sized.map(({ weight, dA, dG }) => [weight, { a: blockSizes(dA, o.blockSize).map(make), g: blockSizes(dG, o.blockSize).map(make) }]),
      ) as KroneckerBlocks;
    return { step: 0, factors: each((n) => tf.zeros([n, n])), inverses: each((n) => tf.eye(n)) };
  }

  /** This step's factors from the curvature batch, and the EMA with the previous ones. */
  function averagedFactors(
    problem: SolveProblem,
    state: KroneckerState,
  ): { factors: KroneckerBlocks; biases: Map<string, string | undefined> } {
    const batch = problem.batch as SupervisedBatch<X>;
    const lin = linearizationIn(problem.context, objective, problem.params, batch) as ChainLinearization;
    try {
      if (typeof lin.layerStatistics !== 'function') {
        throw new InputError(
          'K-FAC needs a model linearized in closed form: mlpObjective, or a Sequential tfjs-layers model of Dense, Conv2D, ' +
            'pooling and activation layers',
        );
      }
      const biases = new Map<string, string | undefined>();
      const factors = tree.tidy(() => {
        const targets = o.labels === 'sampled' ? loss.sampleTargets(lin.outputs, problem.key) : batch.y;
        const stats = lin.layerStatistics(residualAt(loss, lin.outputs, targets)).filter((st) => state.factors[st.weight] !== undefined);
        stats.forEach((st) => biases.set(st.weight, st.bias));
        const fresh = layerFactorBlocks(stats, batchSize(lin.outputs), o.blockSize);
        const mix = (now: readonly tf.Tensor2D[], before: readonly tf.Tensor2D[]) =>
          now.map((x, i) => tf.add(tf.mul(before[i], o.decay), tf.mul(x, 1 - o.decay)) as tf.Tensor2D);
        return Object.fromEntries(
          Object.entries(fresh).map(([k, f]) => [k, { a: mix(f.a, state.factors[k].a), g: mix(f.g, state.factors[k].g) }]),
        ) as Tree;
      }) as KroneckerBlocks;
      return { factors, biases };
    } finally {
      lin.dispose();
    }
  }

  /** The factors of the last update (a step between updates of the statistics). */
  function keptFactors(
    problem: SolveProblem,
    state: KroneckerState,
  ): { factors: KroneckerBlocks; biases: Map<string, string | undefined> } {
    const layers = objective.layerParams!(problem.params);
    return { factors: tree.clone(state.factors as never) as KroneckerBlocks, biases: new Map(layers.map((l) => [l.weight, l.bias])) };
  }

  /** The damped inverses of the bias-corrected factor blocks, computed on the host (one read). */
  function* inversesReads(factors: KroneckerBlocks, step: number, lam: number): Reads<KroneckerBlocks> {
    const keys = Object.keys(factors);
    const correction = 1 - o.decay ** (Math.floor(step / o.statisticsEvery) + 1); // EMA updates so far
    const values = yield* fetchValues(() =>
      tf.concat(keys.flatMap((k) => [...factors[k].a, ...factors[k].g].map((b) => tf.reshape(b, [-1])))),
    );
    let offset = 0;
    const take = (blocks: readonly tf.Tensor2D[]) =>
      blocks.map((b) => scaledCopy(values.subarray(offset, (offset += b.size)), 1 / correction));
    return Object.fromEntries(
      keys.map((k) => {
        const inv = dampedInverses(take(factors[k].a), take(factors[k].g), lam);
        const tensors = (blocks: Float32Array[], like: readonly tf.Tensor2D[]) => blocks.map((b, i) => tf.tensor2d(b, like[i].shape));
        return [k, { a: tensors(inv.a, factors[k].a), g: tensors(inv.g, factors[k].g) }];
      }),
    );
  }

  function* solveReads(
    problem: SolveProblem,
    state: KroneckerState,
  ): Reads<{ direction: Tree; info: Record<string, number | boolean>; state: KroneckerState }> {
    const { factors, biases } = state.step % o.statisticsEvery === 0 ? averagedFactors(problem, state) : keptFactors(problem, state);
    const refresh = state.step % o.inverseEvery === 0;
    let inverses: KroneckerBlocks;
    try {
      inverses = refresh
        ? yield* inversesReads(factors, state.step, problem.lam)
        : (tree.clone(state.inverses as never) as KroneckerBlocks);
    } catch (err) {
      tree.dispose(factors as never);
      throw err;
    }
    const grads = problem.grads as Record<string, tf.Tensor>;
    const direction = tree.tidy(() => {
      const out: Record<string, tf.Tensor> = {};
      for (const [weight, inv] of Object.entries(inverses)) {
        const bias = biases.get(weight);
        const d = rightBlockProduct(leftBlockProduct(inv.a, asMatrix(grads, weight, bias)), inv.g);
        const rows = grads[weight].size / grads[weight].shape[grads[weight].rank - 1];
        out[weight] = tf.reshape(tf.slice(d, [0, 0], [rows, -1]), grads[weight].shape);
        if (bias !== undefined) out[bias] = tf.reshape(tf.slice(d, [rows, 0], [1, -1]), grads[bias].shape);
      }
      return Object.fromEntries(Object.keys(grads).map((k) => [k, out[k] ?? tf.clone(grads[k])]));
    });
    return { direction, info: { factorsRefreshed: refresh }, state: { step: state.step + 1, factors, inverses } };
  }

  return {
    needsOperator: false,
    initInfo: { factorsRefreshed: false },
    init: (params) => initialState(params),
    solve: (problem, state) => runSync(solveReads(problem, state)),
    solveReads,
  };
}
