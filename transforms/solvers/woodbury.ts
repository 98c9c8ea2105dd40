/**
 * One row-space (Woodbury) solver for curvatures made of per-sample rows, M = (1/B) R̃ᵀR̃: the GGN
 * (R̃ = J̃, the output Jacobian whitened by the output Hessian; EGN) and the empirical Fisher
 * (R̃ = the per-sample gradients; SWM-NG). For any g,
 *
 *   (M + λI)⁻¹ g = (1/λ) (g − R̃ᵀ (R̃R̃ᵀ + BλI)⁻¹ R̃ g),
 *
 * an m × m solve in float64 (m = rows). When g is the loss gradient on the curvature batch itself,
 * g = (1/B) R̃ᵀ r̃ for known per-row weights r̃ (the residual form) and (M + λI)⁻¹ g = R̃ᵀ (R̃R̃ᵀ + BλI)⁻¹ r̃,
 * which needs no product R̃ g and no division by λ.
 *
 * @see Korbit, Adeoye, Bemporad & Zanon, "Exact Gauss-Newton Optimization for Training Deep Neural
 *   Networks" (2024), arXiv 2405.14402; Ren & Goldfarb, "Efficient subsampled Gauss-Newton and
 *   natural gradient methods for training neural networks" (2019), arXiv 1906.02353.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, assertNonNegative, assertPositive, InputError } from '../../lib/errors';
import { cholesky, choleskyInPlace, choleskySolve, lowerInverse, matVec, symmetrize } from '../../lib/linalg';
import { batchSize, checkObjective, predictOn } from '../../lib/objective';
import type { Objective, OutputLoss, SupervisedBatch } from '../../lib/objective';
import { resolveOptions } from '../../lib/options';
import type { Defaults } from '../../lib/options';
import { fetchValues, runSync } from '../../lib/reads';
import { gradientSampleRows, implicitRows, jacobianRows, materializedRows, transposeTimesValues } from '../../lib/autodiff';
import type { SampleRows } from '../../lib/autodiff';
import * as tree from '../../lib/tree';
import { linearizationIn } from '../../lib/stepContext';
import type { StepContext } from '../../lib/stepContext';
import type { Reads, Tree } from '../../lib/types';
import { statelessSolver } from '../secondOrder';
import type { DirectionSolver } from '../secondOrder';

// ---------------------------------------------------------------------------------------------
// The m × m row-space system (R̃R̃ᵀ + μI) u = r̃, in float64.

/**
 * Solves `(G + μI) u = r` in float64 by Cholesky after symmetrizing G (optional `jitter` on the
 * diagonal): the row-space system of the Woodbury solvers.
 *
 * @example
 * const u = rowSpaceCholeskySolve(gram, rhs, m, b * lam); // (G + BλI)⁻¹ r
 */
export function rowSpaceCholeskySolve(
  gram: Float64Array,
  rhs: ArrayLike<number>,
  m: number,
  mu: number,
  { jitter = 0 }: { jitter?: number } = {},
): Float64Array {
  return shiftedCholeskySolveInPlace(symmetrize(gram, m), rhs, m, mu + jitter);
}

/**
 * Solves `(A + μI) u = r` by Cholesky for a symmetric A that it overwrites: the shift and the
 * factor go in place, so the m × m system costs no copy (only the lower triangle is read).
 */
function shiftedCholeskySolveInPlace(a: Float64Array, rhs: ArrayLike<number>, m: number, mu: number): Float64Array {
  for (let i = 0; i < m; i++) a[i * m + i] += mu;
  return choleskySolve(choleskyInPlace(a, m), rhs, m);
}

/**
 * The symmetric part ½(G + Gᵀ) in float64 of the m × m matrix G stored with row stride `stride`
 * in `values` (the device read holds G beside its right-hand side): one pass, one array.
 */
function symmetricPart(values: ArrayLike<number>, m: number, stride: number): Float64Array {
  const a = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      const x = 0.5 * (values[i * stride + j] + values[j * stride + i]);
      a[i * m + j] = x;
      a[j * m + i] = x;
    }
  }
  return a;
}

/** Options of {@link rowSpaceCgSolve}. */
export interface RowSpaceCgOptions {
  /** Most CG iterations (default 100). */
  maxIterations?: number;
  /** Stop when ‖r − (G + μI)u‖ ≤ tol ‖r‖ (default 1e-10). */
  tol?: number;
}

/** The defaults of {@link RowSpaceCgOptions}. */
const ROW_CG_DEFAULTS = { maxIterations: 100, tol: 1e-10 } satisfies Defaults<RowSpaceCgOptions>;

/**
 * Solves `(G + μI) u = r` in float64 by conjugate gradient (tol relative to ‖r‖).
 *
 * @example
 * const u = rowSpaceCgSolve(gram, rhs, m, b * lam, { maxIterations: 50 });
 */
export function rowSpaceCgSolve(
  gram: Float64Array,
  rhs: ArrayLike<number>,
  m: number,
  mu: number,
  options: RowSpaceCgOptions = {},
): Float64Array {
  const { maxIterations, tol } = resolveOptions('rowSpaceCgSolve', options, ROW_CG_DEFAULTS);
  const a = (v: Float64Array) => matVec(gram, v, m, m).map((x, i) => x + mu * v[i]);
  const dot = (u: Float64Array, v: Float64Array) => u.reduce((s, x, i) => s + x * v[i], 0);
  const x = new Float64Array(m);
  const r = Float64Array.from(rhs);
  const p = Float64Array.from(rhs);
  const bb = dot(r, r);
  let rr = bb;
  for (let k = 0; k < maxIterations && rr > tol * tol * bb; k++) {
    const ap = a(p);
    const alpha = rr / dot(p, ap);
    for (let i = 0; i < m; i++) {
      x[i] += alpha * p[i];
      r[i] -= alpha * ap[i];
    }
    const rrNew = dot(r, r);
    for (let i = 0; i < m; i++) p[i] = r[i] + (rrNew / rr) * p[i];
    rr = rrNew;
  }
  return x;
}

/** Options of the row-space system of a Woodbury solve. */
export interface WoodburyOptions {
  /** `'cholesky'` (default) or `'cg'` for the m × m row-space system. */
  rowSolver?: 'cholesky' | 'cg';
  /** Row-space CG iterations (default 100). */
  maxIterations?: number;
  /** Row-space CG tolerance (default 1e-10). */
  tol?: number;
}

/** The defaults of {@link WoodburyOptions}. */
const WOODBURY_DEFAULTS = { rowSolver: 'cholesky', maxIterations: 100, tol: 1e-10 } satisfies Defaults<WoodburyOptions>;

/** Checks resolved {@link WoodburyOptions}. */
function checkWoodburyOptions({ rowSolver, maxIterations, tol }: Required<WoodburyOptions>): void {
  if (rowSolver !== 'cholesky' && rowSolver !== 'cg') {
    throw new InputError(`rowSolver must be 'cholesky' or 'cg', got '${String(rowSolver)}'`);
  }
  assertInteger('maxIterations', maxIterations);
  assertPositive('tol', tol);
}

/** (G + μI)⁻¹ r by the chosen row solver, for a symmetric G that it may overwrite. */
function solveRowSystem(gram: Float64Array, rhs: Float64Array, m: number, mu: number, options: Required<WoodburyOptions>): Float64Array {
  if (options.rowSolver === 'cholesky') return shiftedCholeskySolveInPlace(gram, rhs, m, mu);
  return rowSpaceCgSolve(gram, rhs, m, mu, { maxIterations: options.maxIterations, tol: options.tol });
}

// ---------------------------------------------------------------------------------------------
// The solver, parameterized by its rows.

/**
 * The rows of a curvature M = (1/B) R̃ᵀR̃ at one step: R̃ the per-sample rows ({@link SampleRows}:
 * the output Jacobian's whitened by the output Hessian, or the per-sample gradients). Owns its tensors.
 */
export interface WoodburyRows {
  /** The per-sample rows R̃ (m × P, sample-major, m = B·K). */
  readonly rows: SampleRows;
  /**
   * For the residual form: per-row weights r̃ (`[m]`) with g = (1/B) R̃ᵀ r̃ for the loss gradient g
   * on this batch; `null` when the rows offer no residual form.
   */
  readonly residual: tf.Tensor | null;
  /** Disposes the rows and the residual. */
  dispose(): void;
}

/**
 * Builds the {@link WoodburyRows} of the curvature at `params` on the curvature `batch`; with
 * `residual` true, the rows should carry their residual form if they have one.
 */
export type WoodburyRowsOf = (params: Tree, batch: unknown, residual: boolean, context?: StepContext) => Reads<WoodburyRows>;

/**
 * The Woodbury direction s = (M + λI)⁻¹ g for M = (1/B) R̃ᵀR̃:
 *
 * - gradient form (`grads` given, any g, λ > 0): s = (1/λ)(g − R̃ᵀ (R̃R̃ᵀ + BλI)⁻¹ R̃ g);
 * - residual form (`grads` null, g = (1/B) R̃ᵀ r̃ the loss gradient on the rows' batch):
 *   s = R̃ᵀ (R̃R̃ᵀ + BλI)⁻¹ r̃.
 *
 * One read (R̃R̃ᵀ beside R̃ g or r̃), an m × m solve in float64, one product R̃ᵀw. The gradient form
 * loses float32 accuracy as λ → 0 (it subtracts two vectors of the size of g, then divides by λ).
 *
 * @example
 * const s = yield* woodburyDirectionReads(rows, grads, 0.1); // (M + 0.1 I)⁻¹ g
 * @see Korbit et al. (2024), arXiv 2405.14402; Ren & Goldfarb (2019), arXiv 1906.02353.
 */
export function* woodburyDirectionReads(w: WoodburyRows, grads: Tree | null, lam: number, options: WoodburyOptions = {}): Reads<Tree> {
  const resolved = resolveOptions('woodburyDirection', options, WOODBURY_DEFAULTS);
  const { rows, residual } = w;
  const [b, k] = [rows.samples, rows.rowsPerSample];
  const m = b * k;
  if (grads === null && residual === null) throw new InputError('these rows have no residual form: pass the gradient');
  if (grads !== null && !(lam > 0)) throw new InputError(`the Woodbury solve of a given gradient divides by λ: it needs λ > 0, got ${lam}`);
  // One read: the Gram R̃R̃ᵀ (m × m) and the right-hand side (R̃ g or r̃) beside it.
  const rhsColumn = () => tf.reshape(grads === null ? (residual as tf.Tensor) : rows.times(grads), [-1, 1]);
  const values = yield* fetchValues(() => tf.concat([rows.gram(), rhsColumn()], 1));
  const rhs = Float64Array.from({ length: m }, (_, i) => values[i * (m + 1) + m]);
  const u = solveRowSystem(symmetricPart(values, m, m + 1), rhs, m, b * lam, resolved);
  const rtu = transposeTimesValues(rows, u);
  if (grads === null) return rtu;
  const s = tree.tidy(() => tree.map((gi: tf.Tensor, ti: tf.Tensor) => tf.div(tf.sub(gi, ti), lam), grads, rtu));
  tree.dispose(rtu);
  return s;
}

/**
 * A Woodbury direction solver for the curvature whose rows `rowsOf` builds on the curvature batch:
 * the residual form when the solve problem's gradient is the batch gradient of the curvature batch
 * (`problem.gradsAreBatchGradient`) and the rows have one, the gradient form for any other g. So
 * the direction is (M + λI)⁻¹ g for the g the solver is given (the chain contract).
 *
 * @example
 * const solver = woodburySolver((params, batch) => fisherRowsReads(objective, params, batch));
 * @see Korbit et al. (2024), arXiv 2405.14402; Ren & Goldfarb (2019), arXiv 1906.02353.
 */
export function woodburySolver(rowsOf: WoodburyRowsOf, options: WoodburyOptions = {}): DirectionSolver<null> {
  const resolved = resolveOptions('woodburySolver', options, WOODBURY_DEFAULTS);
  checkWoodburyOptions(resolved);
  return statelessSolver(false, function* (problem) {
    const w = yield* rowsOf(problem.params, problem.batch, problem.gradsAreBatchGradient, problem.context);
    try {
      const grads = problem.gradsAreBatchGradient && w.residual !== null ? null : problem.grads;
      return yield* woodburyDirectionReads(w, grads, problem.lam, resolved);
    } finally {
      w.dispose();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The GGN's rows (EGN).

/**
 * Per-sample factors of the output Hessians: Vᵢ (C × K, row-major) with VᵢVᵢᵀ = Qᵢ (+ ε), whose
 * first K rows are a lower-triangular Lᵢ, so that the rows R̃ = blockdiag(Vᵢᵀ) J have R̃ᵀR̃ = JᵀQJ
 * and Wᵢ = [Lᵢ⁻¹, 0] (K × C) gives the residual weights r̃ᵢ = Wᵢrᵢ with R̃ᵀr̃ = Jᵀr for every rᵢ
 * in the range of Vᵢ (WᵢVᵢ = I).
 */
interface OutputHessianFactors {
  /** Columns per factor: the rows per sample (C, or C − 1 for a shift-invariant loss). */
  readonly k: number;
  /** The factors Vᵢ, `C·K` entries each, row-major. */
  readonly factors: readonly Float64Array[];
  /** Their leading K × K blocks Lᵢ (lower triangular; Vᵢ itself when K = C). */
  readonly lowers: readonly Float64Array[];
}

/**
 * The factor of one output Hessian Q (C × C) of a shift-invariant loss (Q1 = 0): Q' + εI = L'L'ᵀ
 * for its leading (C − 1) block Q', then V = [L'; −1ᵀL'], so VVᵀ = Q + ε[I; −1ᵀ][I, −1] (the
 * last row and column of Q are minus the sums of the others); W = [L'⁻¹, 0] recovers r̃ from any
 * r ⊥ 1 (the last entry is minus the sum of the others).
 */
function shiftInvariantFactor(q: Float64Array, c: number, eps: number): { v: Float64Array; l: Float64Array } {
  const k = c - 1;
  const lead = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) lead[i * k + j] = q[i * c + j];
  const l = cholesky(lead, k, { jitter: eps });
  const v = new Float64Array(c * k);
  v.set(l);
  for (let j = 0; j < k; j++) for (let i = j; i < k; i++) v[k * k + j] -= l[i * k + j];
  return { v, l };
}

/**
 * The factors of the B·C·C output-Hessian blocks `q`: Vᵢ = Lᵢ with Qᵢ + εI = LᵢLᵢᵀ (K = C), or
 * for a shift-invariant loss the C − 1 columns of {@link shiftInvariantFactor}.
 */
function outputHessianFactors(loss: OutputLoss, q: Float64Array, b: number, c: number, eps: number): OutputHessianFactors {
  const blocks = Array.from({ length: b }, (_, i) => q.subarray(i * c * c, (i + 1) * c * c));
  if (loss.shiftInvariant === true && c > 1) {
    const parts = blocks.map((qi) => shiftInvariantFactor(qi, c, eps));
    return { k: c - 1, factors: parts.map((f) => f.v), lowers: parts.map((f) => f.l) };
  }
  const factors = blocks.map((qi) => cholesky(qi, c, { jitter: eps }));
  return { k: c, factors, lowers: factors };
}

/** The left inverses Wᵢ = [Lᵢ⁻¹, 0] as one `[B, K, C]` tensor (float32): only the residual form needs them. */
function leftInverseTensor({ k, lowers }: OutputHessianFactors, c: number): tf.Tensor3D {
  const out = new Float32Array(lowers.length * k * c);
  lowers.forEach((l, i) => {
    const inverse = lowerInverse(l, k);
    for (let r = 0; r < k; r++) out.set(inverse.subarray(r * k, (r + 1) * k), (i * k + r) * c);
  });
  return tf.tensor3d(out, [lowers.length, k, c]);
}

/**
 * The cotangents whose per-sample vector-Jacobian products are the rows of R̃ = blockdiag(Vᵢᵀ) J:
 * row κ of sample i is (Vᵢᵀ Jᵢ)_κ = Jᵢᵀ Vᵢ[:, κ], so U[κ, i, :] = Vᵢ[:, κ]; shaped
 * `[K, ...outputShape]` as {@link Objective.rowGram} takes them (the output basis when Vᵢ = I).
 */
function factorCotangents({ k, factors }: OutputHessianFactors, c: number, outputShape: readonly number[]): tf.Tensor {
  const b = factors.length;
  const u = new Float32Array(k * b * c);
  factors.forEach((v, i) => {
    for (let kk = 0; kk < k; kk++) for (let t = 0; t < c; t++) u[(kk * b + i) * c + t] = v[t * k + kk];
  });
  return tf.tensor(u, [k, ...outputShape]);
}

/**
 * The rows R̃ = blockdiag(Vᵢᵀ) J materialized: the B·C Jacobian rows (B·C backward passes), each
 * sample's C rows multiplied by Vᵢᵀ (K × C) on the device.
 */
function factoredJacobianRows<X>(objective: Objective<X>, params: Tree, x: X, f: OutputHessianFactors, c: number): SampleRows {
  const [b, k] = [f.factors.length, f.k];
  const vs = new Float32Array(b * c * k);
  f.factors.forEach((v, i) => vs.set(v, i * c * k));
  const ls = tf.tensor3d(vs, [b, c, k]);
  const j = jacobianRows(objective, params, x);
  const rows = tf.tidy(() => tf.reshape(tf.matMul(ls, tf.reshape(j, [b, c, -1]), true, false), [b * k, -1]) as tf.Tensor2D);
  tf.dispose([ls, j]);
  return materializedRows(rows, tree.flatten(params).def, k);
}

/**
 * The rows of the GGN G = (1/B) Jᵀ Q J on a batch: R̃ = blockdiag(Vᵢᵀ) J (B·K rows) with
 * VᵢVᵢᵀ = Qᵢ + εI (Vᵢ = Lᵢ, K = C), or for a shift-invariant loss (softmax: Qᵢ1 = 0) Vᵢ with
 * K = C − 1 columns and the jitter only on the range of Qᵢ, so R̃ᵀR̃ = Jᵀ(Q + ε)J; with `residual`
 * the weights r̃ᵢ = Wᵢrᵢ (WᵢVᵢ = I) of the output residuals rᵢ = ∂ℓᵢ/∂fᵢ (g = Jᵀr / B = R̃ᵀr̃ / B).
 * With a {@link Objective.rowGram} hook the rows are implicit: the model's linearization (the
 * step's when there is one) with the cotangents Vᵢ[:, κ], so R̃R̃ᵀ is the hook's Gram, one forward
 * pass gives the outputs and the rows, and no m × m congruence is left to the host. Else the
 * Jacobian rows, multiplied by Vᵢᵀ. For softmax the row system is (C − 1)/C the size: 288 × 288
 * instead of 320 × 320 at 32 samples × 10 classes (its Cholesky 27 % fewer multiply-adds).
 *
 * @example
 * const rows = yield* ggnRowsReads(objective, params, batch, 1e-6, true);
 * @see Korbit et al., "Exact Gauss-Newton optimization" (2024), arXiv 2405.14402.
 */
export function* ggnRowsReads<X>(
  objective: Objective<X>,
  params: Tree,
  batch: SupervisedBatch<X>,
  eps: number,
  residual: boolean,
  context?: StepContext,
): Reads<WoodburyRows> {
  const loss: OutputLoss = checkObjective(objective);
  const lin = objective.rowGram === undefined ? null : linearizationIn(context, objective, params, batch);
  // The outputs: the linearization's (the rows take it over), the step's forward pass, or a fresh one.
  const ownOutputs = lin === null && context === undefined;
  const outputs = lin
    ? lin.outputs
    : context
      ? context.linearization(objective, params, batch).outputs
      : tf.tidy(() => predictOn(objective, params, batch));
  let rows: SampleRows | null = null;
  let resid: tf.Tensor | null = null;
  let out: WoodburyRows | null = null;
  try {
    yield outputs; // hessianBlocks reads them
    const b = batchSize(outputs);
    const c = outputs.size / b;
    const factors = outputHessianFactors(loss, loss.hessianBlocks(outputs), b, c, eps);
    if (residual) {
      const w = leftInverseTensor(factors, c);
      resid = tf.tidy(() => tf.reshape(tf.matMul(w, tf.reshape(loss.residual(outputs, batch.y), [b, c, 1])), [-1]));
      w.dispose();
    }
    if (lin) {
      const u = factorCotangents(factors, c, outputs.shape);
      try {
        rows = implicitRows(objective, params, batch.x, u, outputs.shape, lin);
      } finally {
        u.dispose();
      }
    } else rows = factoredJacobianRows(objective, params, batch.x, factors, c);
    const [owned, ownedResid] = [rows, resid];
    out = {
      rows: owned,
      residual: ownedResid,
      dispose: () => {
        owned.dispose();
        ownedResid?.dispose();
      },
    };
    return out;
  } finally {
    if (out === null) {
      if (rows) rows.dispose();
      else lin?.dispose();
      resid?.dispose();
    }
    if (ownOutputs) outputs.dispose();
  }
}

/** Options of `rowSpaceDirection`. */
export interface RowSpaceOptions extends WoodburyOptions {
  /** The gradient g, for the gradient form (any g); absent: the residual form (g the loss gradient on `batch`). */
  grads?: Tree;
  /** Jitter of the per-sample factors Qᵢ + εI (default 1e-6). */
  eps?: number;
}

/** The defaults of {@link RowSpaceOptions}. */
const ROW_SPACE_DEFAULTS = { ...WOODBURY_DEFAULTS, grads: undefined, eps: 1e-6 } satisfies Defaults<RowSpaceOptions>;

/**
 * Row-space (Woodbury) Gauss-Newton direction on a batch, exact for the GGN G = (1/B) Jᵀ Q J:
 *
 *   s = (G + λI)⁻¹ g = J̃ᵀ (J̃ J̃ᵀ + BλI)⁻¹ r̃,   J̃ = blockdiag(Vᵢᵀ) J,  r̃ᵢ = Wᵢ rᵢ,  VᵢVᵢᵀ = Qᵢ + εI,
 *
 * with rᵢ the per-sample output residual (g = Jᵀ r / B); squared error has Vᵢ = I; softmax
 * cross-entropy C − 1 columns (see `ggnRowsReads`). For any other g (`grads`):
 * s = (g − J̃ᵀ (J̃J̃ᵀ + BλI)⁻¹ J̃ g) / λ. The m×m system (m = B·K) is solved in float64
 * by Cholesky (`rowSolver: 'cholesky'`) or CG. See {@link woodburyDirectionReads}.
 *
 * Note: somax v1 uses J̃ = Lᵢ J (curvature Jᵀ LᵀL J ≠ JᵀQJ); this uses Lᵢᵀ, as the dense GGN requires.
 * With a {@link Objective.rowGram} hook on the objective (e.g. `mlpObjective`), J is never formed:
 * J Jᵀ comes from the hook, J g from one JVP and Jᵀw from one VJP; without it, from the B·C
 * Jacobian rows.
 *
 * @example
 * const s = rowSpaceDirection(objective, params, batch, 0.1);            // residual form
 * const s2 = rowSpaceDirection(objective, params, batch, 0.1, { grads }); // any g
 * @see Ren & Goldfarb, "Efficient subsampled Gauss-Newton and natural gradient methods" (2019);
 *   Korbit et al., "Exact Gauss-Newton optimization" (2024), arXiv 2405.14402.
 */
export function rowSpaceDirection<X>(
  objective: Objective<X>,
  params: Tree,
  batch: SupervisedBatch<X>,
  lam: number,
  options: RowSpaceOptions = {},
): Tree {
  return runSync(rowSpaceDirectionReads(objective, params, batch, lam, options));
}

/**
 * `rowSpaceDirection` as a {@link Reads} computation (one read of the outputs, one of the
 * row Gram beside the right-hand side).
 *
 * @example
 * const s = await runAsync(rowSpaceDirectionReads(objective, params, batch, 0.1, { grads }));
 */
export function* rowSpaceDirectionReads<X>(
  objective: Objective<X>,
  params: Tree,
  batch: SupervisedBatch<X>,
  lam: number,
  options: RowSpaceOptions = {},
): Reads<Tree> {
  const { grads, eps, ...woodbury } = resolveOptions('rowSpaceDirection', options, ROW_SPACE_DEFAULTS);
  assertNonNegative('eps', eps);
  checkWoodburyOptions(woodbury);
  const w = yield* ggnRowsReads(objective, params, batch, eps, grads === undefined);
  try {
    return yield* woodburyDirectionReads(w, grads ?? null, lam, woodbury);
  } finally {
    w.dispose();
  }
}

/** Options of {@link rowSpaceSolver}. */
export interface RowSpaceSolverOptions extends WoodburyOptions {
  /** Jitter of the per-sample factors Qᵢ + εI (default 1e-6). */
  eps?: number;
}

/** The defaults of {@link RowSpaceSolverOptions}. */
const ROW_SPACE_SOLVER_DEFAULTS = { ...WOODBURY_DEFAULTS, eps: 1e-6 } satisfies Defaults<RowSpaceSolverOptions>;

/**
 * `rowSpaceDirection` as a direction solver (EGN): the `woodburySolver` of the GGN's
 * rows. The residual form (no J g) when the gradient it is given is the batch gradient of the
 * curvature batch, the gradient form (M + λI)⁻¹ g for any other g.
 *
 * @example
 * const tx = scaleBySecondOrder({ solver: rowSpaceSolver(objective, { rowSolver: 'cg' }), damping: constantDamping(0.1), tx: scale(-1) });
 * @see Korbit et al., "Exact Gauss-Newton optimization" (2024), arXiv 2405.14402.
 */
export function rowSpaceSolver<X>(objective: Objective<X>, options: RowSpaceSolverOptions = {}): DirectionSolver<null> {
  const { eps, ...woodbury } = resolveOptions('rowSpaceSolver', options, ROW_SPACE_SOLVER_DEFAULTS);
  assertNonNegative('eps', eps);
  checkObjective(objective);
  return woodburySolver(
    (params, batch, residual, context) => ggnRowsReads(objective, params, batch as SupervisedBatch<X>, eps, residual, context),
    woodbury,
  );
}

/**
 * The rows of the empirical Fisher F = (1/B) LᵀL on a batch: the per-sample loss gradients
 * Lᵢ = ∇ℓᵢ (one row per sample, no factors, no residual form), as {@link WoodburyRows}.
 *
 * @example
 * const rows = yield* fisherRowsReads(objective, params, batch);
 */
export function* fisherRowsReads<X>(
  objective: Objective<X>,
  params: Tree,
  batch: SupervisedBatch<X>,
  context?: StepContext,
): Reads<WoodburyRows> {
  const rows = gradientSampleRows(objective, params, batch, batch.y, context);
  return { rows, residual: null, dispose: () => rows.dispose() };
}

/**
 * The natural-gradient direction with the empirical Fisher F = LᵀL / B (L: per-sample gradients on
 * the curvature batch, B × P) by Sherman-Morrison-Woodbury in sample space, for the g it is given:
 *
 *   s = (F + λI)⁻¹ g = (g − Lᵀ (LLᵀ + BλI)⁻¹ L g) / λ,
 *
 * a B × B solve in float64 (`woodburySolver` of the Fisher's rows; needs λ > 0). (somax
 * 2024's SWM-NG returns −s.) With a {@link Objective.rowGram} hook (e.g. `mlpObjective`) L is never
 * formed: Lᵢ = Jᵢᵀrᵢ (rᵢ = ∂ℓᵢ/∂fᵢ), so LLᵀ is the hook's Gram for the cotangents r (one backward
 * pass), (Lg)ᵢ = rᵢᵀ(J g)ᵢ one JVP and Lᵀa = Jᵀ(a ⊙ r) one VJP; without it L comes from B
 * per-sample backward passes.
 *
 * @example
 * const tx = scaleBySecondOrder({ solver: fisherWoodburySolver(objective), damping: constantDamping(1), tx: scale(-0.5) });
 * @see Amari (1998); Ren & Goldfarb (2019), arXiv 1906.02353; Goodfellow, "Efficient per-example
 *   gradient computations" (2015), arXiv 1510.01799.
 */
export function fisherWoodburySolver<X>(objective: Objective<X>, options: WoodburyOptions = {}): DirectionSolver<null> {
  checkObjective(objective);
  return woodburySolver(
    (params, batch, _residual, context) => fisherRowsReads(objective, params, batch as SupervisedBatch<X>, context),
    options,
  );
}
