/**
 * Every method of docs/methods/*.md, built as its page shows, trained a few steps on a small
 * classifier (and IGND / the Gauss-Newton methods on a regression too). Prints loss before/after,
 * ms per step and the tensor count.
 * Run: npx tsx docs/snippets/methods.ts [names...]
 */
import * as tf from '@tensorflow/tfjs';
import {
  adahessian,
  egn,
  ggnDirect,
  ignd,
  kfac,
  lbfgs,
  makeStep,
  mlpObjective,
  newtonCg,
  newtonDirect,
  objectiveLoss,
  sgdArmijo,
  sgn,
  shampoo,
  sophiaG,
  sophiaH,
  sqn,
  swmng,
  tree,
} from '../../index';
import type { GradientTransformation, Objective, Tree } from '../../index';

const predict = (p: any, x: tf.Tensor) => tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x as tf.Tensor2D, p.w1), p.b1)), p.w2), p.b2);
const init = (outputs: number): Tree =>
  tf.tidy(() => ({
    w1: tf.mul(tf.randomNormal([4, 8], 0, 1, 'float32', 1), 0.5),
    b1: tf.zeros([8]),
    w2: tf.mul(tf.randomNormal([8, outputs], 0, 1, 'float32', 2), 0.3),
    b2: tf.zeros([outputs]),
  }));
const classes: Objective = { predict, loss: 'softmaxCrossEntropy' };
const regression: Objective = { predict, loss: 'meanSquaredError' };
const lossFn = objectiveLoss(classes);
// The same MLP linearized in closed form (its layers' inputs and deltas): what K-FAC needs.
const layered = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });

const { x, labels } = tf.tidy(() => {
  const x = tf.randomNormal([64, 4], 0, 1, 'float32', 3);
  return {
    x,
    labels: tf
      .argMax(
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
      )
      .toInt(),
  };
});
const cls = { x, y: labels }; // int32 labels [B]
const clsCurv = { x: x.slice([0, 0], [16, 4]), y: labels.slice([0], [16]) };
const reg = { x, y: tf.tidy(() => tf.sin(tf.sum(x, 1, true))) };
const regCurv = { x: clsCurv.x, y: reg.y.slice([0, 0], [16, 1]) };
// IGND for classification reshapes the targets to the outputs: give it one-hot [B, C] targets.
const oneHot = { x, y: tf.oneHot(labels, 3).toFloat() };
const oneHotCurv = { x: clsCurv.x, y: oneHot.y.slice([0, 0], [16, 3]) };

const METHODS: Record<string, [() => GradientTransformation<any>, 'cls' | 'reg' | 'oneHot', number]> = {
  adahessian: [() => adahessian(lossFn, { learningRate: 0.1 }), 'cls', 30],
  sophiaH: [() => sophiaH(lossFn, { learningRate: 0.05, weightDecay: 0 }), 'cls', 30],
  sophiaG: [() => sophiaG(classes, { learningRate: 0.05, weightDecay: 0 }), 'cls', 30],
  newtonCg: [() => newtonCg(lossFn, { lam0: 1, maxIterations: 10, lamPolicy: 'trustRegion', lamOptions: { minLam: 0.1 } }), 'cls', 10],
  newtonDirect: [() => newtonDirect(lossFn, { lam0: 1 }), 'cls', 10],
  sgn: [() => sgn(classes, { lam0: 1, maxIterations: 10 }), 'cls', 10],
  egn: [() => egn(classes, { lam0: 1 }), 'cls', 10],
  ggnDirect: [() => ggnDirect(classes, { lam0: 1 }), 'cls', 10],
  sqn: [() => sqn(lossFn, { learningRate: 0.5, linesearch: true }), 'cls', 30],
  swmng: [() => swmng(classes, { lam0: 1, learningRate: 0.5 }), 'cls', 10],
  ignd: [() => ignd(regression, { learningRate: 0.1 }), 'reg', 30],
  igndCls: [() => ignd(classes, { learningRate: 0.1 }), 'oneHot', 30],
  egnReg: [() => egn(regression, { lam0: 0.1, lamPolicy: 'trustRegion' }), 'reg', 10],
  kfac: [() => kfac(layered, { learningRate: 0.3, inverseEvery: 5 }), 'cls', 30],
  shampoo: [() => shampoo({ learningRate: 0.02 }), 'cls', 30],
  lbfgs: [() => lbfgs(lossFn), 'cls', 10],
  sgdArmijo: [() => sgdArmijo(lossFn, { learningRate: 1 }), 'cls', 30],
};

const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(METHODS);
for (const name of names) {
  const [build, kind, steps] = METHODS[name];
  const tx = build();
  const fn = kind === 'reg' ? objectiveLoss(regression) : lossFn;
  const [batch, curvatureBatch] = kind === 'cls' ? [cls, clsCurv] : kind === 'reg' ? [reg, regCurv] : [oneHot, oneHotCurv];
  const step = makeStep(tx, fn);
  let params = init(kind === 'reg' ? 1 : 3);
  let state = tx.init(params);
  const first = fn(params, batch).dataSync()[0];
  let n1 = 0;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const out = step(params, state, batch, { curvatureBatch });
    ({ params, state } = out);
    out.loss.dispose();
    if (i === 1) n1 = tf.memory().numTensors;
  }
  const ms = (performance.now() - t0) / steps;
  const last = tf.tidy(() => fn(params, batch).dataSync()[0]);
  console.log(
    `${name.padEnd(12)} loss ${first.toFixed(4)} -> ${last.toFixed(4)}  ${ms.toFixed(1)} ms/step  tensors ${n1} -> ` +
      `${tf.memory().numTensors}`,
  );
  tree.dispose([params, state]);
}
