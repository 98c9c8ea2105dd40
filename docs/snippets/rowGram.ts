/**
 * docs/row-gram.md: egn on an MLP built by mlpObjective (row Gram by the delta trick), a model
 * with a skip connection built by denseObjective, and the check that the hook's Gram equals the
 * one from Jacobian rows. Run: npx tsx docs/snippets/rowGram.ts
 */
import * as tf from '@tensorflow/tfjs';
import { denseObjective, egn, jacobianRows, makeStep, mlpObjective, objectiveLoss, outputBasis, tree } from '../../index';
import type { Tree } from '../../index';

// An MLP 20-64-5 with softmax cross-entropy; params { w1, b1, w2, b2 } from objective.init.
const objective = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });
let params: Tree = objective.init([20, 64, 5]);
const x = tf.randomNormal([64, 20], 0, 1, 'float32', 1);
const y = tf.cast(tf.oneHot(tf.argMax(tf.matMul(x, tf.randomNormal([20, 5], 0, 1, 'float32', 2)), 1), 5), 'float32');
const batch = { x, y };
const curvatureBatch = { x: x.slice(0, 16), y: y.slice(0, 16) };

const tx = egn(objective, { lam0: 1 }); // J Jᵀ of the 16 × 5 rows: one tiled backward pass
const step = makeStep(tx, objectiveLoss(objective));
let state = tx.init(params);
for (let i = 0; i < 20; i++) {
  const out = step(params, state, batch, { curvatureBatch });
  if (i % 5 === 0) console.log(`step ${i}: loss ${out.loss.dataSync()[0].toFixed(4)}`);
  out.loss.dispose();
  ({ params, state } = out);
}

// Any model whose parameters each enter through one dense layer: here a skip connection.
const residual = denseObjective({
  forward: (p: any, input: tf.Tensor, dense) => {
    const h = tf.tanh(dense(input, p.w1, p.b1));
    return dense(tf.add(h, tf.tanh(dense(h, p.w2, p.b2))), p.w3, p.b3);
  },
  loss: 'meanSquaredError',
});
const q: Tree = tf.tidy(() => ({
  w1: tf.randomNormal([20, 8], 0, 0.3, 'float32', 3),
  b1: tf.zeros([8]),
  w2: tf.randomNormal([8, 8], 0, 0.3, 'float32', 4),
  b2: tf.zeros([8]),
  w3: tf.randomNormal([8, 2], 0, 0.3, 'float32', 5),
  b3: tf.zeros([2]),
}));
const xs = x.slice(0, 6);
const fast = tf.tidy(() => residual.rowGram(q, xs, outputBasis(residual.predict(q, xs)))); // U[k, i] = e_k
const j = jacobianRows(residual, q, xs);
const slow = tf.matMul(j, j, false, true);
console.log(
  'max |hook − J Jᵀ|:',
  tf
    .max(tf.abs(tf.sub(fast, slow)))
    .dataSync()[0]
    .toExponential(1),
);
tree.dispose([params, state, q, x, y, curvatureBatch, xs, fast, j, slow] as any);
