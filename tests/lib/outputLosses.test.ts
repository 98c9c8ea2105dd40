// Every built-in output loss is consistent with itself: the residual is B·∂L/∂f, the output
// Hessian product is B·∂²L/∂f² u (autodiff), the float64 blocks equal that product, and sampled
// targets have the targets' shape.
import * as tf from '@tensorflow/tfjs-core';
import { meanSquaredError, meanSquaredErrorPerOutput, sigmoidCrossEntropy, softmaxCrossEntropy } from '../../lib/objective';
import type { OutputLoss } from '../../lib/objective';
import { hvp } from '../../lib/autodiff';

const B = 4;
const C = 3;
const targets: Record<string, () => tf.Tensor> = {
  meanSquaredError: () => tf.randomNormal([B, C], 0, 1, 'float32', 1),
  meanSquaredErrorPerOutput: () => tf.randomNormal([B, C], 0, 1, 'float32', 1),
  softmaxCrossEntropy: () => tf.oneHot(tf.tensor1d([0, 2, 1, 2], 'int32'), C).toFloat(),
  sigmoidCrossEntropy: () => tf.cast(tf.greater(tf.randomUniform([B, C], 0, 1, 'float32', 2), 0.5), 'float32'),
};

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

describe.each([meanSquaredError, meanSquaredErrorPerOutput, softmaxCrossEntropy, sigmoidCrossEntropy].map((l) => [l.name, l] as const))(
  'output loss %s',
  (name, loss: OutputLoss) => {
    const f = tf.randomNormal([B, C], 0, 1.5, 'float32', 3);
    const u = tf.randomNormal([B, C], 0, 1, 'float32', 4);
    const y = targets[name]();
    afterAll(() => tf.dispose([f, u, y]));

    test('residual = B · ∂L/∂f', () => {
      const g = tf.grad((z: tf.Tensor) => loss.value(z, y))(f);
      const r = loss.residual(f, y);
      expect(maxDiff(r, tf.mul(g, B))).toBeLessThan(1e-5);
      tf.dispose([g, r]);
    });

    test('hessianProduct = B · ∂²L/∂f² u, and the float64 blocks give the same product', () => {
      const hu = hvp((z, t: tf.Tensor) => loss.value(z as tf.Tensor, t), f, u, y) as tf.Tensor;
      const q = loss.hessianProduct(f, u);
      expect(maxDiff(q, tf.mul(hu, B))).toBeLessThan(1e-5);
      const blocks = loss.hessianBlocks(f);
      const uv = u.dataSync();
      const fromBlocks = new Float32Array(B * C);
      for (let i = 0; i < B; i++)
        for (let k = 0; k < C; k++) for (let l = 0; l < C; l++) fromBlocks[i * C + k] += blocks[i * C * C + k * C + l] * uv[i * C + l];
      const qv = q.dataSync();
      fromBlocks.forEach((v, i) => expect(v).toBeCloseTo(qv[i], 5));
      tf.dispose([hu, q]);
    });

    test('sampled targets are shaped like the outputs', () => {
      const s = loss.sampleTargets(f, 7);
      expect(s.shape).toEqual([B, C]);
      s.dispose();
    });
  },
);
