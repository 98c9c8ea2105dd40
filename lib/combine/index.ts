/**
 * Combinators of gradient transformations (Optax's `combine.py`, `transforms/_masking.py`,
 * `_partitioning.py`, `_accumulation.py`, `_conditionality.py`, `schedules/_inject.py`), one file
 * per family. Every wrapper is built with `withReads` and calls its inner transforms through
 * `updateReadsOf` (see `lib/reads.ts`), so the device reads of whatever it wraps reach
 * `makeStepAsync`.
 * @module
 */
export { chain, disposeState, identity, namedChain } from './chain';
export type { EmptyState, NamedChainState } from './chain';
export { leafLabels, maskLeaves } from './labels';
export type { LabelTree, Mask } from './labels';
export { masked, multiTransform, partition } from './masked';
export type { MultiTransformState } from './masked';
export { injectHyperparams, setHyperparams } from './inject';
export type { InjectHyperparamsState } from './inject';
export { applyIfFinite, guardNonFinite, skipNotFinite } from './finite';
export type { ApplyIfFiniteState, GuardNonFiniteOptions, GuardNonFiniteState } from './finite';
export { hasUpdated, multiSteps } from './multiSteps';
export type { MultiStepsOptions, MultiStepsState } from './multiSteps';
export { conditionallyMask, conditionallyTransform } from './conditionally';
export type { ConditionFn, ConditionallyTransformOptions, ConditionallyTransformState } from './conditionally';
