import * as tf from '@tensorflow/tfjs-core';
import { valueAndGrad, InputError } from '../../../index';

describe('valueAndGrad', () => {
  test('gradient of ½‖w − b‖² over a tree is w − b', () => {
    const params = { w: tf.tensor([1, 2, 3]), u: [tf.tensor([[1, -1]])] };
    const f = (p: any, b: tf.Tensor): tf.Scalar =>
      tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(p.w, b)))), tf.sum(tf.square(p.u[0]))) as tf.Scalar;
    const { value, grads } = valueAndGrad(f)(params, tf.tensor([0, 0, 1])) as any;
    expect(value.dataSync()[0]).toBeCloseTo(0.5 * (1 + 4 + 4) + 2, 5);
    expect(Array.from(grads.w.dataSync())).toEqual([1, 2, 2]);
    expect(Array.from(grads.u[0].dataSync())).toEqual([2, -2]);
  });
  test('a non-scalar loss is a clear error', () => {
    const f = (p: any) => tf.mul(p, 2) as unknown as tf.Scalar;
    expect(() => valueAndGrad(f)(tf.tensor([1, 2]), null)).toThrow(InputError);
    expect(() => valueAndGrad(f)(tf.tensor([1, 2]), null)).toThrow('must return a scalar (rank 0), got shape [2]');
  });
});
