/**
 * `npm run example:regression`: squared-error regression with the Gauss-Newton methods of somax
 * — `egn`, `sgn`, `ignd`, `ggnDirect` — next to `adam`, from the same initialization on the same
 * batches: a noisy sine wave fitted by a 1-32-1 tanh MLP (as somax's examples do), and, when the
 * `vega-datasets` package is installed, miles per gallon of the `cars` table from 5 numeric columns
 * (no tabular data set ships with this repository's dependencies). Results table per problem and
 * SVG plots in docs/img/.
 *
 *   npm run example:regression -- --steps 300 --backend cpu
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { tree } from '../index';
import type { Tree } from '../index';
import { carsProblem } from './data/cars';
import { initParams, sineProblem } from './data/sine';
import { lossFn, objective, REGRESSION_METHODS as METHODS } from './regressionMethods';
import type { Problem } from './data/sine';
import { lineChartSvg } from './plots';
import { arg, flag, progress, useBackend, writeCharts } from './report';
import { trainRun } from './training';
import type { Batch, Run } from './training';

const predict = objective.predict;

const HELP = `somax regression example: squared error, ${Object.keys(METHODS).join(', ')}, same initialization and batches.

  --steps N        steps per method (default 150)
  --methods a,b    methods to run (default: all)
  --backend name   cpu | wasm (default wasm)
  --help           this text

Methods:
${Object.entries(METHODS)
  .map(([n, m]) => `  ${n.padEnd(10)} ${m.note}`)
  .join('\n')}`;

/** Root mean squared error of params on a set. */
function rmse(params: Tree, set: Batch): number {
  return tree.readScalar(() => tf.sqrt(tf.mean(tf.squaredDifference(predict(params, set.x), set.y))));
}

/** The model's outputs on `x`, read to the host. */
function outputs(params: Tree, x: tf.Tensor): Float32Array {
  const f = tf.tidy(() => predict(params, x));
  const values = f.dataSync() as Float32Array;
  f.dispose();
  return values;
}

/** Trains every method on a problem, prints its table, returns the runs and the final fits. */
function runProblem(problem: Problem, methods: string[], steps: number): { runs: Run[]; fits: Map<string, Float32Array> } {
  const on = (d: Problem['train']): Batch => ({ x: tf.tensor2d(d.x, [d.n, problem.features]), y: tf.tensor2d(d.y, [d.n, 1]) });
  const train = on(problem.train);
  const test = on(problem.test);
  const fits = new Map<string, Float32Array>();
  console.log(`\n${problem.title}: ${problem.train.n} train / ${problem.test.n} test, batch ${problem.batch}`);
  const bars = progress(methods, steps, { key: 'testRmse', label: 'test RMSE', format: (v) => v.toFixed(3) });
  const runs = methods.map((name) => {
    const shown = bars.method(name);
    const run = trainRun({
      name,
      build: METHODS[name].build,
      lossFn,
      init: () => initParams(problem.features, problem.hidden),
      batchAt: (i) => {
        const start = (i * problem.batch) % (problem.train.n - problem.batch);
        return { x: tf.slice(train.x, start, problem.batch), y: tf.slice(train.y, start, problem.batch) };
      },
      steps,
      every: 5,
      evaluate: (p) => {
        const out: Record<string, number> = { trainRmse: rmse(p, train), testRmse: rmse(p, test) };
        fits.set(name, outputs(p, test.x));
        return out;
      },
      onProgress: (point, r) => shown.update(point, r.stepsPerSecond),
    });
    shown.done(run);
    return run;
  });
  bars.stop();
  console.table(
    runs.map((r) => {
      const last = r.curve[r.curve.length - 1];
      const best = Math.min(...r.curve.map((c) => c.metrics.testRmse));
      return {
        method: r.method,
        steps: r.steps,
        'train RMSE': last ? +last.metrics.trainRmse.toFixed(4) : '-',
        'test RMSE': last ? +last.metrics.testRmse.toFixed(4) : '-',
        'best test RMSE': Number.isFinite(best) ? +best.toFixed(4) : '-',
        'ms / step': +r.msPerStep.toFixed(1),
        leaked: r.leaked,
        ...(r.failure ? { note: r.failure } : {}),
      };
    }),
  );
  tf.dispose([train.x, train.y, test.x, test.y]);
  return { runs, fits };
}

async function main(): Promise<void> {
  if (flag('help')) return console.log(HELP);
  const steps = Number(arg('steps', '150'));
  const backend = arg('backend', 'wasm');
  const methods = arg('methods', Object.keys(METHODS).join(',')).split(',').filter(Boolean);
  const unknown = methods.filter((m) => !(m in METHODS));
  if (unknown.length) throw new Error(`unknown method(s) ${unknown.join(', ')}; known: ${Object.keys(METHODS).join(', ')}`);
  await useBackend(backend);
  console.log(`somax regression example, backend ${tf.getBackend()}, ${steps} steps per method`);

  const files: string[] = [];
  const sine = sineProblem();
  const { runs, fits } = runProblem(sine, methods, steps);
  const grid = Array.from(sine.test.x);
  await lineChartSvg(
    'docs/img/regression-sine-fit.svg',
    [
      ...grid.map((x, i) => ({ method: 'sin(2x)', x, y: sine.test.y[i] })),
      ...[...fits].flatMap(([method, f]) => grid.map((x, i) => ({ method, x, y: f[i] }))),
    ],
    { title: `sine wave: fits after ${steps} steps`, x: 'x', y: 'y' },
  );
  files.push('docs/img/regression-sine-fit.svg');
  files.push(
    ...(await writeCharts(runs, [
      {
        file: 'docs/img/regression-sine-loss.svg',
        title: `${sine.title}: training loss vs step`,
        x: { label: 'step', value: (c) => c.step },
        y: { label: 'training loss (½ squared error)', value: (c) => c.loss, log: true },
      },
    ])),
  );
  const cars = carsProblem();
  if (cars) {
    const { runs: carRuns } = runProblem(cars, methods, steps);
    files.push(
      ...(await writeCharts(carRuns, [
        {
          file: 'docs/img/regression-cars-rmse.svg',
          title: `${cars.title}: test RMSE vs step`,
          x: { label: 'step', value: (c) => c.step },
          y: { label: 'test RMSE (standardized mpg)', value: (c) => c.metrics.testRmse, log: true },
        },
      ])),
    );
  } else {
    console.log('\n(tabular example skipped: the vega-datasets dev dependency is not installed)');
  }
  console.log(`\nplots written: ${files.join(', ')}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
