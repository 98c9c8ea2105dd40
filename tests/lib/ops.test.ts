// matMulFast on tfjs-backend-wasm: transposes made explicit, and a transpose of a transpose undone
// without a kernel (the input of a matMul in the second-order sweep of an HVP), with the same
// products and HVPs as the cpu backend.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { hvp, tree } from '../../index';
import { matMulFast, swapLastAxes } from '../../lib/ops';

const A = [1, 2, 3, 4, 5, 6]; // 2 × 3
const B = [7, 8, 9, 10, 11, 12]; // 3 × 2 (or 2 × 3 transposed)

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});
afterAll(async () => {
  await tf.setBackend('cpu');
});

test('matMulFast equals tf.matMul for every pair of transpose flags, on a swap and on a fresh tensor', () => {
  tf.tidy(() => {
    const a = tf.tensor2d(A, [2, 3]);
    const b = tf.tensor2d(B, [3, 2]);
    const at = swapLastAxes(a); // 3 × 2, undone below without a kernel
    const bt = tf.tensor2d(tf.transpose(b).dataSync(), [2, 3]); // the same values, not a swap
    const cases: [tf.Tensor, tf.Tensor, boolean, boolean][] = [
      [a, b, false, false],
      [at, b, true, false],
      [a, bt, false, true],
      [at, bt, true, true],
    ];
    for (const [x, y, ta, tb] of cases) {
      expect(Array.from(matMulFast(x, y, ta, tb).dataSync())).toEqual(Array.from(tf.matMul(x, y, ta, tb).dataSync()));
    }
  });
});

test('transposing back a swap of a live tensor runs no Transpose kernel; a swap of a disposed one does', async () => {
  const a = tf.tensor2d(A, [2, 3]);
  const b = tf.tensor2d(B, [3, 2]);
  const at = swapLastAxes(a);
  const undone = await tf.profile(() => matMulFast(at, b, true, false));
  expect(undone.kernels.map((k) => k.name)).toEqual(['BatchMatMul']);
  expect(Array.from((undone.result as tf.Tensor).dataSync())).toEqual(Array.from(tf.matMul(a, b, false, false).dataSync()));
  a.dispose();
  const again = await tf.profile(() => matMulFast(at, b, true, false));
  expect(again.kernels.map((k) => k.name)).toEqual(['Transpose', 'BatchMatMul']);
  tf.dispose([b, at, undone.result as tf.Tensor, again.result as tf.Tensor]);
});

test('the HVP of a tanh MLP on wasm equals the cpu backend’s', async () => {
  const f = (p: Record<string, tf.Tensor>, x: tf.Tensor) =>
    tf.sum(tf.square(tf.matMul(tf.tanh(tf.add(tf.matMul(x, p.w1), p.b1)), p.w2))) as tf.Scalar;
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const p = {
        w1: tf.randomNormal([6, 4], 0, 0.5, 'float32', 1),
        b1: tf.randomNormal([4], 0, 0.1, 'float32', 2),
        w2: tf.randomNormal([4, 3], 0, 0.5, 'float32', 3),
      };
      const v = tree.randomNormalLike(p, 4);
      const x = tf.randomNormal([5, 6], 0, 1, 'float32', 5);
      return tree.leaves(hvp(f as any, p, v, x)).map((t) => Array.from(t.dataSync()));
    });
  };
  const [cpu, wasm] = [await run('cpu'), await run('wasm')];
  wasm.forEach((leaf, i) => leaf.forEach((value, k) => expect(value).toBeCloseTo(cpu[i][k], 4)));
});
