/**
 * The routes of docs/layers-models.md on a small tfjs-layers CNN (conv 3×3×8 tanh → max-pool →
 * flatten → dense softmax) classifying 10×10 images of three patterns:
 * (A) one line: `make('egn', { model, curvatureSamples })` compiled into the model, `model.fit`;
 * (B) a hand-written loop: `makeStep(tx, layersObjective(model))` over the model's own variables,
 *     one forward pass of the batch per step (the step context).
 * Run: npx tsx docs/snippets/layers-cnn.ts
 */
import * as tf from '@tensorflow/tfjs';
import { asTfOptimizer, disposeState, egn, layersObjective, make, makeStep } from '../../index';
import type { Tree } from '../../index';
import { countForwardPasses } from '../../testing';

/** 240 noisy 10×10 images: a bright row, column or diagonal (classes 0, 1, 2), one-hot labels. */
function images(seed: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return tf.tidy(() => {
    const labels = Array.from({ length: 240 }, (_, i) => i % 3);
    const pattern = (c: number, i: number) =>
      Array.from({ length: 100 }, (_, k) => {
        const [r, col] = [Math.floor(k / 10), k % 10];
        const at = (i * 7) % 8;
        return (c === 0 ? r === at : c === 1 ? col === at : r === col) ? 1 : 0;
      });
    const clean = tf.tensor(
      labels.flatMap((c, i) => pattern(c, i)),
      [240, 10, 10, 1],
    );
    const x = tf.add(clean, tf.randomNormal([240, 10, 10, 1], 0, 0.5, 'float32', seed)) as tf.Tensor4D;
    return { x, y: tf.oneHot(tf.tensor1d(labels, 'int32'), 3).toFloat() as tf.Tensor2D };
  });
}

function cnn(): tf.Sequential {
  const init = (seed: number) => tf.initializers.glorotNormal({ seed });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [10, 10, 1], filters: 8, kernelSize: 3, activation: 'tanh', kernelInitializer: init(1) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(2) }),
    ],
  });
}

// (A) the model route: one line, then model.fit as usual.
async function modelRoute(): Promise<void> {
  const { x, y } = images(3);
  const model = cnn();
  const optimizer = asTfOptimizer(make('egn', { model, lam0: 1, curvatureSamples: 16 }));
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const counts: number[] = [];
  const history = await model.fit(x, y, {
    epochs: 5,
    batchSize: 32,
    validationSplit: 0.2,
    verbose: 0,
    callbacks: { onEpochEnd: async () => void counts.push(tf.memory().numTensors) },
  });
  const loss = (history.history.loss as number[]).map((v) => v.toFixed(3)).join(' ');
  const acc = (history.history.val_acc as number[]).map((v) => v.toFixed(2)).join(' ');
  console.log(`A egn in model.fit: loss ${loss}; val_acc ${acc}; tensors per epoch ${counts.join(' ')}`);
  optimizer.dispose();
  model.dispose();
  tf.dispose([x, y]);
}

// (B) a hand-written loop: the model's variables as the params, the objective as the loss.
function handWritten(): void {
  const { x, y } = images(4);
  const model = cnn();
  model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const counted = countForwardPasses(layersObjective(model));
  const params: Tree = Object.fromEntries(model.trainableWeights.map((w) => [(w.read() as tf.Variable).name, w.read()]));
  const tx = egn(counted.objective, { lam0: 1, lamPolicy: 'trustRegion' });
  const step = makeStep(tx, counted.objective); // the loss, the gradient and the GGN rows from one forward pass
  let state = tx.init(params);
  const losses: string[] = [];
  for (let epoch = 0; epoch < 5; epoch++) {
    for (let start = 0; start < 240; start += 32) {
      const size = Math.min(32, 240 - start);
      const batch = { x: x.slice(start, size), y: y.slice(start, size) };
      counted.reset();
      const out = step(params, state, batch); // the variables are updated in place
      state = out.state;
      if (start === 0) losses.push(out.loss.dataSync()[0].toFixed(3));
      out.loss.dispose();
      tf.dispose([batch.x, batch.y]);
    }
  }
  const [, acc] = (model.evaluate(x, y) as tf.Scalar[]).map((t) => t.dataSync()[0]);
  const figures = `first-batch loss by epoch ${losses.join(' ')}; accuracy ${acc.toFixed(2)}; forward passes per step ${counted.count}`;
  console.log(`B egn, makeStep(tx, objective): ${figures}`);
  disposeState(state);
  model.dispose();
  tf.dispose([x, y]);
}

await modelRoute();
handWritten();
