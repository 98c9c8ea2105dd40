/**
 * Races to a target test score, shared by the macro benchmarks (`macro`: MNIST accuracy,
 * `regression`: sine-wave RMSE): each method trains from the same initialization on the same
 * batches until its test score (read after every step, not timed) reaches the target or it has
 * used {@link CAP}× the baseline's steps or wall-clock; rows give the median over seeds of steps
 * and seconds and of their ratios to `tf.train.adam`'s.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { makeStep, tree } from '../index';
import type { GradientTransformation, Tree } from '../index';
import { median } from './harness';
import type { Row } from './harness';

/**
 * A method may run up to this many times the baseline's steps and wall-clock (of the same seed) before it counts as not reaching
 * the target.
 */
export const CAP = 4;

/** A method of a race: how it is built, its hyperparameters in words, its curvature batch size. */
export interface Entrant {
  readonly build: () => GradientTransformation<any>;
  readonly hyper: string;
  readonly curvatureSize?: number;
}

/** A batch and the curvature batch cut from it, prepared before the timer starts. */
export interface Batches {
  readonly batch: { x: tf.Tensor; y: tf.Tensor };
  /** The batch itself when the curvature batch is the whole batch. */
  readonly curvatureBatch: { x: tf.Tensor; y: tf.Tensor };
}

/** What a race trains on and how it is scored. */
export interface Task {
  /** Batch `i` and its first `curvatureSize` samples (the tensors are disposed by the race). */
  batches(i: number, curvatureSize: number): Batches;
  /** The test score of params (not timed). */
  score(params: Tree): number;
  /** Whether a score has reached the target. */
  reached(score: number): boolean;
  /** The better of two scores. */
  better(a: number, b: number): number;
}

/** A training step on prepared batches (loss read back, a device sync), over params it owns. */
export interface Trainer {
  /** Samples of the curvature batch. */
  readonly curvatureSize: number;
  params(): Tree;
  step(batches: Batches, i: number): void;
  dispose(): void;
}

/** The first `size` samples of a batch as its curvature batch (the batch itself when `size` covers it). */
export function curvatureOf(batch: Batches['batch'], size: number): Batches['curvatureBatch'] {
  return size >= batch.x.shape[0] ? batch : { x: tf.slice(batch.x, 0, size), y: tf.slice(batch.y, 0, size) };
}

/** tf.train.adam at `learningRate` on variables made from `init` (which it disposes). */
export function tfAdamTrainer(init: Tree, lossFn: (p: Tree, b: Batches['batch']) => tf.Scalar, learningRate: number): Trainer {
  const vars = tree.map((t: tf.Tensor) => tf.variable(t), init) as Record<string, tf.Variable>;
  tree.dispose(init);
  const opt = tf.train.adam(learningRate);
  return {
    curvatureSize: Infinity,
    params: () => vars,
    step({ batch }) {
      const loss = opt.minimize(() => lossFn(vars, batch), true, Object.values(vars)) as tf.Scalar;
      loss.dataSync();
      loss.dispose();
    },
    dispose() {
      opt.dispose();
      tree.dispose(vars);
    },
  };
}

/**
 * A somax method through `makeStep`, from `init` (which it owns), with its curvature batch (`defaultCurvature` samples unless the
 * entrant says).
 */
export function somaxTrainer(
  init: Tree,
  entrant: Entrant,
  lossFn: (p: Tree, b: Batches['batch']) => tf.Scalar,
  defaultCurvature: number,
): Trainer {
  const tx = entrant.build();
  const step = makeStep(tx, lossFn);
  let params = init;
  let state = tx.init(params);
  return {
    curvatureSize: entrant.curvatureSize ?? defaultCurvature,
    params: () => params,
    step({ batch, curvatureBatch }, i) {
      const out = step(params, state, batch, { curvatureBatch, key: i });
      out.loss.dataSync();
      out.loss.dispose();
      params = out.params;
      state = out.state;
    },
    dispose() {
      tree.dispose([params, state] as any);
    },
  };
}

/** Steps and training seconds to the target (undefined when not reached within the caps). */
export interface Race {
  steps?: number;
  seconds?: number;
  /** Steps run and their training seconds (for ms per step). */
  ran: number;
  ranSeconds: number;
  best: number;
  failure?: string;
}

/** Trains until the test score reaches the target or a cap is hit; batches are cut before the timer starts. */
export function race(trainer: Trainer, task: Task, maxSteps: number, maxSeconds: number): Race {
  let seconds = 0;
  let best = NaN;
  let i = 0;
  try {
    for (; i < maxSteps && seconds < maxSeconds; i++) {
      const batches = task.batches(i, trainer.curvatureSize);
      const start = performance.now();
      try {
        trainer.step(batches, i);
      } finally {
        seconds += (performance.now() - start) / 1000;
        tf.dispose([batches.batch, batches.curvatureBatch] as any);
      }
      const score = task.score(trainer.params());
      if (!Number.isFinite(score)) return { ran: i + 1, ranSeconds: seconds, best, failure: 'non-finite' };
      best = Number.isNaN(best) ? score : task.better(best, score);
      if (task.reached(score)) return { steps: i + 1, seconds, ran: i + 1, ranSeconds: seconds, best };
    }
    return { ran: i, ranSeconds: seconds, best };
  } catch (e) {
    return { ran: i, ranSeconds: seconds, best, failure: (e as Error).message.split('\n')[0] };
  } finally {
    trainer.dispose();
  }
}

/** Races of a baseline (`tf.train.adam`) and of each entrant over seeds, each seed's entrants capped by its baseline. */
export function raceAll(
  seeds: readonly number[],
  entrants: Readonly<Record<string, Entrant>>,
  setup: (seed: number) => {
    task: Task;
    init: () => Tree;
    baseline: () => Trainer;
    trainer: (init: Tree, e: Entrant) => Trainer;
    dispose: () => void;
  },
  baselineCaps: { steps: number; seconds: number },
): Record<string, Race[]> {
  const races: Record<string, Race[]> = Object.fromEntries(['tf.train.adam', ...Object.keys(entrants)].map((m) => [m, []]));
  for (const seed of seeds) {
    const { task, init, baseline, trainer, dispose } = setup(seed);
    try {
      if (seed === seeds[0]) race(baseline(), task, 20, Infinity); // untimed warm-up of the backend (wasm heap growth)
      const base = race(baseline(), task, baselineCaps.steps, baselineCaps.seconds);
      if (base.steps === undefined) throw new Error(`tf.train.adam did not reach the target (seed ${seed}, best ${base.best})`);
      races['tf.train.adam'].push(base);
      for (const [m, e] of Object.entries(entrants)) {
        races[m].push(race(trainer(init(), e), task, CAP * base.steps, CAP * base.seconds!));
        if (process.env.BENCH_VERBOSE) console.log(seed, m, JSON.stringify(races[m][races[m].length - 1]));
      }
    } finally {
      dispose();
    }
  }
  return races;
}

/**
 * One row of a method: medians over seeds of its steps and seconds, and of their ratios to the
 * baseline's (`Infinity` where a seed missed the target). `label` names the race, `bestOf` formats the best scores of the seeds.
 */
export function summarizeRace(
  label: string,
  method: string,
  what: string,
  races: Race[],
  baseline: Race[],
  backend: string,
  bestOf: (scores: number[]) => string,
): Row {
  const steps = races.map((r) => r.steps ?? Infinity);
  const seconds = races.map((r) => r.seconds ?? Infinity);
  const stepRatio = median(races.map((r, s) => (r.steps ?? Infinity) / baseline[s].steps!));
  const timeRatio = median(races.map((r, s) => (r.seconds ?? Infinity) / baseline[s].seconds!));
  const reached = races.filter((r) => r.steps !== undefined).length;
  const msPerStep = median(races.map((r) => (1000 * r.ranSeconds) / Math.max(r.ran, 1)));
  const failure = races.find((r) => r.failure)?.failure;
  const bests = races.map((r) => r.best).filter((b) => !Number.isNaN(b));
  const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : `> ${CAP}`);
  return {
    backend,
    name:
      `${label}: ${method} (${what}): median ${Number.isFinite(median(steps)) ? median(steps) : '—'} steps, ` +
      `${msPerStep.toFixed(1)} ms/step, reached ${reached}/${races.length} seeds (best ${bests.length ? bestOf(bests) : '—'})` +
      `${failure ? `, failed: ${failure}` : ''}; steps ratio ${fmt(stepRatio)}, time ratio ${fmt(timeRatio)}`,
    // Seconds to the target; where the median seed missed it, the seconds spent until the cap (the name says "—" steps).
    ms: 1000 * (Number.isFinite(median(seconds)) ? median(seconds) : median(races.map((r) => r.ranSeconds))),
    ...(method === 'tf.train.adam'
      ? {}
      : {
          ratio: Number.isFinite(stepRatio) ? stepRatio : CAP,
          ratioOf: Number.isFinite(stepRatio) ? 'steps / tf.train.adam' : `steps / tf.train.adam: not reached within ${CAP}×`,
          goal: '≤ 0.5',
          more: [
            {
              value: Number.isFinite(timeRatio) ? timeRatio : CAP,
              of: Number.isFinite(timeRatio) ? 'time / tf.train.adam' : `time: not reached within ${CAP}×`,
              goal: '≤ 1.0',
            },
          ],
        }),
  };
}
