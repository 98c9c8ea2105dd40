// Every kernel somax declares second-order safe: the HVP of a small scalar function of it, by
// nested reverse mode, against a float64 reference (central second differences of a plain-JS
// float64 implementation of the same function), ≤ 1e-4 relative.
import * as tf from '@tensorflow/tfjs-core';
import { hvp, losses, tree, SECOND_ORDER_KERNELS, UnsupportedOpError } from '../../index';
import { fdHessian } from '../helpers/conv64';
import { matVec, rand, relErr } from '../helpers/mlp64';

type F64 = Float64Array;
interface Case {
  /** Kernel names this case exercises. */
  kernels: string[];
  /** Parameter shapes (each a leaf of the params tree, in order). */
  shapes: number[][];
  /** The function in tfjs, of the leaves. */
  tfFn: (...xs: tf.Tensor[]) => tf.Tensor;
  /** The same function in float64 JS, of the concatenated raveled leaves. */
  jsFn: (x: F64) => number;
  /** Optional input range transform (e.g. positive inputs for log). */
  domain?: (v: number) => number;
}

const W = rand(64, 77); // fixed weights w for Σ w ⊙ op(x)
const sumW = (vals: ArrayLike<number>) => Array.from(vals).reduce((s, v, i) => s + W[i] * v, 0);
const unary = (kernels: string[], f: (t: tf.Tensor) => tf.Tensor, g: (v: number) => number, domain?: (v: number) => number): Case => ({
  kernels,
  shapes: [[2, 3]],
  tfFn: (x) => tf.sum(tf.mul(tf.tensor(Array.from(W.subarray(0, 6)), [2, 3]), f(x))),
  jsFn: (x) => sumW(Array.from(x).map(g)),
  domain,
});
const sq = (v: number) => v * v;
const pos = (v: number) => 0.5 + Math.abs(v);
const SELU_A = 1.6732632423543772;
const SELU_S = 1.0507009873554805;
const erf = (x: number) => {
  // Abramowitz–Stegun 7.1.26 is too coarse for FD; use a series (|x| ≤ 2 here).
  let sum = x; let term = x;
  for (let n = 1; n < 60; n++) { term *= (-x * x) / n; sum += term / (2 * n + 1); }
  return (2 / Math.sqrt(Math.PI)) * sum;
};
const softmax = (row: number[]) => { const m = Math.max(...row); const e = row.map((v) => Math.exp(v - m)); const s = e.reduce((a, b) => a + b, 0); return e.map((v) => v / s); };
const rows = (x: F64, r: number, c: number) => Array.from({ length: r }, (_, i) => Array.from(x.subarray(i * c, i * c + c)));
const wt = (shape: number[]) => tf.tensor(Array.from(W.subarray(0, shape.reduce((a, b) => a * b, 1))), shape);

const CASES: Record<string, Case> = {
  tanh: unary(['Tanh'], tf.tanh, Math.tanh),
  sigmoid: unary(['Sigmoid'], tf.sigmoid, (v) => 1 / (1 + Math.exp(-v))),
  exp: unary(['Exp'], tf.exp, Math.exp),
  log: unary(['Log'], tf.log, Math.log, pos),
  log1p: unary(['Log1p'], tf.log1p, Math.log1p, pos),
  sqrt: unary(['Sqrt'], tf.sqrt, Math.sqrt, pos),
  rsqrt: unary(['Rsqrt'], tf.rsqrt, (v) => 1 / Math.sqrt(v), pos),
  reciprocal: unary(['Reciprocal'], tf.reciprocal, (v) => 1 / v, pos),
  square: unary(['Square'], tf.square, sq),
  neg_cube: unary(['Neg', 'Multiply'], (t) => tf.neg(tf.mul(t, tf.mul(t, t))), (v) => -v * v * v),
  abs_sq: unary(['Abs'], (t) => tf.square(tf.abs(t)), (v) => v * v),
  relu_sq: unary(['Relu'], (t) => tf.square(tf.relu(t)), (v) => sq(Math.max(v, 0))),
  relu6_sq: unary(['Relu6'], (t) => tf.square(tf.relu6(tf.mul(t, 4))), (v) => sq(Math.min(Math.max(4 * v, 0), 6))),
  leakyRelu_sq: unary(['LeakyRelu'], (t) => tf.square(tf.leakyRelu(t, 0.2)), (v) => sq(v > 0 ? v : 0.2 * v)),
  elu: unary(['Elu'], tf.elu, (v) => (v > 0 ? v : Math.exp(v) - 1)),
  selu: unary(['Selu'], tf.selu, (v) => (v > 0 ? SELU_S * v : SELU_S * SELU_A * (Math.exp(v) - 1))),
  softplus: unary(['Softplus'], tf.softplus, (v) => Math.log1p(Math.exp(v))),
  erf: unary(['Erf'], tf.erf, erf),
  sin: unary(['Sin'], tf.sin, Math.sin),
  cos: unary(['Cos'], tf.cos, Math.cos),
  atan: unary(['Atan'], tf.atan, Math.atan),
  clip_sq: unary(['ClipByValue'], (t) => tf.square(tf.clipByValue(t, -0.5, 0.5)), (v) => sq(Math.min(Math.max(v, -0.5), 0.5))),
  pow: {
    kernels: ['Pow'],
    shapes: [[3], [3]],
    tfFn: (a, b) => tf.sum(tf.mul(wt([3]), tf.pow(a, b))),
    jsFn: (x) => sumW([0, 1, 2].map((i) => Math.pow(x[i], x[3 + i]))),
    domain: pos,
  },
  div_sub_add_sqdiff: {
    kernels: ['RealDiv', 'Sub', 'Add', 'SquaredDifference', 'AddN'],
    shapes: [[3], [3]],
    tfFn: (a, b) => tf.sum(tf.mul(wt([3]), tf.addN([tf.div(a, tf.add(b, 2)), tf.squaredDifference(a, b), tf.sub(a, b)]))),
    jsFn: (x) => sumW([0, 1, 2].map((i) => x[i] / (x[3 + i] + 2) + sq(x[i] - x[3 + i]) + x[i] - x[3 + i])),
    domain: pos,
  },
  maximum_minimum: {
    kernels: ['Maximum', 'Minimum'],
    shapes: [[4], [4]],
    tfFn: (a, b) => tf.sum(tf.mul(wt([4]), tf.add(tf.square(tf.maximum(a, b)), tf.mul(tf.minimum(a, b), tf.maximum(a, b))))),
    jsFn: (x) => sumW([0, 1, 2, 3].map((i) => sq(Math.max(x[i], x[4 + i])) + Math.min(x[i], x[4 + i]) * Math.max(x[i], x[4 + i]))),
  },
  matmul: {
    kernels: ['BatchMatMul', 'Transpose'],
    shapes: [[2, 3], [2, 3]],
    tfFn: (a, b) => tf.sum(tf.mul(wt([2, 2]), tf.square(tf.matMul(a, b, false, true)))),
    jsFn: (x) => {
      const out: number[] = [];
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) { let s = 0; for (let k = 0; k < 3; k++) s += x[i * 3 + k] * x[6 + j * 3 + k]; out.push(s * s); }
      return sumW(out);
    },
  },
  batchMatMul: {
    kernels: ['BatchMatMul'],
    shapes: [[2, 2, 2], [2, 2, 2]],
    tfFn: (a, b) => tf.sum(tf.mul(wt([2, 2, 2]), tf.square(tf.matMul(a, b)))),
    jsFn: (x) => {
      const out: number[] = [];
      for (let n = 0; n < 2; n++) for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) { let s = 0; for (let k = 0; k < 2; k++) s += x[n * 4 + i * 2 + k] * x[8 + n * 4 + k * 2 + j]; out.push(s * s); }
      return sumW(out);
    },
  },
  softmax: {
    kernels: ['Softmax'],
    shapes: [[2, 3]],
    tfFn: (x) => tf.sum(tf.mul(wt([2, 3]), tf.softmax(x))),
    jsFn: (x) => sumW(rows(x, 2, 3).flatMap(softmax)),
  },
  logSoftmax_ce: {
    kernels: ['Max', 'Sum', 'Exp', 'Log', 'Sub', 'Neg', 'Mean'],
    shapes: [[2, 3]],
    tfFn: (x) => tf.mean(losses.softmaxCrossEntropy(x, tf.tensor2d([[0, 1, 0], [0.3, 0.3, 0.4]]))),
    jsFn: (x) => {
      const y = [[0, 1, 0], [0.3, 0.3, 0.4]];
      return rows(x, 2, 3).reduce((acc, r, i) => acc - softmax(r).reduce((a, p, k) => a + y[i][k] * Math.log(p), 0), 0) / 2;
    },
  },
  sigmoid_bce: {
    kernels: ['Relu', 'Abs', 'Exp', 'Log1p', 'Neg', 'Multiply', 'Sub', 'Add'],
    shapes: [[4]],
    tfFn: (x) => tf.sum(losses.sigmoidBinaryCrossEntropy(x, tf.tensor1d([1, 0, 1, 0.5]))),
    jsFn: (x) => [1, 0, 1, 0.5].reduce((acc, y, i) => { const p = 1 / (1 + Math.exp(-x[i])); return acc - y * Math.log(p) - (1 - y) * Math.log(1 - p); }, 0),
  },
  huber: {
    kernels: ['Minimum', 'Abs', 'Square'],
    shapes: [[4]],
    tfFn: (x) => tf.sum(tf.mul(wt([4]), losses.huberLoss(tf.mul(x, 2), tf.zeros([4]), 1))),
    jsFn: (x) => sumW(Array.from(x).map((v) => { const e = Math.abs(2 * v); return e <= 1 ? 0.5 * e * e : e - 0.5; })),
  },
  reductions: {
    kernels: ['Sum', 'Mean', 'Max', 'Min'],
    shapes: [[2, 3]],
    tfFn: (x) => tf.addN([tf.sum(tf.square(tf.sum(x, 1))), tf.sum(tf.square(tf.mean(x, 0))), tf.sum(tf.square(tf.max(x, 1))), tf.sum(tf.square(tf.min(x, 0)))]),
    jsFn: (x) => {
      const r = rows(x, 2, 3);
      const rowSum = r.map((row) => row.reduce((a, b) => a + b, 0));
      const colMean = [0, 1, 2].map((j) => (r[0][j] + r[1][j]) / 2);
      const rowMax = r.map((row) => Math.max(...row));
      const colMin = [0, 1, 2].map((j) => Math.min(r[0][j], r[1][j]));
      return rowSum.reduce((a, v) => a + v * v, 0) + colMean.reduce((a, v) => a + v * v, 0) + rowMax.reduce((a, v) => a + v * v, 0) + colMin.reduce((a, v) => a + v * v, 0);
    },
  },
  shapes: {
    kernels: ['Reshape', 'Transpose', 'Concat', 'Slice', 'GatherV2', 'Tile', 'PadV2', 'ExpandDims', 'Pack', 'Unpack', 'SplitV', 'Cast', 'Identity'],
    shapes: [[2, 3]],
    tfFn: (x) => {
      const t = tf.transpose(tf.reshape(x, [3, 2]));
      const parts = [
        tf.concat([t, tf.slice(x, [0, 1], [2, 2])], 1),
        tf.gather(x, tf.tensor1d([2, 0, 2], 'int32'), 1),
        tf.tile(tf.slice(x, [1, 0], [1, 3]), [2, 1]),
        tf.pad(tf.slice(x, [0, 0], [2, 1]), [[0, 0], [1, 1]]),
        tf.broadcastTo(tf.expandDims(tf.slice(x, [0, 2], [2, 1]), 0), [2, 2, 1]),
        tf.stack(tf.unstack(x)),
        tf.concat(tf.split(x, [1, 2], 1), 1),
        tf.cast(tf.clone(x), 'float32'),
      ];
      return tf.addN(parts.map((p) => tf.sum(tf.mul(tf.reshape(wt([p.size]), p.shape), tf.square(p)))));
    },
    jsFn: (x) => {
      const r = rows(x, 2, 3);
      const reshaped = [[x[0], x[1]], [x[2], x[3]], [x[4], x[5]]];
      const t = [[reshaped[0][0], reshaped[1][0], reshaped[2][0]], [reshaped[0][1], reshaped[1][1], reshaped[2][1]]];
      const p1 = t.map((row, i) => [...row, r[i][1], r[i][2]]).flat();
      const p2 = r.map((row) => [row[2], row[0], row[2]]).flat();
      const p3 = [...r[1], ...r[1]];
      const p4 = r.map((row) => [0, row[0], 0]).flat();
      const p5 = [r[0][2], r[1][2], r[0][2], r[1][2]];
      const p6 = r.flat();
      const p7 = r.flat();
      const p8 = r.flat();
      return [p1, p2, p3, p4, p5, p6, p7, p8].reduce((acc, p) => acc + sumW(p.map(sq)), 0);
    },
  },
  select_compare_step: {
    kernels: ['Select', 'Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr', 'LogicalNot', 'Sign', 'Step', 'OnesLike', 'ZerosLike'],
    shapes: [[4]],
    tfFn: (x) => {
      const c1 = tf.logicalAnd(tf.greater(x, -0.2), tf.lessEqual(x, 0.9));
      const c2 = tf.logicalOr(tf.less(x, -0.5), tf.logicalNot(tf.notEqual(x, tf.zerosLike(x))));
      const c3 = tf.logicalAnd(tf.greaterEqual(x, -2), tf.logicalNot(tf.equal(x, tf.onesLike(x))));
      const y = tf.where(c1, tf.square(x), tf.where(c2, tf.mul(x, x), tf.exp(x)));
      return tf.sum(tf.mul(wt([4]), tf.add(tf.where(c3, y, x), tf.mul(tf.sign(x), tf.square(x)))));
    },
    jsFn: (x) => sumW(Array.from(x).map((v) => {
      const y = v > -0.2 && v <= 0.9 ? v * v : v < -0.5 || v === 0 ? v * v : Math.exp(v);
      return y + Math.sign(v) * v * v;
    })),
  },
  conv2d: {
    kernels: ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'],
    shapes: [[1, 4, 4, 1], [2, 2, 1, 2]],
    tfFn: (x, k) => tf.sum(tf.mul(wt([1, 3, 3, 2]), tf.square(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'valid')))),
    jsFn: (x) => {
      const out: number[] = [];
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let c = 0; c < 2; c++) {
        let s = 0; for (let u = 0; u < 2; u++) for (let v = 0; v < 2; v++) s += x[(i + u) * 4 + (j + v)] * x[16 + (u * 2 + v) * 2 + c];
        out.push(s * s);
      }
      return sumW(out);
    },
  },
  fusedMatMul: {
    kernels: ['BatchMatMul', 'Add', 'Sigmoid'],
    shapes: [[2, 3], [3, 2], [2]],
    tfFn: (a, b, c) => tf.sum(tf.mul(wt([2, 2]), tf.square(tf.fused.matMul({ a, b, bias: c, activation: 'sigmoid' })))),
    jsFn: (x) => {
      const out: number[] = [];
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) {
        let s = x[12 + j]; for (let k = 0; k < 3; k++) s += x[i * 3 + k] * x[6 + k * 2 + j];
        out.push(sq(1 / (1 + Math.exp(-s))));
      }
      return sumW(out);
    },
  },
  pools: {
    kernels: ['AvgPool', 'AvgPoolGrad', 'MaxPool', 'MaxPoolGrad'],
    shapes: [[1, 4, 4, 1]],
    tfFn: (x) => {
      const a = tf.avgPool(tf.square(x) as tf.Tensor4D, 2, 2, 'valid');
      const m = tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid');
      return tf.add(tf.sum(tf.mul(wt([1, 2, 2, 1]), tf.square(a))), tf.sum(tf.mul(wt([1, 2, 2, 1]), tf.mul(tf.square(m), m))));
    },
    jsFn: (x) => {
      const av: number[] = []; const mx: number[] = [];
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) {
        const win = [x[2 * i * 4 + 2 * j], x[2 * i * 4 + 2 * j + 1], x[(2 * i + 1) * 4 + 2 * j], x[(2 * i + 1) * 4 + 2 * j + 1]];
        av.push(sq(win.map(sq).reduce((a, b) => a + b, 0) / 4));
        mx.push(Math.max(...win) ** 3);
      }
      return sumW(av) + sumW(mx);
    },
  },
};

describe.each(Object.entries(CASES))('second-order-safe kernels: %s', (_name, c) => {
  test(`HVP equals the float64 reference (${c.kernels.join(', ')})`, () => {
    const sizes = c.shapes.map((s) => s.reduce((a, b) => a * b, 1));
    const n = sizes.reduce((a, b) => a + b, 0);
    const x64 = rand(n, 5 + n).map((v) => (c.domain ? c.domain(v * 1.5) : v * 1.5));
    const v64 = rand(n, 9 + n);
    let offset = 0;
    const leaves = c.shapes.map((s, i) => { const t = tf.tensor(Array.from(x64.subarray(offset, offset + sizes[i])), s); offset += sizes[i]; return t; });
    offset = 0;
    const vs = c.shapes.map((s, i) => { const t = tf.tensor(Array.from(v64.subarray(offset, offset + sizes[i])), s); offset += sizes[i]; return t; });
    const hv = hvp((p: any) => c.tfFn(...(p as tf.Tensor[])) as tf.Scalar, leaves, vs, null);
    const got = tree.leaves(hv).flatMap((t) => Array.from(t.dataSync()));
    const H = fdHessian(c.jsFn, x64, 1e-4);
    const want = matVec(H, v64, n, n);
    expect(relErr(got, want)).toBeLessThan(1e-4);
    c.kernels.forEach((k) => expect(SECOND_ORDER_KERNELS).toContain(k));
    tree.dispose([leaves, vs, hv] as any);
  });
});

describe('unsupported ops fail loudly', () => {
  test('tf.logSoftmax and tf.losses.softmaxCrossEntropy name themselves and what to use instead', () => {
    const x = tf.tensor2d([[0.1, 0.2, 0.3]]);
    const v = tf.ones([1, 3]);
    expect(() => hvp((p: any) => tf.sum(tf.logSoftmax(p)) as tf.Scalar, x, v, null)).toThrow(UnsupportedOpError);
    expect(() => hvp((p: any) => tf.sum(tf.logSoftmax(p)) as tf.Scalar, x, v, null)).toThrow(/logSoftmax.*losses\.logSoftmax/);
    expect(() => hvp((p: any) => tf.losses.softmaxCrossEntropy(tf.tensor2d([[0, 1, 0]]), p) as tf.Scalar, x, v, null)).toThrow(UnsupportedOpError);
    tf.dispose([x, v]);
  });

  test('first-order gradients through somax kernels equal the analytic ones', () => {
    const x = tf.tensor1d([0.3, -0.7, 1.1]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.add(tf.tanh(t), tf.add(tf.sigmoid(t), tf.exp(t)))))(x);
    const want = [0.3, -0.7, 1.1].map((a) => 1 - Math.tanh(a) ** 2 + (1 / (1 + Math.exp(-a))) * (1 - 1 / (1 + Math.exp(-a))) + Math.exp(a));
    Array.from(g.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    tf.dispose([x, g]);
  });
});
