/**
 * `race-cnn`: time to a target test accuracy on MNIST with the CNN of the `cnn` suite (conv 3×3
 * → max-pool 2 → conv 3×3 → max-pool 2 → flatten → dense 10 softmax, a compiled tfjs-layers
 * Sequential model), trained by `model.trainOnBatch`: the baseline compiled with `tf.train.adam`
 * tuned over a learning-rate grid, the entrants through the model route
 * (`asTfOptimizer(make(name, { model, ... }))`), every model built with the same initial weights
 * and fed the same batches; steps and wall-clock to the target as ratios to the tuned Adam's,
 * median over 3 seeds. Opt-in: `npm run bench -- race-cnn --backends wasm`.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { adam, asTfOptimizer, layersObjective, make, tree } from '../index';
import type { GradientTransformation, Tree } from '../index';
import { compiledCnn } from './cnn';
import { ACCURACY, CAP, loadMnistData, mnistTask, pickEntrants, raceTuned, tunedRaceResults } from './race';
import type { Trainer } from './race';
import type { Suite } from './harness';

/** Test accuracy to reach: about what the tuned Adam reaches in 300–1000 steps (see the notes). */
const TARGET = Number(process.env.BENCH_RACE_CNN_TARGET ?? 0.96);
/** Accuracies on the way whose steps the rows also give: does a method's lead hold before the target's plateau? */
const MILESTONES = [0.9, 0.93, 0.95];
/** Image side: the 28 × 28 digits average-pooled 2 × 2 (see the notes for why). */
const SIDE = 14;
/** Filters of the two conv layers. */
const FILTERS = [8, 16];
const BATCH = 64;
/** `tf.train.adam`'s learning rates: the one with the fewest median seconds to the target is the baseline. */
const GRID = [1e-2, 3e-2, 1e-1];
/** Seeds of the data shuffle and the initialization (`BENCH_RACE_SEEDS=0` for a quick look). */
const SEEDS = (process.env.BENCH_RACE_SEEDS ?? '0,1,2').split(',').map(Number);
/**
 * Entrants' caps in multiples of the tuned Adam's steps and seconds on the same seed: the
 * wall-clock cap is wider than the step cap, so that a method slower per step still shows how many
 * steps it needs.
 */
const ENTRANT_CAPS = { steps: CAP, seconds: 8 };
/** Where the chart of test accuracy against wall-clock (first seed) goes. */
const CHART = 'bench/results/race-cnn.svg';
/** Untimed steps each entrant runs first (on the first seed), as the baseline's code is warm from its grid. */
const WARMUP = 20;

/** A method of the CNN race: its transformation built from the model (the model route), its hyperparameters in words. */
interface ModelEntrant {
  readonly build: (model: tf.Sequential) => GradientTransformation<any>;
  readonly hyper: string;
}

/** The entrants, given the tuned Adam's learning rate (somax's adam runs at it); see the suite's notes for the sweeps. */
function entrants(adamLr: number): Record<string, ModelEntrant> {
  const all: Record<string, ModelEntrant> = {
    adam: { build: () => adam(adamLr, { eps: 1e-7 }), hyper: `lr ${adamLr} (the grid's winner), eps 1e-7 (tf.train.adam's ε)` },
    kfac: {
      build: (model) =>
        make('kfac', {
          model,
          learningRate: 0.1,
          lam0: 0.1,
          directionMomentum: 0.5,
          statisticsEvery: 10,
          inverseEvery: 10,
          labels: 'empirical',
        }),
      hyper: "lr 0.1, λ 0.1, momentum 0.5, the batch's labels, factors every 10 steps on the whole batch, inverses every 10",
    },
    shampoo: {
      build: (model) => make('shampoo', { model, learningRate: 1e-2, inverseEvery: 50 }),
      hyper: "lr 0.01, roots every 50 (race-mlp's)",
    },
    egn: { build: (model) => make('egn', { model, lam0: 1, curvatureSamples: 32 }), hyper: 'λ 1, curvature on 32 samples' },
    sgn: {
      build: (model) =>
        make('sgn', { model, lam0: 0.3, maxIterations: 3, directionMomentum: 0.5, learningRate: 0.5, curvatureSamples: 32 }),
      hyper: 'λ 0.3, 3 CG, momentum 0.5, lr 0.5, curvature on 32 samples',
    },
  };
  return pickEntrants(all);
}

/** The CNN of seed `seed` (its initial weights depend on the seed only). */
const cnnOf = (seed: number): tf.Sequential => compiledCnn(SIDE, FILTERS, 100 + 2 * seed);

/**
 * A trainer stepping `model` with `optimizer` by `model.trainOnBatch` (which reads the loss back);
 * its params are the model's weights, in order. Disposes both.
 */
function layersTrainer(model: tf.Sequential, optimizer: tf.Optimizer): Trainer {
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  return {
    curvatureSize: Infinity, // the model route cuts its own curvature batch (curvatureSamples)
    params: () => model.trainableWeights.map((w) => w.read()),
    async step({ batch }) {
      await model.trainOnBatch(batch.x, batch.y);
    },
    dispose() {
      optimizer.dispose();
      model.dispose();
    },
  };
}

/** The logits of a weight list (in a model's order) on `x`, by the forward pass of `scorer` (same architecture). */
function logitsBy(scorer: tf.Sequential): (params: Tree, x: tf.Tensor) => tf.Tensor {
  const objective = layersObjective(scorer);
  const names = scorer.trainableWeights.map((w) => (w.read() as tf.Variable).name);
  return (params, x) => objective.predict(Object.fromEntries((params as tf.Tensor[]).map((p, i) => [names[i], p])), x);
}

/** The race-cnn suite (see the module comment and `notes`). */
export const raceCnn: Suite = {
  name: 'race-cnn',
  backends: ['wasm'],
  optIn: true,
  description:
    `time to ${100 * TARGET} % test accuracy on MNIST ${SIDE}×${SIDE} with a tfjs-layers CNN (conv ${FILTERS.join(', conv ')}), ` +
    `model route (trainOnBatch) vs tf.train.adam tuned over lr ${GRID.join(', ')}, median of ${SEEDS.length} seeds`,
  notes:
    `MNIST from the mnist package (8000 train / 2000 test digits, shuffled by the seed), average-pooled 2 × 2 to ${SIDE} × ${SIDE}; ` +
    `the CNN of the cnn suite at that size and with fewer filters (${SIDE}×${SIDE}×1 → conv 3×3×${FILTERS[0]} relu → max-pool 2 → ` +
    `conv 3×3×${FILTERS[1]} relu → max-pool 2 → flatten → dense 10 softmax), compiled with categoricalCrossentropy; batch ${BATCH}. ` +
    `Every method trains its own model built with the same seeded initial weights by model.trainOnBatch on the same batches ` +
    `(batches cut before the timer; test accuracy on the 2000 test digits read after every step, not timed): tf.train.adam compiled ` +
    `in, the somax methods through the model route, asTfOptimizer(make(name, { model, ... })). The baseline is tf.train.adam tuned ` +
    `over lr ${GRID.join(', ')} (fewest median seconds to the target wins, the grid row); somax's adam runs at the winning rate ` +
    `with tf.train.adam's ε 1e-7. Each ` +
    `method gets at most ${ENTRANT_CAPS.steps}× the winner's steps and ${ENTRANT_CAPS.seconds}× its wall-clock on the same seed. ` +
    `Rows: median over seeds ${SEEDS.join(', ')} of steps and seconds, and of their ratios to the tuned Adam's. The chart ` +
    `${CHART} plots test accuracy against training seconds on the first seed. Why this size: the cnn suite's CNN (28 × 28, conv 16 ` +
    `and 32) took 300–500 ms a tf.train.adam step at batch 128 on wasm (tf.profile: 24 Slice kernels, 260 ms, in the conv filter ` +
    `and max-pool gradients, plus 70 ms of Conv2DBackpropInput), and 28 × 28 with conv 8, 16 at batch 64 about 100 ms; at 14 × 14, ` +
    `conv 8, 16, batch 64 an Adam step takes 20–30 ms. The target: on seed 0 tf.train.adam reached 96 % in 1142 steps at lr 3e-3, ` +
    `396 at 0.01 and 319 at 0.03 (9.3 s; the grid was then moved up to 0.01, 0.03, 0.1); it hovers around 95–96.5 % until ` +
    `~1000 steps, so 97–98 % is out of reach of this small model in 1000 steps. First attempt on seed 0 (capped at 4× 319 steps ` +
    `and 8× 9.3 s): kfac lr 0.3 λ 0.01 momentum 0.9 diverged (best 40.6 %, 275 ms a step); shampoo lr 3e-3 roots every 20 ` +
    `reached 95.95 % in the 506 steps it had (148 ms a step); egn λ 1 on 32 samples 85.8 % in 192 steps (390 ms a step); sgn λ ` +
    `0.3, 3 CG, momentum 0.5, lr 0.5 on 32 samples 72.6 % after 1276 steps (36 ms a step). kfac at race-mlp's lr 0.3, λ 0.1 ` +
    `diverged on a synthetic 14 × 14 batch within 10 steps (trainOnBatch, 30 steps: lr 0.1 λ 0.1 fitted it, loss 2.40 → 0.06); ` +
    `it runs at lr 0.1 here; shampoo uses race-mlp's settings. With these (seed 0 only: a 3-seed run takes over 30 minutes), ` +
    `tf.train.adam's grid moved to 0.01, 0.03, 0.1 and 0.01 won (396 steps, 8.2 s); shampoo 0.75× its steps and 0.96× its time, ` +
    `kfac 1.01× / 1.63×, egn and sgn did not reach 96 %. K-FAC sweeps (steps to 96 %, accuracy read every step; tf.train.adam ` +
    `lr 0.01 on seeds 0/1/2: 396/547/359): lr 0.1 λ 0.1 no momentum: not in 500 (95.9 %); momentum 0.5: 240 on seed 0 at 33 ms ` +
    `a step (Adam's 18: tf.profile, the factors' patch products and two more conv passes); factors every 5 steps: 277 at 25 ms; ` +
    `every 2: 245/200/267 (kept); λ 0.03, lr 0.2, momentum 0.7, lr 0.1 halved every 100 steps, or λ 0.3 lr 0.15: worse (not ` +
    `reached, or 369); lr 0.03 momentum 0.9: 235. Accuracy hovers at 94–96 % from step ~150 for every method: crossing 96 % is ` +
    `partly the luck of the fluctuations. Sweeps of 2026-12-05 against Adam lr 0.03 (steps to 96 %, accuracy read every 10 ` +
    `steps, seeds 0/1/2, at most 320–400; Adam on seed 0: 320): the kept setting above on seed 0 370; lr 0.2: not reached (91 %); ` +
    `lr 0.3 λ 0.3, lr 0.5 λ 1, λ 0.03, λ 0.05, no momentum at lr 0.2, lr 0.15 λ 0.15, lr 0.1 decayed ×0.5 every 50–100 steps: not ` +
    `reached on seed 0; factor decay 0.8 240/290/250, 0.7 300/280/250, 0.5 300/280/230; the batch's labels 320/290/—; with ` +
    `factors every 10 steps and inverses every 10 240/190/— at 18 ms a step (kept: the step costs ~1.05× Adam's instead of 1.5×); ` +
    `the same with momentum 0.7 lr 0.07 300/250/270, with lr 0.15 λ 0.2 370/290/280; factors every 5, inverses every 20: ` +
    `diverged on seed 2. Shampoo lr 0.03: 95.9 % at best on seed 0. Sweeps of 2026-12-06 (steps to 96 %, accuracy read ` +
    `every 5 steps, at most 300; tf.train.adam lr 0.03 320/400/300 on seeds 0/1/2): the kept kfac 240 on seed 0; kfac with ` +
    `the adaptive learning rate and momentum of the quadratic model (adaptiveLearningRate, adaptiveMomentum: 24–31 ms a ` +
    `step against 19) at λ 0.1 235/—, λ 0.03 —/235, λ 0.3 —/275, λ 1 —/—, sampled labels —/195, trust region —/— (seeds ` +
    `0/1), the adaptive learning rate alone with momentum 0.5 —/— on seed 0; K-FAC on the conv layers only (Adam lr 0.03 ` +
    `on the dense one) —/280, on the dense layer only 270/275; shampoo lr 0.01 roots every 50 —/—, lr 0.015 every 20 —/295, ` +
    `lr 0.02 every 20 with β2 0.99 —/—, lr 0.01 every 10 with ridge 1e-4 255/265; kfac with its direction clipped (clipNorm, ` +
    `as kfac-pytorch's KL clip; at most 250 steps) 1 at lr 0.1 —/—, 1 at lr 0.3 240/—, 3 at lr 0.2 —/240. Every run sits at ` +
    `94–96 % from step ~150. Measured on 2026-12-06 (later): the lead is not made or lost on that plateau. Steps to 90 / 93 / 95 ` +
    `/ 96 %, accuracy read every 5 steps, seeds 0/1/2: tf.train.adam lr 0.03 55/85/225/320, 55/105/230/400, 35/105/220/300; ` +
    `the kept kfac 30/70/145/240, 30/50/140/190, 40/55/140/— (0.55–0.8× Adam's steps at every level, 0.6× at 95 %): K-FAC's ` +
    `lead on this CNN is a steady ~1.6× in steps, not 2×. Nor is the Kronecker approximation what limits it: sgn with 20 CG ` +
    `iterations on 64 samples (near the exact damped GGN step on the batch) at λ 1 / 0.3 (momentum 0.5, lr 0.5) took ` +
    `65/130/—, 40/80/— steps to 90/93/95 % on seed 0, and at λ 1, lr 1 115/175/—, behind K-FAC. Nor the batch: at batch 256 ` +
    `(seed 0; ~100 ms a step) tf.train.adam lr 0.03 took 30/60/115/195 steps to 90/93/95/96 % (lr 0.01 450 to 97 %, 3e-3 ` +
    `not 97 % in 800, lr 0.1 diverged; best 97.25 %) and the kept kfac 30/45/100/— (95.95 % at best in 250), kfac lr 0.2 ` +
    `145/235/—/—, lr 0.3 λ 0.03 diverged. The rows give each method's median steps to 90, 93 and 95 % for this reason.`,
  async run(backend) {
    const tuned = await raceTuned(
      SEEDS,
      GRID,
      entrants,
      (seed) => {
        const data = loadMnistData(seed, { side: SIDE });
        const scorer = cnnOf(seed);
        return {
          task: mnistTask(data, { batch: BATCH, target: TARGET, logits: logitsBy(scorer) }),
          baseline: (lr) => layersTrainer(cnnOf(seed), tf.train.adam(lr)),
          trainer: (e) => {
            const model = cnnOf(seed);
            return layersTrainer(model, asTfOptimizer(e.build(model)));
          },
          dispose: () => {
            tree.dispose(data as any);
            scorer.dispose();
          },
        };
      },
      { steps: 2000, seconds: 240 },
      ENTRANT_CAPS,
      WARMUP,
    );
    const label = `MNIST ${SIDE}×${SIDE} CNN (conv ${FILTERS.join(', ')}) to ${100 * TARGET} % test acc`;
    const described = entrants(tuned.learningRate);
    return tunedRaceResults(label, CHART, tuned, {
      hyperOf: (m) => described[m]?.hyper,
      backend,
      caps: ENTRANT_CAPS,
      firstSeed: SEEDS[0],
      score: ACCURACY,
      milestones: MILESTONES,
    });
  },
};
