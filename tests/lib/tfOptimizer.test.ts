import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  adahessian,
  adam,
  adamw,
  asTfOptimizer,
  egn,
  loadState,
  makeStep,
  minimizeLoss,
  newtonCg,
  objectiveLoss,
  saveState,
  sgd,
  sgn,
  SomaxOptimizer,
  sophiaH,
  tree,
} from '../../index';
import type { GradientTransformation, Tree } from '../../index';

// A plain SGD written inline (no somax transform): u = −lr·g.
const inlineSgd = (lr: number): GradientTransformation<{ n: number }> => ({
  init: () => ({ n: 0 }),
  update: (g, s) => [tree.scale(g, -lr), { n: s.n + 1 }],
});

describe('asTfOptimizer', () => {
  test('minimize with somax sgd (momentum) follows tf.train.momentum step for step', () => {
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

  test('minimize with an inline SGD transform follows tf.train.sgd; tensors flat', () => {
    const init = [
      [0.5, -1],
      [2, 0.25],
    ];
    const a = tf.variable(tf.tensor2d(init));
    const b = tf.variable(tf.tensor2d(init));
    const x = tf.tensor2d([
      [1, 2],
      [-1, 0.5],
      [0.3, -0.7],
    ]);
    const loss = (w: tf.Variable) => () => tf.mean(tf.square(tf.sub(tf.tanh(tf.matMul(x, w)), 0.2))) as tf.Scalar;
    const ours = asTfOptimizer(inlineSgd(0.3));
    const theirs = tf.train.sgd(0.3);
    let before = 0;
    for (let i = 0; i < 25; i++) {
      if (i === 1) before = tf.memory().numTensors;
      const la = ours.minimize(loss(a), true) as tf.Scalar;
      const lb = theirs.minimize(loss(b), true) as tf.Scalar;
      expect(la.dataSync()[0]).toBeCloseTo(lb.dataSync()[0], 6);
      tf.dispose([la, lb]);
    }
    expect(tf.memory().numTensors).toBe(before);
    const da = a.dataSync();
    b.dataSync().forEach((v, i) => expect(da[i]).toBeCloseTo(v, 6));
    expect((ours.getState() as { n: number }).n).toBe(25);
    tf.dispose([a, b, x]);
    ours.dispose();
    theirs.dispose();
  });

  test('applyGradients takes the map and the array form; unknown names are an error', () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    const opt = asTfOptimizer(inlineSgd(0.5));
    const g = tf.tensor1d([2, -2]);
    opt.applyGradients({ [v.name]: g });
    expect(Array.from(v.dataSync())).toEqual([0, 3]);
    opt.applyGradients([{ name: v.name, tensor: g }]);
    expect(Array.from(v.dataSync())).toEqual([-1, 4]);
    expect(opt.iterations).toBe(2);
    expect(() => opt.applyGradients({ 'no-such-variable': g })).toThrow(/no registered tf.Variable named 'no-such-variable'/);
    tf.dispose([v, g]);
    opt.dispose();
  });

  test('className, getConfig, registered for serialization; saving through tfjs-layers is refused clearly', async () => {
    const opt = asTfOptimizer(adam(0.1), { name: 'myAdam' });
    expect(opt).toBeInstanceOf(tf.Optimizer);
    expect(opt).toBeInstanceOf(SomaxOptimizer);
    expect(opt.getClassName()).toBe('SomaxOptimizer');
    expect(opt.getConfig()).toEqual({ name: 'myAdam' });
    expect(tf.serialization.SerializationMap.getMap().classNameMap.SomaxOptimizer?.[0]).toBe(SomaxOptimizer);
    await expect(opt.getWeights()).rejects.toThrow(/saveState/);
    expect(() => SomaxOptimizer.fromConfig(SomaxOptimizer as any, { name: 'myAdam' })).toThrow(/cannot be rebuilt/);
    opt.dispose();
  });

  test('the state saved with saveState and restored with setState continues the same trajectory', () => {
    const run = (w: tf.Variable, opt: SomaxOptimizer, steps: number) => {
      for (let i = 0; i < steps; i++) opt.minimize(() => tf.sum(tf.pow(tf.sub(w, 1), 4)) as tf.Scalar, false, [w]);
    };
    const a = tf.variable(tf.tensor1d([3, -2]));
    const b = tf.variable(tf.tensor1d([3, -2]));
    const straight = asTfOptimizer(adam(0.1));
    run(a, straight, 10);
    const first = asTfOptimizer(adam(0.1));
    run(b, first, 5);
    const json = JSON.parse(JSON.stringify(saveState(first.getState())));
    first.dispose();
    // The state is keyed by variable name: a restored state applies to the same variables.
    const second = asTfOptimizer(adam(0.1));
    second.setState(loadState(json));
    run(b, second, 5);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b]);
    straight.dispose();
    second.dispose();
  });

  test('lossFn at the variables themselves is differentiable through f (an HVP by nested gradients)', () => {
    const v = tf.variable(tf.tensor1d([0.5, -1]));
    let hv: number[] = [];
    const probe: GradientTransformation<{}> = {
      init: () => ({}),
      update: (g, _s, p, extra: any) => {
        const name = Object.keys(p as object)[0];
        const dir = tf.tensor1d([1, 2]);
        // ∇_v ⟨∇_v f(v), d⟩ with f = Σ v³: H d = 6 v ⊙ d.
        const h = tf.tidy(() => {
          const f = () => {
            const { grads } = tf.variableGrads(() => (extra.lossFn as (t: Tree) => tf.Scalar)({ [name]: (p as any)[name] }), [v]);
            return tf.sum(tf.mul(grads[v.name], dir)) as tf.Scalar;
          };
          return tf.variableGrads(f, [v]).grads[v.name];
        });
        hv = Array.from(h.dataSync());
        tf.dispose([h, dir]);
        return [tree.zerosLike(g), {}];
      },
    };
    const opt = asTfOptimizer(probe);
    opt.minimize(() => tf.sum(tf.pow(v, 3)) as tf.Scalar, false, [v]);
    expect(hv[0]).toBeCloseTo(6 * 0.5 * 1, 5);
    expect(hv[1]).toBeCloseTo(6 * -1 * 2, 5);
    v.dispose();
    opt.dispose();
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
    // On mini-batches an unbounded trust region drives λ to its floor and undamped Newton steps
    // on a tanh net turn chaotic: with λ ≥ 0.3 the epoch loss went 1.08 → 3.1 → 0.014 or → 0.77
    // depending on float32 rounding in CG; with λ ≥ 1 it falls monotonically (0.135 → 0.018).
    [
      'newtonCg (trust region)',
      () => newtonCg(minimizeLoss, { lam0: 1, maxIterations: 5, lamPolicy: 'trustRegion', lamOptions: { minLam: 1 } }),
    ],
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

describe('Gauss-Newton methods on a tfjs-layers model (docs/layers-models.md)', () => {
  test('egn and sgn train a tf.sequential through model.apply, with its variables as the params (updated in place)', () => {
    const xs = tf.randomNormal([32, 3], 0, 1, 'float32', 21);
    const ys = tf.sum(tf.mul(xs, tf.tensor1d([1, -2, 0.5])), 1, true);
    for (const method of ['egn', 'sgn'] as const) {
      const model = tfl.sequential({
        layers: [
          tfl.layers.dense({
            units: 8,
            inputShape: [3],
            activation: 'tanh',
            kernelInitializer: tfl.initializers.glorotUniform({ seed: 5 }),
          }),
          tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 6 }) }),
        ],
      });
      // The recipe: params are the model's own variables; predict ignores its first argument and
      // calls the model, so derivatives with respect to the variables flow through model.apply.
      const params = Object.fromEntries(model.trainableWeights.map((w) => [w.name, (w as any).val as tf.Variable]));
      const objective = { predict: (_p: unknown, x: tf.Tensor) => model.apply(x) as tf.Tensor, loss: 'meanSquaredError' as const };
      const tx = method === 'egn' ? egn(objective, { lam0: 0.1 }) : sgn(objective, { lam0: 0.1, maxIterations: 20 });
      const step = makeStep(tx, objectiveLoss(objective));
      const before = tf.memory().numTensors;
      let state = tx.init(params);
      const first = step(params, state, { x: xs, y: ys });
      const firstLoss = first.loss.dataSync()[0];
      first.loss.dispose();
      state = first.state;
      let last = firstLoss;
      for (let i = 0; i < 10; i++) {
        const out = step(params, state, { x: xs, y: ys });
        last = out.loss.dataSync()[0];
        out.loss.dispose();
        state = out.state;
        expect(out.params).toEqual(params); // the same variables, assigned in place
      }
      expect(last).toBeLessThan(0.05 * firstLoss);
      tree.dispose(state as any);
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    }
    tf.dispose([xs, ys]);
  });
});
