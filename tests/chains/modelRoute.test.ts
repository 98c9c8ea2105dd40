// The model route: every registry method built from a compiled tfjs-layers model in one line,
// `make(name, { model })`, and trained by model.fit through asTfOptimizer — the loss falls,
// validation and History work, and the tensor count is flat across epochs.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { asTfOptimizer, listMethods, make } from '../../index';
import type { MethodName } from '../../index';

/** A 4-8-3 tanh / softmax classifier, compiled with categorical cross-entropy. */
function classifier(seed: number): tfl.Sequential {
  const model = tfl.sequential();
  model.add(
    tfl.layers.dense({ inputShape: [4], units: 8, activation: 'tanh', kernelInitializer: tfl.initializers.glorotNormal({ seed }) }),
  );
  model.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 1 }) }));
  return model;
}

/** 96 samples of three Gaussian blobs in 4-D, one-hot labels. */
function blobs(): { x: tf.Tensor2D; y: tf.Tensor2D } {
  return tf.tidy(() => {
    const labels = Array.from({ length: 96 }, (_, i) => i % 3);
    const centres = tf.tensor2d([
      [2, 0, 0, 1],
      [-1, 2, 0, -1],
      [0, -2, 1, 0],
    ]);
    const x = tf.add(tf.gather(centres, tf.tensor1d(labels, 'int32')), tf.randomNormal([96, 4], 0, 0.7, 'float32', 3)) as tf.Tensor2D;
    return { x, y: tf.oneHot(tf.tensor1d(labels, 'int32'), 3).toFloat() as tf.Tensor2D };
  });
}

// Settings under which each method trains this small problem in a few epochs of batches of 16.
const OPTIONS: Record<MethodName, Record<string, unknown>> = {
  adahessian: { learningRate: 0.1 },
  sophiaH: { learningRate: 0.05, weightDecay: 0 },
  sophiaG: { learningRate: 0.05, weightDecay: 0 },
  newtonCg: { lam0: 1, maxIterations: 5 },
  newtonDirect: { lam0: 1 },
  sgn: { lam0: 1, maxIterations: 5 },
  egn: { lam0: 1 },
  ggnDirect: { lam0: 1 },
  sqn: { learningRate: 0.1 },
  swmng: { lam0: 1 },
  ignd: { learningRate: 0.1 },
  sgdArmijo: { learningRate: 1 },
  lbfgs: { learningRate: 0.1, linesearch: null },
};

describe('make(name, { model }) through model.fit', () => {
  let data: { x: tf.Tensor2D; y: tf.Tensor2D };
  beforeAll(() => {
    data = blobs();
  });
  afterAll(() => tf.dispose([data.x, data.y]));

  test('the table covers every registered method', () => {
    expect(listMethods().filter((m) => OPTIONS[m] === undefined)).toEqual([]);
  });

  test.each(listMethods())('%s trains a compiled classifier: loss falls, validation, History, flat tensors', async (name) => {
    const model = classifier(11);
    const optimizer = asTfOptimizer(make(name, { model, ...OPTIONS[name] } as never));
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const counts: number[] = [];
    const history = await model.fit(data.x, data.y, {
      epochs: 4,
      batchSize: 16,
      validationSplit: 0.25,
      shuffle: false,
      verbose: 0,
      callbacks: { onEpochEnd: async () => void counts.push(tf.memory().numTensors) },
    });
    const loss = history.history.loss as number[];
    expect(history.history.val_loss).toHaveLength(4);
    expect(loss.every(Number.isFinite)).toBe(true);
    expect(loss[3]).toBeLessThan(0.9 * loss[0]);
    expect(counts[3]).toBe(counts[1]);
    optimizer.dispose();
    model.dispose();
  });
});
