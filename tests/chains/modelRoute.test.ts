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

/** A small CNN: conv 3×3×`filters` tanh → max-pool 2 → flatten → dense softmax (6×6 single-channel images). */
function cnn(seed: number, filters = 4): tfl.Sequential {
  const model = tfl.sequential();
  const init = (s: number) => tfl.initializers.glorotNormal({ seed: s });
  model.add(tfl.layers.conv2d({ inputShape: [6, 6, 1], filters, kernelSize: 3, activation: 'tanh', kernelInitializer: init(seed) }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tfl.layers.flatten());
  model.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(seed + 1) }));
  return model;
}

/** 48 6×6 images of three classes (a bright row, column or diagonal, plus noise), one-hot labels. */
function images(): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return tf.tidy(() => {
    const labels = Array.from({ length: 48 }, (_, i) => i % 3);
    const pattern = (c: number) =>
      Array.from({ length: 36 }, (_, k) => ((c === 0 ? Math.floor(k / 6) === 2 : c === 1 ? k % 6 === 3 : k % 7 === 0) ? 1 : 0));
    const clean = tf.tensor(labels.flatMap(pattern), [48, 6, 6, 1]);
    const x = tf.add(clean, tf.randomNormal([48, 6, 6, 1], 0, 0.3, 'float32', 5)) as tf.Tensor4D;
    return { x, y: tf.oneHot(tf.tensor1d(labels, 'int32'), 3).toFloat() as tf.Tensor2D };
  });
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
  kfac: {},
  shampoo: { learningRate: 0.01 },
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

  // The dense direct methods form the P × P curvature by P products per step: they train the CNN
  // with 1 filter (P = 25) instead of 4 (P = 91), one batch of 36 per epoch (a Hessian-vector
  // product through the conv and the pool takes ~60 ms on cpu).
  const dense = (name: MethodName) => name === 'newtonDirect' || name === 'ggnDirect';
  test.each(listMethods())('%s trains a compiled CNN (conv tanh, max-pool, dense softmax): loss falls, flat tensors', async (name) => {
    const { x, y } = images();
    const model = cnn(21, dense(name) ? 1 : 4);
    const optimizer = asTfOptimizer(make(name, { model, ...OPTIONS[name] } as never));
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    const counts: number[] = [];
    const history = await model.fit(x, y, {
      epochs: 3,
      batchSize: dense(name) ? 36 : 16,
      validationSplit: 0.25,
      shuffle: false,
      verbose: 0,
      callbacks: { onEpochEnd: async () => void counts.push(tf.memory().numTensors) },
    });
    const loss = history.history.loss as number[];
    expect(loss.every(Number.isFinite)).toBe(true);
    expect(loss[2]).toBeLessThan(0.95 * loss[0]);
    expect(counts[2]).toBe(counts[1]);
    optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });
});
