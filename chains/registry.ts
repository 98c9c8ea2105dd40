/**
 * The registry of somax's methods, as somax's `presets`: build a method by name, list them, and
 * describe each in one line (curvature, solver, damping, estimator).
 * @module
 */
import { HyperparameterError } from '../lib/errors';
import type { Objective } from '../lib/objective';
import { objectiveLoss } from '../lib/objective';
import { nearestName } from '../lib/options';
import { layersObjective, withFitBatch } from '../models/layers';
import type { FitBatchOptions, LayersModelLike } from '../models/layers';
import type { GradientTransformation, LossFn, StateOf } from '../lib/types';
import type { SecondOrderMethodState } from './common';
import { adahessian, sophiaG, sophiaH } from './diagonal';
import type { AdahessianOptions, DiagonalMethodState, SophiaOptions } from './diagonal';
import { egn, ggnDirect, ignd, sgn } from './gaussNewton';
import type { EgnOptions, GgnDirectOptions, IgndOptions, SgnOptions } from './gaussNewton';
import { lbfgs } from './lbfgs';
import type { LbfgsOptions } from './lbfgs';
import { kfac, shampoo } from './kronecker';
import type { KfacOptions, KfacState, ShampooMethodOptions } from './kronecker';
import { swmng } from './naturalGradient';
import type { SwmngOptions } from './naturalGradient';
import { newtonCg, newtonDirect } from './newton';
import type { NewtonCgOptions, NewtonDirectOptions } from './newton';
import { sgdArmijo, sqn } from './quasiNewton';
import type { SgdArmijoOptions, SqnOptions } from './quasiNewton';

/** What each method is built from: a loss (Hessian and gradient methods) or an objective (Gauss-Newton, Fisher). */
type Needs = 'lossFn' | 'objective';

/** The model of a method built on the loss (the Hessian and gradient methods). */
export interface LossModel {
  /** The loss `lossFn(params, batch) → tf.Scalar`. */
  lossFn: LossFn<any>;
}

/** The model of a Gauss-Newton or Fisher method: predictions and their output loss. */
export interface ObjectiveModel {
  /** The model and its output loss (`{ predict, loss }`, or `mlpObjective(...)`). */
  objective: Objective<any>;
}

/**
 * A compiled tfjs-layers model, for any method: the method takes its loss or its objective from
 * the model (see `layersObjective`) and, inside `model.fit`, the batch fit trains on.
 */
export interface ModelRoute extends FitBatchOptions {
  /** The tfjs-layers model (Sequential or functional, one output), compiled before its first step. */
  model: LayersModelLike;
}

/** The options `make` takes for each method: the method's own, and its model. */
export interface MethodOptions {
  /** `adahessian`'s options and its loss. */
  adahessian: AdahessianOptions & (LossModel | ModelRoute);
  /** `sophiaH`'s options and its loss. */
  sophiaH: SophiaOptions & (LossModel | ModelRoute);
  /** `sophiaG`'s options and its objective. */
  sophiaG: SophiaOptions & (ObjectiveModel | ModelRoute);
  /** `newtonCg`'s options and its loss. */
  newtonCg: NewtonCgOptions & (LossModel | ModelRoute);
  /** `newtonDirect`'s options and its loss. */
  newtonDirect: NewtonDirectOptions & (LossModel | ModelRoute);
  /** `sgn`'s options and its objective. */
  sgn: SgnOptions & (ObjectiveModel | ModelRoute);
  /** `egn`'s options and its objective. */
  egn: EgnOptions & (ObjectiveModel | ModelRoute);
  /** `ggnDirect`'s options and its objective. */
  ggnDirect: GgnDirectOptions & (ObjectiveModel | ModelRoute);
  /** `sqn`'s options and its loss. */
  sqn: SqnOptions & (LossModel | ModelRoute);
  /** `swmng`'s options and its objective. */
  swmng: SwmngOptions & (ObjectiveModel | ModelRoute);
  /** `ignd`'s options and its objective. */
  ignd: IgndOptions & (ObjectiveModel | ModelRoute);
  /** `kfac`'s options and its objective. */
  kfac: KfacOptions & (ObjectiveModel | ModelRoute);
  /** `shampoo`'s options (it needs only gradients; a loss or a model is accepted and unused). */
  shampoo: ShampooMethodOptions & (LossModel | ModelRoute);
  /** `sgdArmijo`'s options and its loss. */
  sgdArmijo: SgdArmijoOptions & (LossModel | ModelRoute);
  /** `lbfgs`'s options and its loss. */
  lbfgs: LbfgsOptions & (LossModel | ModelRoute);
}

/** The state of each method's transformation. */
export interface MethodStates {
  /** The state of `adahessian`. */
  adahessian: DiagonalMethodState;
  /** The state of `sophiaH`. */
  sophiaH: DiagonalMethodState;
  /** The state of `sophiaG`. */
  sophiaG: DiagonalMethodState;
  /** The state of `newtonCg`. */
  newtonCg: SecondOrderMethodState;
  /** The state of `newtonDirect`. */
  newtonDirect: SecondOrderMethodState;
  /** The state of `sgn`. */
  sgn: SecondOrderMethodState;
  /** The state of `egn`. */
  egn: SecondOrderMethodState;
  /** The state of `ggnDirect`. */
  ggnDirect: SecondOrderMethodState;
  /** The state of `sqn`. */
  sqn: StateOf<ReturnType<typeof sqn>>;
  /** The state of `swmng`. */
  swmng: SecondOrderMethodState;
  /** The state of `ignd`. */
  ignd: StateOf<ReturnType<typeof ignd>>;
  /** The state of `kfac`. */
  kfac: KfacState;
  /** The state of `shampoo`. */
  shampoo: StateOf<ReturnType<typeof shampoo>>;
  /** The state of `sgdArmijo`. */
  sgdArmijo: StateOf<ReturnType<typeof sgdArmijo>>;
  /** The state of `lbfgs`. */
  lbfgs: StateOf<ReturnType<typeof lbfgs>>;
}

/** The name of a registered method. */
export type MethodName = keyof MethodOptions;

interface Entry<K extends MethodName> {
  readonly needs: Needs;
  /** What the curvature is. */
  readonly curvature: string;
  /** How the direction is solved. */
  readonly solver: string;
  /** How it is damped. */
  readonly damping: string;
  /** How the curvature is estimated. */
  readonly estimator: string;
  /** Anything else worth a word. */
  readonly notes?: string;
  readonly build: (model: any, options: Omit<MethodOptions[K], Needs>) => GradientTransformation<any>;
}

const METHODS: { readonly [K in MethodName]: Entry<K> } = {
  adahessian: {
    needs: 'lossFn',
    curvature: 'Hessian',
    solver: 'diagonal (AdaHessian EMA of squared estimates)',
    damping: 'eps',
    estimator: 'Hutchinson',
    build: adahessian,
  },
  sophiaH: {
    needs: 'lossFn',
    curvature: 'Hessian',
    solver: 'diagonal (Sophia EMA, clipped)',
    damping: 'γ, eps',
    estimator: 'Hutchinson every 10 steps',
    build: sophiaH,
  },
  sophiaG: {
    needs: 'objective',
    curvature: 'GGN (cross-entropy)',
    solver: 'diagonal (Sophia EMA, clipped)',
    damping: 'γ, eps',
    estimator: 'Gauss-Newton-Bartlett every 10 steps',
    build: sophiaG,
  },
  newtonCg: {
    needs: 'lossFn',
    curvature: 'Hessian',
    solver: 'CG (negative-curvature stop, warm start)',
    damping: 'constant, trust region or Kiros',
    estimator: 'none',
    build: newtonCg,
  },
  newtonDirect: {
    needs: 'lossFn',
    curvature: 'Hessian',
    solver: 'dense direct (tiny models)',
    damping: 'constant, trust region or Kiros',
    estimator: 'none',
    build: newtonDirect,
  },
  sgn: {
    needs: 'objective',
    curvature: 'GGN',
    solver: 'CG in parameter space',
    damping: 'constant, trust region or Kiros',
    estimator: 'none',
    build: sgn,
  },
  egn: {
    needs: 'objective',
    curvature: 'GGN',
    solver: 'row-space Cholesky (or CG)',
    damping: 'constant, trust region or Kiros',
    estimator: 'none',
    build: egn,
  },
  ggnDirect: {
    needs: 'objective',
    curvature: 'GGN',
    solver: 'dense direct (tiny models)',
    damping: 'constant, trust region or Kiros',
    estimator: 'none',
    build: ggnDirect,
  },
  sqn: {
    needs: 'lossFn',
    curvature: 'L-BFGS pairs from gradient differences on the (curvature) batch',
    solver: 'two-loop recursion',
    damping: 'none',
    estimator: 'none',
    notes: 'optional stochastic Armijo',
    build: sqn,
  },
  swmng: {
    needs: 'objective',
    curvature: 'empirical Fisher',
    solver: 'Woodbury in sample space',
    damping: 'constant, Kiros or trust region',
    estimator: 'per-sample gradients',
    build: swmng,
  },
  kfac: {
    needs: 'objective',
    curvature: 'Kronecker-factored Fisher (A ⊗ G per dense or conv layer, sampled labels)',
    solver: 'factor inverses in float64 blocks, refreshed every k steps',
    damping: 'factored Tikhonov; constant, Kiros or trust region',
    estimator: 'EMA of the factors',
    build: kfac,
  },
  shampoo: {
    needs: 'lossFn',
    curvature: 'Kronecker-factored gradient statistics L = E[GGᵀ], R = E[GᵀG] per weight matrix',
    solver: 'L^{-1/4} M R^{-1/4} by coupled Newton roots on the device, refreshed every k steps',
    damping: 'ridge relative to the statistics',
    estimator: 'EMA of the statistics',
    notes: "grafted onto Adam's step norm; needs only gradients",
    build: (_lossFn, options) => shampoo(options),
  },
  ignd: {
    needs: 'objective',
    curvature: 'per-sample Gauss-Newton (regression or classification)',
    solver: "closed form in each sample's row space",
    damping: 'none',
    estimator: 'none',
    notes: 'Adam-like moments',
    build: ignd,
  },
  sgdArmijo: {
    needs: 'lossFn',
    curvature: 'none',
    solver: 'none (gradient)',
    damping: 'none',
    estimator: 'none',
    notes: 'stochastic Armijo line search',
    build: sgdArmijo,
  },
  lbfgs: {
    needs: 'lossFn',
    curvature: 'L-BFGS (secant pairs)',
    solver: 'two-loop recursion',
    damping: 'none',
    estimator: 'none',
    notes: 'strong-Wolfe line search',
    build: lbfgs,
  },
};

function entry(name: string): Entry<MethodName> {
  if (!Object.prototype.hasOwnProperty.call(METHODS, name)) {
    const near = nearestName(name, listMethods());
    const hint = near === undefined ? `known methods: ${listMethods().join(', ')}` : `did you mean '${near}'?`;
    throw new HyperparameterError(`unknown method '${name}'; ${hint}`);
  }
  return METHODS[name as MethodName] as Entry<MethodName>;
}

/**
 * The names of the registered methods.
 *
 * @example
 * listMethods()   // ['adahessian', 'sophiaH', 'sophiaG', 'newtonCg', ...]
 */
export function listMethods(): MethodName[] {
  return Object.keys(METHODS) as MethodName[];
}

/**
 * One line on a method: curvature, solver, damping, estimator.
 *
 * @example
 * console.log(listMethods().map((name) => describe(name)).join('\n'));
 */
export function describe(name: string): string {
  const e = entry(name);
  const line = `curvature: ${e.curvature} · solver: ${e.solver} · damping: ${e.damping} · estimator: ${e.estimator}`;
  return `${name}: ${line}${e.notes === undefined ? '' : ` · ${e.notes}`}`;
}

/**
 * Builds a method by name: `make('egn', { objective, learningRate: 1, lam0: 0.1 })`,
 * `make('adahessian', { lossFn, learningRate: 0.15 })`. The options are the method's own (typed by
 * {@link MethodOptions}) and its model: `lossFn` or `objective` (the one the method does not need
 * may be given too, and is dropped), or a tfjs-layers `model` for every method — the method then
 * takes its loss or objective from the model and the loss it is compiled with, and, through
 * `asTfOptimizer`, trains inside `model.fit` on fit's batches (`curvatureSamples`: the curvature on
 * the first k samples of each). An unknown name, or an option the method does not know, is an
 * error naming it and the nearest known one; a missing model says which one the method needs.
 *
 * @example
 * const tx = make('egn', { objective: { predict, loss: 'softmaxCrossEntropy' }, lam0: 1 });
 * const tx2 = make('adahessian', { lossFn, learningRate: 0.1 });
 * model.compile({ optimizer: asTfOptimizer(make('egn', { model, lam0: 1 })), loss: 'categoricalCrossentropy' });
 * await model.fit(x, y, { epochs: 5, batchSize: 64, validationSplit: 0.1 });
 */
export function make<K extends MethodName>(name: K, options: MethodOptions[K]): GradientTransformation<MethodStates[K]> {
  const e = entry(name);
  if (options === null || typeof options !== 'object') {
    throw new HyperparameterError(`make('${name}'): options must be an object with \`${e.needs}\` or \`model\``);
  }
  // The model the method does not need may be given too (generic code passes both): it is dropped.
  const { lossFn, objective, model, curvatureSamples, ...rest } = options as unknown as Record<string, unknown>;
  const own = rest as Omit<MethodOptions[MethodName], Needs>;
  if (model !== undefined) {
    if (lossFn !== undefined || objective !== undefined)
      throw new HyperparameterError(`make('${name}'): give \`model\` or \`${e.needs}\`, not both`);
    const fromModel = layersObjective(model as LayersModelLike);
    const tx = e.build(e.needs === 'lossFn' ? objectiveLoss(fromModel) : fromModel, own);
    return withFitBatch(tx, fromModel, { curvatureSamples: curvatureSamples as number | undefined }) as GradientTransformation<
      MethodStates[K]
    >;
  }
  if (curvatureSamples !== undefined) throw new HyperparameterError(`make('${name}'): \`curvatureSamples\` goes with \`model\``);
  const chosen = e.needs === 'lossFn' ? lossFn : objective;
  if (chosen === undefined) throw new HyperparameterError(`method '${name}' needs \`${e.needs}\` (or a tfjs-layers \`model\`)`);
  return e.build(chosen, own) as GradientTransformation<MethodStates[K]>;
}
