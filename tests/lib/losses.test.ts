import * as tf from '@tensorflow/tfjs-core';
import { denseGgn, ggnvp, hvp, losses, objectiveLoss, tree } from '../../index';
import { meanSquaredError } from '../../lib/objective';
import type { OutputLoss } from '../../index';
import * as ref from '../helpers/mlp64';
import { fdHessian } from '../helpers/conv64';

const vals = (t: tf.Tensor) => Array.from(t.dataSync());

describe('losses (primitive ops, per example)', () => {
  test('values equal float64 closed forms', () => {
    const z = tf.tensor2d([
      [1, -2, 0.5],
      [3, 0, -1],
    ]);
    const lse = (row: number[]) => Math.log(row.reduce((a, v) => a + Math.exp(v), 0));
    const rows = [
      [1, -2, 0.5],
      [3, 0, -1],
    ];
    const ce = losses.softmaxCrossEntropy(
      z,
      tf.tensor2d([
        [0, 1, 0],
        [0.5, 0, 0.5],
      ]),
    );
    vals(ce).forEach((v, i) => expect(v).toBeCloseTo([lse(rows[0]) + 2, lse(rows[1]) - 0.5 * 3 + 0.5 * 1][i], 5));
    const ceInt = losses.softmaxCrossEntropyWithIntegerLabels(z, tf.tensor1d([2, 0], 'int32'));
    vals(ceInt).forEach((v, i) => expect(v).toBeCloseTo([lse(rows[0]) - 0.5, lse(rows[1]) - 3][i], 5));
    const ls = losses.logSoftmax(z);
    vals(ls).forEach((v, i) => expect(v).toBeCloseTo(rows.flat()[i] - lse(rows[Math.floor(i / 3)]), 5));
    const bce = losses.sigmoidBinaryCrossEntropy(tf.tensor1d([2, -30, 0]), tf.tensor1d([1, 0, 0.5]));
    vals(bce).forEach((v, i) => expect(v).toBeCloseTo([Math.log1p(Math.exp(-2)), Math.log1p(Math.exp(-30)), Math.log(2)][i], 5));
    expect(vals(losses.squaredError(tf.tensor1d([1, 2]), tf.tensor1d([0, 4])))).toEqual([1, 4]);
    expect(vals(losses.l2Loss(tf.tensor1d([1, 2]), tf.tensor1d([0, 4])))).toEqual([0.5, 2]);
    vals(losses.huberLoss(tf.tensor1d([0.5, 3, -2]), tf.zeros([3]), 1)).forEach((v, i) => expect(v).toBeCloseTo([0.125, 2.5, 1.5][i], 6));
    vals(losses.logSigmoid(tf.tensor1d([0, 3, -40]))).forEach((v, i) =>
      expect(v).toBeCloseTo([-Math.log(2), -Math.log1p(Math.exp(-3)), -40][i], 5),
    );
    // Stable far out: no NaN or Infinity for large logits.
    expect(vals(losses.softmaxCrossEntropy(tf.tensor2d([[1000, -1000, 0]]), tf.tensor2d([[0, 1, 0]])))[0]).toBeCloseTo(2000, 2);
    expect(vals(losses.sigmoidBinaryCrossEntropy(tf.tensor1d([-500]), tf.tensor1d([1])))[0]).toBeCloseTo(500, 3);
    tf.dispose([z, ce, ceInt, ls, bce]);
  });

  test("a user's OutputLoss object drives the GGN exactly like the built-in one", () => {
    const prob = ref.makeProblem('tanh', 'meanSquaredError');
    const mine: OutputLoss = { ...meanSquaredError, name: 'mine', hessianProduct: (_f, u) => tf.mul(u, 2) };
    const params = prob.params();
    const batch = prob.batch();
    const builtIn = denseGgn({ predict: prob.predict, loss: 'meanSquaredError' }, params, batch);
    const v = tree.onesLike(params);
    const gvMine = ggnvp({ predict: prob.predict, loss: mine }, params, v, batch);
    const gvRef = ggnvp({ predict: prob.predict, loss: 'meanSquaredError' }, params, v, batch);
    // Q = 2I in the user's loss: twice the built-in GGN product.
    const a = tree.readValues(() => tree.ravel(gvMine).vector);
    const b = tree.readValues(() => tree.ravel(gvRef).vector);
    a.forEach((x, i) => expect(x).toBeCloseTo(2 * b[i], 4));
    expect(builtIn.length).toBe(ref.numParams(prob.m) ** 2);
    expect(() => objectiveLoss({ predict: prob.predict, loss: { name: 'broken' } as any })).toThrow(
      /lacks value, residual, hessianProduct, hessianBlocks, sampleTargets/,
    );
    tree.dispose([params, batch, v, gvMine, gvRef] as any);
  });
});

describe('losses are twice differentiable: HVP vs float64 second differences', () => {
  const logits = [0.3, -1.2, 2.0, 0.7, 0.1, -0.4];
  const soft = [
    [0.2, 0.3, 0.5],
    [0, 1, 0],
  ];
  const lse = (r: number[]) => {
    const m = Math.max(...r);
    return m + Math.log(r.reduce((a, v) => a + Math.exp(v - m), 0));
  };
  const rowsOf = (x: Float64Array) => [Array.from(x.subarray(0, 3)), Array.from(x.subarray(3, 6))];
  const w = [0.5, -1, 0.25, 2, -0.75, 1.5];
  const cases: [string, (z: tf.Tensor) => tf.Tensor, (x: Float64Array) => number][] = [
    [
      'logSoftmax',
      (z) => tf.sum(tf.mul(tf.tensor2d([w.slice(0, 3), w.slice(3)]), losses.logSoftmax(z))),
      (x) => rowsOf(x).reduce((acc, r, i) => acc + r.reduce((a, v, k) => a + w[3 * i + k] * (v - lse(r)), 0), 0),
    ],
    [
      'softmaxCrossEntropy',
      (z) => tf.sum(losses.softmaxCrossEntropy(z, tf.tensor2d(soft))),
      (x) => rowsOf(x).reduce((acc, r, i) => acc + r.reduce((a, v, k) => a - soft[i][k] * (v - lse(r)), 0), 0),
    ],
    [
      'softmaxCrossEntropyWithIntegerLabels',
      (z) => tf.sum(losses.softmaxCrossEntropyWithIntegerLabels(z, tf.tensor1d([2, 0], 'int32'))),
      (x) => rowsOf(x).reduce((acc, r, i) => acc + lse(r) - r[[2, 0][i]], 0),
    ],
    [
      'sigmoidBinaryCrossEntropy',
      (z) =>
        tf.sum(
          losses.sigmoidBinaryCrossEntropy(
            z,
            tf.tensor2d([
              [1, 0, 0.3],
              [0.5, 1, 0],
            ]),
          ),
        ),
      (x) =>
        Array.from(x).reduce((acc, v, i) => {
          const y = [1, 0, 0.3, 0.5, 1, 0][i];
          const p = 1 / (1 + Math.exp(-v));
          return acc - y * Math.log(p) - (1 - y) * Math.log(1 - p);
        }, 0),
    ],
    [
      'logSigmoid',
      (z) => tf.sum(tf.mul(tf.tensor2d([w.slice(0, 3), w.slice(3)]), losses.logSigmoid(z))),
      (x) => Array.from(x).reduce((acc, v, i) => acc - w[i] * Math.log1p(Math.exp(-v)), 0),
    ],
    [
      'squaredError',
      (z) => tf.sum(losses.squaredError(tf.tanh(z), tf.fill([2, 3], 0.2))),
      (x) => Array.from(x).reduce((acc, v) => acc + (Math.tanh(v) - 0.2) ** 2, 0),
    ],
    [
      'l2Loss',
      (z) => tf.sum(losses.l2Loss(tf.tanh(z), tf.fill([2, 3], 0.2))),
      (x) => Array.from(x).reduce((acc, v) => acc + 0.5 * (Math.tanh(v) - 0.2) ** 2, 0),
    ],
    [
      'huberLoss',
      (z) => tf.sum(losses.huberLoss(tf.tanh(tf.mul(z, 2)), tf.fill([2, 3], 0.1), 0.5)),
      (x) =>
        Array.from(x).reduce((acc, v) => {
          const e = Math.abs(Math.tanh(2 * v) - 0.1);
          return acc + (e <= 0.5 ? 0.5 * e * e : 0.5 * (e - 0.25));
        }, 0),
    ],
  ];
  test.each(cases)('%s', (_name, tfFn, jsFn) => {
    const x64 = Float64Array.from(logits);
    const v64 = ref.rand(6, 13);
    const z = tf.tensor2d(logits, [2, 3]);
    const v = tf.tensor2d(Array.from(v64), [2, 3]);
    const hv = hvp((p: any) => tfFn(p) as tf.Scalar, z, v, null) as tf.Tensor;
    const want = ref.matVec(fdHessian(jsFn, x64, 1e-4), v64, 6, 6);
    expect(ref.relErr(hv.dataSync(), want)).toBeLessThan(1e-4);
    expect(Math.hypot(...want)).toBeGreaterThan(1e-3);
    tf.dispose([z, v, hv]);
  });
});

describe('oneHotFloat', () => {
  test('float32 one-hot rows from int32 or float indices (tf.oneHot(…, "float32") writes integer bits on wasm)', () => {
    const idx = tf.tensor1d([0, 2, 1], 'int32');
    const asFloat = tf.tensor1d([2, 0]);
    const a = losses.oneHotFloat(idx, 3);
    const b = losses.oneHotFloat(asFloat, 3);
    expect(a.dtype).toBe('float32');
    expect(Array.from(a.dataSync())).toEqual([1, 0, 0, 0, 0, 1, 0, 1, 0]);
    expect(Array.from(b.dataSync())).toEqual([0, 0, 1, 1, 0, 0]);
    tf.dispose([idx, asFloat, a, b]);
  });
});
