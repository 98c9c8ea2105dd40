/**
 * somax: second-order optimizers for TensorFlow.js, as Optax-style gradient transformations.
 *
 * The public surface, named export by export (Optax keeps its code in `_src` behind a curated
 * `__init__`; so does somax). docs/optax.md maps Optax's names to these.
 * @packageDocumentation
 */

// Core types.
export type {
  Extra,
  GradientTransformation,
  LossFn,
  Params,
  PRNGKey,
  Reads,
  ScalarOrSchedule,
  Schedule,
  StateOf,
  StateTree,
  Tree,
  Updates,
} from './lib/types';

// Tree utilities, keys, losses (namespaces).
export * as tree from './lib/tree';
export * as random from './lib/random';
export * as losses from './lib/losses';

// Errors.
export { HyperparameterError, InputError, SomaxError, TreeMismatchError, UnsupportedOpError } from './lib/errors';

// Combinators.
export {
  applyIfFinite,
  chain,
  conditionallyMask,
  conditionallyTransform,
  disposeState,
  guardNonFinite,
  hasUpdated,
  identity,
  injectHyperparams,
  masked,
  multiSteps,
  multiTransform,
  namedChain,
  partition,
  setHyperparams,
  skipNotFinite,
} from './lib/combine';
export type {
  ApplyIfFiniteState,
  ConditionFn,
  ConditionallyTransformState,
  EmptyState,
  GuardNonFiniteOptions,
  GuardNonFiniteState,
  InjectHyperparamsState,
  LabelTree,
  Mask,
  MultiStepsOptions,
  MultiStepsState,
  MultiTransformState,
  NamedChainState,
} from './lib/combine';

// The device-read protocol, for users writing transforms that read values (see docs/backends.md).
export { fetchValues, runAsync, runSync, updateReadsOf, withReads } from './lib/reads';

// Applying updates and the training step.
export { applyUpdates, incrementalUpdate, makeStep, makeStepAsync, periodicUpdate } from './lib/update';
export type { MakeStepOptions, StepInfo, StepOptions, StepResult } from './lib/update';
export { stepContext } from './lib/stepContext';
export type { StepContext, StepContextOptions } from './lib/stepContext';
export { loadState, saveState } from './lib/state';
export type { Json } from './lib/state';

// tfjs adapters.
export { asTfOptimizer, minimizeLoss, SomaxOptimizer } from './lib/tfOptimizer';
export type { MinimizeBatch } from './lib/tfOptimizer';
export { assertSecondOrderSafe, installSecondOrderGradients, withSecondOrder } from './lib/autodiff';

// Products and exact references.
export {
  denseGgn,
  denseHessian,
  fisherDiag,
  ggnvp,
  hessianDiag,
  hvp,
  jacobianRows,
  jvp,
  linearization,
  perSampleGradients,
  rowGram,
  valueAndGrad,
  vjp,
} from './lib/autodiff';
export { objectiveLoss, outputBasis } from './lib/objective';
export type { LayerParams, Linearization, Objective, OutputLoss, OutputLossName, SupervisedBatch } from './lib/objective';

// Models: closed-form curvature hooks, and compiled tfjs-layers models.
export { denseObjective, layersObjective, mlpObjective, withFitBatch } from './models';
export type {
  Activation,
  FitBatchOptions,
  LayersModelLike,
  LayersObjective,
  DenseForward,
  DenseLayer,
  DenseObjective,
  DenseObjectiveOptions,
  MlpObjective,
  MlpObjectiveOptions,
  ChainLinearization,
} from './models';

// First-order transforms.
export { scale, scaleByLearningRate, scaleBySchedule, scaleBySign } from './transforms/scale';
export type { CountState } from './transforms/scale';
export { ema, scaleByAdam, scaleByAmsgrad, scaleByLion, scaleByRms, scaleByRss, scaleByStddev, trace } from './transforms/moments';
export type {
  EmaOptions,
  EmaState,
  ScaleByAdamOptions,
  ScaleByAdamState,
  ScaleByLionOptions,
  ScaleByLionState,
  ScaleByRmsOptions,
  ScaleByRmsState,
  ScaleByRssOptions,
  ScaleByRssState,
  ScaleByStddevState,
  TraceOptions,
  TraceState,
} from './transforms/moments';
export { clip, clipByBlockRms, clipByGlobalNorm } from './transforms/clipping';
export { addDecayedWeights } from './transforms/weightDecay';
export { addNoise, keepParamsNonnegative, zeroNans } from './transforms/misc';
export type { AddNoiseState, ZeroNansState } from './transforms/misc';

// Schedules.
export {
  constantSchedule,
  cosineDecaySchedule,
  cosineOnecycleSchedule,
  exponentialDecay,
  joinSchedules,
  linearOnecycleSchedule,
  linearSchedule,
  piecewiseConstantSchedule,
  piecewiseInterpolateSchedule,
  polynomialSchedule,
  sgdrSchedule,
  warmupConstantSchedule,
  warmupCosineDecaySchedule,
  warmupExponentialDecaySchedule,
} from './transforms/schedules';
export type {
  BoundariesAndScales,
  CosineDecayOptions,
  CosineOnecycleOptions,
  ExponentialDecayOptions,
  LinearOnecycleOptions,
  PolynomialScheduleOptions,
  WarmupCosineDecayOptions,
  WarmupExponentialDecayOptions,
} from './transforms/schedules';

// Second-order pieces: curvature, estimators, damping, solvers, the assembler.
export { curvatureGram, fisherCurvature, ggnCurvature, hessianCurvature } from './transforms/curvature';
export type { Curvature, CurvatureOperator } from './transforms/curvature';
export {
  exactDiagEstimator,
  gaussNewtonBartlettDiag,
  gaussNewtonBartlettEstimator,
  hutchinsonDiag,
  hutchinsonEstimator,
} from './transforms/estimators';
export type { DiagonalEstimator, GaussNewtonBartlettOptions, HutchinsonOptions } from './transforms/estimators';
export { scaleByDiagonalCurvature } from './transforms/diagonal';
export type { DiagonalCurvatureOptions, ScaleByDiagonalCurvatureState } from './transforms/diagonal';
export { constantDamping, kirosDamping, trustRegionDamping } from './transforms/damping';
export type { Damping, DampingState, DampingUpdate, TrustRegionOptions } from './transforms/damping';
export {
  cgSolver,
  conjugateGradient,
  denseSolve,
  directSolver,
  fisherWoodburySolver,
  kroneckerSolver,
  rowSpaceSolver,
} from './transforms/solvers';
export type {
  CgOptions,
  CgResult,
  KroneckerBlocks,
  KroneckerFactors,
  KroneckerOptions,
  KroneckerPair,
  KroneckerState,
} from './transforms/solvers';
export { scaleByIgnd } from './transforms/ignd';
export type { ScaleByIgndOptions } from './transforms/ignd';
export { scaleBySecondOrder } from './transforms/secondOrder';
export { modelCoefficients } from './transforms/quadraticModel';
export type { AdaptiveCoefficients, ModelCoefficients } from './transforms/quadraticModel';
export type { DirectionSolver, ScaleBySecondOrderState, SecondOrderOptions, SolveProblem, SolveResult } from './transforms/secondOrder';
export { lbfgsTwoLoop, scaleByLbfgs, scaleBySqn } from './transforms/lbfgs';
export type { LbfgsHistory, ScaleByLbfgsOptions, ScaleByLbfgsState, ScaleBySqnOptions, ScaleBySqnState } from './transforms/lbfgs';
export { scaleByBacktrackingLinesearch, scaleByZoomLinesearch } from './transforms/linesearch';
export type {
  BacktrackingLinesearchOptions,
  BacktrackingLinesearchState,
  ZoomLinesearchOptions,
  ZoomLinesearchState,
} from './transforms/linesearch';

// First-order optimizers.
export { adagrad, adam, adamw, amsgrad, lion, nadam, noisySgd, rmsprop, sgd } from './chains/firstOrder';
export type { AdamwOptions, LionOptions, NoisySgdOptions, RmspropOptions, SgdOptions } from './chains/firstOrder';

// Second-order methods, their options and states.
export { adahessian, sophiaG, sophiaH } from './chains/diagonal';
export type { AdahessianOptions, DiagonalMethodState, SophiaOptions } from './chains/diagonal';
export { newtonCg, newtonDirect } from './chains/newton';
export type { CgMethodOptions, NewtonCgOptions, NewtonDirectOptions } from './chains/newton';
export { egn, ggnDirect, ignd, sgn } from './chains/gaussNewton';
export type { EgnOptions, GgnDirectOptions, IgndOptions, SgnOptions } from './chains/gaussNewton';
export { kfac, shampoo } from './chains/kronecker';
export type { KfacOptions, KfacState, KfacWithRestState, ShampooMethodOptions } from './chains/kronecker';
export { inverseRoot, scaleByShampoo } from './transforms/shampoo';
export type { InverseRootOptions, ShampooFactors, ShampooOptions, ShampooState } from './transforms/shampoo';
export { swmng } from './chains/naturalGradient';
export type { SwmngOptions } from './chains/naturalGradient';
export { sgdArmijo, sqn, stochasticArmijo } from './chains/quasiNewton';
export type { SgdArmijoOptions, SqnOptions } from './chains/quasiNewton';
export { lbfgs } from './chains/lbfgs';
export type { LbfgsOptions } from './chains/lbfgs';
export type {
  DampingOptions,
  GuardOptions,
  LamPolicy,
  MethodState,
  PostDirectionOptions,
  SecondOrderMethodOptions,
  SecondOrderMethodState,
} from './chains/common';

// The registry.
export { describe, listMethods, make } from './chains/registry';
export type { LossModel, MethodName, MethodOptions, MethodStates, ModelRoute, ObjectiveModel } from './chains/registry';
