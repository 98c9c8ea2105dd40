/**
 * The sine-wave regression problem of somax's examples: y = sin(2x) + 0.1·noise on x ∈ [−π, π],
 * fitted by a tanh MLP 1-H-1 with squared error (`npm run example:regression`, bench `regression`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tree } from '../../index';

/** A regression problem: inputs/targets split into train and test, and the MLP width. */
export interface Problem {
  readonly name: string;
  readonly title: string;
  readonly train: { x: Float32Array; y: Float32Array; n: number };
  readonly test: { x: Float32Array; y: Float32Array; n: number };
  readonly features: number;
  readonly hidden: number;
  readonly batch: number;
}

/** LeCun-normal weights (seeds `seed`, `seed + 1`, `seed + 2`), a spread of first-layer biases, zero output bias. */
export function initParams(features: number, hidden: number, seed = 11): Tree {
  return tf.tidy(() => ({
    w1: tf.mul(tf.randomNormal([features, hidden], 0, 1, 'float32', seed), Math.sqrt(1 / features)),
    b1: tf.mul(tf.randomNormal([hidden], 0, 1, 'float32', seed + 1), 0.5),
    w2: tf.mul(tf.randomNormal([hidden, 1], 0, 1, 'float32', seed + 2), Math.sqrt(1 / hidden)),
    b2: tf.zeros([1]),
  }));
}

/** A mulberry32 stream of uniforms in [0, 1) and its Box-Muller normals. */
function rng(seed: number): { uniform: () => number; normal: () => number } {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { uniform, normal: () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()) };
}

/** y = sin(2x) + 0.1·noise on x ∈ [−π, π]: 512 noisy training points, the noise-free curve on 200 grid points as the test set. */
export function sineProblem(seed = 7): Problem {
  const r = rng(seed);
  const n = 512;
  const x = Float32Array.from({ length: n }, () => (2 * r.uniform() - 1) * Math.PI);
  const y = x.map((v) => Math.sin(2 * v) + 0.1 * r.normal());
  const gx = Float32Array.from({ length: 200 }, (_, i) => -Math.PI + (2 * Math.PI * i) / 199);
  return {
    name: 'sine',
    title: 'sine wave: y = sin(2x) + 0.1·noise, MLP 1-32-1',
    train: { x, y, n },
    test: { x: gx, y: gx.map((v) => Math.sin(2 * v)), n: 200 },
    features: 1,
    hidden: 32,
    batch: 64,
  };
}
