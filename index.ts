/**
 * somax: second-order optimizers for TensorFlow.js, as Optax-style gradient transformations.
 * @packageDocumentation
 */
export type * from './lib/types';
export * as tree from './lib/tree';
export * as random from './lib/random';
export * from './lib/errors';
export * from './lib/combine';
export * from './lib/reads';
export * from './lib/gradients';
export * as losses from './lib/losses';
export * from './lib/autodiff';
export * from './lib/objective';
export * from './lib/rowGram';
export * from './transforms/curvature';
export * from './transforms/estimators';
export * from './transforms/preconditioners';
export * from './transforms/linesearch';
export * from './lib/update';
export * from './lib/state';
export * from './transforms/scale';
export * from './transforms/moments';
export * from './transforms/clipping';
export * from './transforms/weightDecay';
export * from './transforms/misc';
export * from './transforms/schedules';
export * from './chains/firstOrder';
export * from './lib/tfOptimizer';
export * as linalg from './lib/linalg';
export * from './transforms/damping';
export * from './transforms/solvers';
export * from './transforms/secondOrder';
export * from './transforms/lbfgs';
export * from './chains/lbfgs';
export * from './chains/common';
export * from './chains/diagonal';
export * from './chains/newton';
export * from './chains/gaussNewton';
export * from './chains/registry';
export * from './transforms/naturalGradient';
export * from './chains/quasiNewton';
export * from './chains/naturalGradient';
