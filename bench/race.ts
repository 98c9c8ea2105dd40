/**
 * Races to a target test score, shared by the macro benchmarks (`macro`: MNIST accuracy,
 * `regression`: sine-wave RMSE, `race-mlp` / `race-cnn`: MNIST accuracy and `race-sine` / `race-cars`:
 * test RMSE against a tuned Adam):
 * each method trains from the same initialization on the same batches until its test score (read
 * after every step, not timed) reaches the target or it has used {@link CAP}× the baseline's steps
 * or wall-clock; rows give the median over seeds of steps and seconds and of their ratios to
 * `tf.train.adam`'s.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { makeStep, tree } from '../index';
import type { GradientTransformation, Tree } from '../index';
import { loadMnist, MNIST_CLASSES, MNIST_FEATURES } from '../examples/data/mnist';
import type { Problem } from '../examples/data/sine';
import { objective as regressionObjective } from '../examples/regressionMethods';
import { lineChartSvg } from '../examples/plots';
import type { Point } from '../examples/plots';
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
  /** One step; a promise for trainers that step through tfjs-layers (`model.trainOnBatch`). */
  step(batches: Batches, i: number): void | Promise<void>;
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

/** The test score after a step and the training seconds spent until then. */
export interface TracePoint {
  readonly seconds: number;
  readonly score: number;
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
  /** The score after every step (for plots). */
  trace: TracePoint[];
}

/** Trains until the test score reaches the target or a cap is hit; batches are cut before the timer starts. */
export async function race(trainer: Trainer, task: Task, maxSteps: number, maxSeconds: number): Promise<Race> {
  let seconds = 0;
  let best = NaN;
  let i = 0;
  const trace: TracePoint[] = [];
  try {
    for (; i < maxSteps && seconds < maxSeconds; i++) {
      const batches = task.batches(i, trainer.curvatureSize);
      const start = performance.now();
      try {
        await trainer.step(batches, i);
      } finally {
        seconds += (performance.now() - start) / 1000;
        tf.dispose([batches.batch, batches.curvatureBatch] as any);
      }
      const score = task.score(trainer.params());
      trace.push({ seconds, score });
      if (!Number.isFinite(score)) return { ran: i + 1, ranSeconds: seconds, best, failure: 'non-finite', trace };
      best = Number.isNaN(best) ? score : task.better(best, score);
      if (task.reached(score)) return { steps: i + 1, seconds, ran: i + 1, ranSeconds: seconds, best, trace };
    }
    return { ran: i, ranSeconds: seconds, best, trace };
  } catch (e) {
    return { ran: i, ranSeconds: seconds, best, failure: (e as Error).message.split('\n')[0], trace };
  } finally {
    trainer.dispose();
  }
}

/** What a race of one seed needs: its task, the baseline at a learning rate, a trainer per entrant. */
export interface Contest<E> {
  readonly task: Task;
  /** `tf.train.adam` at `learningRate`, from the seed's initialization. */
  baseline(learningRate: number): Trainer;
  /** The entrant's trainer, from the seed's initialization. */
  trainer(entrant: E): Trainer;
  dispose(): void;
}

/** How far past the baseline an entrant may run: multiples of the baseline's steps and seconds on the same seed. */
export interface Caps {
  readonly steps: number;
  readonly seconds: number;
}

/** `all`, or only the methods that `BENCH_RACE_METHODS` names (comma-separated) when it is set. */
export function pickEntrants<E>(all: Readonly<Record<string, E>>): Record<string, E> {
  const pick = process.env.BENCH_RACE_METHODS?.split(',');
  return Object.fromEntries(Object.entries(all).filter(([m]) => pick === undefined || pick.includes(m)));
}

/** Races each entrant of `contest`, capped at `caps` × the baseline's steps and seconds, into `races` (per method). */
async function raceEntrants<E>(
  seed: number,
  contest: Contest<E>,
  entrants: Readonly<Record<string, E>>,
  base: Race,
  races: Record<string, Race[]>,
  caps: Caps = { steps: CAP, seconds: CAP },
): Promise<void> {
  for (const [m, e] of Object.entries(entrants)) {
    (races[m] ??= []).push(await race(contest.trainer(e), contest.task, caps.steps * base.steps!, caps.seconds * base.seconds!));
    if (process.env.BENCH_VERBOSE) console.log(seed, m, JSON.stringify({ ...races[m][races[m].length - 1], trace: undefined }));
  }
}

/** Races of a baseline (`tf.train.adam`) and of each entrant over seeds, each seed's entrants capped by its baseline. */
export async function raceAll(
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
): Promise<Record<string, Race[]>> {
  const races: Record<string, Race[]> = Object.fromEntries(['tf.train.adam', ...Object.keys(entrants)].map((m) => [m, []]));
  for (const seed of seeds) {
    const { task, init, baseline, trainer, dispose } = setup(seed);
    try {
      if (seed === seeds[0]) await race(baseline(), task, 20, Infinity); // untimed warm-up of the backend (wasm heap growth)
      const base = await race(baseline(), task, baselineCaps.steps, baselineCaps.seconds);
      if (base.steps === undefined) throw new Error(`tf.train.adam did not reach the target (seed ${seed}, best ${base.best})`);
      races['tf.train.adam'].push(base);
      const contest: Contest<Entrant> = { task, baseline, trainer: (e) => trainer(init(), e), dispose };
      await raceEntrants(seed, contest, entrants, base, races);
    } finally {
      dispose();
    }
  }
  return races;
}

/** The races of a tuned baseline: the learning rate it won with, each rate's races, and every method's races. */
export interface TunedRaces {
  /** The learning rate of the grid with the fewest median seconds to the target. */
  readonly learningRate: number;
  /** The baseline's races per learning rate of the grid, per seed. */
  readonly grid: ReadonlyMap<number, Race[]>;
  /** Per method, per seed; `tf.train.adam` is the winning rate's. */
  readonly races: Record<string, Race[]>;
}

/**
 * The grid's learning rate with the fewest median seconds to the target over seeds (a seed that
 * missed it counts as infinitely slow; ties go to the fewer median steps, then to the first).
 */
export function bestRate(grid: ReadonlyMap<number, Race[]>): number {
  const cost = (rs: Race[]) => [median(rs.map((r) => r.seconds ?? Infinity)), median(rs.map((r) => r.steps ?? Infinity))];
  const ranked = [...grid.entries()].map(([lr, rs]) => ({ lr, cost: cost(rs) }));
  ranked.sort((a, b) => a.cost[0] - b.cost[0] || a.cost[1] - b.cost[1]);
  if (!Number.isFinite(ranked[0].cost[0])) throw new Error(`tf.train.adam reached the target at no learning rate of the grid`);
  return ranked[0].lr;
}

/**
 * Races against a tuned baseline: `tf.train.adam` at every learning rate of `grid` on every seed
 * (after an untimed 20-step warm-up), the rate with the fewest median seconds to the target wins
 * ({@link bestRate}), then the entrants (`entrantsOf(winner)`) race on every seed capped at
 * `entrantCaps` × the winner's steps and seconds of that seed (a wall-clock cap above the step
 * cap lets a method slower per step show its step count). A seed on which the winner misses the
 * target is left out of every method's races. With `entrantWarmup`, each entrant first runs that
 * many untimed steps on the first raced seed (where a step takes about a millisecond, the first
 * calls of a method's code would otherwise weigh on its time).
 */
export async function raceTuned<E>(
  seeds: readonly number[],
  grid: readonly number[],
  entrantsOf: (learningRate: number) => Readonly<Record<string, E>>,
  setup: (seed: number) => Contest<E>,
  baselineCaps: Caps,
  entrantCaps: Caps = { steps: CAP, seconds: CAP },
  entrantWarmup = 0,
): Promise<TunedRaces> {
  const byRate = new Map<number, Race[]>(grid.map((lr) => [lr, []]));
  for (const seed of seeds) {
    const contest = setup(seed);
    try {
      if (seed === seeds[0]) await race(contest.baseline(grid[0]), contest.task, 20, Infinity); // untimed warm-up
      for (const lr of grid) byRate.get(lr)!.push(await race(contest.baseline(lr), contest.task, baselineCaps.steps, baselineCaps.seconds));
    } finally {
      contest.dispose();
    }
  }
  const learningRate = bestRate(byRate);
  const entrants = entrantsOf(learningRate);
  const races: Record<string, Race[]> = { 'tf.train.adam': [] };
  for (const [s, seed] of seeds.entries()) {
    const base = byRate.get(learningRate)![s];
    if (base.steps === undefined) continue;
    races['tf.train.adam'].push(base);
    const contest = setup(seed);
    try {
      if (entrantWarmup > 0 && races['tf.train.adam'].length === 1) {
        for (const e of Object.values(entrants)) await race(contest.trainer(e), contest.task, entrantWarmup, Infinity);
      }
      await raceEntrants(seed, contest, entrants, base, races, entrantCaps);
    } finally {
      contest.dispose();
    }
  }
  return { learningRate, grid: byRate, races };
}

/** `x` to `digits` decimals, or a dash where it is not finite (not reached). */
const orDash = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : '—');

/** One row on the baseline's grid: per learning rate, median steps and seconds to the target and seeds reached. */
export function gridRow(label: string, tuned: TunedRaces, backend: string): Row {
  const parts = [...tuned.grid.entries()].map(([lr, rs]) => {
    const reached = rs.filter((r) => r.steps !== undefined).length;
    const steps = median(rs.map((r) => r.steps ?? Infinity));
    const seconds = median(rs.map((r) => r.seconds ?? Infinity));
    return `lr ${lr}: ${orDash(steps, 0)} steps, ${orDash(seconds, 1)} s (${reached}/${rs.length})`;
  });
  return {
    backend,
    name:
      `${label}: tf.train.adam grid (median steps, s to the target, seeds reached): ${parts.join('; ')}; ` +
      `winner lr ${tuned.learningRate}`,
    ms: 1000 * median(tuned.grid.get(tuned.learningRate)!.map((r) => r.seconds ?? Infinity)),
  };
}

/** How a race's score is shown: its chart axis, and the best scores of the seeds in words. */
export interface ScoreFormat {
  /** The chart's y axis. */
  readonly y: string;
  /** The score as plotted (default: as is). */
  readonly scale?: (score: number) => number;
  /** A log-scaled y axis. */
  readonly logY?: boolean;
  /** The best of the seeds' best scores, in words. */
  readonly bestOf: (scores: number[]) => string;
  /** Whether a score is at `level` or better. */
  readonly attains: (score: number, level: number) => boolean;
  /** A level in words (the unit included). */
  readonly levelOf: (level: number) => string;
}

/** Test accuracy (a fraction, shown in %; higher is better). */
export const ACCURACY: ScoreFormat = {
  y: 'test accuracy (%)',
  scale: (a) => 100 * a,
  bestOf: (scores) => `acc ${(100 * Math.max(...scores)).toFixed(1)} %`,
  attains: (acc, level) => acc >= level,
  levelOf: (level) => `${+(100 * level).toFixed(1)} %`,
};

/** Test root mean squared error (lower is better; a log axis). */
export const RMSE: ScoreFormat = {
  y: 'test RMSE (log scale)',
  logY: true,
  bestOf: (scores) => `RMSE ${Math.min(...scores).toFixed(3)}`,
  attains: (rmse, level) => rmse <= level,
  levelOf: (level) => `RMSE ${level}`,
};

/** The steps after which a race's trace first attains `level` (Infinity when it never does). */
export function stepsTo(race: Race, level: number, score: ScoreFormat): number {
  const i = race.trace.findIndex((p) => score.attains(p.score, level));
  return i < 0 ? Infinity : i + 1;
}

/**
 * Steps to each of `levels` (short of the target) in words: per level the median over seeds of a
 * method's steps and of their ratio to the baseline's on the same seed, read off the traces.
 * It shows whether a method's lead in steps holds along the way or only at the target.
 */
export function milestonesOf(races: Race[], baseline: Race[], levels: readonly number[], score: ScoreFormat): string {
  return levels
    .map((level) => {
      const steps = races.map((r) => stepsTo(r, level, score));
      const ratio = median(steps.map((n, s) => n / stepsTo(baseline[s], level, score)));
      return `${score.levelOf(level)} ${orDash(median(steps), 0)}${races === baseline ? '' : ` (${orDash(ratio, 2)}×)`}`;
    })
    .join(', ');
}

/**
 * A chart of test score against training seconds, one line per method, from the races of seed
 * index `seedIndex` (the first seed by default), written as SVG to `file`.
 */
export async function raceChart(
  file: string,
  races: Readonly<Record<string, Race[]>>,
  options: { title: string; score: ScoreFormat; seedIndex?: number },
): Promise<void> {
  const { title, score, seedIndex = 0 } = options;
  const scale = score.scale ?? ((v: number) => v);
  const points: Point[] = Object.entries(races).flatMap(([method, rs]) =>
    (rs[seedIndex]?.trace ?? []).filter((p) => Number.isFinite(p.score)).map((p) => ({ method, x: p.seconds, y: scale(p.score) })),
  );
  await lineChartSvg(file, points, { title, x: 'training wall-clock (s)', y: score.y, logY: score.logY });
}

/** How {@link tunedRaceResults} reports a race. */
export interface TunedReport {
  /** A method's hyperparameters in words (the baseline's: its tuned rate). */
  readonly hyperOf: (method: string) => string | undefined;
  readonly backend: string;
  readonly caps: Caps;
  /** The seed of the chart (the first raced). */
  readonly firstSeed: number;
  readonly score: ScoreFormat;
  /** Levels short of the target whose steps every row also gives ({@link milestonesOf}). */
  readonly milestones?: readonly number[];
}

/**
 * What a race against a tuned Adam reports: its chart (`file`, the test score against training
 * seconds on the first seed) and its rows — the baseline's grid, then every method's summary,
 * with its steps to the milestones when there are any.
 */
export async function tunedRaceResults(label: string, file: string, tuned: TunedRaces, report: TunedReport): Promise<Row[]> {
  const { hyperOf, backend, caps, firstSeed, score, milestones = [] } = report;
  await raceChart(file, tuned.races, { title: `${label} (seed ${firstSeed})`, score });
  const base = tuned.races['tf.train.adam'];
  return [
    gridRow(label, tuned, backend),
    ...Object.entries(tuned.races).map(([m, rs]) => {
      const row = summarizeRace(label, m, hyperOf(m) ?? `lr ${tuned.learningRate}, tuned`, rs, base, backend, score.bestOf, caps);
      return milestones.length === 0
        ? row
        : { ...row, name: `${row.name}; median steps on the way: ${milestonesOf(rs, base, milestones, score)}` };
    }),
  ];
}

/** MNIST digits of one seed on the device: training and test inputs with one-hot labels. */
export interface MnistData {
  readonly train: { x: tf.Tensor; y: tf.Tensor };
  readonly test: { x: tf.Tensor; y: tf.Tensor };
  readonly n: number;
}

/**
 * The `mnist` package's 8000/2000 split of `seed` as tensors (dispose with `tree.dispose`): rows
 * of 784 pixels, or with `side` images `[n, side, side, 1]` (28 × 28 average-pooled down to
 * `side`, a divisor of 28).
 */
export function loadMnistData(seed: number, { side }: { side?: number } = {}): MnistData {
  const { train, test } = loadMnist({ testSize: 2000, seed });
  const images = (x: tf.Tensor2D): tf.Tensor =>
    tf.tidy(() => {
      const full = tf.reshape(x, [-1, 28, 28, 1]) as tf.Tensor4D;
      return side === undefined || side === 28 ? full : tf.avgPool(full, 28 / side, 28 / side, 'valid');
    });
  const on = (d: typeof train) => {
    const rows = tf.tensor2d(d.x, [d.n, MNIST_FEATURES]);
    const x = side === undefined ? rows : images(rows);
    if (x !== rows) rows.dispose();
    return { x, y: tf.tensor2d(d.y, [d.n, MNIST_CLASSES]) };
  };
  return { train: on(train), test: on(test), n: train.n };
}

/** Options of {@link mnistTask}. */
export interface MnistTaskOptions {
  /** Samples per batch: batch `i` is the rows from `i·batch mod (n − batch)`. */
  readonly batch: number;
  /** The test accuracy to reach. */
  readonly target: number;
  /** The logits of `params` on the test inputs (the first `checked` of them). */
  readonly logits: (params: Tree, x: tf.Tensor) => tf.Tensor;
  /** Test digits the accuracy is read on (default: all). */
  readonly checked?: number;
}

/** Batch `i` of `size` consecutive training rows from `i·size mod (n − size)` (the same for every method). */
export function mnistBatch(data: MnistData, i: number, size: number): Batches['batch'] {
  const start = (i * size) % (data.n - size);
  return { x: tf.slice(data.train.x, start, size), y: tf.slice(data.train.y, start, size) };
}

/** The fraction of rows whose largest logit is at the label's one-hot position. */
export function accuracyOf(logits: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(y, 1)), 'float32'));
}

/** The MNIST race: the same batches for every method, test accuracy (not timed) to the target. */
export function mnistTask(data: MnistData, { batch, target, logits, checked }: MnistTaskOptions): Task {
  const n = Math.min(checked ?? Infinity, data.test.x.shape[0]);
  const test = n === data.test.x.shape[0] ? data.test : { x: tf.slice(data.test.x, 0, n), y: tf.slice(data.test.y, 0, n) };
  return {
    batches: (i, curvatureSize) => {
      const b = mnistBatch(data, i, batch);
      return { batch: b, curvatureBatch: curvatureOf(b, curvatureSize) };
    },
    score: (p) => tree.readScalar(() => accuracyOf(logits(p, test.x), test.y)),
    reached: (acc) => acc >= target,
    better: Math.max,
  };
}

/**
 * A regression race on device tensors (dispose with `dispose`): batch `i` is `problem.batch`
 * consecutive training rows from `i·batch mod (n − batch)` (the same for every method), scored by
 * the test RMSE of the regression example's MLP (not timed), reached at `target` or below.
 */
export function regressionTask(problem: Problem, target: number): { task: Task; dispose: () => void } {
  const on = (d: Problem['train']) => ({ x: tf.tensor2d(d.x, [d.n, problem.features]), y: tf.tensor2d(d.y, [d.n, 1]) });
  const [train, test] = [on(problem.train), on(problem.test)];
  const size = problem.batch;
  const task: Task = {
    batches: (i, curvatureSize) => {
      const start = (i * size) % (problem.train.n - size);
      const batch = { x: tf.slice(train.x, start, size), y: tf.slice(train.y, start, size) };
      return { batch, curvatureBatch: curvatureOf(batch, curvatureSize) };
    },
    score: (params) => tree.readScalar(() => tf.sqrt(tf.mean(tf.squaredDifference(regressionObjective.predict(params, test.x), test.y)))),
    reached: (rmse) => rmse <= target,
    better: Math.min,
  };
  return { task, dispose: () => tf.dispose([train.x, train.y, test.x, test.y]) };
}

/**
 * One row of a method: medians over seeds of its steps and seconds, and of their ratios to the
 * baseline's (`Infinity` where a seed missed the target). `label` names the race, `bestOf` formats the best scores of the seeds,
 * `caps` are the entrants' caps (in multiples of the baseline's steps and seconds).
 */
export function summarizeRace(
  label: string,
  method: string,
  what: string,
  races: Race[],
  baseline: Race[],
  backend: string,
  bestOf: (scores: number[]) => string,
  caps: Caps = { steps: CAP, seconds: CAP },
): Row {
  const steps = races.map((r) => r.steps ?? Infinity);
  const seconds = races.map((r) => r.seconds ?? Infinity);
  const stepRatio = median(races.map((r, s) => (r.steps ?? Infinity) / baseline[s].steps!));
  const timeRatio = median(races.map((r, s) => (r.seconds ?? Infinity) / baseline[s].seconds!));
  const reached = races.filter((r) => r.steps !== undefined).length;
  const msPerStep = median(races.map((r) => (1000 * r.ranSeconds) / Math.max(r.ran, 1)));
  const failure = races.find((r) => r.failure)?.failure;
  const bests = races.map((r) => r.best).filter((b) => !Number.isNaN(b));
  const fmt = (x: number, cap: number) => (Number.isFinite(x) ? x.toFixed(2) : `> ${cap}`);
  const missed = caps.steps === caps.seconds ? `${caps.steps}×` : `${caps.steps}× the steps or ${caps.seconds}× the time`;
  return {
    backend,
    name:
      `${label}: ${method} (${what}): median ${Number.isFinite(median(steps)) ? median(steps) : '—'} steps, ` +
      `${msPerStep.toFixed(1)} ms/step, reached ${reached}/${races.length} seeds (best ${bests.length ? bestOf(bests) : '—'})` +
      `${failure ? `, failed: ${failure}` : ''}; steps ratio ${fmt(stepRatio, caps.steps)}, time ratio ${fmt(timeRatio, caps.seconds)}`,
    // Seconds to the target; where the median seed missed it, the seconds spent until the cap (the name says "—" steps).
    ms: 1000 * (Number.isFinite(median(seconds)) ? median(seconds) : median(races.map((r) => r.ranSeconds))),
    ...(method === 'tf.train.adam'
      ? {}
      : {
          ratio: Number.isFinite(stepRatio) ? stepRatio : caps.steps,
          ratioOf: Number.isFinite(stepRatio) ? 'steps / tf.train.adam' : `steps / tf.train.adam: not reached within ${missed}`,
          goal: '≤ 0.5',
          more: [
            {
              value: Number.isFinite(timeRatio) ? timeRatio : caps.seconds,
              of: Number.isFinite(timeRatio) ? 'time / tf.train.adam' : `time: not reached within ${missed}`,
              goal: '≤ 1.0',
            },
          ],
        }),
  };
}
