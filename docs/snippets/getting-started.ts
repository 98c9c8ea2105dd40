/**
 * The code of docs/getting-started.md, run end to end on a small synthetic problem.
 * Run: npx tsx docs/snippets/getting-started.ts
 */
import * as tf from '@tensorflow/tfjs';
import {
  adahessian,
  adam,
  asTfOptimizer,
  describe,
  egn,
  listMethods,
  losses,
  make,
  makeStep,
  minimizeLoss,
  objectiveLoss,
  tree,
} from '../../index';
import type { GradientTransformation, Objective, Tree } from '../../index';

// --- A model as a pure function of a params tree -------------------------------------------------
const init = (): Tree =>
  tf.tidy(() => ({
    w1: tf.mul(tf.randomNormal([4, 16], 0, 1, 'float32', 1), 0.5),
    b1: tf.zeros([16]),
    w2: tf.mul(tf.randomNormal([16, 3], 0, 1, 'float32', 2), 0.25),
    b2: tf.zeros([3]),
  }));
const predict = (p: any, x: tf.Tensor) => tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x as tf.Tensor2D, p.w1), p.b1)), p.w2), p.b2);
const lossFn = (p: Tree, b: { x: tf.Tensor; y: tf.Tensor }) => tf.mean(losses.softmaxCrossEntropy(predict(p, b.x), b.y)) as tf.Scalar;

// --- Data: 3 classes in 4-D, one-hot labels --------------------------------------------------------
function makeBatch(n: number, seed: number) {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, 4], 0, 1, 'float32', seed);
    const labels = tf.argMax(
      tf.matMul(
        x,
        tf.tensor2d([
          [1, -1, 0],
          [0, 1, -1],
          [-1, 0, 1],
          [0.5, 0.5, -1],
        ]),
      ),
      1,
    );
    return { x, y: tf.oneHot(labels, 3).toFloat() };
  });
}
const batches = Array.from({ length: 8 }, (_, i) => makeBatch(64, 10 + i));

// --- 1. The training loop with makeStep -------------------------------------------------------------
function train(tx: GradientTransformation<any>, steps: number, curvature?: (i: number) => unknown): number {
  const step = makeStep(tx, lossFn);
  let params = init();
  let state = tx.init(params);
  let last = NaN;
  for (let i = 0; i < steps; i++) {
    const batch = batches[i % batches.length];
    const out = step(params, state, batch, { curvatureBatch: curvature?.(i) });
    ({ params, state } = out); // the step disposed the old params and state
    last = out.loss.dataSync()[0];
    out.loss.dispose();
  }
  tree.dispose([params, state]);
  return last;
}

const before = tf.memory().numTensors;
console.log('adam(1e-2), 100 steps: loss', train(adam(1e-2), 100).toFixed(4));

// --- 2. A Gauss-Newton method, curvature on a smaller batch ------------------------------------------
const objective: Objective = { predict, loss: 'softmaxCrossEntropy' };
const small = batches.map((b) => ({ x: b.x.slice([0, 0], [16, 4]), y: b.y.slice([0, 0], [16, 3]) }));
console.log(
  'egn, 20 steps, curvature on 16 samples: loss',
  train(egn(objective, { lam0: 1, learningRate: 1 }), 20, (i) => small[i % small.length]).toFixed(4),
);

// --- 3. The registry --------------------------------------------------------------------------------
console.log('make(sophiaG), 50 steps: loss', train(make('sophiaG', { objective, learningRate: 0.05, weightDecay: 0 }), 50).toFixed(4));
console.log(
  'make(newtonCg), 20 steps: loss',
  train(make('newtonCg', { lossFn: objectiveLoss(objective), lam0: 1, maxIterations: 10 }), 20).toFixed(4),
);
tf.dispose(small);
console.log(listMethods().map(describe).join('\n'));
console.log('tensors before', before, 'after', tf.memory().numTensors);

// --- 4. model.fit ---------------------------------------------------------------------------------------
async function fit() {
  const xs = tf.concat(batches.map((b) => b.x));
  const ys = tf.concat(batches.map((b) => b.y));
  for (const [name, optimizer] of [
    ['adam', asTfOptimizer(adam(1e-2))],
    ['adahessian', asTfOptimizer(adahessian(minimizeLoss, { learningRate: 0.05, spatialAveraging: false }))],
  ] as const) {
    const model = tf.sequential({
      layers: [tf.layers.dense({ units: 16, inputShape: [4], activation: 'tanh' }), tf.layers.dense({ units: 3, activation: 'softmax' })],
    });
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const h = await model.fit(xs, ys, { epochs: 10, batchSize: 32, verbose: 0 });
    const acc = h.history.acc as number[];
    console.log(
      `model.fit with ${name}: loss ${(h.history.loss[0] as number).toFixed(3)} -> ` +
        `${(h.history.loss.at(-1) as number).toFixed(3)}, accuracy ${acc.at(-1)!.toFixed(3)}`,
    );
    model.dispose();
    optimizer.dispose();
  }
  tf.dispose([xs, ys]);
}
fit();
