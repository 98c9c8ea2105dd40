/**
 * Linear solvers for second-order directions `(C + λI) s = g`: conjugate gradient on parameter
 * trees (matrix-free), row-space (Woodbury) Cholesky and CG for Gauss-Newton curvatures, and a
 * dense direct solve for tiny models. Each is offered as a plain function and as a
 * {@link DirectionSolver} for `scaleBySecondOrder`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { denseMatrixReads } from '../lib/autodiff';
import { assertInteger, assertNonNegative, assertPositive, InputError } from '../lib/errors';
import { cholesky, choleskySolve, matVec, solveLowerTriangular, solveSymmetric, symmetrize } from '../lib/linalg';
import { jacobianSampleRows, transposeTimesValues } from '../lib/rowGram';
import type { SampleRows } from '../lib/rowGram';
import { batchSize, checkObjective, predictOn } from '../lib/objective';
import type { Objective, SupervisedBatch } from '../lib/objective';
import * as tree from '../lib/tree';
import type { Reads, Tree } from '../lib/types';
import { fetchScalar, fetchValues, runSync } from '../lib/reads';
import type { DiagonalEstimator } from './estimators';
import { statelessSolver } from './secondOrder';
import type { DirectionSolver, SolveProblem, SolveResult } from './secondOrder';

/** Options of {@link conjugateGradient}. */
export interface CgOptions {
  /** Starting point (warm start); zero when absent. */
  x0?: Tree | null;
  /** Most CG iterations (default 20). */
  maxiter?: number;
  /** Stop when ‖r‖ ≤ tol ‖b‖. */
  tol?: number;
  /** Applies M⁻¹ (preconditioned CG). */
  preconditioner?: (r: Tree) => Tree;
  /** Recompute the true residual b − A x every this many iterations. */
  stabiliseEvery?: number;
}

/** What {@link conjugateGradient} returns (`x` is fresh, owned by the caller). */
export interface CgResult {
  /** The approximate solution x of A x = b. */
  readonly x: Tree;
  /** CG iterations run. */
  readonly iterations: number;
  /** ‖b − A x‖ / ‖b‖ at the end (of the recurrence residual). */
  readonly relativeResidual: number;
  /** Stopped on a direction of non-positive curvature pᵀAp ≤ 0. */
  readonly negativeCurvature: boolean;
  /** Whether ‖r‖ ≤ tol ‖b‖ was reached. */
  readonly converged: boolean;
}

/**
 * (Preconditioned) conjugate gradient for `A x = b` on parameter trees, matrix-free.
 *
 * Stops when ‖r‖ ≤ tol‖b‖, after `maxiter` iterations, or on non-positive curvature pᵀAp ≤
 * 1e-12·‖p‖² — then A is indefinite and it returns the iterate of least residual when that beats
 * x = 0, or `b` itself (the gradient direction, as if A = I); a warm start that fails at once is dropped and CG starts again from
 * zero. So an indefinite Hessian never yields NaN, nor the same stale warm start step after step. Reads two
 * scalars from the device per iteration.
 *
 * @see Hestenes & Stiefel (1952); Nocedal & Wright, Numerical Optimization, Alg. 5.3 and 7.1.
 */
export function conjugateGradient(matvec: (v: Tree) => Tree, b: Tree, options: CgOptions = {}): CgResult {
  return runSync(conjugateGradientReads(matvec, b, options));
}

/** {@link conjugateGradient} as a {@link Reads} computation (its scalar reads can be awaited). */
export function* conjugateGradientReads(matvec: (v: Tree) => Tree, b: Tree, { x0 = null, maxiter = 20, tol = 1e-5, preconditioner, stabiliseEvery = 10 }: CgOptions = {}): Reads<CgResult> {
  assertInteger('maxiter', maxiter, 0);
  assertNonNegative('tol', tol);
  assertInteger('stabiliseEvery', stabiliseEvery);
  const bb = yield* fetchScalar(() => tree.squaredNorm(b));
  if (bb === 0) return { x: tree.zerosLike(b), iterations: 0, relativeResidual: 0, negativeCurvature: false, converged: true };
  let x: Tree = x0 ? tree.clone(x0) : tree.zerosLike(b);
  let r: Tree = x0 ? tree.tidy(() => tree.sub(b, matvec(x))) : tree.clone(b);
  const precondition = (v: Tree) => (preconditioner ? preconditioner(v) : tree.clone(v));
  let z = precondition(r);
  let p = tree.clone(z);
  let [rz, rr] = yield* fetchValues(() => tf.stack([tree.vdot(r, z), tree.squaredNorm(r)]));
  let iterations = 0;
  let negativeCurvature = false;
  let converged = rr <= tol * tol * bb;
  const replace = (old: Tree, next: Tree) => {
    tree.dispose(old);
    return next;
  };
  // The iterate of least residual so far (for an indefinite A, see below).
  let best: { x: Tree; rr: number } | null = null;
  while (!converged && iterations < maxiter) {
    const ap = matvec(p);
    const [pap, pp] = yield* fetchValues(() => tf.stack([tree.vdot(p, ap), tree.squaredNorm(p)]));
    if (!(pap > 1e-12 * pp)) {
      negativeCurvature = true;
      tree.dispose(ap);
      if (iterations === 0 && x0) {
        // Not one step from the warm start: it is stale, start again from zero.
        tree.dispose([x, r, z, p]);
        return yield* conjugateGradientReads(matvec, b, { maxiter, tol, preconditioner, stabiliseEvery });
      }
      // A is indefinite, and the earlier steps along barely positive curvature may have been huge
      // (residuals of 20–2500 ‖b‖ on an MLP Hessian at λ = 1): keep the iterate of least residual
      // if it beats x = 0, else take b itself (the gradient direction, as if A = I).
      if (best === null || best.rr > bb) x = replace(x, tree.clone(b));
      else if (best.rr < rr) [x, rr] = [replace(x, tree.clone(best.x)), best.rr];
      break;
    }
    const alpha = rz / pap;
    x = replace(x, tree.axpy(alpha, p, x));
    iterations += 1;
    r = replace(r, iterations % stabiliseEvery === 0 ? tree.tidy(() => tree.sub(b, matvec(x))) : tree.axpy(-alpha, ap, r));
    tree.dispose(ap);
    z = replace(z, precondition(r));
    const [rzNew, rrNew] = yield* fetchValues(() => tf.stack([tree.vdot(r, z), tree.squaredNorm(r)]));
    rr = rrNew;
    if (best === null || rr < best.rr) {
      if (best !== null) tree.dispose(best.x);
      best = { x: tree.clone(x), rr };
    }
    converged = rr <= tol * tol * bb;
    p = replace(p, tree.axpy(rzNew / rz, p, z));
    rz = rzNew;
  }
  tree.dispose([r, z, p]);
  if (best !== null) tree.dispose(best.x);
  return { x, iterations, relativeResidual: Math.sqrt(rr / bb), negativeCurvature, converged };
}

/** `r ↦ r / (|d| + λ + 1e-8)`: the Jacobi preconditioner of C + λI from a diagonal estimate d. */
export function diagonalPreconditioner(diag: Tree, lam: number): (r: Tree) => Tree {
  return (r) => tree.map((ri: tf.Tensor, di: tf.Tensor) => tf.tidy(() => tf.div(ri, tf.add(tf.abs(di), lam + 1e-8))), r, diag);
}

/** A solve problem's damped operator and preconditioner on raveled vectors (one 1-D tensor). */
interface RaveledSystem {
  readonly b: tf.Tensor1D;
  readonly x0: tf.Tensor1D | null;
  readonly matvec: (v: Tree) => Tree;
  readonly preconditioner?: (r: Tree) => Tree;
  /** The tree of a raveled vector (fresh tensors). */
  unravel(v: tf.Tensor): Tree;
  dispose(): void;
}

/**
 * `(C + λI) s = g` on raveled vectors: CG's vector algebra (axpys, dot products) then costs one
 * kernel per operation instead of one per leaf, and no tree bookkeeping; the operator unravels its
 * argument and ravels its product. Measured on an MLP 784-32-10 (wasm): an sgn step with 3 CG
 * iterations runs 441 kernels instead of 585, 8–9 % faster (the same at 784-128-10, where the
 * matrix products dominate).
 */
function raveledSystem(problem: SolveProblem, x0: Tree | null, diag: Tree | null, preconditioner?: (r: Tree) => Tree): RaveledSystem {
  const op = problem.op;
  if (op === null) throw new InputError('this solver needs a curvature operator');
  const { def } = tree.flatten(problem.grads);
  const flat = (t: Tree) => tree.ravel(t).vector;
  const owned = tree.tidy(() => ({
    b: flat(problem.grads),
    x0: x0 === null ? null : flat(x0),
    diag: diag === null ? null : flat(diag),
  }));
  const unravel = (v: tf.Tensor) => tree.unravel(def, v);
  return {
    b: owned.b,
    x0: owned.x0,
    matvec: (v) => tf.tidy(() => tf.add(flat(op.matvec(unravel(v as tf.Tensor))), tf.mul(problem.lam, v as tf.Tensor))),
    preconditioner: owned.diag !== null
      ? diagonalPreconditioner(owned.diag, problem.lam)
      : preconditioner && ((r) => tf.tidy(() => flat(preconditioner(unravel(r as tf.Tensor))))),
    unravel,
    dispose: () => tf.dispose([owned.b, owned.x0 ?? [], owned.diag ?? []]),
  };
}

/**
 * CG on `(C + λI) s = g` as a direction solver (Newton-CG, SGN), warm-started from the previous
 * solution when `warmStart` (somax v1 defaults: maxiter 20, tol 1e-5, warm start on), on the
 * parameters raveled into one vector (see {@link conjugateGradient} for trees). With
 * `diagonal`, each solve is preconditioned by the diagonal estimated on the curvature batch
 * (see {@link diagonalPreconditioner}); `preconditioner` sets a fixed one instead.
 */
export function cgSolver({
  maxIterations: maxiter = 20,
  tol = 1e-5,
  warmStart = true,
  preconditioner,
  diagonal,
  stabiliseEvery = 10,
}: {
  maxIterations?: number;
  tol?: number;
  warmStart?: boolean;
  preconditioner?: (r: Tree) => Tree;
  diagonal?: DiagonalEstimator;
  stabiliseEvery?: number;
} = {}): DirectionSolver<{
  /** The last direction (the warm start). */
  previous: Tree;
  /** Whether `previous` holds a direction yet. */
  hasPrevious: boolean;
}> {
  assertInteger('maxiter', maxiter);
  assertPositive('tol', tol);
  return {
    needsOperator: true,
    initInfo: { cgIterations: 0, cgResidual: NaN, negativeCurvature: false },
    init: (params) => ({ previous: tree.zerosLike(params), hasPrevious: false }),
    solve: (problem, state) => runSync(solveReads(problem, state)),
    solveReads,
  };
  function* solveReads(problem: SolveProblem, state: { previous: Tree; hasPrevious: boolean }): Reads<SolveResult<{ previous: Tree; hasPrevious: boolean }>> {
      const diag = diagonal ? diagonal(problem.params, problem.batch, problem.key) : null;
      const system = raveledSystem(problem, warmStart && state.hasPrevious ? state.previous : null, diag, preconditioner);
      if (diag) tree.dispose(diag);
      try {
        const res = yield* conjugateGradientReads(system.matvec, system.b, {
          x0: system.x0,
          maxiter,
          tol,
          preconditioner: system.preconditioner,
          stabiliseEvery,
        });
        const direction = system.unravel(res.x as tf.Tensor);
        tree.dispose(res.x);
        return {
          direction,
          info: { cgIterations: res.iterations, cgResidual: res.relativeResidual, negativeCurvature: res.negativeCurvature },
          state: { previous: tree.clone(direction), hasPrevious: warmStart },
        };
      } finally {
        system.dispose();
      }
  }
}

/**
 * Direct solve of `(C + λI) s = g` with the dense C (P matvecs), in float64: Cholesky, or pivoted
 * elimination when C + λI is indefinite. Tiny models and tests.
 */
export function denseSolve(matvec: (v: Tree) => Tree, b: Tree, options: { damping?: number } = {}): Tree {
  return runSync(denseSolveReads(matvec, b, options));
}

/** {@link denseSolve} as a {@link Reads} computation (the matrix and the right-hand side are yielded). */
export function* denseSolveReads(matvec: (v: Tree) => Tree, b: Tree, { damping = 0 }: { damping?: number } = {}): Reads<Tree> {
  const p = tree.numel(b);
  const a = yield* denseMatrixReads(matvec, b);
  for (let i = 0; i < p; i++) a[i * p + i] += damping;
  const rhs = yield* fetchValues(() => tree.ravel(b).vector);
  const x = solveSymmetric(a, rhs, p);
  return tree.tidy(() => tree.unravel(tree.flatten(b).def, tf.tensor1d(Float32Array.from(x))));
}

/** {@link denseSolve} as a direction solver (newtonDirect, ggnDirect). */
export function directSolver(): DirectionSolver<null> {
  return statelessSolver(true, function* (problem) {
    const op = problem.op;
    if (op === null) throw new InputError('directSolver needs a curvature operator');
    return yield* denseSolveReads((v) => op.matvec(v), problem.grads, { damping: problem.lam });
  });
}

/**
 * Solves `(G + μI) u = r` in float64 by Cholesky after symmetrizing G (optional `jitter` on the
 * diagonal): the row-space system of Gauss-Newton methods.
 */
export function rowSpaceCholeskySolve(gram: Float64Array, rhs: ArrayLike<number>, m: number, mu: number, { jitter = 0 }: { jitter?: number } = {}): Float64Array {
  const a = symmetrize(gram, m);
  for (let i = 0; i < m; i++) a[i * m + i] += mu;
  return choleskySolve(cholesky(a, m, { jitter }), rhs, m);
}

/** Solves `(G + μI) u = r` in float64 by conjugate gradient (tol relative to ‖r‖). */
export function rowSpaceCgSolve(gram: Float64Array, rhs: ArrayLike<number>, m: number, mu: number, { maxiter = 100, tol = 1e-10 }: { maxiter?: number; tol?: number } = {}): Float64Array {
  const a = (v: Float64Array) => matVec(gram, v, m, m).map((x, i) => x + mu * v[i]);
  const dot = (u: Float64Array, v: Float64Array) => u.reduce((s, x, i) => s + x * v[i], 0);
  const x = new Float64Array(m);
  const r = Float64Array.from(rhs);
  const p = Float64Array.from(rhs);
  const bb = dot(r, r);
  let rr = bb;
  for (let k = 0; k < maxiter && rr > tol * tol * bb; k++) {
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

/**
 * Row-space (Woodbury) Gauss-Newton direction on a batch, exact for the GGN G = (1/B) Jᵀ Q J:
 *
 *   s = (G + λI)⁻¹ g = J̃ᵀ (J̃ J̃ᵀ + BλI)⁻¹ r̃,   J̃ = blockdiag(Lᵢᵀ) J,  r̃ᵢ = Lᵢ⁻¹ rᵢ,  Qᵢ + εI = LᵢLᵢᵀ,
 *
 * with rᵢ the per-sample output residual (g = Jᵀ r / B); squared error has Lᵢ = I. When the
 * gradient comes from another batch, `grads` is used instead:
 * s = (g − J̃ᵀ (J̃J̃ᵀ + BλI)⁻¹ J̃ g) / λ.
 * The m×m system (m = B·C) is solved in float64 by Cholesky (`method: 'cholesky'`) or CG.
 *
 * Note: somax v1 uses J̃ = Lᵢ J (curvature Jᵀ LᵀL J ≠ JᵀQJ); this uses Lᵢᵀ, as the dense GGN requires.
 * With a {@link Objective.rowGram} hook on the objective (e.g. `mlpObjective`), J is never formed:
 * J Jᵀ comes from the hook (the delta trick: a few gradients instead of hundreds for 32 samples ×
 * 10 outputs of an MLP 784-128-10), J g from one JVP and Jᵀw from one VJP; without it, from the
 * B·C Jacobian rows.
 *
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

/** Options of {@link rowSpaceDirection}. */
export interface RowSpaceOptions {
  /** The gradient, for the gradient form (a separate curvature batch); absent: the residual form. */
  grads?: Tree;
  /** `'cholesky'` (default) or `'cg'` for the row-space system. */
  method?: 'cholesky' | 'cg';
  /** Jitter of the per-sample factors Qᵢ + εI (default 1e-6). */
  eps?: number;
  /** Row-space CG iterations (default 100). */
  maxiter?: number;
  /** Row-space CG tolerance (default 1e-10). */
  tol?: number;
}

/** The per-sample factors Lᵢ (lower triangular) of Qᵢ + εI = LᵢLᵢᵀ, from the B·C·C output-Hessian blocks. */
function outputHessianFactors(q: Float64Array, b: number, c: number, eps: number): Float64Array[] {
  return Array.from({ length: b }, (_, i) => cholesky(q.slice(i * c * c, (i + 1) * c * c), c, { jitter: eps }));
}

/** The block-diagonal product L̃v (or L̃ᵀv, `transpose`), L̃ = blockdiag(Lᵢ), in float64. */
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

/**
 * J̃J̃ᵀ = L̃ᵀ (J Jᵀ) L̃ from the row Gram `gram` (m × m, m = B·C), block by block: block (i, j) is
 * Lᵢᵀ Gᵢⱼ Lⱼ, O(B²C³) operations instead of the O(m³) of two dense products.
 */
function factorCongruence(gram: ArrayLike<number>, factors: readonly Float64Array[], c: number): Float64Array {
  const m = factors.length * c;
  const out = new Float64Array(m * m);
  const gl = new Float64Array(c * c);
  factors.forEach((li, i) => factors.forEach((lj, j) => {
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
  }));
  return out;
}

/**
 * {@link rowSpaceDirection} as a {@link Reads} computation. The rows of J are implicit when the
 * objective has a {@link Objective.rowGram} hook (e.g. `mlpObjective`: J Jᵀ by the delta trick,
 * J g by one JVP, Jᵀw by one VJP), else materialized by `jacobianRows` (B·C backward passes).
 */
export function* rowSpaceDirectionReads<X>(
  objective: Objective<X>,
  params: Tree,
  batch: SupervisedBatch<X>,
  lam: number,
  { grads, method = 'cholesky', eps = 1e-6, maxiter = 100, tol = 1e-10 }: RowSpaceOptions = {},
): Reads<Tree> {
  const loss = checkObjective(objective);
  const [outputs, resid] = tf.tidy(() => {
    const f = predictOn(objective, params, batch);
    return [f, loss.residual(f, batch.y)];
  });
  let rows: SampleRows | null = null;
  try {
    const r = (rows = jacobianSampleRows(objective, params, batch.x, outputs.shape));
    const b = batchSize(outputs);
    const c = outputs.size / b;
    const m = b * c;
    yield outputs; // hessianBlocks reads them
    // Per-sample factors Qᵢ + εI = LᵢLᵢᵀ (identity for squared error).
    const factors = outputHessianFactors(loss.hessianBlocks(outputs), b, c, eps);
    const tilde = factorCongruence(yield* fetchValues(() => r.gram()), factors, c);
    const mu = b * lam;
    const solve = (rhs: Float64Array) =>
      method === 'cholesky' ? rowSpaceCholeskySolve(tilde, rhs, m, mu) : rowSpaceCgSolve(symmetrize(tilde, m), rhs, m, mu, { maxiter, tol });
    let weights: Float64Array; // s = Jᵀ weights (+ g/λ in the gradient form)
    if (grads === undefined) {
      const r = yield* fetchValues(() => tf.reshape(resid, [-1]));
      const rt = new Float64Array(m);
      for (let i = 0; i < b; i++) solveLowerTriangular(factors[i], r.subarray(i * c, (i + 1) * c), c).forEach((v, k) => (rt[i * c + k] = v));
      weights = blockFactorTimes(factors, solve(rt), c, false);
    } else {
      // J̃ g = L̃ᵀ J g.
      const jg = yield* fetchValues(() => r.times(grads));
      weights = blockFactorTimes(factors, solve(blockFactorTimes(factors, jg, c, true)), c, false).map((w) => -w / lam);
    }
    const jtw = transposeTimesValues(r, weights);
    if (grads === undefined) return jtw;
    const s = tree.tidy(() => tree.map((si: tf.Tensor, gi: tf.Tensor) => tf.add(si, tf.div(gi, lam)), jtw, grads));
    tree.dispose(jtw);
    return s;
  } finally {
    rows?.dispose();
    tf.dispose([outputs, resid]);
  }
}

/**
 * {@link rowSpaceDirection} as a direction solver (EGN): the residual form when the gradient and
 * curvature batches are the same, the gradient form otherwise.
 */
export function rowSpaceSolver<X>(
  objective: Objective<X>,
  { rowSolver: method = 'cholesky', eps = 1e-6, maxiter = 100, tol = 1e-10 }: { rowSolver?: 'cholesky' | 'cg'; eps?: number; maxiter?: number; tol?: number } = {},
): DirectionSolver<null> {
  checkObjective(objective);
  return statelessSolver(false, (problem) => {
    const options = { grads: problem.sameBatch ? undefined : problem.grads, method, eps, maxiter, tol };
    return rowSpaceDirectionReads(objective, problem.params, problem.batch as SupervisedBatch<X>, problem.lam, options);
  });
}

