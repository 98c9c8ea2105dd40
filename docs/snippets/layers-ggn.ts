/**
 * Checks the two recipes of docs/layers-models.md on a tiny tf.sequential regression model:
 * (A) the model's own variables as the params, `model.apply` as predict (updated in place);
 * (B) a functional forward pass over a params tree built from the Dense layers, so that methods
 *     that evaluate the model at other params (trust region, line searches) work; the result is
 *     copied back with `model.setWeights`.
 * Run: npx tsx docs/snippets/layers-ggn.ts
 */
import * as tf from '@tensorflow/tfjs';
import { disposeState, egn, makeStep, objectiveLoss, sgn, tree } from '../../index';
import type { Objective, Tree } from '../../index';

function data(): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const x = tf.linspace(-3, 3, 64).reshape([64, 1]) as tf.Tensor2D;
  return { x, y: tf.sin(x) as tf.Tensor2D };
}

function model(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.dense({ units: 16, activation: 'tanh', inputShape: [1], kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }));
  m.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }));
  return m;
}

const mse = (m: tf.LayersModel, b: { x: tf.Tensor; y: tf.Tensor }) =>
  tf.tidy(() => tf.losses.meanSquaredError(b.y, m.predict(b.x) as tf.Tensor).dataSync()[0]);

// (A) the variables themselves as the params; predict ignores its first argument.
function recipeA(method: 'egn' | 'sgn'): void {
  const batch = data();
  const m = model();
  const before = mse(m, batch);
  const params = Object.fromEntries(m.trainableWeights.map((w) => [w.name, w.read() as tf.Variable]));
  const objective: Objective = { predict: (_p, x) => m.apply(x) as tf.Tensor, loss: 'meanSquaredError' };
  const tx = method === 'egn' ? egn(objective, { lam0: 0.1 }) : sgn(objective, { lam0: 0.1 });
  const step = makeStep(tx, objectiveLoss(objective));
  let state = tx.init(params);
  const n0 = tf.memory().numTensors;
  for (let i = 0; i < 30; i++) {
    const out = step(params, state, batch);
    state = out.state;
    out.loss.dispose();
  }
  console.log(`A ${method}: model mse ${before.toFixed(4)} -> ${mse(m, batch).toFixed(4)}, tensors ${n0} -> ${tf.memory().numTensors}`);
  disposeState(state);
  m.dispose();
  tf.dispose(batch);
}

// (B) a functional forward pass of a stack of Dense layers, over a params tree keyed by weight name.
function denseForward(m: tf.Sequential) {
  const layers = m.layers.map((l) => {
    const [kernel, bias] = l.trainableWeights.map((w) => w.name);
    const activation = (l as unknown as { activation: { apply(x: tf.Tensor): tf.Tensor } }).activation;
    return { kernel, bias, activation };
  });
  return (p: Tree, x: tf.Tensor): tf.Tensor => {
    const w = p as Record<string, tf.Tensor>;
    return layers.reduce((h, l) => l.activation.apply(tf.add(tf.matMul(h as tf.Tensor2D, w[l.kernel] as tf.Tensor2D), w[l.bias])), x);
  };
}

function recipeB(): void {
  const batch = data();
  const m = model();
  const before = mse(m, batch);
  const objective: Objective = { predict: denseForward(m), loss: 'meanSquaredError' };
  // A plain tensor copy of the weights: somax returns new params each step.
  let params: Tree = Object.fromEntries(m.trainableWeights.map((w) => [w.name, tf.clone(w.read())]));
  const tx = egn(objective, { lam0: 1, lamPolicy: 'trustRegion' });
  const step = makeStep(tx, objectiveLoss(objective));
  let state = tx.init(params);
  let lam = 0;
  for (let i = 0; i < 30; i++) {
    const out = step(params, state, batch);
    ({ params, state } = out);
    lam = out.info.lamNext as number;
    out.loss.dispose();
  }
  m.setWeights(m.trainableWeights.map((w) => (params as Record<string, tf.Tensor>)[w.name]));
  console.log(`B egn trustRegion: model mse ${before.toFixed(4)} -> ${mse(m, batch).toFixed(4)}, λ ${lam.toExponential(2)}`);
  tree.dispose(params);
  disposeState(state);
  m.dispose();
  tf.dispose(batch);
}

recipeA('egn');
recipeA('sgn');
recipeB();
