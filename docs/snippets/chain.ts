/**
 * The three worked examples of docs/chain.md, each trained a few steps on a small regression.
 * Run: npx tsx docs/snippets/chain.ts
 */
import * as tf from '@tensorflow/tfjs';
import {
  addDecayedWeights,
  cgSolver,
  chain,
  clip,
  clipByGlobalNorm,
  ggnCurvature,
  hessianCurvature,
  hutchinsonEstimator,
  makeStep,
  multiTransform,
  objectiveLoss,
  scaleByAdam,
  scaleByDiagonalCurvature,
  scaleByLearningRate,
  scaleBySecondOrder,
  sgd,
  trace,
  tree,
  trustRegionDamping,
  warmupCosineDecaySchedule,
} from '../../index';
import type { GradientTransformation, Objective, Tree } from '../../index';

const predict = (p: any, x: tf.Tensor) => tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x as tf.Tensor2D, p.w1), p.b1)), p.w2), p.b2);
const objective: Objective = { predict, loss: 'meanSquaredError' };
const lossFn = objectiveLoss(objective);
const init = (): Tree =>
  tf.tidy(() => ({
    w1: tf.randomNormal([1, 16], 0, 1, 'float32', 1),
    b1: tf.zeros([16]),
    w2: tf.mul(tf.randomNormal([16, 1], 0, 1, 'float32', 2), 0.25),
    b2: tf.zeros([1]),
  }));
const x = tf.tidy(() => tf.linspace(-3, 3, 64).reshape([64, 1]));
const batch = { x, y: tf.sin(x) };
const curvatureBatch = { x: x.slice([0, 0], [16, 1]), y: batch.y.slice([0, 0], [16, 1]) };

function run(name: string, tx: GradientTransformation<any>, steps: number): void {
  const step = makeStep(tx, lossFn);
  let params = init();
  let state = tx.init(params);
  const first = lossFn(params, batch);
  for (let i = 0; i < steps; i++) {
    const out = step(params, state, batch, { curvatureBatch });
    ({ params, state } = out);
    out.loss.dispose();
  }
  const last = lossFn(params, batch);
  console.log(`${name}: loss ${first.dataSync()[0].toFixed(4)} -> ${last.dataSync()[0].toFixed(4)} in ${steps} steps`);
  tree.dispose([params, state, first, last]);
}

// 1. AdamW with clipping, a warmup-cosine schedule and no decay on the biases.
const adamw = chain(
  clipByGlobalNorm(1.0),
  scaleByAdam({ b1: 0.9, b2: 0.999 }),
  addDecayedWeights(1e-4, { mask: { w1: true, b1: false, w2: true, b2: false } }),
  scaleByLearningRate(warmupCosineDecaySchedule({ initValue: 0, peakValue: 1e-2, warmupSteps: 20, decaySteps: 300 })),
);
run('clipped AdamW, warmup-cosine', adamw, 300);

// 2. A Gauss-Newton-CG method from its parts: GGN curvature, 10 CG steps, trust-region damping,
//    then momentum and a learning rate (what sgn does, with a different post-direction chain).
const gnCg = scaleBySecondOrder({
  curvature: ggnCurvature(objective),
  solver: cgSolver({ maxIterations: 10, tol: 1e-4 }),
  damping: trustRegionDamping({ lam0: 1, minLam: 1e-3 }),
  lossFn, // the gain ratio ρ needs the loss
  tx: chain(trace(0.5), scaleByLearningRate(1.0)),
});
run('GGN-CG + trust region + momentum', gnCg, 30);

// 3. Sophia-H your way: clipped gradients, 2 Hutchinson probes every 5 steps, γ = 0.05, and the
//    element-wise clip of Sophia, then a learning rate.
const sophia = chain(
  clipByGlobalNorm(1.0),
  scaleByDiagonalCurvature(hutchinsonEstimator(hessianCurvature(lossFn), { numProbes: 2 }), {
    mode: 'sophia',
    gamma: 0.05,
    evalEveryK: 5,
  }),
  clip(1.0),
  scaleByLearningRate(0.05),
);
run('Sophia-H, 2 probes every 5 steps', sophia, 200);

// multiTransform and masked hand their inner transform the params tree with the other labels'
// leaves left out (empty nodes, as Optax's MaskedNode): lossFn(params) of a curvature piece would
// fail there. Use a curvature piece on the whole tree.
const mixed = multiTransform({ w: adamLike(), b: sgd(0.05) }, { w1: 'w', b1: 'b', w2: 'w', b2: 'b' });
run('Adam on weights, SGD on biases', mixed, 200);
function adamLike() {
  return chain(scaleByAdam(), scaleByLearningRate(1e-2));
}

tf.dispose([x, batch.y, curvatureBatch.x, curvatureBatch.y]);
console.log('tensors at the end:', tf.memory().numTensors);
