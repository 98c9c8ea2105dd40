/**
 * Conjugate gradient for `(C + λI) s = g`: on parameter trees (matrix-free, {@link conjugateGradient})
 * and as the direction solver of Newton-CG and SGN ({@link cgSolver}, on raveled vectors).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, assertNonNegative, assertPositive, InputError } from '../../lib/errors';
import { resolveOptions } from '../../lib/options';
import type { Defaults } from '../../lib/options';
import * as tree from '../../lib/tree';
import type { Reads, StateTree, Tree } from '../../lib/types';
import { fetchScalar, fetchValues, runSync } from '../../lib/reads';
import type { DiagonalEstimator } from '../estimators';
import type { DirectionSolver, SolveProblem, SolveResult } from '../secondOrder';

/** Options of {@link conjugateGradient}. */
export interface CgOptions {
  /** Starting point (warm start); zero when absent. */
  x0?: Tree | null;
  /** Most CG iterations (default 20). */
  maxIterations?: number;
  /** Stop when ‖r‖ ≤ tol ‖b‖ (default 1e-5). */
  tol?: number;
  /** Applies M⁻¹ (preconditioned CG). */
  preconditioner?: (r: Tree) => Tree;
  /** Recompute the true residual b − A x every this many iterations (default 10; 0: never). */
  stabiliseEvery?: number;
}

/** The defaults of {@link CgOptions}. */
const CG_DEFAULTS = {
  x0: null,
  maxIterations: 20,
  tol: 1e-5,
  preconditioner: undefined,
  stabiliseEvery: 10,
} as const satisfies Defaults<CgOptions>;

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
 * Stops when ‖r‖ ≤ tol‖b‖, after `maxIterations` iterations, or on non-positive curvature
 * pᵀAp ≤ 1e-12·‖p‖² — then A is indefinite and it returns the iterate of least residual when that
 * beats x = 0, or `b` itself (the gradient direction, as if A = I); a warm start that fails at once
 * is dropped and CG starts again from zero. So an indefinite Hessian never yields NaN, nor the same
 * stale warm start step after step. Reads two scalars from the device per iteration.
 *
 * @example
 * const { x, iterations } = conjugateGradient((v) => hvp(lossFn, params, v, batch), grads, { maxIterations: 50, tol: 1e-6 });
 * @see Hestenes & Stiefel (1952); Nocedal & Wright, Numerical Optimization, Alg. 5.3 and 7.1.
 */
export function conjugateGradient(matvec: (v: Tree) => Tree, b: Tree, options: CgOptions = {}): CgResult {
  return runSync(conjugateGradientReads(matvec, b, options));
}

/**
 * {@link conjugateGradient} as a {@link Reads} computation (its scalar reads can be awaited).
 *
 * @example
 * const { x } = await runAsync(conjugateGradientReads(matvec, b, { maxIterations: 10 }));
 */
export function* conjugateGradientReads(matvec: (v: Tree) => Tree, b: Tree, options: CgOptions = {}): Reads<CgResult> {
  const { x0, maxIterations, tol, preconditioner, stabiliseEvery } = resolveOptions('conjugateGradient', options, CG_DEFAULTS);
  assertInteger('maxIterations', maxIterations, 0);
  assertNonNegative('tol', tol);
  assertInteger('stabiliseEvery', stabiliseEvery, 0);
  const bb = yield* fetchScalar(() => tree.squaredNorm(b));
  if (bb === 0) return { x: tree.zerosLike(b), iterations: 0, relativeResidual: 0, negativeCurvature: false, converged: true };
  let x: Tree = x0 ? tree.clone(x0) : tree.zerosLike(b);
  let r: Tree = x0 ? tree.tidy(() => tree.sub(b, matvec(x))) : tree.clone(b);
  const precondition = (v: Tree) => (preconditioner ? preconditioner(v) : tree.clone(v));
  // Every `stabiliseEvery` iterations the recurrence residual is replaced by the true one (0: never).
  const recompute = (k: number) => stabiliseEvery > 0 && k % stabiliseEvery === 0;
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
  while (!converged && iterations < maxIterations) {
    const ap = matvec(p);
    const [pap, pp] = yield* fetchValues(() => tf.stack([tree.vdot(p, ap), tree.squaredNorm(p)]));
    if (!(pap > 1e-12 * pp)) {
      negativeCurvature = true;
      tree.dispose(ap);
      if (iterations === 0 && x0) {
        // Not one step from the warm start: it is stale, start again from zero.
        tree.dispose([x, r, z, p]);
        return yield* conjugateGradientReads(matvec, b, { maxIterations, tol, preconditioner, stabiliseEvery });
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
    r = replace(r, recompute(iterations) ? tree.tidy(() => tree.sub(b, matvec(x))) : tree.axpy(-alpha, ap, r));
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

/**
 * `r ↦ r / (|d| + λ + 1e-8)`: the Jacobi preconditioner of C + λI from a diagonal estimate d.
 *
 * @example
 * conjugateGradient(matvec, b, { preconditioner: diagonalPreconditioner(hessianDiag(lossFn, params, batch), 0.1) });
 */
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
    preconditioner:
      owned.diag !== null
        ? diagonalPreconditioner(owned.diag, problem.lam)
        : preconditioner && ((r) => tf.tidy(() => flat(preconditioner(unravel(r as tf.Tensor))))),
    unravel,
    dispose: () => tf.dispose([owned.b, owned.x0 ?? [], owned.diag ?? []]),
  };
}

/** Options of {@link cgSolver}. */
export interface CgSolverOptions {
  /** Most CG iterations, i.e. curvature products, per solve (default 20). */
  maxIterations?: number;
  /** Stop when ‖r‖ ≤ tol‖g‖ (default 1e-5). */
  tol?: number;
  /** Start from the previous solve's direction (default true). */
  warmStart?: boolean;
  /** A fixed preconditioner M⁻¹ on trees. */
  preconditioner?: (r: Tree) => Tree;
  /** Precondition each solve by the diagonal estimated on the curvature batch (overrides `preconditioner`). */
  diagonal?: DiagonalEstimator;
  /** Recompute the true residual every this many iterations (default 10; 0: never). */
  stabiliseEvery?: number;
}

/** The defaults of {@link CgSolverOptions} (somax v1: 20 iterations, tol 1e-5, warm start). */
export const CG_SOLVER_DEFAULTS = {
  maxIterations: CG_DEFAULTS.maxIterations,
  tol: CG_DEFAULTS.tol,
  warmStart: true,
  preconditioner: undefined,
  diagonal: undefined,
  stabiliseEvery: CG_DEFAULTS.stabiliseEvery,
} as const satisfies Defaults<CgSolverOptions>;

/** State of {@link cgSolver} (a type alias, so that it is a {@link StateTree}). */
export type CgSolverState = {
  /** The last direction (the warm start). */
  previous: Tree;
  /** Whether `previous` holds a direction yet. */
  hasPrevious: boolean;
};

/**
 * CG on `(C + λI) s = g` as a direction solver (Newton-CG, SGN), warm-started from the previous
 * solution when `warmStart`, on the parameters raveled into one vector (see
 * {@link conjugateGradient} for trees). With `diagonal`, each solve is preconditioned by the
 * diagonal estimated on the curvature batch (see `diagonalPreconditioner`); `preconditioner`
 * sets a fixed one instead. The direction is linear in g for a fixed warm start (none at the first step).
 *
 * @example
 * const tx = scaleBySecondOrder({ curvature: ggnCurvature(objective), solver: cgSolver({ maxIterations: 10, tol: 1e-4 }) });
 * @see Martens, "Deep learning via Hessian-free optimization" (ICML 2010).
 */
export function cgSolver(options: CgSolverOptions = {}): DirectionSolver<CgSolverState> {
  const resolved = resolveOptions('cgSolver', options, CG_SOLVER_DEFAULTS);
  const { maxIterations, tol, warmStart, preconditioner, diagonal, stabiliseEvery } = resolved;
  assertInteger('maxIterations', maxIterations);
  assertPositive('tol', tol);
  assertInteger('stabiliseEvery', stabiliseEvery, 0);
  function* solveReads(problem: SolveProblem, state: CgSolverState): Reads<SolveResult<CgSolverState>> {
    const diag = diagonal ? diagonal(problem.params, problem.batch, problem.key) : null;
    const system = raveledSystem(problem, warmStart && state.hasPrevious ? state.previous : null, diag, preconditioner);
    if (diag) tree.dispose(diag);
    try {
      const res = yield* conjugateGradientReads(system.matvec, system.b, {
        x0: system.x0,
        maxIterations,
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
  return {
    needsOperator: true,
    initInfo: { cgIterations: 0, cgResidual: NaN, negativeCurvature: false },
    init: (params) => ({ previous: tree.zerosLike(params), hasPrevious: false }),
    solve: (problem, state) => runSync(solveReads(problem, state)),
    solveReads,
  };
}
