// Gradients of the conv → pool layers on tfjs-backend-wasm equal the cpu backend's.
//
// tfjs-backend-wasm 4.22's MaxPoolGrad kernel starts each window's maximum at
// `std::numeric_limits<float>::min()` (the smallest positive float), so a window whose entries are
// all ≤ 0 loses its gradient: maxPool of [[-4, -3], [-2, -1]] sends dy to -4's slot on wasm (offset 0
// of the tensor), to -1's on cpu; in a larger tensor the gradient of such a window vanishes. A tanh
// conv followed by max pooling trained on wasm with the stock gradient went elsewhere than on cpu
// (browser suite, layersRun). somax's MaxPool gradient on wasm scatters dy to each window's first
// maximum with ops of its list instead.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { hvp, losses } from '../../../index';
import { relErr } from '../../helpers/mlp64';

const vals = (t: tf.Tensor) => Array.from(t.dataSync());

/** Runs `fn` on `backend` and returns its values (the tensors it made disposed). */
async function on(backend: string, fn: () => tf.Tensor[]): Promise<number[][]> {
  await tf.setBackend(backend);
  await tf.ready();
  return tf.tidy(() => fn().map(vals));
}

afterAll(async () => {
  await tf.setBackend('cpu');
});

const poolCases: [string, number[], number, number, 'valid' | 'same'][] = [
  ['2×2/2 valid', [2, 4, 4, 3], 2, 2, 'valid'],
  ['3×3/1 overlapping', [2, 5, 5, 2], 3, 1, 'valid'],
  ['3×3/2 same', [2, 5, 6, 2], 3, 2, 'same'],
];

describe('maxPool gradient on wasm equals cpu (windows all ≤ 0, ties)', () => {
  test.each(poolCases)('%s', async (_name, shape, filter, stride, pad) => {
    const size = shape.reduce((a, b) => a * b, 1);
    // Mostly negative entries (whole windows ≤ 0), some exact ties and zeros.
    const xs = Array.from({ length: size }, (_, i) => (i % 7 === 0 ? -0.5 : i % 11 === 0 ? 0 : -Math.abs(Math.sin(i * 1.7))));
    const run = () => {
      const x = tf.tensor4d(xs, shape as [number, number, number, number]);
      const y = tf.maxPool(x, filter, stride, pad);
      const dy = tf.reshape(tf.range(1, y.size + 1, 1, 'float32'), y.shape);
      const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, filter, stride, pad), dy)))(x);
      // The second derivative along v: zero (piecewise linear), but it must run.
      const v = tf.reshape(tf.range(0, size, 1, 'float32'), shape);
      const hv = hvp(
        (t: any) => tf.sum(tf.square(tf.maxPool(t as tf.Tensor4D, filter, stride, pad))) as tf.Scalar,
        x,
        v,
        null,
      ) as tf.Tensor;
      return [y, grad, hv];
    };
    const [cpuY, cpuGrad, cpuHv] = await on('cpu', run);
    const [wasmY, wasmGrad, wasmHv] = await on('wasm', run);
    expect(wasmY).toEqual(cpuY);
    // Every window passes its dy on: the gradient sums to Σ dy.
    expect(cpuGrad.reduce((a, b) => a + b, 0)).toBeCloseTo((cpuY.length * (cpuY.length + 1)) / 2, 3);
    expect(wasmGrad).toEqual(cpuGrad);
    expect(relErr(wasmHv, cpuHv)).toBeLessThan(1e-6);
  });
});

test('conv tanh → maxPool → dense softmax cross-entropy: gradient and HVP on wasm equal cpu', async () => {
  const run = () => {
    const labels = Array.from({ length: 12 }, (_, i) => i % 3);
    const x = tf.add(
      tf.mul(
        tf.reshape(
          tf.oneHot(
            tf.tensor1d(
              labels.map((c) => c * 12 + 7),
              'int32',
            ),
            36,
          ),
          [12, 6, 6, 1],
        ),
        2,
      ),
      tf.randomNormal([12, 6, 6, 1], 0, 0.3, 'float32', 4),
    );
    const y = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 3), 'float32');
    const params = {
      k0: tf.randomNormal([3, 3, 1, 2], 0, 0.5, 'float32', 1),
      b0: tf.tensor1d([0.1, -0.2]),
      k1: tf.randomNormal([8, 3], 0, 0.5, 'float32', 2),
      b1: tf.zeros([3]),
    };
    const loss = (p: typeof params) => {
      const c = tf.tanh(tf.add(tf.conv2d(x as tf.Tensor4D, p.k0 as tf.Tensor4D, 1, 'valid'), p.b0));
      const pooled = tf.maxPool(c as tf.Tensor4D, 2, 2, 'valid');
      const logits = tf.add(tf.matMul(tf.reshape(pooled, [12, -1]), p.k1), p.b1);
      return tf.mean(losses.softmaxCrossEntropy(logits, y)) as tf.Scalar;
    };
    const names = Object.keys(params) as (keyof typeof params)[];
    const grads = tf.grads((...ls: tf.Tensor[]) => loss(Object.fromEntries(names.map((n, i) => [n, ls[i]])) as typeof params))(
      names.map((n) => params[n]),
    );
    const v = Object.fromEntries(names.map((n, i) => [n, tf.randomNormal(params[n].shape, 0, 1, 'float32', 20 + i)]));
    const hv = hvp(loss as any, params, v, null) as Record<string, tf.Tensor>;
    return [tf.concat(grads.map((g) => tf.reshape(g, [-1]))), tf.concat(names.map((n) => tf.reshape(hv[n], [-1])))];
  };
  const [cpuGrad, cpuHv] = await on('cpu', run);
  const [wasmGrad, wasmHv] = await on('wasm', run);
  expect(relErr(wasmGrad, cpuGrad)).toBeLessThan(1e-5);
  expect(relErr(wasmHv, cpuHv)).toBeLessThan(1e-5);
});
