/**
 * Models: {@link Objective}s with closed-form curvature hooks (dense, MLP), whose row Gram and
 * linearization skip the generic per-sample passes of `lib/autodiff`, and compiled tfjs-layers
 * models (`layersObjective`, and `withFitBatch` to train inside `model.fit`).
 * @module
 */
export { denseObjective, denseRowGram } from './dense';
export type { DenseForward, DenseLayer, DenseObjective, DenseObjectiveOptions } from './dense';
export { mlpForward, mlpLinearize, mlpObjective } from './mlp';
export type { Activation, MlpObjective, MlpObjectiveOptions } from './mlp';
export { layersObjective, withFitBatch } from './layers';
export type { FitBatchOptions, LayersModelLike, LayersObjective } from './layers';
export type { ChainLinearization } from './layerChain';
