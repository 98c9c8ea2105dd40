// Second-order-safe gradients (lib/autodiff/kernels.ts), kernel by kernel.
//
// For every kernel of SECOND_ORDER_KERNELS, the HVP of a small scalar function of it
// (f = Σ w ⊙ op(x)-like, fixed weights) by reverse-over-reverse nested tf.grads, against a float64
// reference (central second differences of a plain-JS float64 twin of f; piecewise-linear ops are
// evaluated away from their kinks), ≤ 1e-4 relative. Run in three registries:
// - "default": what a test sees after `import '@tensorflow/tfjs'` then somax (stock gradients for the
//   kernels stock gets right, somax's for the others);
// - "somax only": every gradient unregistered, then installSecondOrderGradients() — a tfjs-core-only
//   user, whose CommonJS bundle registers no gradients;
// - "stock": tfjs's own gradients (re-registered by requiring @tensorflow/tfjs after somax), to
//   document what stock gets wrong and to check first-order results are unchanged.
// And kernel by kernel: stock's gradient for a kernel with somax's for all others must fail for
// the kernels somax replaces and pass for the kernels where somax keeps stock's.
import * as tf from '@tensorflow/tfjs-core';
import { hvp, installSecondOrderGradients, losses, tree, UnsupportedOpError } from '../../../index';
import { ensureSecondOrderGradients, explainSecondOrderFailure, REPLACED_KERNELS, SECOND_ORDER_KERNELS } from '../../../lib/autodiff';
import { stopGradient } from '../../../lib/autodiff/stopGradient';
import { fdHessian } from '../../helpers/conv64';
import * as mlp from '../../helpers/mlp64';

const { matVec, rand, relErr } = mlp;
type F64 = Float64Array;

// ------------------------------------------------------------------------------------------------
// Registries.

type Registry = Map<string, unknown>;
const registry = (): Registry => (globalThis as any)._tfGlobals.get('gradRegistry');
const snapshot = (): Registry => new Map(registry());
function use(reg: Registry): void {
  const r = registry();
  r.clear();
  reg.forEach((v, k) => r.set(k, v));
}
function withRegistry<T>(reg: Registry, fn: () => T): T {
  const saved = snapshot();
  use(reg);
  try {
    return fn();
  } finally {
    use(saved);
  }
}

const DEFAULT = snapshot();
let STOCK: Registry;
let STOCK_LOADED: Registry;
let SOMAX_ONLY: Registry;
const importOrder: { stockTookOver?: boolean; restored?: boolean } = {};

beforeAll(() => {
  registry().clear();
  installSecondOrderGradients();
  SOMAX_ONLY = snapshot();
  use(DEFAULT);
  const oursTanh = tf.getGradient('Tanh');
  // Loading @tensorflow/tfjs after somax re-registers tfjs's stock gradients over somax's.
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    jest.isolateModules(() => require('@tensorflow/tfjs'));
  } finally {
    console.warn = warn;
  }
  // Stock = what the union registered (somax's gradients remain for the kernels it has none for).
  STOCK_LOADED = snapshot();
  STOCK = new Map([...STOCK_LOADED].filter(([k, g]) => g !== SOMAX_ONLY.get(k)));
  importOrder.stockTookOver = tf.getGradient('Tanh') !== oursTanh && tf.getGradient('Tanh') != null;
  ensureSecondOrderGradients();
  importOrder.restored = tf.getGradient('Tanh') === oursTanh;
  use(DEFAULT);
}, 60000);

afterAll(() => use(DEFAULT));

// ------------------------------------------------------------------------------------------------
// Cases.

interface Case {
  /** Kernels this case exercises (checked to be on the tape of the second differentiation). */
  kernels: string[];
  shapes: number[][];
  /** f in tfjs, of the leaves. */
  tfFn: (...xs: tf.Tensor[]) => tf.Tensor;
  /** The same f in float64 JS, of the concatenated raveled leaves. */
  jsFn: (x: F64) => number;
  /** Maps the raw random inputs into the op's domain / away from kinks. */
  domain?: (v: number, i: number) => number;
  /** Stock tfjs's first-order gradient is itself unusable here (skip the first-order comparison). */
  stockFirstOrderBroken?: string;
}

const W = rand(256, 77);
const sumW = (vals: ArrayLike<number>, off = 0) => Array.from(vals).reduce((s, v, i) => s + W[off + i] * v, 0);
const wt = (shape: number[], off = 0) => tf.tensor(Array.from(W.subarray(off, off + shape.reduce((a, b) => a * b, 1))), shape);
const wsum = (t: tf.Tensor, off = 0) => tf.sum(tf.mul(wt(t.shape, off), t));
const sq = (v: number) => v * v;
const pos = (v: number) => 0.5 + Math.abs(v);
/** Moves v at least `gap` away from each kink. */
const awayFrom =
  (kinks: number[], gap = 0.05) =>
  (v: number) => {
    for (const k of kinks) if (Math.abs(v - k) < gap) return k + (v >= k ? gap : -gap);
    return v;
  };
const rows = (x: F64, r: number, c: number, off = 0) =>
  Array.from({ length: r }, (_, i) => Array.from(x.subarray(off + i * c, off + i * c + c)));
const softmax = (row: number[]) => {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const erf = (x: number) => {
  let sum = x;
  let term = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
};
const SELU_A = 1.6732632423543772;
const SELU_S = 1.0507009873554805;

const unary = (kernels: string[], f: (t: tf.Tensor) => tf.Tensor, g: (v: number) => number, domain?: (v: number) => number): Case => ({
  kernels,
  shapes: [[2, 3]],
  tfFn: (x) => wsum(f(x)),
  jsFn: (x) => sumW(Array.from(x).map(g)),
  domain,
});

/** Plain-JS matrix product of row-major a [m,k] and b [k,n]. */
function mm(a: number[], b: number[], m: number, k: number, n: number): number[] {
  const out = new Array(m * n).fill(0);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let q = 0; q < k; q++) out[i * n + j] += a[i * k + q] * b[q * n + j];
  return out;
}
function tr(a: number[], m: number, n: number): number[] {
  const out = new Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[j * m + i] = a[i * n + j];
  return out;
}

/** Plain-JS NHWC pooling / convolution (batch 1, one input channel for pools). */
function pool2d(x: number[], h: number, w: number, f: number, s: number, pad: 'valid' | 'same', kind: 'max' | 'avg'): number[] {
  const outH = pad === 'valid' ? Math.ceil((h - f + 1) / s) : Math.ceil(h / s);
  const outW = pad === 'valid' ? Math.ceil((w - f + 1) / s) : Math.ceil(w / s);
  const padT = pad === 'valid' ? 0 : Math.floor(Math.max(0, (outH - 1) * s + f - h) / 2);
  const padL = pad === 'valid' ? 0 : Math.floor(Math.max(0, (outW - 1) * s + f - w) / 2);
  const out: number[] = [];
  for (let i = 0; i < outH; i++)
    for (let j = 0; j < outW; j++) {
      let m = -Infinity;
      let sum = 0;
      let n = 0;
      for (let u = 0; u < f; u++)
        for (let v = 0; v < f; v++) {
          const r = i * s + u - padT;
          const c = j * s + v - padL;
          if (r < 0 || r >= h || c < 0 || c >= w) continue;
          m = Math.max(m, x[r * w + c]);
          sum += x[r * w + c];
          n++;
        }
      out.push(kind === 'max' ? m : sum / n);
    }
  return out;
}
function conv2dJs(x: number[], h: number, w: number, k: number[], f: number, cout: number, s: number, pad: 'valid' | 'same'): number[] {
  const outH = pad === 'valid' ? Math.ceil((h - f + 1) / s) : Math.ceil(h / s);
  const outW = pad === 'valid' ? Math.ceil((w - f + 1) / s) : Math.ceil(w / s);
  const padT = pad === 'valid' ? 0 : Math.floor(Math.max(0, (outH - 1) * s + f - h) / 2);
  const padL = pad === 'valid' ? 0 : Math.floor(Math.max(0, (outW - 1) * s + f - w) / 2);
  const out: number[] = [];
  for (let i = 0; i < outH; i++)
    for (let j = 0; j < outW; j++)
      for (let c = 0; c < cout; c++) {
        let acc = 0;
        for (let u = 0; u < f; u++)
          for (let v = 0; v < f; v++) {
            const r = i * s + u - padT;
            const cc = j * s + v - padL;
            if (r < 0 || r >= h || cc < 0 || cc >= w) continue;
            acc += x[r * w + cc] * k[(u * f + v) * cout + c];
          }
        out.push(acc);
      }
  return out;
}

/** Plain-JS NHWC depthwise convolution (batch 1): x [h, w, c], k [f, f, c, m], out [.., .., c·m]. */
function depthwiseJs(x: number[], h: number, w: number, c: number, k: number[], f: number, m: number, s: number, pad: 'valid' | 'same') {
  const outH = pad === 'valid' ? Math.ceil((h - f + 1) / s) : Math.ceil(h / s);
  const outW = pad === 'valid' ? Math.ceil((w - f + 1) / s) : Math.ceil(w / s);
  const padT = pad === 'valid' ? 0 : Math.floor(Math.max(0, (outH - 1) * s + f - h) / 2);
  const padL = pad === 'valid' ? 0 : Math.floor(Math.max(0, (outW - 1) * s + f - w) / 2);
  const out: number[] = [];
  for (let i = 0; i < outH; i++)
    for (let j = 0; j < outW; j++)
      for (let ch = 0; ch < c; ch++)
        for (let q = 0; q < m; q++) {
          let acc = 0;
          for (let u = 0; u < f; u++)
            for (let v = 0; v < f; v++) {
              const r = i * s + u - padT;
              const cc = j * s + v - padL;
              if (r < 0 || r >= h || cc < 0 || cc >= w) continue;
              acc += x[(r * w + cc) * c + ch] * k[((u * f + v) * c + ch) * m + q];
            }
          out.push(acc);
        }
  return out;
}

const CASES: Record<string, Case> = {
  tanh: unary(['Tanh', 'Multiply', 'Sum'], tf.tanh, Math.tanh),
  sigmoid: unary(['Sigmoid'], tf.sigmoid, (v) => 1 / (1 + Math.exp(-v))),
  exp: unary(['Exp'], tf.exp, Math.exp),
  log: unary(['Log'], tf.log, Math.log, pos),
  log1p: unary(['Log1p'], tf.log1p, Math.log1p, pos),
  sqrt: unary(['Sqrt'], tf.sqrt, Math.sqrt, pos),
  rsqrt: unary(['Rsqrt'], tf.rsqrt, (v) => 1 / Math.sqrt(v), pos),
  reciprocal: unary(['Reciprocal'], tf.reciprocal, (v) => 1 / v, pos),
  square: unary(
    ['Square'],
    (t) => tf.mul(tf.square(t), t),
    (v) => v * v * v,
  ),
  softplus: unary(['Softplus'], tf.softplus, (v) => Math.log1p(Math.exp(v))),
  elu: unary(['Elu'], tf.elu, (v) => (v > 0 ? v : Math.exp(v) - 1), awayFrom([0])),
  selu: unary(['Selu'], tf.selu, (v) => (v > 0 ? SELU_S * v : SELU_S * SELU_A * (Math.exp(v) - 1)), awayFrom([0])),
  erf: unary(['Erf'], tf.erf, erf),
  sin: unary(['Sin'], tf.sin, Math.sin),
  cos: unary(['Cos'], tf.cos, Math.cos),
  atan: unary(['Atan'], tf.atan, Math.atan),
  neg: unary(
    ['Neg'],
    (t) => tf.neg(tf.mul(t, tf.mul(t, t))),
    (v) => -v * v * v,
  ),
  abs: unary(
    ['Abs', 'Step'],
    (t) => tf.mul(tf.abs(t), tf.square(t)),
    (v) => Math.abs(v) * v * v,
    awayFrom([0]),
  ),
  relu: unary(
    ['Relu'],
    (t) => tf.mul(tf.relu(t), tf.square(t)),
    (v) => Math.max(v, 0) * v * v,
    awayFrom([0]),
  ),
  relu6: unary(
    ['Relu6', 'LessEqual'],
    (t) => tf.mul(tf.relu6(tf.mul(t, 5)), tf.square(t)),
    (v) => Math.min(Math.max(5 * v, 0), 6) * v * v,
    awayFrom([0, 1.2]),
  ),
  leakyRelu: unary(
    ['LeakyRelu', 'Greater', 'Select'],
    (t) => tf.mul(tf.leakyRelu(t, 0.2), tf.square(t)),
    (v) => (v > 0 ? v : 0.2 * v) * v * v,
    awayFrom([0]),
  ),
  clipByValue: unary(
    ['ClipByValue', 'LogicalAnd', 'GreaterEqual'],
    (t) => tf.mul(tf.clipByValue(t, -0.5, 0.5), tf.square(t)),
    (v) => Math.min(Math.max(v, -0.5), 0.5) * v * v,
    awayFrom([-0.5, 0.5]),
  ),
  softmax: {
    kernels: ['Softmax'],
    shapes: [[2, 3]],
    tfFn: (x) => wsum(tf.softmax(x)),
    jsFn: (x) => sumW(rows(x, 2, 3).flatMap(softmax)),
  },
  prelu: {
    kernels: ['Prelu'],
    shapes: [[2, 3], [3]],
    tfFn: (x, a) => wsum(tf.mul(tf.prelu(x, a), tf.square(x))),
    jsFn: (x) => sumW(Array.from(x.subarray(0, 6)).map((v, i) => (v > 0 ? v : x[6 + (i % 3)] * v) * v * v)),
    domain: awayFrom([0]),
  },
  arithmetic: {
    // b [3] broadcast over a [2, 3]: the gradients sum back over the broadcast axis (stock's
    // SquaredDifference does not, see broadcastBinary).
    kernels: ['Add', 'AddN', 'Sub', 'Multiply', 'RealDiv', 'SquaredDifference'],
    shapes: [[2, 3], [3]],
    tfFn: (a, b) =>
      wsum(
        tf.addN([
          tf.div(tf.square(a), tf.add(b, 2)),
          tf.mul(tf.squaredDifference(a, tf.mul(b, tf.onesLike(a))), a),
          tf.square(tf.sub(a, b)),
          tf.mul(tf.add(a, b), a),
        ]),
      ),
    jsFn: (x) =>
      sumW(
        Array.from(x.subarray(0, 6)).map((a, i) => {
          const b = x[6 + (i % 3)];
          return (a * a) / (b + 2) + sq(a - b) * a + sq(a - b) + (a + b) * a;
        }),
      ),
    domain: (v, i) => (i >= 6 ? pos(v) : v),
  },
  pow: {
    kernels: ['Pow'],
    shapes: [[2, 3], [3]],
    tfFn: (a, b) => tf.add(wsum(tf.pow(a, b)), tf.sum(tf.pow(a, 3))),
    jsFn: (x) =>
      sumW(Array.from(x.subarray(0, 6)).map((a, i) => Math.pow(a, x[6 + (i % 3)]))) +
      Array.from(x.subarray(0, 6)).reduce((s, a) => s + a ** 3, 0),
    domain: pos,
  },
  maximumMinimum: {
    kernels: ['Maximum', 'Minimum', 'Less'],
    shapes: [
      [2, 2],
      [2, 2],
    ],
    tfFn: (a, b) => wsum(tf.add(tf.mul(tf.square(tf.maximum(a, b)), a), tf.mul(tf.minimum(a, b), tf.square(b)))),
    jsFn: (x) =>
      sumW(
        [0, 1, 2, 3].map((i) => {
          const a = x[i];
          const b = x[4 + i];
          return sq(Math.max(a, b)) * a + Math.min(a, b) * b * b;
        }),
      ),
  },
  broadcastBinary: {
    kernels: ['SquaredDifference', 'Maximum', 'Minimum'],
    shapes: [[2, 3], [3]],
    tfFn: (a, b) =>
      wsum(
        tf.addN([tf.mul(tf.squaredDifference(a, b), a), tf.mul(tf.square(tf.maximum(a, b)), a), tf.mul(tf.minimum(a, b), tf.square(b))]),
      ),
    jsFn: (x) =>
      sumW(
        [0, 1, 2, 3, 4, 5].map((i) => {
          const a = x[i];
          const b = x[6 + (i % 3)];
          return sq(a - b) * a + sq(Math.max(a, b)) * a + Math.min(a, b) * b * b;
        }),
      ),
    stockFirstOrderBroken: 'stock SquaredDifference, Maximum and Minimum gradients do not sum over broadcast dimensions',
  },
  reductions: {
    kernels: ['Sum', 'Mean', 'Max', 'Min', 'Prod', 'Equal'],
    shapes: [[2, 3]],
    tfFn: (x) =>
      tf.addN([
        tf.sum(tf.square(tf.sum(x, 1))),
        tf.sum(tf.square(tf.mean(x, 0))),
        tf.sum(tf.pow(tf.max(x, 1), tf.scalar(3))),
        tf.sum(tf.mul(tf.min(x, 0), tf.square(tf.min(x, 0)))),
        wsum(tf.prod(x, 1)),
        tf.prod(x),
        tf.sum(tf.square(tf.mean(x))),
      ]),
    jsFn: (x) => {
      const r = rows(x, 2, 3);
      const cube = (v: number) => v * v * v;
      const rowSum = r.map((row) => row.reduce((a, b) => a + b, 0));
      const colMean = [0, 1, 2].map((j) => (r[0][j] + r[1][j]) / 2);
      const rowMax = r.map((row) => Math.max(...row));
      const colMin = [0, 1, 2].map((j) => Math.min(r[0][j], r[1][j]));
      const rowProd = r.map((row) => row.reduce((a, b) => a * b, 1));
      const all = Array.from(x);
      return (
        rowSum.reduce((a, v) => a + v * v, 0) +
        colMean.reduce((a, v) => a + v * v, 0) +
        rowMax.reduce((a, v) => a + cube(v), 0) +
        colMin.reduce((a, v) => a + cube(v), 0) +
        sumW(rowProd) +
        all.reduce((a, b) => a * b, 1) +
        sq(all.reduce((a, b) => a + b, 0) / 6)
      );
    },
    domain: (v) => 0.5 + 0.7 * v,
  },
  matMul: {
    kernels: ['BatchMatMul'],
    shapes: [
      [2, 3],
      [3, 2],
    ],
    tfFn: (a, b) =>
      tf.addN([
        wsum(tf.square(tf.matMul(a, b)), 0),
        wsum(tf.square(tf.matMul(a, b, true, true)), 4),
        wsum(tf.square(tf.matMul(a, a, false, true)), 13),
        wsum(tf.square(tf.matMul(b, b, true, false)), 17),
      ]),
    jsFn: (x) => {
      const a = Array.from(x.subarray(0, 6));
      const b = Array.from(x.subarray(6, 12));
      return (
        sumW(mm(a, b, 2, 3, 2).map(sq), 0) +
        sumW(mm(tr(a, 2, 3), tr(b, 3, 2), 3, 2, 3).map(sq), 4) +
        sumW(mm(a, tr(a, 2, 3), 2, 3, 2).map(sq), 13) +
        sumW(mm(tr(b, 3, 2), b, 2, 3, 2).map(sq), 17)
      );
    },
  },
  batchMatMulBroadcast: {
    kernels: ['BatchMatMul'],
    shapes: [
      [2, 2, 3],
      [3, 2],
    ],
    tfFn: (a, b) => wsum(tf.square(tf.matMul(a, b))),
    jsFn: (x) => {
      const b = Array.from(x.subarray(12, 18));
      return sumW([0, 1].flatMap((n) => mm(Array.from(x.subarray(6 * n, 6 * n + 6)), b, 2, 3, 2)).map(sq));
    },
    stockFirstOrderBroken: 'stock BatchMatMul gradient does not sum over broadcast batch dimensions',
  },
  conv2dValid: {
    kernels: ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'],
    shapes: [
      [1, 4, 4, 1],
      [2, 2, 1, 2],
    ],
    tfFn: (x, k) => wsum(tf.square(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'valid'))),
    jsFn: (x) => sumW(conv2dJs(Array.from(x.subarray(0, 16)), 4, 4, Array.from(x.subarray(16)), 2, 2, 1, 'valid').map(sq)),
  },
  conv2dSameStrided: {
    kernels: ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'],
    shapes: [
      [1, 5, 5, 1],
      [3, 3, 1, 1],
    ],
    tfFn: (x, k) => wsum(tf.tanh(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 2, 'same'))),
    jsFn: (x) => sumW(conv2dJs(Array.from(x.subarray(0, 25)), 5, 5, Array.from(x.subarray(25)), 3, 1, 2, 'same').map(Math.tanh)),
  },
  depthwiseValid: {
    kernels: ['DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'],
    shapes: [
      [1, 4, 4, 2],
      [2, 2, 2, 2],
    ],
    tfFn: (x, k) => wsum(tf.tanh(tf.depthwiseConv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'valid'))),
    jsFn: (x) => sumW(depthwiseJs(Array.from(x.subarray(0, 32)), 4, 4, 2, Array.from(x.subarray(32)), 2, 2, 1, 'valid').map(Math.tanh)),
  },
  depthwiseSameStrided: {
    kernels: ['DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'],
    shapes: [
      [1, 5, 5, 2],
      [3, 3, 2, 1],
    ],
    tfFn: (x, k) => wsum(tf.square(tf.depthwiseConv2d(x as tf.Tensor4D, k as tf.Tensor4D, 2, 'same'))),
    jsFn: (x) => sumW(depthwiseJs(Array.from(x.subarray(0, 50)), 5, 5, 2, Array.from(x.subarray(50)), 3, 1, 2, 'same').map(sq)),
  },
  avgPool: {
    kernels: ['AvgPool', 'AvgPoolGrad'],
    shapes: [[1, 4, 4, 1]],
    tfFn: (x) => wsum(tf.square(tf.avgPool(tf.square(x) as tf.Tensor4D, 2, 2, 'valid'))),
    jsFn: (x) => sumW(pool2d(Array.from(x).map(sq), 4, 4, 2, 2, 'valid', 'avg').map(sq)),
  },
  avgPoolOverlapping: {
    kernels: ['AvgPool', 'AvgPoolGrad'],
    shapes: [[1, 4, 4, 1]],
    tfFn: (x) => wsum(tf.square(tf.avgPool(tf.square(x) as tf.Tensor4D, 3, 1, 'valid'))),
    jsFn: (x) => sumW(pool2d(Array.from(x).map(sq), 4, 4, 3, 1, 'valid', 'avg').map(sq)),
  },
  maxPool: {
    kernels: ['MaxPool', 'MaxPoolGrad'],
    shapes: [[1, 4, 4, 1]],
    tfFn: (x) => wsum(tf.pow(tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'), tf.scalar(3))),
    jsFn: (x) => sumW(pool2d(Array.from(x), 4, 4, 2, 2, 'valid', 'max').map((v) => v ** 3)),
  },
  maxPoolOverlappingSame: {
    kernels: ['MaxPool', 'MaxPoolGrad'],
    shapes: [[1, 4, 4, 1]],
    tfFn: (x) => wsum(tf.tanh(tf.maxPool(x as tf.Tensor4D, 3, 1, 'same'))),
    jsFn: (x) => sumW(pool2d(Array.from(x), 4, 4, 3, 1, 'same', 'max').map(Math.tanh)),
  },
  shapes: {
    kernels: [
      'Reshape',
      'Transpose',
      'Concat',
      'Slice',
      'GatherV2',
      'UnsortedSegmentSum',
      'Tile',
      'PadV2',
      'ExpandDims',
      'Pack',
      'Unpack',
      'SplitV',
      'Identity',
      'Cast',
    ],
    shapes: [[2, 3]],
    tfFn: (x) => {
      const t = tf.transpose(tf.reshape(x, [3, 2]));
      const parts = [
        tf.concat([t, tf.slice(x, [0, 1], [2, 2])], 1),
        tf.gather(x, tf.tensor1d([2, 0, 2], 'int32'), 1),
        tf.tile(tf.slice(x, [1, 0], [1, 3]), [2, 1]),
        tf.pad(tf.slice(x, [0, 0], [2, 1]), [
          [0, 0],
          [1, 1],
        ]),
        tf.broadcastTo(tf.expandDims(tf.slice(x, [0, 2], [2, 1]), 0), [2, 2, 1]),
        tf.stack(tf.unstack(x)),
        tf.concat(tf.split(x, [1, 2], 1), 1),
        tf.cast(tf.clone(x), 'float32'),
      ];
      return tf.addN(parts.map((p, i) => wsum(tf.mul(p, tf.square(p)), 10 * i)));
    },
    jsFn: (x) => {
      const r = rows(x, 2, 3);
      const reshaped = [
        [x[0], x[1]],
        [x[2], x[3]],
        [x[4], x[5]],
      ];
      const t = [
        [reshaped[0][0], reshaped[1][0], reshaped[2][0]],
        [reshaped[0][1], reshaped[1][1], reshaped[2][1]],
      ];
      const parts = [
        t.map((row, i) => [...row, r[i][1], r[i][2]]).flat(),
        r.map((row) => [row[2], row[0], row[2]]).flat(),
        [...r[1], ...r[1]],
        r.map((row) => [0, row[0], 0]).flat(),
        [r[0][2], r[1][2], r[0][2], r[1][2]],
        r.flat(),
        r.flat(),
        r.flat(),
      ];
      return parts.reduce(
        (acc, p, i) =>
          acc +
          sumW(
            p.map((v) => v * v * v),
            10 * i,
          ),
        0,
      );
    },
  },
  gatherBatchDims: {
    kernels: ['GatherV2', 'UnsortedSegmentSum'],
    shapes: [[2, 3]],
    tfFn: (x) =>
      wsum(
        tf.tanh(
          tf.gather(
            x,
            tf.tensor2d(
              [
                [2, 0],
                [1, 1],
              ],
              [2, 2],
              'int32',
            ),
            1,
            1,
          ),
        ),
      ),
    jsFn: (x) => {
      const r = rows(x, 2, 3);
      return sumW([r[0][2], r[0][0], r[1][1], r[1][1]].map(Math.tanh));
    },
  },
  segmentSum: {
    kernels: ['UnsortedSegmentSum', 'GatherV2'],
    shapes: [[4, 2]],
    tfFn: (x) => wsum(tf.tanh(tf.unsortedSegmentSum(x, tf.tensor1d([1, 0, 1, 2], 'int32'), 3))),
    jsFn: (x) => {
      const r = rows(x, 4, 2);
      return sumW([r[1], [r[0][0] + r[2][0], r[0][1] + r[2][1]], r[3]].flat().map(Math.tanh));
    },
  },
  masks: {
    kernels: [
      'Select',
      'Greater',
      'GreaterEqual',
      'Less',
      'LessEqual',
      'Equal',
      'NotEqual',
      'LogicalAnd',
      'LogicalOr',
      'LogicalNot',
      'OnesLike',
      'ZerosLike',
      'Sign',
    ],
    shapes: [[6]],
    tfFn: (x) => {
      const c1 = tf.logicalAnd(tf.greater(x, -0.2), tf.lessEqual(x, 0.9));
      const c2 = tf.logicalOr(tf.less(x, -0.5), tf.logicalNot(tf.notEqual(x, tf.zerosLike(x))));
      const c3 = tf.logicalAnd(tf.greaterEqual(x, -2), tf.logicalNot(tf.equal(x, tf.onesLike(x))));
      const y = tf.where(c1, tf.square(x), tf.where(c2, tf.mul(x, x), tf.exp(x)));
      return wsum(tf.add(tf.where(c3, tf.mul(y, x), x), tf.mul(tf.sign(x), tf.square(x))));
    },
    jsFn: (x) =>
      sumW(
        Array.from(x).map((v) => {
          const y = v > -0.2 && v <= 0.9 ? v * v : v < -0.5 || v === 0 ? v * v : Math.exp(v);
          return y * v + Math.sign(v) * v * v;
        }),
      ),
    domain: awayFrom([-0.5, -0.2, 0, 0.9]),
  },
  piecewiseConstant: {
    kernels: ['Floor', 'Ceil', 'Round', 'Step', 'IsFinite', 'IsNan', 'ArgMax', 'ArgMin', 'OneHot', 'Cast'],
    shapes: [[6]],
    tfFn: (x) => {
      const y = tf.mul(tf.cast(tf.logicalAnd(tf.isFinite(x), tf.logicalNot(tf.isNaN(x))), 'float32'), tf.square(x));
      const z = tf.add(tf.add(tf.mul(tf.floor(tf.mul(x, 2)), y), tf.mul(tf.ceil(x), tf.square(x))), tf.mul(tf.round(tf.mul(x, 3)), y));
      const hot = tf.add(tf.oneHot(tf.argMax(x), 6), tf.mul(tf.oneHot(tf.argMin(x), 6), 2));
      return wsum(tf.add(tf.add(z, tf.mul(tf.step(x), tf.mul(x, y))), tf.mul(hot, tf.mul(x, y))));
    },
    jsFn: (x) => {
      const a = Array.from(x);
      const iMax = a.indexOf(Math.max(...a));
      const iMin = a.indexOf(Math.min(...a));
      return sumW(
        a.map((v, i) => {
          const y = v * v;
          const hot = (i === iMax ? 1 : 0) + (i === iMin ? 2 : 0);
          return Math.floor(2 * v) * y + Math.ceil(v) * y + Math.round(3 * v) * y + (v > 0 ? 1 : 0) * v * y + hot * v * y;
        }),
      );
    },
    domain: awayFrom([-4 / 3, -1, -5 / 6, -0.5, -1 / 6, 0, 1 / 6, 0.5, 5 / 6, 1, 4 / 3, -1.5, 1.5], 0.02),
  },
};

// ------------------------------------------------------------------------------------------------
// Machinery.

interface Inputs {
  x64: F64;
  v64: F64;
  xs: tf.Tensor[];
  vs: tf.Tensor[];
}

function inputs(name: string, c: Case): Inputs {
  const sizes = c.shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const n = sizes.reduce((a, b) => a + b, 0);
  const seed = name.split('').reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7);
  const x64 = rand(n, seed).map((v, i) => (c.domain ? c.domain(v * 1.5, i) : v * 1.5));
  const v64 = rand(n, seed + 1);
  const split = (a: F64) => {
    let o = 0;
    return c.shapes.map((s, i) => {
      const t = tf.tensor(Array.from(a.subarray(o, o + sizes[i])), s);
      o += sizes[i];
      return t;
    });
  };
  return { x64, v64, xs: split(x64), vs: split(v64) };
}

const references = new Map<string, F64>();
function reference(name: string, c: Case, inp: Inputs): F64 {
  if (!references.has(name)) {
    const n = inp.x64.length;
    references.set(name, matVec(fdHessian(c.jsFn, inp.x64, 1e-4), inp.v64, n, n));
  }
  return references.get(name) as F64;
}

const dot = (gs: tf.Tensor[], vs: tf.Tensor[]) => gs.reduce<tf.Tensor>((acc, g, i) => tf.add(acc, tf.sum(tf.mul(g, vs[i]))), tf.scalar(0));

/** HVP by nested tf.grads (what any user writes), and the kernels recorded on the outer tape. */
function nestedHvp(c: Case, inp: Inputs): { hv: number[]; kernels: Set<string> } {
  const kernels = new Set<string>();
  const hv = tf.tidy(() =>
    tf.grads((...p: tf.Tensor[]) => {
      const g = tf.grads((...q: tf.Tensor[]) => c.tfFn(...q))(p);
      ((tf.engine() as any).state.activeTape as { kernelName: string }[]).forEach((node) => kernels.add(node.kernelName));
      return dot(g, inp.vs);
    })(inp.xs),
  );
  const out = hv.flatMap((t) => Array.from(t.dataSync()));
  tf.dispose(hv);
  return { hv: out, kernels };
}

function firstOrder(c: Case, inp: Inputs): number[] {
  const g = tf.grads((...q: tf.Tensor[]) => c.tfFn(...q))(inp.xs);
  const out = g.flatMap((t) => Array.from(t.dataSync()));
  tf.dispose(g);
  return out;
}

/** The HVP's relative error vs the float64 reference, or the message of what it threw. */
function outcome(name: string, c: Case): { err: number; threw?: string } {
  const inp = inputs(name, c);
  try {
    return { err: relErr(nestedHvp(c, inp).hv, reference(name, c, inp)) };
  } catch (e) {
    return { err: Infinity, threw: (e as Error).message.split('\n')[0] };
  } finally {
    tf.dispose([inp.xs, inp.vs]);
  }
}

const report: Record<string, Record<string, unknown>> = {};
afterAll(() => {
  if (process.env.SOMAX_OPS_REPORT) require('fs').writeFileSync(process.env.SOMAX_OPS_REPORT, JSON.stringify(report, null, 1));
});

// ------------------------------------------------------------------------------------------------
// Tests.

test('importing @tensorflow/tfjs after somax replaces its gradients; ensureSecondOrderGradients restores them', () => {
  expect(importOrder.stockTookOver).toBe(true);
  expect(importOrder.restored).toBe(true);
  // And the restored gradients give an exact HVP: f = Σ tanh(x), Hv = −2 tanh(x)(1 − tanh²(x)) v.
  withRegistry(STOCK, () => {
    ensureSecondOrderGradients();
    const x = tf.tensor1d([0.3, -1.2, 2.0]);
    const v = tf.tensor1d([1, 2, -1]);
    const hv = hvp((p: any) => tf.sum(tf.tanh(p)) as tf.Scalar, x, v, null) as tf.Tensor;
    const want = [0.3, -1.2, 2.0].map((a, i) => {
      const t = Math.tanh(a);
      return -2 * t * (1 - t * t) * [1, 2, -1][i];
    });
    expect(relErr(hv.dataSync(), want)).toBeLessThan(1e-6);
    tf.dispose([x, v, hv]);
  });
});

test('ensureSecondOrderGradients re-registers a removed gradient; installing is idempotent and quiet', () => {
  withRegistry(DEFAULT, () => {
    const before = snapshot();
    tf.unregisterGradient('Selu');
    tf.unregisterGradient('Softmax');
    ensureSecondOrderGradients();
    expect(tf.getGradient('Softmax')).toBe(before.get('Softmax'));
    expect(tf.getGradient('Selu')).toBeDefined();
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    tf.env().set('DEBUG', true); // tfjs warns "Overriding the gradient" in debug mode
    try {
      tf.registerGradient(tf.getGradient('Tanh') as tf.GradConfig);
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/Overriding the gradient for 'Tanh'/));
      warn.mockClear();
      installSecondOrderGradients();
      installSecondOrderGradients();
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
      tf.env().set('DEBUG', false);
    }
    for (const k of SECOND_ORDER_KERNELS) if (k !== 'Selu') expect(tf.getGradient(k)).toBe(before.get(k));
  });
});

test('every covered kernel is exercised by a case, and every replaced kernel is covered', () => {
  const claimed = new Set(Object.values(CASES).flatMap((c) => c.kernels));
  expect([...SECOND_ORDER_KERNELS].filter((k) => !claimed.has(k))).toEqual([]);
  expect([...claimed].filter((k) => !SECOND_ORDER_KERNELS.includes(k))).toEqual([]);
  Object.keys(REPLACED_KERNELS).forEach((k) => expect(SECOND_ORDER_KERNELS).toContain(k));
});

describe.each([
  ['default (stock + somax fixes)', () => DEFAULT],
  ['somax only (tfjs-core without gradients)', () => SOMAX_ONLY],
])('HVP per kernel vs float64 reference, registry: %s', (mode, reg) => {
  test.each(Object.entries(CASES))('%s', (name, c) => {
    withRegistry(reg(), () => {
      const inp = inputs(name, c);
      const { hv, kernels } = nestedHvp(c, inp);
      const err = relErr(hv, reference(name, c, inp));
      (report[name] ??= {})[mode] = err;
      expect(err).toBeLessThan(1e-4);
      // The case really went through its kernels (forward or first backward pass).
      expect(c.kernels.filter((k) => !kernels.has(k))).toEqual([]);
      tf.dispose([inp.xs, inp.vs]);
    });
  });
});

describe("somax's gradients give stock's first-order results", () => {
  // Stock after loading @tensorflow/tfjs over somax: stock's gradient wherever it has one (stock
  // alone has none for LogicalAnd & co., so its first-order gradient through a tf.where condition
  // that depends on the input throws).
  test.each(Object.entries(CASES).filter(([, c]) => !c.stockFirstOrderBroken))('%s', (name, c) => {
    const inp = inputs(name, c);
    const ours = withRegistry(SOMAX_ONLY, () => firstOrder(c, inp));
    const stock = withRegistry(STOCK_LOADED, () => firstOrder(c, inp));
    expect(relErr(ours, stock)).toBeLessThan(1e-6);
    tf.dispose([inp.xs, inp.vs]);
  });
});

test('first-order gradients through somax kernels equal the analytic ones', () => {
  const x = tf.tensor1d([0.3, -0.7, 1.1]);
  const g = withRegistry(SOMAX_ONLY, () => tf.grad((t: tf.Tensor) => tf.sum(tf.add(tf.tanh(t), tf.add(tf.sigmoid(t), tf.exp(t)))))(x));
  const sig = (a: number) => 1 / (1 + Math.exp(-a));
  const want = [0.3, -0.7, 1.1].map((a) => 1 - Math.tanh(a) ** 2 + sig(a) * (1 - sig(a)) + Math.exp(a));
  Array.from(g.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
  tf.dispose([x, g]);
});

test('a first-order gradient takes tanh′, σ′ and exp′ from the saved outputs (no second kernel); their HVP stays exact', async () => {
  const x = tf.tensor1d([0.3, -0.7, 1.1]);
  const f = (t: tf.Tensor) => tf.sum(tf.add(tf.tanh(t), tf.add(tf.sigmoid(t), tf.exp(t))));
  const count = (kernels: { name: string }[], name: string) => kernels.filter((k) => k.name === name).length;
  const first = await tf.profile(() => tf.dispose(withRegistry(SOMAX_ONLY, () => tf.grad(f)(x))));
  // The forward pass only: no second Tanh, Sigmoid or Exp in the backward sweep.
  expect([count(first.kernels, 'Tanh'), count(first.kernels, 'Sigmoid'), count(first.kernels, 'Exp')]).toEqual([1, 1, 1]);
  // Second order: d²/dt² of tanh + σ + exp at t, by the HVP with v = 1 (exact despite the saved outputs).
  const h = withRegistry(SOMAX_ONLY, () =>
    hvp((p) => f((p as { t: tf.Tensor }).t) as tf.Scalar, { t: x }, { t: tf.onesLike(x) }, undefined),
  );
  const sig = (a: number) => 1 / (1 + Math.exp(-a));
  const want = [0.3, -0.7, 1.1].map(
    (a) => -2 * Math.tanh(a) * (1 - Math.tanh(a) ** 2) + sig(a) * (1 - sig(a)) * (1 - 2 * sig(a)) + Math.exp(a),
  );
  Array.from((h as { t: tf.Tensor }).t.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
  tf.dispose([x, (h as { t: tf.Tensor }).t]);
});

test('stopGradient: a constant for every gradient (first order and nested); log-softmax runs no gradient of its maximum', async () => {
  const x = tf.tensor1d([0.3, -0.7, 1.1]);
  // d/dx [x·c + x²] with c = stopGradient(x²) held constant: c + 2x (not 3x² + 2x); second derivative 2.
  const f = (t: tf.Tensor) =>
    tf.sum(
      tf.add(
        tf.mul(
          t,
          stopGradient(() => tf.square(t)),
        ),
        tf.square(t),
      ),
    );
  const g = tf.grad(f)(x);
  Array.from(g.dataSync()).forEach((v, i) => expect(v).toBeCloseTo([0.3, -0.7, 1.1][i] ** 2 + 2 * [0.3, -0.7, 1.1][i], 5));
  const h = hvp((p) => f((p as { t: tf.Tensor }).t) as tf.Scalar, { t: x }, { t: tf.onesLike(x) }, undefined) as { t: tf.Tensor };
  Array.from(h.t.dataSync()).forEach((v) => expect(v).toBeCloseTo(2, 5));
  const z = tf.tensor2d([[1, 3, 2]]);
  const y = tf.tensor2d([[0, 0, 1]]);
  const prof = await tf.profile(() => tf.dispose(tf.grad((t: tf.Tensor) => tf.sum(losses.softmaxCrossEntropy(t, y)))(z)));
  expect(prof.kernels.filter((k) => k.name === 'Max' || k.name === 'Equal').map((k) => k.name)).toEqual(['Max']);
  tf.dispose([x, g, h.t, z, y]);
});

describe('stock tfjs per kernel (all other kernels somax): replaced kernels fail, kept kernels pass', () => {
  test.each([...SECOND_ORDER_KERNELS])('%s', (kernel) => {
    const reg = new Map(SOMAX_ONLY);
    if (STOCK.has(kernel)) reg.set(kernel, STOCK.get(kernel));
    else reg.delete(kernel);
    const results = withRegistry(reg, () =>
      Object.entries(CASES)
        .filter(([, c]) => c.kernels.includes(kernel))
        .map(([name, c]) => ({ name, ...outcome(name, c) })),
    );
    const worst = results.reduce((w, r) => (r.err > w.err ? r : w));
    report[`stock:${kernel}`] = { replaced: kernel in REPLACED_KERNELS, hasStock: STOCK.has(kernel), worst };
    // Kernels replaced for a backend (wasm has no Conv2DBackpropFilter) are right on cpu either way.
    const forBackend = REPLACED_KERNELS[kernel]?.includes('tfjs-backend-wasm') ?? false;
    if (kernel in REPLACED_KERNELS && !forBackend) expect(worst.err).toBeGreaterThan(1e-3);
    else expect(worst.err).toBeLessThan(1e-4);
  });
});

test('stock tfjs, all kernels: the outcome of every case (documented in docs/second-order-ops.md)', () => {
  const results = withRegistry(STOCK, () => Object.entries(CASES).map(([name, c]) => ({ name, ...outcome(name, c) })));
  results.forEach((r) => ((report[r.name] ??= {}).stock = r.threw ?? r.err));
  // Stock tfjs fails most of them: silently wrong or throwing.
  expect(results.filter((r) => r.err > 1e-3).length).toBeGreaterThan(10);
});

describe('tanh MLP 4-5-3 (and squared error 4-5-3): HVP vs float64 finite differences of the analytic gradient', () => {
  test.each([
    ['softmaxCrossEntropy', (f: tf.Tensor, y: tf.Tensor) => tf.mean(losses.softmaxCrossEntropy(f, y))],
    ['meanSquaredError', (f: tf.Tensor, y: tf.Tensor) => tf.div(tf.sum(losses.l2Loss(f, y)), f.shape[0])],
  ] as const)('%s', (lossName, loss) => {
    const prob = mlp.makeProblem('tanh', lossName, { d: 4, h: 5, c: 3, b: 6 });
    const params = prob.params();
    const batch = prob.batch();
    const p = mlp.numParams(prob.m);
    const v64 = rand(p, 99);
    const want = matVec(mlp.hessian(prob.m, prob.theta), v64, p, p);
    const { def, leaves } = tree.flatten(params);
    const vs = tree.leaves(tree.unravel(def, tf.tensor1d(Array.from(v64))));
    const lossFn = (ps: any) => loss(prob.predict(ps, batch.x), batch.y) as tf.Scalar;
    const raw = () =>
      tf.tidy(() =>
        tf
          .grads((...q: tf.Tensor[]) => dot(tf.grads((...r: tf.Tensor[]) => lossFn(tree.unflatten(def, r)))(q), vs))(leaves)
          .flatMap((t) => Array.from(t.dataSync())),
      );

    const viaHvp = tree.readValues(() => tree.ravel(hvp(lossFn, params, tree.unflatten(def, vs), null)).vector);
    const somaxOnly = withRegistry(SOMAX_ONLY, raw);
    let stockErr = Infinity;
    try {
      stockErr = relErr(withRegistry(STOCK, raw), want);
    } catch {
      /* stock may also throw */
    }
    report[`mlp:${lossName}`] = { default: relErr(viaHvp, want), somaxOnly: relErr(somaxOnly, want), stock: stockErr };
    expect(relErr(viaHvp, want)).toBeLessThan(1e-4);
    expect(relErr(somaxOnly, want)).toBeLessThan(1e-4);
    expect(stockErr).toBeGreaterThan(0.1);
    tree.dispose([params, batch, vs] as any);
  });
});

describe('unsupported ops fail loudly, naming the op and what to use instead', () => {
  const x = () =>
    tf.tensor2d([
      [0.1, 0.2, 0.3],
      [0.5, -0.4, 0.0],
    ]);
  const cases: [string, (p: tf.Tensor) => tf.Tensor, RegExp][] = [
    ['tf.logSoftmax', (p) => tf.sum(tf.logSoftmax(p)), /logSoftmax.*losses\.logSoftmax/],
    [
      'tf.losses.softmaxCrossEntropy',
      (p) =>
        tf.losses.softmaxCrossEntropy(
          tf.tensor2d([
            [0, 1, 0],
            [1, 0, 0],
          ]),
          p,
        ),
      /softmaxCrossEntropy.*losses\.softmaxCrossEntropy/,
    ],
    ['tf.logSigmoid', (p) => tf.sum(tf.logSigmoid(p)), /logSigmoid.*losses\.logSigmoid/],
    // somax routes tf.fused.* through plain ops in second-order products; where it cannot (an ESM
    // bundle's frozen tf.fused, here the unpatched op), the fused op is refused with the way out.
    // (tfjs itself runs fused ops unfused under a gradient unless the activation is linear.)
    [
      'tf.fused.conv2d where tf.fused cannot be patched',
      (p) =>
        tf.sum(
          tf.square(
            (tf.fused as any).__somaxOriginal.conv2d({
              x: tf.reshape(p, [1, 2, 3, 1]) as tf.Tensor4D,
              filter: tf.ones([1, 1, 1, 2]) as tf.Tensor4D,
              strides: 1,
              pad: 'valid',
              bias: tf.ones([2]),
            }),
          ),
        ),
      /'fusedConv2d.*' \(a fused op\).*ESM bundle.*CommonJS.*tf\.conv2d/,
    ],
    ['tf.localResponseNormalization', (p) => tf.sum(tf.localResponseNormalization(tf.reshape(p, [1, 1, 2, 3]) as tf.Tensor4D)), /'LRN'/],
  ];
  test.each(cases)('%s through hvp', (_name, f, message) => {
    const p = x();
    const v = tf.onesLike(p);
    expect(() => hvp((q: any) => f(q) as tf.Scalar, p, v, null)).toThrow(UnsupportedOpError);
    expect(() => hvp((q: any) => f(q) as tf.Scalar, p, v, null)).toThrow(message);
    tf.dispose([p, v]);
  });

  test("explainSecondOrderFailure turns tfjs's autodiff errors into UnsupportedOpError", () => {
    const p = tf.tensor1d([0.3, -0.2]);
    const v = tf.tensor1d([1, 1]);
    const nested = (f: (t: tf.Tensor) => tf.Tensor) => () =>
      tf.tidy(() => tf.grad((q: tf.Tensor) => tf.sum(tf.mul(tf.grad((r: tf.Tensor) => tf.sum(f(r)))(q), v)))(p));
    const caught = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    // Stock tfjs's Tanh gradient: the tape loses the path ("Cannot compute gradient of y=f(x)").
    const lost = withRegistry(STOCK, () => caught(nested(tf.tanh)));
    expect(String((lost as Error).message)).toMatch(/Cannot compute gradient of y=f\(x\)/);
    const explained = explainSecondOrderFailure(lost) as Error;
    expect(explained).toBeInstanceOf(UnsupportedOpError);
    expect(explained.message).toMatch(/tf\.logSoftmax \(use losses\.logSoftmax\)/);
    expect(explained.message).toMatch(/ensureSecondOrderGradients/);
    // A kernel without a gradient: named, with guidance.
    const missing = caught(nested((t) => tf.square(tf.cumprod(t)))) as Error;
    expect(missing.message).toMatch(/gradient function not found for Cumprod/);
    expect((explainSecondOrderFailure(missing) as Error).message).toMatch(
      /kernel 'Cumprod' has no second-order-safe gradient.*second-order-ops/,
    );
    // A covered kernel whose gradient was unregistered: re-install.
    const unregistered = withRegistry(new Map([...DEFAULT].filter(([k]) => k !== 'Tanh')), () => caught(nested(tf.tanh))) as Error;
    expect((explainSecondOrderFailure(unregistered) as Error).message).toMatch(
      /no gradient is registered for 'Tanh'.*installSecondOrderGradients/,
    );
    // Anything else passes through unchanged.
    const other = new RangeError('x');
    expect(explainSecondOrderFailure(other)).toBe(other);
    tf.dispose([p, v]);
  });
});

describe('tf.losses built from primitive ops are second-order safe with somax', () => {
  // Their stock HVPs are wrong (Exp's saved output), with somax's gradients they equal somax's losses.
  const z = () =>
    tf.tensor2d([
      [0.3, -1.2, 2.0],
      [0.7, 0.1, -0.4],
    ]);
  const y = tf.tensor2d([
    [1, 0, 1],
    [0, 0.5, 1],
  ]);
  test.each([
    [
      'sigmoidCrossEntropy',
      (p: tf.Tensor) => tf.losses.sigmoidCrossEntropy(y, p),
      (p: tf.Tensor) => tf.mean(losses.sigmoidBinaryCrossEntropy(p, y)),
    ],
    [
      'meanSquaredError',
      (p: tf.Tensor) => tf.losses.meanSquaredError(y, tf.tanh(p)),
      (p: tf.Tensor) => tf.mean(losses.squaredError(tf.tanh(p), y)),
    ],
    [
      'huberLoss',
      (p: tf.Tensor) => tf.losses.huberLoss(y, tf.mul(p, 2), undefined, 0.7),
      (p: tf.Tensor) => tf.mean(losses.huberLoss(tf.mul(p, 2), y, 0.7)),
    ],
  ] as const)('%s', (_name, theirs, ours) => {
    const p = z();
    const v = tf.tensor2d([
      [1, -0.5, 0.2],
      [0.3, 0.9, -1],
    ]);
    const a = hvp((q: any) => theirs(q) as tf.Scalar, p, v, null) as tf.Tensor;
    const b = hvp((q: any) => ours(q) as tf.Scalar, p, v, null) as tf.Tensor;
    expect(relErr(a.dataSync(), b.dataSync())).toBeLessThan(1e-5);
    expect(tf.norm(b).dataSync()[0]).toBeGreaterThan(0.01);
    tf.dispose([p, v, a, b]);
  });
});
