/**
 * The dense direct solve of `(C + λI) s = g` in float64 (P curvature products to form C): tiny
 * models and tests.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { denseMatrixReads } from '../../lib/autodiff';
import { assertFinite, InputError } from '../../lib/errors';
import { solveSymmetric } from '../../lib/linalg';
import { resolveOptions } from '../../lib/options';
import type { Defaults } from '../../lib/options';
import { fetchValues, runSync } from '../../lib/reads';
import * as tree from '../../lib/tree';
import type { Reads, Tree } from '../../lib/types';
import { statelessSolver } from '../secondOrder';
import type { DirectionSolver } from '../secondOrder';

/** Options of {@link denseSolve}. */
export interface DenseSolveOptions {
  /** λ added to the diagonal of C (default 0). */
  damping?: number;
}

/** The defaults of {@link DenseSolveOptions}. */
const DENSE_SOLVE_DEFAULTS = { damping: 0 } satisfies Defaults<DenseSolveOptions>;

/**
 * Direct solve of `(C + λI) s = g` with the dense C (P matvecs), in float64: Cholesky, or pivoted
 * elimination when C + λI is indefinite. Tiny models and tests.
 *
 * @example
 * const s = denseSolve((v) => hvp(lossFn, params, v, batch), grads, { damping: 0.1 }); // (H + 0.1 I)⁻¹ g
 */
export function denseSolve(matvec: (v: Tree) => Tree, b: Tree, options: DenseSolveOptions = {}): Tree {
  return runSync(denseSolveReads(matvec, b, options));
}

/**
 * {@link denseSolve} as a {@link Reads} computation (the matrix and the right-hand side are yielded).
 *
 * @example
 * const s = await runAsync(denseSolveReads(matvec, grads, { damping: 0.1 }));
 */
export function* denseSolveReads(matvec: (v: Tree) => Tree, b: Tree, options: DenseSolveOptions = {}): Reads<Tree> {
  const { damping } = resolveOptions('denseSolve', options, DENSE_SOLVE_DEFAULTS);
  assertFinite('damping', damping);
  const p = tree.numel(b);
  const a = yield* denseMatrixReads(matvec, b);
  for (let i = 0; i < p; i++) a[i * p + i] += damping;
  const rhs = yield* fetchValues(() => tree.ravel(b).vector);
  const x = solveSymmetric(a, rhs, p);
  return tree.tidy(() => tree.unravel(tree.flatten(b).def, tf.tensor1d(Float32Array.from(x))));
}

/**
 * {@link denseSolve} as a direction solver (newtonDirect, ggnDirect): s = (C + λI)⁻¹ g, linear in g.
 *
 * @example
 * const tx = scaleBySecondOrder({ curvature: hessianCurvature(lossFn), solver: directSolver(), tx: scale(-1) });
 */
export function directSolver(): DirectionSolver<null> {
  return statelessSolver(true, function* (problem) {
    const op = problem.op;
    if (op === null) throw new InputError('directSolver needs a curvature operator');
    return yield* denseSolveReads((v) => op.matvec(v), problem.grads, { damping: problem.lam });
  });
}
