/**
 * `race-mlp`: time to 95 % test accuracy on MNIST (the `mnist` package's digits, 8000 train /
 * 2000 test, shuffled by the seed) with an MLP 784-128-10, for the second-order methods against
 * `tf.train.adam` tuned over a learning-rate grid, from the same initialization on the same
 * batches; steps and wall-clock to the target as ratios to the tuned Adam's, median over 3 seeds.
 * Opt-in: `npm run bench -- race-mlp --backends wasm`.
 * @module
 */
import { adam, make } from '../index';
import { C, D, lossFn, mlpParams, objective, predict } from './mlp';
import { ACCURACY, CAP, loadMnistData, mnistTask, pickEntrants, raceTuned, somaxTrainer, tfAdamTrainer, tunedRaceResults } from './race';
import type { Entrant } from './race';
import type { Suite } from './harness';
import { tree } from '../index';

/**
 * Test accuracy to reach (`BENCH_RACE_MLP_TARGET` to change it): 95 %, which the tuned Adam reaches
 * in ~500 steps; at 93 % it took 97 steps (too short a race to say anything), 96 % it did not reach.
 */
const TARGET = Number(process.env.BENCH_RACE_MLP_TARGET ?? 0.95);
/** Accuracies on the way whose steps the rows also give. */
const MILESTONES = [0.9, 0.93];
const HIDDEN = 128;
const BATCH = 128;
/** The curvature batch (the first samples of the batch) unless an entrant says otherwise. */
const CURVATURE_BATCH = 32;
/** `tf.train.adam`'s learning rates: the one with the fewest median seconds to the target is the baseline. */
const GRID = [1e-3, 3e-3, 1e-2, 2e-2];
/** Seeds of the data shuffle and the initialization (`BENCH_RACE_SEEDS=0` for a quick look). */
const SEEDS = (process.env.BENCH_RACE_SEEDS ?? '0,1,2').split(',').map(Number);
/**
 * Entrants' caps in multiples of the tuned Adam's steps and seconds on the same seed: the
 * wall-clock cap is wider than the step cap, so that a method slower per step still shows how many
 * steps it needs.
 */
const ENTRANT_CAPS = { steps: CAP, seconds: 25 };
/** Where the chart of test accuracy against wall-clock (first seed) goes. */
const CHART = 'bench/results/race-mlp.svg';
/**
 * Untimed steps each entrant runs first (on the first seed): the baseline's code is warm from its
 * grid, and K-FAC's host inversion (every 40 steps) takes ~60 ms cold against ~25 ms warm.
 */
const WARMUP = 50;

/** The entrants, given the tuned Adam's learning rate (somax's adam runs at it); see the suite's notes for the sweeps. */
function entrants(adamLr: number): Record<string, Entrant> {
  const all: Record<string, Entrant> = {
    adam: { build: () => adam(adamLr, { eps: 1e-7 }), hyper: `lr ${adamLr} (the grid's winner), eps 1e-7 (tf.train.adam's ε)` },
    sgn: {
      build: () => make('sgn', { objective, lam0: 0.3, maxIterations: 3, directionMomentum: 0.5, learningRate: 0.5 }),
      hyper: 'λ 0.3, 3 CG, momentum 0.5, lr 0.5',
      curvatureSize: BATCH,
    },
    egn: { build: () => make('egn', { objective, lam0: 1 }), hyper: 'λ 1' },
    swmng: {
      build: () => make('swmng', { objective, lam0: 0.3, learningRate: 1, directionMomentum: 0.5 }),
      hyper: 'λ 0.3, lr 1, momentum 0.5',
      curvatureSize: BATCH,
    },
    kfac: {
      build: () =>
        make('kfac', {
          objective,
          learningRate: 1,
          lam0: 0.3,
          statisticsEvery: 20,
          inverseEvery: 40,
          directionMomentum: 0.5,
          labels: 'empirical',
        }),
      hyper: "lr 1, λ 0.3, momentum 0.5, the batch's labels (empirical Fisher), factors every 20 steps, inverses every 40",
    },
    shampoo: { build: () => make('shampoo', { lossFn, learningRate: 1e-2, inverseEvery: 50 }), hyper: 'lr 0.01, roots every 50' },
    newtonCg: {
      build: () => make('newtonCg', { lossFn, lam0: 1, maxIterations: 10, lamPolicy: 'trustRegion', lamOptions: { minLam: 0.1 } }),
      hyper: 'λ0 1 trust region (min 0.1), 10 CG',
    },
    sophiaG: { build: () => make('sophiaG', { objective, learningRate: 1e-2, weightDecay: 0 }), hyper: 'lr 0.01, wd 0' },
  };
  return pickEntrants(all);
}

/** An entrant's hyperparameters in words. */
const what = (e: Entrant): string => `${e.hyper}${e.curvatureSize ? `, curvature batch ${e.curvatureSize}` : ''}`;

/** The race-mlp suite (see the module comment and `notes`). */
export const raceMlp: Suite = {
  name: 'race-mlp',
  backends: ['wasm'],
  optIn: true,
  description:
    `time to ${100 * TARGET} % test accuracy on MNIST (784-${HIDDEN}-10), second-order methods vs tf.train.adam tuned over ` +
    `lr ${GRID.join(', ')}, median of ${SEEDS.length} seeds`,
  notes:
    `MNIST from the mnist package (8000 train / 2000 test digits, shuffled by the seed), MLP 784-${HIDDEN}-10 (tanh, softmax ` +
    `cross-entropy), batch ${BATCH}, curvature batch ${CURVATURE_BATCH} (the first samples of the batch) unless the row says otherwise; ` +
    `the same initialization (seeded) and batches for every method; test accuracy on the 2000 test digits read after every step (not ` +
    `timed), batches cut before the timer. The baseline is tf.train.adam tuned over lr ${GRID.join(', ')}: every rate runs on every ` +
    `seed and the one with the fewest median seconds to ${100 * TARGET} % wins (the grid row); somax's adam runs at the winning ` +
    `rate with tf.train.adam's ε 1e-7 (ours defaults to Optax's 1e-8, which on seed 1 never reached the target). ` +
    `Each method gets at most ${ENTRANT_CAPS.steps}× the winner's steps and ${ENTRANT_CAPS.seconds}× its wall-clock on the ` +
    `same seed. Rows: median over seeds ${SEEDS.join(', ')} of steps and seconds, and of their ratios to the tuned Adam's. The ` +
    `chart ${CHART} plots test accuracy against training seconds on the first seed. Sweeps on seed 0 (steps to 93 %, ≤ 400 ` +
    `steps; tf.train.adam lr 0.01 took 97): ` +
    `kfac (curvature batch 32 unless said) lr 0.1 λ 1e-3 no momentum: not reached (best 84.5 %); lr 0.1 λ 0.01 momentum 0.9: not ` +
    `reached (84.1 %); lr 0.3 λ 0.01: not reached (89.8 %); lr 0.3 λ 0.01 on the whole batch: not reached (90.5 %); lr 0.3 λ 0.1 ` +
    `inverse every 10: 135 steps (kept); lr 0.5 λ 0.1 inverse every 20: 184 steps; about 65 ms a step (13× Adam's). shampoo lr 1e-3 ` +
    `roots every 20: 326 steps; lr 3e-3 every 20: 139; lr 3e-3 every 50: 138; lr 0.01 every 50: 86 (kept); 240–340 ms a step. ` +
    `sgn, egn, swmng, newtonCg and sophiaG keep the macro suite's settings (no sweep at this size). Those per-step costs were ` +
    `before K-FAC's and Shampoo's statistics avoided wasm's slow transposed matMul (Shampoo's MLP step 72 → 22 ms, K-FAC's ` +
    `22 → 15 ms in this race). At 93 % the tuned Adam needs only 97 steps; the target is 95 % since (seed 0: Adam lr 0.01 510 ` +
    `steps, 2.3 s; lr 1e-3 and 3e-3 did not reach it; shampoo 284 steps (0.56×) at 23.6 ms a step (2.9× the time), kfac 457 ` +
    `(0.90×, 3.2×), sgn 481 (0.94×, 5.0×)); 96 % no rate of the grid reached. K-FAC sweeps at 95 % (steps, seeds 0/1/2): lr 0.3 ` +
    `λ 0.1 inverse every 10: 457 on seed 0; with momentum 0.5: 325; lr 1 λ 0.3 momentum 0.5 inverse every 5: 210/373/238, every ` +
    `10: 271/289/309; λ 1 worse; blocks of 64 or 128 did not reach 95 % (91.5 %: the pixel blocks lose their neighbours); ` +
    `unblocked (785): 274/—/306; factors every 5 steps and inverses every 20: 212 on seed 0 (10.4 ms a step), every 5 and 40: ` +
    `178/346/214, every 10 and 40: 199/348/214. Sweeps of 2026-12-05 (steps, seeds 0/1/2): factor decay 0.9 207/316/241, 0.8 ` +
    `214/289/276; momentum 0.6 293/—/245; λ 0.2 not reached; lr 1.3 λ 0.4 234/—/240; the batch's labels (empirical Fisher) ` +
    `211/175/238, with factors every 10 steps 211/174/222, every 20 174/174/180 (kept: 1.2 s on each seed in the sweep), every ` +
    `40 210/221/181, every 20 with inverses every 60 199/229/180, decay 0.8 174/174/181, λ 0.2 or lr 1.2 not reached. tf.train.adam ` +
    `outside the grid: lr 5e-3 reached 95 % on seed 2 only (558 steps), 2e-2 and 3e-2 on no seed in 1200 steps (best 94.8 % and ` +
    `93.8 %); 2e-2 is in the grid so that the winner is bracketed. ` +
    `Where a K-FAC step goes (seed 0, factors every 5, inverses every 40, 178 steps): plain steps 6.8 ms (Adam's 4.4: the ` +
    `preconditioning's 785×197×128 and 785×128×128 products ~2.3 ms at the wasm matMul's 13–17 GMAC/s), factor steps 8.8 ms, ` +
    `inversion steps 29 ms (60 ms before the factors' host copy stopped using Float64Array.from(x, fn)); amortized over 160 ` +
    `steps in one process 1.87× tf.train.adam's step (plain 1.66×, factors +0.13×, inversions +0.08×).`,
  async run(backend) {
    const tuned = await raceTuned(
      SEEDS,
      GRID,
      entrants,
      (seed) => {
        const data = loadMnistData(seed);
        const init = () => mlpParams(100 + 2 * seed, HIDDEN);
        return {
          task: mnistTask(data, { batch: BATCH, target: TARGET, logits: predict }),
          baseline: (lr) => tfAdamTrainer(init(), lossFn, lr),
          trainer: (e) => somaxTrainer(init(), e, lossFn, CURVATURE_BATCH),
          dispose: () => tree.dispose(data as any),
        };
      },
      { steps: 3000, seconds: 180 },
      ENTRANT_CAPS,
      WARMUP,
    );
    const label = `MNIST ${D}-${HIDDEN}-${C} to ${100 * TARGET} % test acc`;
    const described = entrants(tuned.learningRate);
    return tunedRaceResults(label, CHART, tuned, {
      hyperOf: (m) => (described[m] ? what(described[m]) : undefined),
      backend,
      caps: ENTRANT_CAPS,
      firstSeed: SEEDS[0],
      score: ACCURACY,
      milestones: MILESTONES,
    });
  },
};
