/**
 * somax: second-order optimizers for TensorFlow.js, as Optax-style gradient transformations.
 * @packageDocumentation
 */
export type * from './lib/types';
export * as tree from './lib/tree';
export * as random from './lib/random';
export * from './lib/errors';
export * from './lib/combine';
export * from './lib/autodiff';
