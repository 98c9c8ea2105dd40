/**
 * The registry of somax's methods, as somax's `presets`: build a method by name, list them, and
 * describe each in one line (curvature, solver, damping, estimator).
 * @module
 */
import { HyperparameterError } from '../lib/errors';
import type { Objective } from '../lib/objective';
import type { GradientTransformation, LossFn } from '../lib/types';
import { adahessian, sophiaG, sophiaH } from './diagonal';
import { egn, ggnDirect, ignd, sgn } from './gaussNewton';
import { swmng } from './naturalGradient';
import { sgdArmijo, sqn } from './quasiNewton';
import { lbfgs } from './lbfgs';
import { newtonCg, newtonDirect } from './newton';

/** What `make` needs besides the method's own options: the model, as a loss or an objective. */
export type MethodModel =
  | {
      /** The loss `lossFn(params, batch)`, for the methods on the Hessian or the gradient alone. */
      lossFn: LossFn<any>;
      /** Not with `lossFn`. */
      objective?: never;
    }
  | {
      /** The model and its output loss, for the Gauss-Newton and Fisher methods. */
      objective: Objective<any>;
      /** Not with `objective`. */
      lossFn?: never;
    };

interface Entry {
  readonly needs: 'lossFn' | 'objective';
  readonly description: string;
  readonly build: (model: any, options: any) => GradientTransformation<any>;
}

const METHODS: Readonly<Record<string, Entry>> = {
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

function entry(name: string): Entry {
  const e = METHODS[name];
  if (e === undefined) {
    throw new HyperparameterError(`unknown method '${name}'; known methods: ${Object.keys(METHODS).join(', ')}`);
  }
  return e;
}

/**
 * The names of the registered methods.
 *
 * @example
 * listMethods()   // ['adahessian', 'sophiaH', 'sophiaG', 'newtonCg', ...]
 */
export function listMethods(): string[] {
  return Object.keys(METHODS);
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
 * `make('adahessian', { lossFn, learningRate: 0.15 })`. Unknown names raise an error listing the
 * known ones; a missing model says which one the method needs.
 *
 * @example
 * const tx = make('egn', { objective: { predict, loss: 'softmaxCrossEntropy' }, lam0: 1 });
 * const tx2 = make('adahessian', { lossFn, learningRate: 0.1 });
 */
export function make(name: string, { lossFn, objective, ...options }: MethodModel & Record<string, unknown>): GradientTransformation<any> {
  const e = entry(name);
  const model = e.needs === 'lossFn' ? lossFn : objective;
  if (model === undefined) throw new HyperparameterError(`method '${name}' needs \`${e.needs}\``);
  return e.build(model, options);
}
