// layersObjective: a compiled tfjs-layers model as an objective — its forward pass at any params,
// its compiled loss on the logits (equal to what model.fit / evaluate report), the same curvature
// products as the network written in plain ops, and the batches of model.fit.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ggnvp, hvp, mlpObjective, objectiveLoss, rowGram, tree } from '../../index';
import type { GradientTransformation, Tree } from '../../index';
import { layersObjective, withFitBatch } from '../../models/layers';

function mlp(activation: 'softmax' | 'sigmoid' | 'linear', units = 3): tfl.Sequential {
  const model = tfl.sequential();
  model.add(
    tfl.layers.dense({
      inputShape: [4],
      units: 5,
      activation: 'tanh',
      kernelInitializer: tfl.initializers.glorotNormal({ seed: 1 }),
      biasInitializer: tfl.initializers.randomNormal({ seed: 2 }),
    }),
  );
  model.add(
    tfl.layers.dense({
      units,
      activation,
      kernelInitializer: tfl.initializers.glorotNormal({ seed: 3 }),
      biasInitializer: tfl.initializers.randomNormal({ seed: 4 }),
    }),
  );
  return model;
}

/** The model's weights as plain tensors keyed by variable name (fresh copies). */
function weightsOf(model: tfl.LayersModel): Record<string, tf.Tensor> {
  return Object.fromEntries(model.trainableWeights.map((w) => [(w.read() as tf.Variable).name, tf.clone(w.read())]));
}

/** The same weights as an mlpObjective params tree { w1, b1, w2, b2 }. */
function asMlp(model: tfl.LayersModel, p: Record<string, tf.Tensor>): Tree {
  const names = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
  return { w1: p[names[0]], b1: p[names[1]], w2: p[names[2]], b2: p[names[3]] };
}

const close = (a: Tree, b: Tree, tol: number) => {
  const [x, y] = [tree.leaves(a), tree.leaves(b)];
  x.forEach((t, i) => {
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(t, y[i]))).dataSync()[0]);
    const s = tf.tidy(() => tf.max(tf.abs(y[i])).dataSync()[0]);
    expect(d).toBeLessThanOrEqual(tol * Math.max(1, s));
  });
};

describe('layersObjective', () => {
  const x = tf.randomNormal([6, 4], 0, 1, 'float32', 7) as tf.Tensor2D;
  const labels = tf.tensor1d([0, 1, 2, 2, 1, 0], 'int32');
  afterAll(() => tf.dispose([x, labels]));

  test('predict runs the model at any params (weights restored), on the logits when the loss folds the softmax', () => {
    const model = mlp('softmax');
    model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const objective = layersObjective(model);
    const p = weightsOf(model);
    const shifted = tree.map((t: tf.Tensor) => tf.add(t, 0.1), p) as Record<string, tf.Tensor>;
    const before = weightsOf(model);
    const logits = objective.predict(shifted, x);
    close(tree.leaves(weightsOf(model)) as never, tree.leaves(before) as never, 0); // the model's weights are back
    const reference = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' }).predict(asMlp(model, shifted), x);
    close(logits, reference, 1e-6);
    // The softmax itself is still the model's output outside predict.
    const probs = model.predict(x) as tf.Tensor;
    expect(
      probs
        .sum(1)
        .dataSync()
        .every((s) => Math.abs(s - 1) < 1e-5),
    ).toBe(true);
    tf.dispose([logits, reference, probs, ...Object.values(p), ...Object.values(shifted), ...Object.values(before)]);
    model.dispose();
  });

  test.each([
    ['categoricalCrossentropy', 'softmax', 3],
    ['sparseCategoricalCrossentropy', 'softmax', 3],
    ['binaryCrossentropy', 'sigmoid', 2],
    ['meanSquaredError', 'linear', 2],
  ] as const)('its loss is the compiled %s, as model.evaluate reports it', (loss, activation, units) => {
    const model = mlp(activation, units);
    model.compile({ optimizer: 'sgd', loss });
    const y = tf.tidy(() => {
      if (loss === 'sparseCategoricalCrossentropy') return tf.cast(labels, 'float32');
      if (loss === 'categoricalCrossentropy') return tf.oneHot(labels, 3).toFloat();
      if (loss === 'binaryCrossentropy') return tf.cast(tf.greater(tf.randomUniform([6, 2], 0, 1, 'float32', 9), 0.5), 'float32');
      return tf.randomNormal([6, 2], 0, 1, 'float32', 9);
    });
    const objective = layersObjective(model);
    const ours = objectiveLoss(objective)(weightsOf(model), { x, y });
    const theirs = model.evaluate(x, y, { batchSize: 6 }) as tf.Scalar;
    expect(ours.dataSync()[0]).toBeCloseTo(theirs.dataSync()[0], 5);
    tf.dispose([ours, theirs, y]);
    model.dispose();
  });

  test('HVP and GGN-vp through the model equal those of the same network in plain ops (1e-5)', () => {
    const model = mlp('softmax');
    model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const objective = layersObjective(model);
    const plain = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });
    const p = weightsOf(model);
    const v = tree.map((t: tf.Tensor) => tf.randomNormal(t.shape, 0, 1, 'float32', 5), p);
    const y = tf.oneHot(labels, 3).toFloat();
    const batch = { x, y };
    const viaModel = [ggnvp(objective, p, v, batch), hvp(objectiveLoss(objective), p, v, batch)];
    const viaPlain = [
      ggnvp(plain, asMlp(model, p), asMlp(model, v as never), batch),
      hvp(objectiveLoss(plain), asMlp(model, p), asMlp(model, v as never), batch),
    ];
    viaModel.forEach((m, i) => close(asMlp(model, m as Record<string, tf.Tensor>), viaPlain[i], 1e-5));
    tree.dispose([...viaModel, ...viaPlain]);
    tf.dispose([y, ...tree.leaves(p), ...tree.leaves(v)]);
    model.dispose();
  });

  test('refuses, at the first step, an uncompiled model, an unsupported loss, or a cross-entropy without its softmax', () => {
    const bare = mlp('softmax');
    const p = weightsOf(bare);
    const batch = { x, y: tf.oneHot(labels, 3).toFloat() };
    expect(() => objectiveLoss(layersObjective(bare))(p, batch)).toThrow(/must be compiled with one loss given by name/);
    bare.compile({ optimizer: 'sgd', loss: 'cosineProximity' });
    expect(() => objectiveLoss(layersObjective(bare))(p, batch)).toThrow(/loss 'cosineProximity' is not supported/);
    const linear = mlp('linear');
    linear.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    expect(() => objectiveLoss(layersObjective(linear))(weightsOf(linear), batch)).toThrow(/needs a final softmax activation/);
    tf.dispose([batch.y]);
    bare.dispose();
    linear.dispose();
  });

  test('withFitBatch hands the transform the batch model.fit trains on, and its first k samples as the curvature batch', async () => {
    const model = mlp('softmax');
    const objective = layersObjective(model);
    const seen: number[][] = [];
    const spy: GradientTransformation<null> = {
      init: () => null,
      update: (u, s, _p, extra) => {
        const b = extra?.batch as { x: tf.Tensor; y: tf.Tensor };
        const c = extra?.curvatureBatch as { x: tf.Tensor; y: tf.Tensor };
        seen.push([b.x.shape[0], b.y.shape[0], c.x.shape[0], c.y.shape[0], extra?.value === undefined ? 0 : 1]);
        return [tree.map((t: tf.Tensor) => tf.mul(t, -0.1), u), s];
      },
    };
    const { asTfOptimizer } = await import('../../index');
    model.compile({ optimizer: asTfOptimizer(withFitBatch(spy, objective, { curvatureSamples: 4 })), loss: 'categoricalCrossentropy' });
    const y = tf.oneHot(labels, 3).toFloat();
    await model.fit(x, y, { epochs: 1, batchSize: 3, verbose: 0, shuffle: false });
    expect(seen).toEqual([
      [3, 3, 3, 3, 0],
      [3, 3, 3, 3, 0],
    ]);
    model.compile({ optimizer: asTfOptimizer(withFitBatch(spy, objective, { curvatureSamples: 2 })), loss: 'categoricalCrossentropy' });
    seen.length = 0;
    await model.fit(x, y, { epochs: 1, batchSize: 6, verbose: 0 });
    expect(seen).toEqual([[6, 6, 2, 2, 0]]);
    expect(objective.fitBatch()).toBeUndefined();
    tf.dispose(y);
    model.dispose();
  });
});

describe('layersObjective of a CNN equals the same network in plain ops', () => {
  test('GGN-vp and HVP (1e-5 relative), the row Gram (5e-5)', () => {
    const model = tfl.sequential();
    model.add(
      tfl.layers.conv2d({
        inputShape: [5, 5, 1],
        filters: 2,
        kernelSize: 3,
        activation: 'tanh',
        kernelInitializer: tfl.initializers.glorotNormal({ seed: 1 }),
        biasInitializer: tfl.initializers.randomNormal({ seed: 2 }),
      }),
    );
    model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
    model.add(tfl.layers.flatten());
    model.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotNormal({ seed: 3 }) }));
    model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const names = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
    const plain = {
      predict: (p: Tree, x: tf.Tensor) => {
        const w = p as Record<string, tf.Tensor>;
        const h = tf.tanh(tf.add(tf.conv2d(x as tf.Tensor4D, w[names[0]] as tf.Tensor4D, 1, 'valid'), w[names[1]]));
        const pooled = tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid');
        return tf.add(tf.matMul(tf.reshape(pooled, [x.shape[0], -1]), w[names[2]] as tf.Tensor2D), w[names[3]]);
      },
      loss: 'softmaxCrossEntropy' as const,
    };
    const objective = layersObjective(model);
    const p = weightsOf(model);
    const v = tree.map((t: tf.Tensor) => tf.randomNormal(t.shape, 0, 1, 'float32', 6), p);
    const batch = { x: tf.randomNormal([4, 5, 5, 1], 0, 1, 'float32', 8), y: tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3).toFloat() };
    const pairs = [
      [ggnvp(objective, p, v, batch), ggnvp(plain, p, v, batch)],
      [hvp(objectiveLoss(objective), p, v, batch), hvp(objectiveLoss(plain), p, v, batch)],
    ];
    pairs.forEach(([a, b]) => close(a, b, 1e-5));
    const [g1, g2] = [rowGram(objective, p, batch.x), rowGram(plain, p, batch.x)];
    g1.forEach((value, i) => expect(value).toBeCloseTo(g2[i], 4));
    expect(g1.length).toBe(12 * 12);
    tree.dispose([...pairs.flat(), ...tree.leaves(p), ...tree.leaves(v), batch.x, batch.y]);
    model.dispose();
  });
});

describe('layersObjective without the tf.fused routing (as in an ESM bundle, where tf.fused is frozen)', () => {
  /** `fn()` with tf.fused's ops back to tfjs's own fused kernels (the routing of install.ts off). */
  function withoutRouting<T>(fn: () => T): T {
    const fused = tf.fused as unknown as Record<string, unknown> & { __somaxOriginal: Record<string, unknown> };
    const names = Object.keys(fused.__somaxOriginal);
    const routed = names.map((n) => fused[n]);
    names.forEach((n) => (fused[n] = fused.__somaxOriginal[n]));
    try {
      return fn();
    } finally {
      names.forEach((n, i) => (fused[n] = routed[i]));
    }
  }

  test('products through Dense and Conv2D layers still work (the layers run as plain ops), while model.apply fails', () => {
    const model = tfl.sequential();
    model.add(
      tfl.layers.conv2d({
        inputShape: [5, 5, 1],
        filters: 2,
        kernelSize: 3,
        activation: 'tanh',
        kernelInitializer: tfl.initializers.glorotNormal({ seed: 1 }),
      }),
    );
    model.add(tfl.layers.flatten());
    model.add(tfl.layers.dense({ units: 4, activation: 'tanh', kernelInitializer: tfl.initializers.glorotNormal({ seed: 2 }) }));
    model.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotNormal({ seed: 3 }) }));
    model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const objective = layersObjective(model);
    const p = weightsOf(model);
    const v = tree.map((t: tf.Tensor) => tf.randomNormal(t.shape, 0, 1, 'float32', 6), p);
    const batch = { x: tf.randomNormal([3, 5, 5, 1], 0, 1, 'float32', 8), y: tf.oneHot(tf.tensor1d([0, 1, 2], 'int32'), 3).toFloat() };
    const routed = [ggnvp(objective, p, v, batch), hvp(objectiveLoss(objective), p, v, batch)];
    const frozen = withoutRouting(() => [ggnvp(objective, p, v, batch), hvp(objectiveLoss(objective), p, v, batch)]);
    routed.forEach((r, i) => close(frozen[i], r, 1e-6));
    // The control: the model's own forward pass runs tfjs's fused ops, which cannot be differentiated twice.
    const viaApply = (_q: Tree, b: { x: tf.Tensor; y: tf.Tensor }) =>
      tf.tidy(() => tf.losses.softmaxCrossEntropy(b.y, model.apply(b.x) as tf.Tensor)) as tf.Scalar;
    expect(() => withoutRouting(() => hvp(viaApply, p, v, batch))).toThrow(/fused/i);
    tree.dispose([...routed, ...frozen, ...tree.leaves(p), ...tree.leaves(v), batch.x, batch.y]);
    model.dispose();
  });
});

describe('the closed-form row Gram of a model made of Dense and Conv2D layers', () => {
  test('of an MLP and of a CNN (Dense and Conv2D taps) equals the Gram of their Jacobian rows (the tape), leak-free', () => {
    const model = mlp('softmax');
    model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const objective = layersObjective(model);
    expect(typeof objective.rowGram).toBe('function');
    const byTape = { predict: objective.predict, loss: objective.loss };
    const p = weightsOf(model);
    const x = tf.randomNormal([5, 4], 0, 1, 'float32', 9);
    const before = tf.memory().numTensors;
    const fast = rowGram(objective, p, x);
    expect(tf.memory().numTensors).toBe(before); // the kept layer inputs are disposed
    const slow = rowGram(byTape, p, x);
    expect(fast.length).toBe(15 * 15);
    fast.forEach((value, i) => expect(value).toBeCloseTo(slow[i], 4));
    // With the model's own variables as the params (as asTfOptimizer passes them), too.
    const variables = Object.fromEntries(model.trainableWeights.map((w) => [(w.read() as tf.Variable).name, w.read()]));
    rowGram(objective, variables, x).forEach((value, i) => expect(value).toBeCloseTo(slow[i], 4));
    // A CNN gets the hook too (conv taps), and it equals the tape's Gram: 'same' and strided 'valid' convs.
    const cnn = tfl.sequential();
    cnn.add(
      tfl.layers.conv2d({
        inputShape: [6, 6, 2],
        filters: 3,
        kernelSize: 3,
        padding: 'same',
        activation: 'tanh',
        kernelInitializer: tfl.initializers.glorotNormal({ seed: 4 }),
        biasInitializer: tfl.initializers.randomNormal({ seed: 5 }),
      }),
    );
    cnn.add(
      tfl.layers.conv2d({
        filters: 2,
        kernelSize: 2,
        strides: 2,
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotNormal({ seed: 6 }),
      }),
    );
    cnn.add(tfl.layers.maxPooling2d({ poolSize: 1 }));
    cnn.add(tfl.layers.flatten());
    cnn.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotNormal({ seed: 7 }) }));
    cnn.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const conv = layersObjective(cnn);
    expect(typeof conv.rowGram).toBe('function');
    const q = weightsOf(cnn);
    const images = tf.randomNormal([3, 6, 6, 2], 0, 1, 'float32', 10);
    const n0 = tf.memory().numTensors;
    const convFast = rowGram(conv, q, images);
    expect(tf.memory().numTensors).toBe(n0);
    const convSlow = rowGram({ predict: conv.predict, loss: conv.loss }, q, images);
    expect(convFast.length).toBe(9 * 9);
    const scale = Math.max(...Array.from(convSlow, Math.abs));
    const worst = Math.max(...Array.from(convFast, (value, i) => Math.abs(value - convSlow[i])));
    expect(worst / scale).toBeLessThan(1e-5);
    // A layer the taps do not know (here a depthwise conv) leaves the model on the tape.
    const other = tfl.sequential();
    other.add(tfl.layers.depthwiseConv2d({ inputShape: [4, 4, 1], kernelSize: 2 }));
    other.add(tfl.layers.flatten());
    other.add(tfl.layers.dense({ units: 2 }));
    expect(layersObjective(other).rowGram).toBeUndefined();
    tf.dispose([images, ...Object.values(q)]);
    cnn.dispose();
    other.dispose();
    tf.dispose([x, ...Object.values(p)]);
    model.dispose();
  });
});

test('withFitBatch checks its options: unknown keys, and curvatureSamples an integer >= 1', () => {
  const model = mlp('softmax');
  const objective = layersObjective(model);
  const spy: GradientTransformation<null> = { init: () => null, update: (u, s) => [tree.clone(u), s] };
  expect(() => withFitBatch(spy, objective, { curvatureSample: 4 } as never)).toThrow("did you mean 'curvatureSamples'?");
  expect(() => withFitBatch(spy, objective, { curvatureSamples: 0 })).toThrow('curvatureSamples must be an integer >= 1, got 0');
  model.dispose();
});
