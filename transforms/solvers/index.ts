/**
 * Linear solvers for second-order directions `(C + λI) s = g`: conjugate gradient on parameter
 * trees (matrix-free, `cg.ts`), the dense direct solve for tiny models (`direct.ts`), and the
 * row-space (Woodbury) solve of curvatures made of per-sample rows, the GGN and the empirical
 * Fisher (`woodbury.ts`). Each is offered as a plain function and as a `DirectionSolver` for
 * `scaleBySecondOrder`.
 * @module
 */
export * from './cg';
export * from './direct';
export * from './woodbury';
export * from './kronecker';
