import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { adahessian, adam, adamw, asTfOptimizer, minimizeLoss, newtonCg, sgd, sophiaH } from '../../index';

describe('asTfOptimizer', () => {
  test('minimize follows tf.train.sgd step for step', () => {
    const a = tf.variable(tf.tensor1d([1, -2, 3]));
    const b = tf.variable(tf.tensor1d([1, -2, 3]));
    const target = tf.tensor1d([0.5, 0.5, 0.5]);
    const ours = asTfOptimizer(sgd(0.1, { momentum: 0.5 }));
    const theirs = tf.train.momentum(0.1, 0.5);
    for (let i = 0; i < 30; i++) {
      ours.minimize(() => tf.sum(tf.square(tf.sub(a, target))) as tf.Scalar, false, [a]);
      theirs.minimize(() => tf.sum(tf.square(tf.sub(b, target))) as tf.Scalar, false, [b]);
    }
    const da = a.dataSync();
    b.dataSync().forEach((v, i) => expect(da[i]).toBeCloseTo(v, 6));
    expect(ours.iterations).toBe(30);
    tf.dispose([a, b, target]);
    ours.dispose();
    theirs.dispose();
  });

  function makeModel(seed: number) {
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ units: 8, inputShape: [3], activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }),
        tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
      ],
    });
    return model;
  }

  test('model.fit with somax adam follows tf.train.adam; adamw trains; tensors stay flat', async () => {
    const xs = tf.randomNormal([64, 3], 0, 1, 'float32', 7);
    const ys = tf.sum(tf.mul(xs, tf.tensor1d([1, -2, 0.5])), 1, true);
    const fit = async (optimizer: tf.Optimizer) => {
      const model = makeModel(3);
      model.compile({ optimizer, loss: 'meanSquaredError' });
      const h = await model.fit(xs, ys, { epochs: 15, batchSize: 16, shuffle: false, verbose: 0 });
      model.dispose();
      optimizer.dispose();
      return h.history.loss as number[];
    };
    const ours = await fit(asTfOptimizer(adam(0.01, { eps: 1e-7 })));
    const theirs = await fit(tf.train.adam(0.01, 0.9, 0.999, 1e-7));
    ours.forEach((l, i) => expect(Math.abs(l - theirs[i]) / theirs[i]).toBeLessThan(1e-4));
    const before = tf.memory().numTensors;
    const w = await fit(asTfOptimizer(adamw(0.01, { weightDecay: 1e-3 })));
    expect(w[w.length - 1]).toBeLessThan(0.2 * w[0]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xs, ys]);
  });

  test('minimize passes the loss and a loss closure to the transform', () => {
    const v = tf.variable(tf.tensor1d([2]));
    const seen: number[] = [];
    const probe = {
      init: () => ({}),
      update: (g: any, _s: any, p: any, extra: any) => {
        seen.push(extra.value.dataSync()[0]);
        const shifted = { [Object.keys(p)[0]]: tf.tensor1d([3]) };
        const at = extra.lossFn(shifted);
        seen.push(at.dataSync()[0]);
        tf.dispose([at, shifted[Object.keys(p)[0]]]);
        return [{ [Object.keys(g)[0]]: tf.zerosLike(g[Object.keys(g)[0]]) }, {}] as any;
      },
    };
    const opt = asTfOptimizer(probe);
    opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, false, [v]);
    expect(seen).toEqual([4, 9]);
    expect(v.dataSync()[0]).toBe(2); // restored after the probe evaluation
    v.dispose();
    opt.dispose();
  });
});

describe('Hessian-based methods inside model.fit', () => {

  test.each([
    ['adahessian', () => adahessian(minimizeLoss, { learningRate: 0.05, spatialAveraging: false })],
    ['sophiaH', () => sophiaH(minimizeLoss, { learningRate: 0.02, weightDecay: 0, evalEveryK: 2 })],
    ['newtonCg (trust region)', () => newtonCg(minimizeLoss, { lam0: 1, maxiter: 5, lamPolicy: 'trustRegion' })],
  ])('%s trains a tfjs-layers model by model.fit, tensors flat', async (_name, make) => {
    const xs = tf.randomNormal([64, 3], 0, 1, 'float32', 11);
    const ys = tf.sum(tf.mul(xs, tf.tensor1d([1, -2, 0.5])), 1, true);
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ units: 8, inputShape: [3], activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 5 }) }),
        tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 6 }) }),
      ],
    });
    const optimizer = asTfOptimizer(make());
    model.compile({ optimizer, loss: 'meanSquaredError' });
    await model.fit(xs, ys, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0 });
    const before = tf.memory().numTensors;
    const h = await model.fit(xs, ys, { epochs: 20, batchSize: 16, shuffle: false, verbose: 0 });
    const loss = h.history.loss as number[];
    expect(tf.memory().numTensors).toBe(before);
    expect(loss[loss.length - 1]).toBeLessThan(0.5 * loss[0]);
    model.dispose();
    optimizer.dispose();
    tf.dispose([xs, ys]);
  });
});
