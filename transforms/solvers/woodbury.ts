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
import { cholesky, choleskySolve, matVec, solveLowerTriangular, symmetrize } from '../../lib/linalg';
import { batchSize, checkObjective, predictOn } from '../../lib/objective';
import type { Objective, OutputLoss, SupervisedBatch } from '../../lib/objective';
import { resolveOptions } from '../../lib/options';
import type { Defaults } from '../../lib/options';
import { fetchValues, runSync } from '../../lib/reads';
import { gradientSampleRows, jacobianSampleRows, transposeTimesValues } from '../../lib/autodiff';
import type { SampleRows } from '../../lib/autodiff';
import * as tree from '../../lib/tree';
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
  const a = symmetrize(gram, m);
  for (let i = 0; i < m; i++) a[i * m + i] += mu;
  return choleskySolve(cholesky(a, m, { jitter }), rhs, m);
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

/** (G + μI)⁻¹ r by the chosen row solver. */
function solveRowSystem(gram: Float64Array, rhs: Float64Array, m: number, mu: number, options: Required<WoodburyOptions>): Float64Array {
  if (options.rowSolver === 'cholesky') return rowSpaceCholeskySolve(gram, rhs, m, mu);
  return rowSpaceCgSolve(symmetrize(gram, m), rhs, m, mu, { maxIterations: options.maxIterations, tol: options.tol });
}

// ---------------------------------------------------------------------------------------------
// Block factors: R̃ = L̃ᵀ R with L̃ = blockdiag(Lᵢ), Lᵢ lower triangular K × K.

/** L̃v (or L̃ᵀv, `transpose`), L̃ = blockdiag(Lᵢ), in float64. */
function blockFactorTimes(factors: readonly Float64Array[], v: ArrayLike<number>, c: number, transpose: boolean): Float64Array {
  const out = new Float64Array(factors.length * c);
  factors.forEach((l, i) => {
    for (let k = 0; k < c; k++) {
      let s = 0;
      for (let t = 0; t < c; t++) s += (transpose ? l[t * c + k] : l[k * c + t]) * v[i * c + t];
      out[i * c + k] = s;
    }
  });
  return out;
}

/** L̃⁻¹v, block by block (forward substitution), in float64. */
function blockFactorSolve(factors: readonly Float64Array[], v: Float64Array, c: number): Float64Array {
  const out = new Float64Array(factors.length * c);
  factors.forEach((l, i) => out.set(solveLowerTriangular(l, v.subarray(i * c, (i + 1) * c), c), i * c));
  return out;
}

/**
 * L̃ᵀ (R Rᵀ) L̃ from the row Gram `gram` (m × m, m = B·C), block by block: block (i, j) is
 * Lᵢᵀ Gᵢⱼ Lⱼ, O(B²C³) operations instead of the O(m³) of two dense products.
 */
function factorCongruence(gram: ArrayLike<number>, factors: readonly Float64Array[], c: number): Float64Array {
  const m = factors.length * c;
  const out = new Float64Array(m * m);
  const gl = new Float64Array(c * c);
  factors.forEach((li, i) =>
    factors.forEach((lj, j) => {
      for (let k = 0; k < c; k++) {
        for (let l = 0; l < c; l++) {
          let s = 0;
          for (let u = 0; u < c; u++) s += gram[(i * c + k) * m + j * c + u] * lj[u * c + l];
          gl[k * c + l] = s;
        }
      }
      for (let k = 0; k < c; k++) {
        for (let l = 0; l < c; l++) {
          let s = 0;
          for (let t = 0; t < c; t++) s += li[t * c + k] * gl[t * c + l];
          out[(i * c + k) * m + j * c + l] = s;
        }
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// The solver, parameterized by its rows.

/**
 * The rows of a curvature M = (1/B) R̃ᵀR̃ at one step: R̃ = L̃ᵀ R, with R the per-sample rows
 * ({@link SampleRows}: the output Jacobian's, or the per-sample gradients) and L̃ = blockdiag(Lᵢ)
 * optional per-sample factors. Owns its tensors.
 */
export interface WoodburyRows {
  /** The per-sample rows R (m × P, sample-major, m = B·K). */
  readonly rows: SampleRows;
  /** Lower-triangular K × K factors Lᵢ, one per sample (absent: L̃ = I). */
  readonly factors?: readonly Float64Array[];
  /**
   * For the residual form: per-row weights r (`[m]`) with g = (1/B) Rᵀ r for the loss gradient g
   * on this batch (so r̃ = L̃⁻¹ r); `null` when the rows offer no residual form.
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
 * The Woodbury direction s = (M + λI)⁻¹ g for M = (1/B) R̃ᵀR̃, R̃ = L̃ᵀR:
 *
 * - gradient form (`grads` given, any g, λ > 0): s = (1/λ)(g − R̃ᵀ (R̃R̃ᵀ + BλI)⁻¹ R̃ g);
 * - residual form (`grads` null, g = (1/B) Rᵀ r the loss gradient on the rows' batch):
 *   s = R̃ᵀ (R̃R̃ᵀ + BλI)⁻¹ L̃⁻¹ r.
 *
 * One read (R Rᵀ beside R g or r), an m × m solve in float64, one product Rᵀw. The gradient form
 * loses float32 accuracy as λ → 0 (it subtracts two vectors of the size of g, then divides by λ).
 *
 * @example
 * const s = yield* woodburyDirectionReads(rows, grads, 0.1); // (M + 0.1 I)⁻¹ g
 * @see Korbit et al. (2024), arXiv 2405.14402; Ren & Goldfarb (2019), arXiv 1906.02353.
 */
export function* woodburyDirectionReads(w: WoodburyRows, grads: Tree | null, lam: number, options: WoodburyOptions = {}): Reads<Tree> {
  const resolved = resolveOptions('woodburyDirection', options, WOODBURY_DEFAULTS);
  const { rows, factors, residual } = w;
  const [b, k] = [rows.samples, rows.rowsPerSample];
  const m = b * k;
  if (grads === null && residual === null) throw new InputError('these rows have no residual form: pass the gradient');
  if (grads !== null && !(lam > 0)) throw new InputError(`the Woodbury solve of a given gradient divides by λ: it needs λ > 0, got ${lam}`);
  // One read: the Gram R Rᵀ (m × m) and the right-hand side (R g or r) beside it.
  const rhsColumn = () => tf.reshape(grads === null ? (residual as tf.Tensor) : rows.times(grads), [-1, 1]);
  const values = yield* fetchValues(() => tf.concat([rows.gram(), rhsColumn()], 1));
  const gram = new Float64Array(m * m);
  const v = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) gram[i * m + j] = values[i * (m + 1) + j];
    v[i] = values[i * (m + 1) + m];
  }
  // R̃R̃ᵀ = L̃ᵀ R Rᵀ L̃; right-hand side R̃ g = L̃ᵀ R g, or r̃ = L̃⁻¹ r.
  const tilde = factors ? factorCongruence(gram, factors, k) : gram;
  const rhs = !factors ? v : grads === null ? blockFactorSolve(factors, v, k) : blockFactorTimes(factors, v, k, true);
  const u = solveRowSystem(tilde, rhs, m, b * lam, resolved);
  // R̃ᵀu = Rᵀ (L̃ u).
  const rtu = transposeTimesValues(rows, factors ? blockFactorTimes(factors, u, k, false) : u);
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

/** The per-sample factors Lᵢ (lower triangular) of Qᵢ + εI = LᵢLᵢᵀ, from the B·C·C output-Hessian blocks. */
function outputHessianFactors(q: Float64Array, b: number, c: number, eps: number): Float64Array[] {
  return Array.from({ length: b }, (_, i) => cholesky(q.slice(i * c * c, (i + 1) * c * c), c, { jitter: eps }));
}

/**
 * The rows of the GGN G = (1/B) Jᵀ Q J on a batch: R = J (B·C rows), Lᵢ with Qᵢ + εI = LᵢLᵢᵀ (so
 * R̃ = blockdiag(Lᵢᵀ) J, R̃ᵀR̃ = Jᵀ(Q + εI)J), and with `residual` the output residuals rᵢ = ∂ℓᵢ/∂fᵢ
 * (g = Jᵀr / B). Implicit rows with a {@link Objective.rowGram} hook, else the Jacobian rows.
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
  // The outputs from the step's shared forward pass when there is one (a copy: the rows own theirs).
  const outputs = context
    ? tf.clone(context.linearization(objective, params, batch).outputs)
    : tf.tidy(() => predictOn(objective, params, batch));
  const resid = residual ? tf.tidy(() => tf.reshape(loss.residual(outputs, batch.y), [-1])) : null;
  let rows: SampleRows | null = null;
  try {
    rows = jacobianSampleRows(objective, params, batch.x, outputs.shape, context);
    const b = batchSize(outputs);
    yield outputs; // hessianBlocks reads them
    const factors = outputHessianFactors(loss.hessianBlocks(outputs), b, outputs.size / b, eps);
    const owned = rows;
    return {
      rows: owned,
      factors,
      residual: resid,
      dispose: () => {
        owned.dispose();
        resid?.dispose();
      },
    };
  } catch (err) {
    rows?.dispose();
    resid?.dispose();
    throw err;
  } finally {
    outputs.dispose();
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
 *   s = (G + λI)⁻¹ g = J̃ᵀ (J̃ J̃ᵀ + BλI)⁻¹ r̃,   J̃ = blockdiag(Lᵢᵀ) J,  r̃ᵢ = Lᵢ⁻¹ rᵢ,  Qᵢ + εI = LᵢLᵢᵀ,
 *
 * with rᵢ the per-sample output residual (g = Jᵀ r / B); squared error has Lᵢ = I. For any other
 * g (`grads`): s = (g − J̃ᵀ (J̃J̃ᵀ + BλI)⁻¹ J̃ g) / λ. The m×m system (m = B·C) is solved in float64
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
