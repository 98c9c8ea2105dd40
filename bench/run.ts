/**
 * `npm run bench`: ratios measured in one run on an MLP 784-128-10 (batch 128), on the cpu and
 * wasm backends — our adam step vs tf.train.adam, and the curvature products relative to one
 * gradient. Writes bench/results/latest.json and bench/results/README.md.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  adam, ggnvp, hvp, jvp, makeStep, objectiveLoss, rowGram, tree, valueAndGrad,
} from '../index';
import type { Tree } from '../index';
import { interleaved, writeResults } from './harness';
import type { Row } from './harness';

const D = 784;
const H = 128;
const C = 10;
const B = 128;

function mlpParams(seed: number) {
  return {
    w1: tf.mul(tf.randomNormal([D, H], 0, 1, 'float32', seed), Math.sqrt(1 / D)),
    b1: tf.zeros([H]),
    w2: tf.mul(tf.randomNormal([H, C], 0, 1, 'float32', seed + 1), Math.sqrt(1 / H)),
    b2: tf.zeros([C]),
  };
}

const predict = (p: any, x: tf.Tensor) => tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x as tf.Tensor2D, p.w1), p.b1)), p.w2), p.b2);
const objective = { predict, loss: 'softmaxCrossEntropy' as const };
const lossFn = objectiveLoss(objective);

function batchOf(n: number, seed: number) {
  const x = tf.randomNormal([n, D], 0, 1, 'float32', seed);
  const labels = tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7) % C), 'int32');
  return { x, y: tf.oneHot(labels, C, 1, 0, 'float32') };
}

async function benchBackend(backend: string): Promise<Row[]> {
  await tf.setBackend(backend);
  await tf.ready();
  if (tf.getBackend() !== backend) throw new Error(`asked for ${backend}, got ${tf.getBackend()}`);
  const rows: Row[] = [];
  const params = mlpParams(1);
  const batch = batchOf(B, 2);
  const v = tree.randomNormalLike(params, 3);
  const vg = valueAndGrad(lossFn);

  // Curvature products relative to one gradient.
  const products = interleaved({
    gradient: () => { const { value, grads } = vg(params, batch); return [value, ...tree.leaves(grads)]; },
    hvp: () => tree.leaves(hvp(lossFn, params, v, batch)),
    ggnvp: () => tree.leaves(ggnvp(objective, params, v, batch)),
    jvp: () => jvp((p) => predict(p, batch.x), params, v, { outputShape: [B, C] }),
  });
  const g = products.gradient;
  rows.push({ backend, name: 'gradient (batch 128)', ms: g });
  rows.push({ backend, name: 'HVP (reverse-over-reverse)', ms: products.hvp, ratio: products.hvp / g, ratioOf: '/ gradient', goal: '≤ 2.5' });
  rows.push({ backend, name: 'GGN-vp (JVP + VJP)', ms: products.ggnvp, ratio: products.ggnvp / g, ratioOf: '/ gradient', goal: '≤ 3' });
  rows.push({ backend, name: 'JVP (double-VJP)', ms: products.jvp, ratio: products.jvp / g, ratioOf: '/ gradient' });

  // Row Gram matrix J Jᵀ for a batch of 32 × 10 outputs (generic per-sample rows).
  const small = batchOf(32, 4);
  const gram = interleaved({
    gradient: () => { const { value, grads } = vg(params, small); return [value, ...tree.leaves(grads)]; },
    rowGram: () => { rowGram(objective, params, small.x); },
  }, { reps: 1, warmup: 0 });
  rows.push({ backend, name: 'row Gram J Jᵀ (batch 32 × 10 outputs)', ms: gram.rowGram, ratio: gram.rowGram / products.gradient, ratioOf: '/ gradient (batch 128)' });

  // Our adam step vs tf.train.adam, both on tf.Variables, same data, interleaved.
  const ourVars = tree.map((t: tf.Tensor) => tf.variable(t), params) as Tree;
  const theirVars = tree.map((t: tf.Tensor) => tf.variable(t), params) as any;
  const tx = adam(1e-3);
  let state = tx.init(ourVars);
  const step = makeStep(tx, lossFn);
  const opt = tf.train.adam(1e-3);
  const theirLoss = () => lossFn(theirVars, batch);
  const adamTimes = interleaved({
    somaxAdam: () => { const out = step(ourVars, state, batch); state = out.state; return out.loss; },
    tfTrainAdam: () => opt.minimize(theirLoss, true) as tf.Scalar,
  }, { reps: 30, warmup: 5 });
  rows.push({ backend, name: 'tf.train.adam step', ms: adamTimes.tfTrainAdam });
  rows.push({ backend, name: 'somax adam step (makeStep)', ms: adamTimes.somaxAdam, ratio: adamTimes.somaxAdam / adamTimes.tfTrainAdam, ratioOf: '/ tf.train.adam', goal: '≤ 1.05' });

  tree.dispose([params, batch, v, small, ourVars, theirVars, state] as any);
  opt.dispose();
  return rows;
}

async function main(): Promise<void> {
  const warn = console.warn;
  console.warn = () => undefined; // tfjs's "install tfjs-node" notice
  const rows: Row[] = [];
  for (const backend of ['wasm', 'cpu']) {
    rows.push(...(await benchBackend(backend)));
    console.warn = warn;
  }
  console.table(rows.map((r) => ({ backend: r.backend, measurement: r.name, ms: +r.ms.toFixed(2), ratio: r.ratio === undefined ? '' : `${r.ratio.toFixed(2)} ${r.ratioOf}`, goal: r.goal ?? '' })));
  writeResults(rows);
  console.log('wrote bench/results/latest.json and bench/results/README.md');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
