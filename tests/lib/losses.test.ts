import * as tf from '@tensorflow/tfjs-core';
import { denseGgn, ggnvp, losses, meanSquaredError, objectiveLoss, tree } from '../../index';
import type { OutputLoss } from '../../index';
import * as ref from '../helpers/mlp64';

const vals = (t: tf.Tensor) => Array.from(t.dataSync());

describe('losses (primitive ops, per example)', () => {
  test('values equal float64 closed forms', () => {
    const z = tf.tensor2d([[1, -2, 0.5], [3, 0, -1]]);
    const lse = (row: number[]) => Math.log(row.reduce((a, v) => a + Math.exp(v), 0));
    const rows = [[1, -2, 0.5], [3, 0, -1]];
    const ce = losses.softmaxCrossEntropy(z, tf.tensor2d([[0, 1, 0], [0.5, 0, 0.5]]));
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
    expect(() => objectiveLoss({ predict: prob.predict, loss: { name: 'broken' } as any })).toThrow(/lacks value, residual, hessianProduct, hessianBlocks, sampleTargets/);
    tree.dispose([params, batch, v, gvMine, gvRef] as any);
  });
});
