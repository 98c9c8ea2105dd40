/**
 * Float64 references for tests: a one-hidden-layer MLP written in plain JS, its loss, analytic
 * gradient, and curvature matrices built by brute force (central differences of the analytic
 * gradient / outputs). Parameters are raveled in sorted-key order (b1, b2, w1, w2), as tree.ravel.
 */
import * as tf from '@tensorflow/tfjs-core';

export type Act = 'tanh' | 'relu';
export type LossName = 'meanSquaredError' | 'softmaxCrossEntropy';

export interface Mlp64 {
  d: number;
  h: number;
  c: number;
  b: number;
  act: Act;
  loss: LossName;
  x: Float64Array; // [B, d]
  y: Float64Array; // [B, c] (one-hot for CE)
}

/** Deterministic pseudo-random numbers in [-1, 1). */
export function rand(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  return Float64Array.from({ length: n }, () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

export function numParams(m: Mlp64): number {
  return m.h + m.c + m.d * m.h + m.h * m.c;
}

function unpack(m: Mlp64, th: Float64Array) {
  let o = 0;
  const take = (n: number) => th.subarray(o, (o += n));
  const b1 = take(m.h);
  const b2 = take(m.c);
  const w1 = take(m.d * m.h);
  const w2 = take(m.h * m.c);
  return { b1, b2, w1, w2 };
}

function actF(a: Act, z: number): number {
  return a === 'tanh' ? Math.tanh(z) : Math.max(z, 0);
}
function actD(a: Act, z: number): number {
  return a === 'tanh' ? 1 - Math.tanh(z) ** 2 : z > 0 ? 1 : 0;
}

/** Outputs [B, c] and hidden pre-activations. */
export function forward(m: Mlp64, th: Float64Array, x = m.x, b = m.b) {
  const { b1, b2, w1, w2 } = unpack(m, th);
  const z1 = new Float64Array(b * m.h);
  const a1 = new Float64Array(b * m.h);
  const f = new Float64Array(b * m.c);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < m.h; j++) {
      let s = b1[j];
      for (let k = 0; k < m.d; k++) s += x[i * m.d + k] * w1[k * m.h + j];
      z1[i * m.h + j] = s;
      a1[i * m.h + j] = actF(m.act, s);
    }
    for (let j = 0; j < m.c; j++) {
      let s = b2[j];
      for (let k = 0; k < m.h; k++) s += a1[i * m.h + k] * w2[k * m.c + j];
      f[i * m.c + j] = s;
    }
  }
  return { z1, a1, f };
}

function softmaxRow(f: Float64Array, i: number, c: number): number[] {
  const row = Array.from(f.subarray(i * c, i * c + c));
  const mx = Math.max(...row);
  const e = row.map((v) => Math.exp(v - mx));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export function loss(m: Mlp64, th: Float64Array): number {
  const { f } = forward(m, th);
  let total = 0;
  for (let i = 0; i < m.b; i++) {
    if (m.loss === 'meanSquaredError') {
      for (let j = 0; j < m.c; j++) total += 0.5 * (f[i * m.c + j] - m.y[i * m.c + j]) ** 2;
    } else {
      const p = softmaxRow(f, i, m.c);
      for (let j = 0; j < m.c; j++) total -= m.y[i * m.c + j] * Math.log(p[j]);
    }
  }
  return total / m.b;
}

/** Output residuals r = ∂ℓ_i/∂f_i (no 1/B). */
function residual(m: Mlp64, f: Float64Array): Float64Array {
  const r = new Float64Array(m.b * m.c);
  for (let i = 0; i < m.b; i++) {
    const p = m.loss === 'softmaxCrossEntropy' ? softmaxRow(f, i, m.c) : null;
    for (let j = 0; j < m.c; j++) {
      r[i * m.c + j] = p ? p[j] - m.y[i * m.c + j] : f[i * m.c + j] - m.y[i * m.c + j];
    }
  }
  return r;
}

/** Analytic gradient of the mean loss. */
export function grad(m: Mlp64, th: Float64Array): Float64Array {
  const { w2 } = unpack(m, th);
  const { z1, a1, f } = forward(m, th);
  const r = residual(m, f);
  const g = new Float64Array(th.length);
  const gg = unpack(m, g);
  for (let i = 0; i < m.b; i++) {
    for (let j = 0; j < m.c; j++) {
      const rij = r[i * m.c + j] / m.b;
      gg.b2[j] += rij;
      for (let k = 0; k < m.h; k++) gg.w2[k * m.c + j] += a1[i * m.h + k] * rij;
    }
    for (let k = 0; k < m.h; k++) {
      let s = 0;
      for (let j = 0; j < m.c; j++) s += (w2[k * m.c + j] * r[i * m.c + j]) / m.b;
      const dz = s * actD(m.act, z1[i * m.h + k]);
      gg.b1[k] += dz;
      for (let q = 0; q < m.d; q++) gg.w1[q * m.h + k] += m.x[i * m.d + q] * dz;
    }
  }
  return g;
}

/** Dense Hessian by central differences of the analytic gradient (row-major P×P). */
export function hessian(m: Mlp64, th: Float64Array, eps = 1e-6): Float64Array {
  const p = th.length;
  const out = new Float64Array(p * p);
  for (let j = 0; j < p; j++) {
    const tp = Float64Array.from(th);
    tp[j] += eps;
    const tm = Float64Array.from(th);
    tm[j] -= eps;
    const gp = grad(m, tp);
    const gm = grad(m, tm);
    for (let i = 0; i < p; i++) out[i * p + j] = (gp[i] - gm[i]) / (2 * eps);
  }
  for (let i = 0; i < p; i++)
    for (let j = 0; j < i; j++) {
      const s = 0.5 * (out[i * p + j] + out[j * p + i]);
      out[i * p + j] = s;
      out[j * p + i] = s;
    }
  return out;
}

/** Jacobian of the outputs, rows sample-major (B·c × P), by central differences. */
export function jacobian(m: Mlp64, th: Float64Array, eps = 1e-6): Float64Array {
  const p = th.length;
  const rows = m.b * m.c;
  const out = new Float64Array(rows * p);
  for (let j = 0; j < p; j++) {
    const tp = Float64Array.from(th);
    tp[j] += eps;
    const tm = Float64Array.from(th);
    tm[j] -= eps;
    const fp = forward(m, tp).f;
    const fm = forward(m, tm).f;
    for (let r = 0; r < rows; r++) out[r * p + j] = (fp[r] - fm[r]) / (2 * eps);
  }
  return out;
}

/** Per-sample output Hessian blocks Q_i (B × c × c). */
export function outputHessians(m: Mlp64, th: Float64Array): Float64Array {
  const { f } = forward(m, th);
  const c = m.c;
  const q = new Float64Array(m.b * c * c);
  for (let i = 0; i < m.b; i++) {
    const p = m.loss === 'softmaxCrossEntropy' ? softmaxRow(f, i, c) : null;
    for (let k = 0; k < c; k++)
      for (let l = 0; l < c; l++) {
        q[i * c * c + k * c + l] = p ? (k === l ? p[k] : 0) - p[k] * p[l] : k === l ? 1 : 0;
      }
  }
  return q;
}

/** Dense GGN (1/B) Σ J_iᵀ Q_i J_i. */
export function ggn(m: Mlp64, th: Float64Array): Float64Array {
  const p = th.length;
  const j = jacobian(m, th);
  const q = outputHessians(m, th);
  const c = m.c;
  const out = new Float64Array(p * p);
  for (let i = 0; i < m.b; i++)
    for (let k = 0; k < c; k++)
      for (let l = 0; l < c; l++) {
        const w = q[i * c * c + k * c + l] / m.b;
        if (w === 0) continue;
        for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) out[a * p + b] += w * j[(i * c + k) * p + a] * j[(i * c + l) * p + b];
      }
  return out;
}

export function matVec(a: Float64Array, v: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += a[i * cols + j] * v[j];
    out[i] = s;
  }
  return out;
}

export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

/** A small MLP problem with deterministic data, and its tfjs twin (params tree, batch, predict). */
export function makeProblem(act: Act, lossName: LossName, { d = 4, h = 5, c = 3, b = 6, seed = 1 } = {}) {
  const x = rand(b * d, seed);
  const y = new Float64Array(b * c);
  const labels = new Int32Array(b);
  if (lossName === 'softmaxCrossEntropy') {
    for (let i = 0; i < b; i++) {
      labels[i] = i % c;
      y[i * c + (i % c)] = 1;
    }
  } else {
    rand(b * c, seed + 7).forEach((v, i) => (y[i] = v));
  }
  const m: Mlp64 = { d, h, c, b, act, loss: lossName, x, y };
  const theta = rand(numParams(m), seed + 3).map((v) => v * 0.8);
  const { b1, b2, w1, w2 } = unpack(m, theta);
  const params = () => ({
    b1: tf.tensor1d(Array.from(b1)),
    b2: tf.tensor1d(Array.from(b2)),
    w1: tf.tensor2d(Array.from(w1), [d, h]),
    w2: tf.tensor2d(Array.from(w2), [h, c]),
  });
  const batch = () => ({ x: tf.tensor2d(Array.from(x), [b, d]), y: tf.tensor2d(Array.from(y), [b, c]) });
  const predict = (p: any, xs: tf.Tensor) => {
    const z1 = tf.add(tf.matMul(xs as tf.Tensor2D, p.w1), p.b1);
    const a1 = act === 'tanh' ? tf.tanh(z1) : tf.relu(z1);
    return tf.add(tf.matMul(a1, p.w2), p.b2);
  };
  return { m, theta, params, batch, predict, labels };
}

/** A random symmetric positive-definite matrix MᵀM + shift·I (n×n, row-major). */
export function randomSpd(n: number, seed: number, shift = 0.5): Float64Array {
  const m = rand(n * n, seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += m[k * n + i] * m[k * n + j];
      a[i * n + j] = s + (i === j ? shift : 0);
    }
  return a;
}

/** The quadratic L(θ) = ½ xᵀAx − bᵀx over params `{ x: [n] }`, with its tensors to dispose. */
export function quadratic(a: Float64Array, b: Float64Array) {
  const n = b.length;
  const at = tf.tensor2d(Array.from(a), [n, n]);
  const bt = tf.tensor1d(Array.from(b));
  const lossFn = (p: any) =>
    tf.tidy(
      () =>
        tf.sub(
          tf.mul(0.5, tf.sum(tf.mul(p.x, tf.reshape(tf.matMul(at, tf.reshape(p.x, [n, 1])), [n])))),
          tf.sum(tf.mul(bt, p.x)),
        ) as tf.Scalar,
    );
  return { lossFn, dispose: () => tf.dispose([at, bt]) };
}
