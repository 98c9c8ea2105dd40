/**
 * The methods of the MNIST demo with their tuned hyperparameters, for the 784-32-10 tanh MLP of
 * `mnistProblem.ts` at gradient batch 128. Tuned on the demo's first 100–300 steps (test accuracy
 * every 5 steps, target 90 %); what each choice fixed is noted beside it.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { adam, make, sgd } from '../index';
import { lossFn, objective } from './mnistProblem';
import type { MethodBuilder } from './training';

/** A demo method: how to build it and the size of its curvature batch (the first samples of each batch). */
export interface DemoMethod {
  readonly build: MethodBuilder;
  /** Samples of the curvature batch; the whole batch when absent. */
  readonly curvatureBatch?: number;
  /** The chosen hyperparameters in one line (for `--help` and the docs). */
  readonly note: string;
}

/** Adam's learning rate, the same for tfjs's optimizer and somax's (1e-2 reached 90 % first among 3e-3, 5e-3, 1e-2, 2e-2). */
const ADAM_LR = 1e-2;

/** The demo's methods, in display order. */
export const MNIST_METHODS: Readonly<Record<string, DemoMethod>> = {
  tfAdam: { build: () => ({ tfOptimizer: tf.train.adam(ADAM_LR) }), note: `tf.train.adam(${ADAM_LR}), the baseline` },
  adam: { build: () => adam(ADAM_LR), note: `adam(${ADAM_LR})` },
  // 0.1 reached 90 % at 75 steps, 0.2 at 50.
  sgd: { build: () => sgd(0.2, { momentum: 0.9 }), note: 'sgd(0.2, momentum 0.9)' },
  // Curvature on the whole batch: with a 32-sample curvature batch, pixels that are blank in those 32
  // digits but not in the 128 get a zero Hessian estimate and a step m/ε (ε = 1e-8), and AdaHessian
  // stalls at 75 % whatever the learning rate (0.05, 0.15, 0.3).
  adahessian: { build: () => make('adahessian', { lossFn, learningRate: 0.1 }), note: 'lr 0.1, curvature on the whole batch' },
  // Sophia's clipped update is sign-like: lr 1e-2 plateaus at 87 %, 3e-2 at 78 %.
  sophiaH: {
    build: () => make('sophiaH', { lossFn, learningRate: 3e-3, weightDecay: 0 }),
    curvatureBatch: 32,
    note: 'lr 3e-3, no weight decay, Hessian diagonal every 10 steps',
  },
  sophiaG: {
    build: () => make('sophiaG', { objective, learningRate: 3e-3, weightDecay: 0 }),
    curvatureBatch: 32,
    note: 'lr 3e-3, no weight decay, GNB diagonal every 10 steps',
  },
  // The Hessian is indefinite: λ = 1 diverges (loss 9), λ = 3 reaches 89 % then jumps to 54 %;
  // λ = 3 with the direction clipped to norm 2 is stable. λ = 10 is gradient descent (lr 0.1).
  newtonCg: {
    build: () => make('newtonCg', { lossFn, lam0: 3, maxIterations: 5, clipNorm: 2 }),
    curvatureBatch: 32,
    note: 'λ = 3, 5 CG iterations, direction clipped to norm 2',
  },
  // λ = 1 behaves like SGD at lr 1 (most GGN eigenvalues ≪ 1: 90 % at 55–60 steps); λ = 0.3 needs
  // the whole batch for curvature (λ = 0.1 on 32 samples diverges) and reaches 90 % at 40 steps,
  // 35 with momentum 0.5 at half the step (λ = 0.2, 0.5 or momentum 0.7 are no better).
  sgn: {
    build: () => make('sgn', { objective, lam0: 0.3, maxIterations: 10, directionMomentum: 0.5, learningRate: 0.5 }),
    note: 'λ = 0.3, 10 CG iterations, momentum 0.5, lr 0.5, curvature on the whole batch',
  },
  // The row-space system is B·C × B·C: 8 samples (80 rows). 32 samples (320 rows, Gram by
  // mlpObjective's hook) also took 60 steps to 90 %, at 4× the time per step (float64 Cholesky).
  // λ = 0.3 on 8 samples diverges (outside their row space the step is g / λ).
  egn: { build: () => make('egn', { objective, lam0: 1 }), curvatureBatch: 8, note: 'λ = 1, Cholesky on 80 rows' },
  // Bench race-mlp's settings (784-128-10) with inverses every 20: 40 steps to 90 %, as with factors
  // every 2 steps; inverses every 40 took 45 steps.
  kfac: {
    build: () => make('kfac', { objective, learningRate: 1, lam0: 0.3, statisticsEvery: 5, inverseEvery: 20, directionMomentum: 0.5 }),
    curvatureBatch: 32,
    note: 'lr 1, λ = 0.3, momentum 0.5, factors every 5 steps, inverses every 20',
  },
  // lr 1e-2 reached 90 % at 65 steps, 3e-3 at 95.
  shampoo: { build: () => make('shampoo', { lossFn, learningRate: 1e-2, inverseEvery: 50 }), note: 'lr 0.01, roots every 50' },
  // A fixed step of 0.1 beat 0.2 and the Armijo search capped at 0.5.
  sqn: { build: () => make('sqn', { lossFn, learningRate: 0.1 }), curvatureBatch: 32, note: 'lr 0.1, history 10' },
  // 16 per-sample gradients reach 90 % like 32 at half the cost; lr 1 beat 0.5. (λ 0.1, lr 2 on the
  // whole batch, best in the bench's race to 88 %, took 65 steps here at twice the time per step.)
  swmng: { build: () => make('swmng', { objective, lam0: 1, learningRate: 1 }), curvatureBatch: 16, note: 'λ = 1, lr 1' },
};
