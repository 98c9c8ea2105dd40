/**
 * The regression race: time to a target test RMSE on the sine wave of somax's examples
 * (`examples/data/sine.ts`: y = sin(2x) + 0.1·noise, 512 training points, MLP 1-32-1, squared
 * error, batch 64) for the squared-error Gauss-Newton methods against `tf.train.adam`, from the
 * same initialization on the same batches, median over 3 initializations.
 */
import * as tf from '@tensorflow/tfjs';
import { tree } from '../index';
import type { Tree } from '../index';
import { initParams, sineProblem } from '../examples/data/sine';
import { lossFn, objective, REGRESSION_METHODS } from '../examples/regressionMethods';
import { raceAll, somaxTrainer, summarizeRace, tfAdamTrainer } from './race';
import type { Entrant, Task } from './race';
import type { Suite } from './harness';

/** Test RMSE to reach (Adam's best after 2000 steps was 0.076; the Gauss-Newton methods reach 0.016). */
const TARGET = 0.1;
/** Seeds of the initialization. */
const SEEDS = [11, 21, 31];
/** tf.train.adam's learning rate: the example's adam (0.1 beat 1e-2 and 3e-2 in its tuning). */
const ADAM_LR = 0.1;
/** The example's methods and settings (examples/regressionMethods.ts); the curvature batch is the whole batch. */
const ENTRANTS: Record<string, Entrant> = Object.fromEntries(
  Object.entries(REGRESSION_METHODS).map(([m, { build, note }]) => [m, { build, hyper: note }]),
);

/** The sine race on device tensors: batch `i` is 64 consecutive training points, scored by test RMSE. */
function sineTask(): { task: Task; dispose: () => void } {
  const p = sineProblem();
  const on = (d: typeof p.train) => ({ x: tf.tensor2d(d.x, [d.n, p.features]), y: tf.tensor2d(d.y, [d.n, 1]) });
  const [train, test] = [on(p.train), on(p.test)];
  const rmse = (params: Tree) => tree.readScalar(() => tf.sqrt(tf.mean(tf.squaredDifference(objective.predict(params, test.x), test.y))));
  const task: Task = {
    batches: (i) => {
      const start = (i * p.batch) % (p.train.n - p.batch);
      const batch = { x: tf.slice(train.x, start, p.batch), y: tf.slice(train.y, start, p.batch) };
      return { batch, curvatureBatch: batch };
    },
    score: rmse,
    reached: (r) => r <= TARGET,
    better: Math.min,
  };
  return { task, dispose: () => tf.dispose([train.x, train.y, test.x, test.y]) };
}

/** The regression suite: time to test RMSE {@link TARGET} on the sine wave per method / tf.train.adam's (wasm). */
export const regression: Suite = {
  name: 'regression',
  backends: ['wasm'],
  description:
    `time to test RMSE ${TARGET} on the sine wave (MLP 1-32-1), Gauss-Newton methods vs tf.train.adam, ` +
    `median of ${SEEDS.length} initializations`,
  notes:
    `The sine wave of npm run example:regression (512 noisy training points, the noise-free curve on 200 grid points as the test set), ` +
    `MLP 1-32-1 (tanh), squared error, batch 64 with the whole batch as curvature batch, the example's hyperparameters; initialization ` +
    `seeds ${SEEDS.join(', ')}; test RMSE read after every step (not timed), batches cut before the timer. Steps and training wall-clock ` +
    `to test RMSE ${TARGET} are divided by tf.train.adam's (lr ${ADAM_LR}) for the same seed (median over seeds). Small-residual least ` +
    `squares is where Gauss-Newton methods are strongest: the GGN is close to the Hessian, and a step with λ = 0.01 is close to a Newton ` +
    `step, while Adam's steps stay of size ≈ lr per weight and it reaches test RMSE 0.076 at best after 2000 steps.`,
  async run(backend) {
    const races = await raceAll(
      SEEDS,
      ENTRANTS,
      (seed) => {
        const { task, dispose } = sineTask();
        return {
          task,
          init: () => initParams(1, 32, seed),
          baseline: () => tfAdamTrainer(initParams(1, 32, seed), lossFn, ADAM_LR),
          trainer: (init, e) => somaxTrainer(init, e, lossFn, Infinity),
          dispose,
        };
      },
      { steps: 5000, seconds: 60 },
    );
    const label = `sine 1-32-1 to test RMSE ${TARGET}`;
    const bestOf = (scores: number[]) => `RMSE ${Math.min(...scores).toFixed(3)}`;
    const what = (m: string) => ENTRANTS[m]?.hyper ?? `lr ${ADAM_LR}`;
    return Object.entries(races).map(([m, rs]) => summarizeRace(label, m, what(m), rs, races['tf.train.adam'], backend, bestOf));
  },
};
