/**
 * Models with closed-form curvature hooks: {@link Objective}s whose row Gram and linearization
 * skip the generic per-sample passes of `lib/autodiff`.
 * @module
 */
export { denseObjective, denseRowGram } from './dense';
export type { DenseForward, DenseLayer, DenseObjective, DenseObjectiveOptions } from './dense';
export { mlpForward, mlpLinearize, mlpObjective } from './mlp';
export type { Activation, MlpObjective, MlpObjectiveOptions } from './mlp';
