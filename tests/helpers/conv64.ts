/**
 * A tiny conv net in float64 for references: conv 3×3 (valid, 1 → 2 channels) + tanh, average
 * pooling 2×2 → flatten → dense → softmax cross-entropy; with its tfjs twin. Curvature references
 * come from finite differences of the float64 loss / outputs (see fd64 below).
 * Params raveled in sorted-key order: b1 [2], b2 [3], k [3,3,1,2], w [2·2·2? see below, 3].
 */
import * as tf from '@tensorflow/tfjs-core';
import { rand } from './mlp64';

const H = 6; // input 6×6×1
const F = 3; // filter 3×3
const C1 = 2; // conv channels
const O = H - F + 1; // 4 → avg pool 2×2 → 2×2
const P2 = O / 2;
const D = P2 * P2 * C1; // 8 features
const K = 3; // classes

export const sizes = { b1: C1, b2: K, k: F * F * C1, w: D * K };
export const numParams = sizes.b1 + sizes.b2 + sizes.k + sizes.w;

function unpack(th: Float64Array) {
  let o = 0;
  const take = (n: number) => th.subarray(o, (o += n));
  return { b1: take(sizes.b1), b2: take(sizes.b2), k: take(sizes.k), w: take(sizes.w) };
}

/** Logits [B, K] of the float64 net (NHWC, kernel [fh, fw, in, out] as tfjs). */
export function forward(th: Float64Array, x: Float64Array, b: number): Float64Array {
  const { b1, b2, k, w } = unpack(th);
  const out = new Float64Array(b * K);
  for (let n = 0; n < b; n++) {
    const act = new Float64Array(O * O * C1);
    for (let i = 0; i < O; i++)
      for (let j = 0; j < O; j++)
        for (let c = 0; c < C1; c++) {
          let s = b1[c];
          for (let u = 0; u < F; u++) for (let v = 0; v < F; v++) s += x[n * H * H + (i + u) * H + (j + v)] * k[(u * F + v) * C1 + c];
          act[(i * O + j) * C1 + c] = Math.tanh(s);
        }
    const feat = new Float64Array(D);
    for (let i = 0; i < P2; i++)
      for (let j = 0; j < P2; j++)
        for (let c = 0; c < C1; c++) {
          let s = 0;
          for (let u = 0; u < 2; u++) for (let v = 0; v < 2; v++) s += act[((2 * i + u) * O + (2 * j + v)) * C1 + c];
          feat[(i * P2 + j) * C1 + c] = s / 4;
        }
    for (let q = 0; q < K; q++) {
      let s = b2[q];
      for (let f = 0; f < D; f++) s += feat[f] * w[f * K + q];
      out[n * K + q] = s;
    }
  }
  return out;
}

export function loss(th: Float64Array, x: Float64Array, y: Float64Array, b: number): number {
  const f = forward(th, x, b);
  let total = 0;
  for (let n = 0; n < b; n++) {
    const row = Array.from(f.subarray(n * K, n * K + K));
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
    for (let q = 0; q < K; q++) total -= y[n * K + q] * (row[q] - lse);
  }
  return total / b;
}

/** The problem: float64 data and parameters and their tfjs twins. */
export function makeConvProblem(b = 3, seed = 4) {
  const x = rand(b * H * H, seed);
  const y = new Float64Array(b * K);
  for (let n = 0; n < b; n++) y[n * K + (n % K)] = 1;
  const theta = rand(numParams, seed + 1).map((v) => v * 0.7);
  const { b1, b2, k, w } = unpack(theta);
  const params = () => ({
    b1: tf.tensor1d(Array.from(b1)),
    b2: tf.tensor1d(Array.from(b2)),
    k: tf.tensor4d(Array.from(k), [F, F, 1, C1]),
    w: tf.tensor2d(Array.from(w), [D, K]),
  });
  const batch = () => ({ x: tf.tensor4d(Array.from(x), [b, H, H, 1]), y: tf.tensor2d(Array.from(y), [b, K]) });
  const predict = (p: any, xs: tf.Tensor) => {
    const z = tf.tanh(tf.add(tf.conv2d(xs as tf.Tensor4D, p.k, 1, 'valid'), p.b1));
    const pooled = tf.avgPool(z as tf.Tensor4D, 2, 2, 'valid');
    return tf.add(tf.matMul(tf.reshape(pooled, [xs.shape[0], D]), p.w), p.b2);
  };
  return { x, y, b, theta, params, batch, predict, K };
}

/** Dense Hessian of a float64 scalar function by central second differences. */
export function fdHessian(f: (th: Float64Array) => number, th: Float64Array, h = 1e-4): Float64Array {
  const p = th.length;
  const out = new Float64Array(p * p);
  const at = (i: number, si: number, j: number, sj: number) => {
    const t = Float64Array.from(th);
    t[i] += si * h;
    t[j] += sj * h;
    return f(t);
  };
  for (let i = 0; i < p; i++)
    for (let j = i; j < p; j++) {
      const v = (at(i, 1, j, 1) - at(i, 1, j, -1) - at(i, -1, j, 1) + at(i, -1, j, -1)) / (4 * h * h);
      out[i * p + j] = v;
      out[j * p + i] = v;
    }
  return out;
}

/** Jacobian (rows = outputs, sample-major) of a float64 vector function by central differences. */
export function fdJacobian(f: (th: Float64Array) => Float64Array, th: Float64Array, h = 1e-6): Float64Array {
  const p = th.length;
  const m = f(th).length;
  const out = new Float64Array(m * p);
  for (let j = 0; j < p; j++) {
    const tp = Float64Array.from(th);
    tp[j] += h;
    const tm = Float64Array.from(th);
    tm[j] -= h;
    const fp = f(tp);
    const fm = f(tm);
    for (let r = 0; r < m; r++) out[r * p + j] = (fp[r] - fm[r]) / (2 * h);
  }
  return out;
}
