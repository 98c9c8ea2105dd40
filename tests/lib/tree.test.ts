import * as tf from '@tensorflow/tfjs-core';
import { tree, TreeMismatchError } from '../../index';

describe('tree', () => {
  test('map over two trees adds leafwise and names the path of a shape mismatch', () => {
    const a = { w: tf.tensor([1, 2]), b: [tf.tensor([3])] };
    const b = { w: tf.tensor([10, 20]), b: [tf.tensor([30])] };
    const s = tree.add(a, b) as { w: tf.Tensor; b: tf.Tensor[] };
    expect(Array.from(s.w.dataSync())).toEqual([11, 22]);
    expect(Array.from(s.b[0].dataSync())).toEqual([33]);
    const bad = { w: tf.tensor([1, 2, 3]), b: [tf.tensor([3])] };
    expect(() => tree.add(a, bad)).toThrow(TreeMismatchError);
    expect(() => tree.add(a, bad)).toThrow('tree.w: first tree has shape [2], tree 2 has [3]');
  });
});
