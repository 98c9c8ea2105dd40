/**
 * The registry of somax's methods, as somax's `presets`: build a method by name, list them, and
 * describe each in one line (curvature, solver, damping, estimator).
 * @module
 */
import { HyperparameterError } from '../lib/errors';
import type { Objective } from '../lib/objective';
import { nearestName } from '../lib/options';
import type { GradientTransformation, LossFn } from '../lib/types';
import { adahessian, sophiaG, sophiaH } from './diagonal';
import type { AdahessianOptions, SophiaOptions } from './diagonal';
import { egn, ggnDirect, ignd, sgn } from './gaussNewton';
import type { EgnOptions, GgnDirectOptions, IgndOptions, SgnOptions } from './gaussNewton';
import { lbfgs } from './lbfgs';
import type { LbfgsOptions } from './lbfgs';
import { swmng } from './naturalGradient';
import type { SwmngOptions } from './naturalGradient';
import { newtonCg, newtonDirect } from './newton';
import type { NewtonCgOptions, NewtonDirectOptions } from './newton';
import { sgdArmijo, sqn } from './quasiNewton';
import type { SgdArmijoOptions, SqnOptions } from './quasiNewton';

/** What each method is built from: a loss (Hessian and gradient methods) or an objective (Gauss-Newton, Fisher). */
type Needs = 'lossFn' | 'objective';

/** The options `make` takes for each method: the method's own, and its model. */
export interface MethodOptions {
  adahessian: AdahessianOptions & { lossFn: LossFn<any> };
  sophiaH: SophiaOptions & { lossFn: LossFn<any> };
  sophiaG: SophiaOptions & { objective: Objective<any> };
  newtonCg: NewtonCgOptions & { lossFn: LossFn<any> };
  newtonDirect: NewtonDirectOptions & { lossFn: LossFn<any> };
  sgn: SgnOptions & { objective: Objective<any> };
  egn: EgnOptions & { objective: Objective<any> };
  ggnDirect: GgnDirectOptions & { objective: Objective<any> };
  sqn: SqnOptions & { lossFn: LossFn<any> };
  swmng: SwmngOptions & { objective: Objective<any> };
  ignd: IgndOptions & { objective: Objective<any> };
  sgdArmijo: SgdArmijoOptions & { lossFn: LossFn<any> };
  lbfgs: LbfgsOptions & { lossFn: LossFn<any> };
}

/** The name of a registered method. */
export type MethodName = keyof MethodOptions;

interface Entry<K extends MethodName> {
  readonly needs: Needs;
  readonly description: string;
  readonly build: (model: any, options: Omit<MethodOptions[K], Needs>) => GradientTransformation<any>;
}

const BUILDERS = { adahessian, sophiaH, sophiaG, newtonCg, newtonDirect, sgn, egn, ggnDirect, sqn, swmng, ignd, sgdArmijo, lbfgs };

const METHODS: { readonly [K in MethodName]: Entry<K> } = {
  adahessian: { needs: 'lossFn', description: 'curvature: Hessian · solver: diagonal (AdaHessian EMA of squared estimates) · damping: eps · estimator: Hutchinson', build: adahessian },
  sophiaH: { needs: 'lossFn', description: 'curvature: Hessian · solver: diagonal (Sophia EMA, clipped) · damping: γ, eps · estimator: Hutchinson every 10 steps', build: sophiaH },
  sophiaG: { needs: 'objective', description: 'curvature: GGN (cross-entropy) · solver: diagonal (Sophia EMA, clipped) · damping: γ, eps · estimator: Gauss-Newton-Bartlett every 10 steps', build: sophiaG },
  newtonCg: { needs: 'lossFn', description: 'curvature: Hessian · solver: CG (negative-curvature stop, warm start) · damping: constant or trust region · estimator: none', build: newtonCg },
  newtonDirect: { needs: 'lossFn', description: 'curvature: Hessian · solver: dense direct (tiny models) · damping: constant or trust region · estimator: none', build: newtonDirect },
  sgn: { needs: 'objective', description: 'curvature: GGN · solver: CG in parameter space · damping: constant or trust region · estimator: none', build: sgn },
  egn: { needs: 'objective', description: 'curvature: GGN · solver: row-space Cholesky (or CG) · damping: constant or trust region · estimator: none', build: egn },
  ggnDirect: { needs: 'objective', description: 'curvature: GGN · solver: dense direct (tiny models) · damping: constant or trust region · estimator: none', build: ggnDirect },
  sqn: { needs: 'lossFn', description: 'curvature: L-BFGS pairs from gradient differences on the (curvature) batch · solver: two-loop recursion · damping: none · estimator: none · optional stochastic Armijo', build: sqn },
  swmng: { needs: 'objective', description: 'curvature: empirical Fisher · solver: Woodbury in sample space · damping: constant or Kiros-adaptive · estimator: per-sample gradients', build: swmng },
  ignd: { needs: 'objective', description: 'curvature: per-sample Gauss-Newton (regression or classification) · solver: closed form in each sample\'s row space · damping: none · estimator: none · Adam-like moments', build: ignd },
  sgdArmijo: { needs: 'lossFn', description: 'curvature: none · solver: none (gradient) · damping: none · estimator: none · stochastic Armijo line search', build: sgdArmijo },
  lbfgs: { needs: 'lossFn', description: 'curvature: L-BFGS (secant pairs) · solver: two-loop recursion · damping: none · estimator: none · strong-Wolfe line search', build: lbfgs },
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
  return `${name}: ${entry(name).description}`;
}

/**
 * Builds a method by name: `make('egn', { objective, learningRate: 1, lam0: 0.1 })`,
 * `make('adahessian', { lossFn, learningRate: 0.15 })`. The options are the method's own (typed by
 * {@link MethodOptions}) and its model: `lossFn` or `objective` (the one the method does not need
 * may be given too, and is dropped). An unknown name, or an option the method does not know, is an
 * error naming it and the nearest known one; a missing model says which one the method needs.
 *
 * @example
 * const tx = make('egn', { objective: { predict, loss: 'softmaxCrossEntropy' }, lam0: 1 });
 * const tx2 = make('adahessian', { lossFn, learningRate: 0.1 });
 */
export function make<K extends MethodName>(name: K, options: MethodOptions[K]): ReturnType<(typeof BUILDERS)[K]> {
  const e = entry(name);
  if (options === null || typeof options !== 'object') throw new HyperparameterError(`make('${name}'): options must be an object with \`${e.needs}\``);
  // The model the method does not need may be given too (generic code passes both): it is dropped.
  const { lossFn, objective, ...rest } = options as unknown as Record<string, unknown>;
  const model = e.needs === 'lossFn' ? lossFn : objective;
  if (model === undefined) throw new HyperparameterError(`method '${name}' needs \`${e.needs}\``);
  return e.build(model, rest as Omit<MethodOptions[MethodName], Needs>) as ReturnType<(typeof BUILDERS)[K]>;
}
