/**
 * The peer comparison: the same gradient and Hessian-vector product of the same MLP 784-128-10
 * (batch 128, same params, batch and direction) with jax-js (`jit(grad)` and `jit(jvp ∘ grad)`,
 * forward-over-reverse, on its wasm device) and with somax on tfjs, timed interleaved in one run.
 * jax-js's HVP is checked against ours before anything is timed.
 */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { defaultDevice, grad, init, jit, jvp, nn, numpy as np, tree as jtree } from '@jax-js/jax';
import { hvp, tree, valueAndGrad } from '../index';
import { interleaved, maxRelDiff } from './harness';
import { B, batchOf, lossFn, mlpParams } from './mlp';
import type { Suite } from './harness';

type JaxParams = { w1: np.Array; b1: np.Array; w2: np.Array; b2: np.Array };

/** jax-js's version, read from its package.json (not in the package's exports: found beside its entry). */
function jaxVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@jax-js/jax');
  return (JSON.parse(fs.readFileSync(path.join(path.dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** The peer libraries' versions, for the machine line of the results. */
export function peerVersions(): Record<string, string> {
  return { 'jax-js': jaxVersion() };
}

/** A tf tensor as a jax-js array of the same shape and values. */
const toJax = (t: tf.Tensor): np.Array => np.array(t.dataSync() as Float32Array).reshape(t.shape);
/** The MLP's params (or a direction) as jax-js arrays, keys in one fixed order (jax-js trees compare key order). */
const toJaxParams = (p: Record<string, tf.Tensor>): JaxParams => ({ w1: toJax(p.w1), b1: toJax(p.b1), w2: toJax(p.w2), b2: toJax(p.b2) });

/**
 * The MLP loss in jax-js, with jax-js's ownership rules: every argument is consumed exactly once
 * (the same function as bench/mlp.ts: tanh hidden layer, mean softmax cross-entropy).
 */
function jaxLoss(p: JaxParams, x: np.Array, y: np.Array): np.Array {
  const h = np.tanh(np.matmul(x, p.w1).add(p.b1));
  const logits = np.matmul(h, p.w2).add(p.b2);
  return nn
    .logSoftmax(logits, -1)
    .mul(y)
    .sum()
    .mul(-1 / (y.shape[0] as number));
}

/** jit-compiled gradient and forward-over-reverse HVP of {@link jaxLoss}. */
function jaxFunctions() {
  const gradient = jit((p: JaxParams, x: np.Array, y: np.Array) => grad(jaxLoss)(p, x, y));
  const hessianVector = jit(
    (p: JaxParams, v: JaxParams, x: np.Array, y: np.Array) => jvp((q: JaxParams) => grad(jaxLoss)(q, x, y), [p], [v])[1],
  );
  return { gradient, hessianVector };
}

/** Reads every leaf of a jax-js tree (a device sync) as flat float32 arrays; `dataSync` consumes (frees) each leaf. */
function readJax(t: JaxParams): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(t).map(([k, a]) => [k, (a as np.Array).dataSync() as Float32Array]));
}

/** Reads every leaf of a tf tree (a device sync) as flat float32 arrays, then disposes it. */
function readTf(t: Record<string, tf.Tensor>): Record<string, Float32Array> {
  const out = Object.fromEntries(Object.entries(t).map(([k, a]) => [k, a.dataSync() as Float32Array]));
  tree.dispose(t);
  return out;
}

/** The peer suite: somax's gradient and HVP / jax-js's, same model and data, same run (wasm). */
export const peer: Suite = {
  name: 'peer',
  description: 'gradient and HVP of the MLP 784-128-10, batch 128: somax on tfjs vs jax-js (jit, wasm), same run',
  backends: ['wasm'],
  notes:
    'jax-js runs `jit(grad(loss))` and `jit((p, v) => jvp(grad(loss), [p], [v])[1])` (forward-over-reverse) on its ' +
    'wasm device; somax runs `valueAndGrad` and `hvp` (reverse-over-reverse) on tfjs-backend-wasm. Same params, batch ' +
    "and direction; jax-js's HVP and gradient are checked against ours (max relative difference, in the row) before " +
    "timing. Both run single-threaded in node (no global Worker: jax-js's wasm threads and tfjs-wasm's threads " +
    'are browser-only). Our gradient also returns the loss value. Where the time goes (tf.profile of our gradient on wasm): ' +
    'the weight gradient x^T·δ of the first layer, a BatchMatMul with transposeA, is 2/3 of the kernel time: tfjs-backend-wasm 4.22 runs ' +
    'matMul(a, b, transposeA or transposeB) 10–20× slower than a plain matMul of the same size (34 ms vs 1.8 ms for 784×128 by 128×128), ' +
    'while an explicit Transpose kernel plus a plain matMul takes 2.8 ms. A wasm kernel shim doing exactly that (tried outside ' +
    'the bench, same results to 6e-7) made our gradient 3.4× and our HVP 2.9× faster in the same run.',
  async run(backend) {
    await init('wasm');
    defaultDevice('wasm');
    const params = mlpParams(1);
    const batch = batchOf(B, 2);
    const v = tree.randomNormalLike(params, 3) as Record<string, tf.Tensor>;
    const jp = toJaxParams(params);
    const jv = toJaxParams(v);
    const [jx, jy] = [toJax(batch.x), toJax(batch.y)];
    const jax = jaxFunctions();
    const vg = valueAndGrad(lossFn);
    const ours = {
      gradient: () => {
        const { value, grads } = vg(params, batch);
        return [value, ...tree.leaves(grads)];
      },
      hvp: () => tree.leaves(hvp(lossFn, params, v, batch)),
    };
    const theirs = {
      gradient: () => jax.gradient(jtree.ref(jp), jx.ref, jy.ref) as JaxParams,
      hvp: () => jax.hessianVector(jtree.ref(jp), jtree.ref(jv), jx.ref, jy.ref) as JaxParams,
    };
    const hvpDiff = maxRelDiff(readTf(hvp(lossFn, params, v, batch) as Record<string, tf.Tensor>), readJax(theirs.hvp()));
    const ourGradient = vg(params, batch);
    ourGradient.value.dispose();
    const gradDiff = maxRelDiff(readTf(ourGradient.grads as Record<string, tf.Tensor>), readJax(theirs.gradient()));
    if (!(hvpDiff < 1e-3 && gradDiff < 1e-3))
      throw new Error(`jax-js disagrees with somax: HVP max rel diff ${hvpDiff}, gradient ${gradDiff}`);
    const t = interleaved(
      {
        ...ours,
        jaxGradient: () => {
          readJax(theirs.gradient());
        },
        jaxHvp: () => {
          readJax(theirs.hvp());
        },
      },
      { reps: 15, warmup: 3 },
    );
    jtree.dispose([jp, jv, jx, jy]);
    jax.gradient.dispose();
    jax.hessianVector.dispose();
    tree.dispose([params, batch, v] as any);
    const version = `jax-js ${jaxVersion()}`;
    return [
      { backend, name: `${version} gradient (jit; max rel diff to ours ${gradDiff.toExponential(1)})`, ms: t.jaxGradient },
      { backend, name: `${version} HVP (jit, jvp of grad; max rel diff to ours ${hvpDiff.toExponential(1)})`, ms: t.jaxHvp },
      {
        backend,
        name: 'somax gradient vs jax-js',
        ms: t.gradient,
        ratio: t.gradient / t.jaxGradient,
        ratioOf: '/ jax-js gradient',
        goal: '≤ 1',
      },
      { backend, name: 'somax HVP vs jax-js', ms: t.hvp, ratio: t.hvp / t.jaxHvp, ratioOf: '/ jax-js HVP', goal: '≤ 1' },
    ];
  },
};
