/**
 * `npm start`: trains a small MLP classifier on a synthetic two-spirals problem with somax
 * optimizers — first-order (adam, sgd) next to tfjs's own tf.train.adam, and AdaHessian built
 * from somax's second-order pieces — with live progress bars and a results table.
 *
 *   npm start -- --steps 300 --backend wasm --methods adam,adahessian
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import cliProgress from 'cli-progress';
import {
  adam, chain, hessianCurvature, hutchinsonEstimator, losses, makeStep, scaleByDiagonalCurvature,
  scaleByLearningRate, sgd, tree,
} from '../index';
import type { GradientTransformation, Tree } from '../index';

const HELP = `somax demo: two-spirals classification with an MLP 2-32-32-2

  --steps N        training steps per method (default 400)
  --methods a,b    methods to run (default: all of ${'tfAdam,adam,sgd,adahessian'})
  --backend name   cpu | wasm (default wasm)
  --help           this text`;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** Two interleaved spirals, n points per class, with a little noise. */
function spirals(n: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 0.2;
  const xs: number[] = [];
  const ys: number[] = [];
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < n; i++) {
      const r = (i / n) * 3 + 0.3;
      const t = 1.75 * (i / n) * 2 * Math.PI + c * Math.PI;
      xs.push(r * Math.sin(t) + rand(), r * Math.cos(t) + rand());
      ys.push(c === 0 ? 1 : 0, c === 0 ? 0 : 1);
    }
  }
  return { x: tf.tensor2d(xs, [2 * n, 2]), y: tf.tensor2d(ys, [2 * n, 2]) };
}

function initParams(seed: number): Tree {
  const dense = (i: number, o: number, k: number) => tf.tidy(() => tf.mul(tf.randomNormal([i, o], 0, 1, 'float32', seed + k), Math.sqrt(1 / i)));
  return { w1: dense(2, 32, 1), b1: tf.zeros([32]), w2: dense(32, 32, 2), b2: tf.zeros([32]), w3: dense(32, 2, 3), b3: tf.zeros([2]) };
}

const predict = (p: any, x: tf.Tensor) =>
  tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x as tf.Tensor2D, p.w1), p.b1)), p.w2), p.b2)), p.w3), p.b3);
const lossFn = (p: Tree, batch: { x: tf.Tensor; y: tf.Tensor }) => tf.mean(losses.softmaxCrossEntropy(predict(p, batch.x), batch.y)) as tf.Scalar;
const accuracy = (p: Tree, batch: { x: tf.Tensor; y: tf.Tensor }) =>
  tree.readScalar(() => tf.mean(tf.cast(tf.equal(tf.argMax(predict(p, batch.x), 1), tf.argMax(batch.y, 1)), 'float32')));

const METHODS: Record<string, () => GradientTransformation<any> | 'tf'> = {
  tfAdam: () => 'tf',
  adam: () => adam(0.01),
  sgd: () => sgd(0.1, { momentum: 0.9 }),
  adahessian: () =>
    chain(
      scaleByDiagonalCurvature(hutchinsonEstimator(hessianCurvature(lossFn)), { mode: 'adahessian', spatialAveraging: false }),
      scaleByLearningRate(0.3),
    ),
};

async function main(): Promise<void> {
  if (process.argv.includes('--help')) return console.log(HELP);
  const steps = Number(arg('steps', '400'));
  const backend = arg('backend', 'wasm');
  const methods = arg('methods', Object.keys(METHODS).join(',')).split(',');
  const unknown = methods.filter((m) => !(m in METHODS));
  if (unknown.length) throw new Error(`unknown method(s) ${unknown.join(', ')}; known: ${Object.keys(METHODS).join(', ')}`);
  const warn = console.warn;
  console.warn = () => undefined;
  await tf.setBackend(backend);
  await tf.ready();
  console.warn = warn;
  console.log(`somax demo — two spirals, MLP 2-32-32-2, ${steps} steps, full batch, backend ${tf.getBackend()}\n`);

  const train = spirals(200, 1);
  const test = spirals(100, 2);
  const bars = new cliProgress.MultiBar(
    { format: ' {method} |{bar}| {value}/{total} steps | loss {loss} | acc {acc} | {rate} steps/s', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  const results: Record<string, unknown>[] = [];
  for (const name of methods) {
    const bar = bars.create(steps, 0, { method: name.padEnd(10), loss: '-', acc: '-', rate: '-' });
    const made = METHODS[name]();
    let params = initParams(7);
    const start = performance.now();
    let loss = NaN;
    if (made === 'tf') {
      const vars = tree.map((t: tf.Tensor) => tf.variable(t), params) as Tree;
      tree.dispose(params);
      params = vars;
      const opt = tf.train.adam(0.01);
      for (let i = 0; i < steps; i++) {
        const l = opt.minimize(() => lossFn(vars, train), true) as tf.Scalar;
        if (i % 20 === 0 || i === steps - 1) loss = l.dataSync()[0];
        l.dispose();
        bar.update(i + 1, { loss: loss.toFixed(4), rate: ((i + 1) / ((performance.now() - start) / 1000)).toFixed(0) });
      }
      opt.dispose();
    } else {
      const step = makeStep(made, lossFn);
      let state = made.init(params);
      for (let i = 0; i < steps; i++) {
        const out = step(params, state, train, { key: i });
        if (i % 20 === 0 || i === steps - 1) loss = out.loss.dataSync()[0];
        out.loss.dispose();
        params = out.params;
        state = out.state;
        bar.update(i + 1, { loss: loss.toFixed(4), rate: ((i + 1) / ((performance.now() - start) / 1000)).toFixed(0) });
      }
      tree.dispose(state as any);
    }
    const seconds = (performance.now() - start) / 1000;
    const acc = accuracy(params, test);
    bar.update(steps, { acc: (100 * acc).toFixed(1) + '%' });
    results.push({ method: name, 'final train loss': +loss.toFixed(4), 'test accuracy %': +(100 * acc).toFixed(1), 'ms / step': +((1000 * seconds) / steps).toFixed(2), tensors: tf.memory().numTensors });
    tree.dispose(params);
  }
  bars.stop();
  console.log();
  console.table(results);
  console.log('\nsomax optimizers are plain { init, update } transforms: see README.md for composing your own.');
  tree.dispose([train, test] as any);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
