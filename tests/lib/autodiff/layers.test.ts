// Second-order products through real tfjs-layers models: every op the standard layers emit.
//
// For each layer type, a tiny tfjs-layers model whose trainable variables are the params (derivatives
// flow through `model.apply`, which reads them), and `hvp` of a squared-error (or cross-entropy)
// loss against a reference that shares nothing with the second-order machinery: central differences,
// along v, of tfjs's own first-order gradient (fused kernels included), Richardson-extrapolated
// (O(h⁴)) for smooth models; plain central differences with a small step for piecewise-linear ones
// (relu, max pooling), evaluated where no kink lies within the step.
//
// Before fused conv2d / depthwiseConv2d were routed through plain ops, the cases whose forward pass
// runs `tf.fused.conv2d` with its linear fused activation were refused ("'fusedConv2d' (a fused op)
// cannot be differentiated twice"): Conv2D 'linear' and every activation tfjs-layers does not fuse
// (tanh, sigmoid, ...), hence also the pooling cases, built on such a Conv2D; and DepthwiseConv2D was
// refused (its kernels had no second-order-safe gradient). Conv1D (tf.conv1d, then the bias) and
// Conv2D 'relu' (tfjs runs a fused relu unfused under a gradient) passed already.
//
// Then: each fused op with each fused activation, inside a product, against its plain-op twin.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { hvp } from '../../../index';
import { rand, relErr } from '../../helpers/mlp64';

type Model = tfl.LayersModel;

let seed = 1;
const nextSeed = () => (seed += 7);
/** Seeded initializers so that every case is deterministic; biases non-zero so they matter. */
const init = () => ({
  kernelInitializer: tfl.initializers.glorotUniform({ seed: nextSeed() }),
  biasInitializer: tfl.initializers.randomNormal({ mean: 0, stddev: 0.3, seed: nextSeed() }),
});

const dense = (units: number, activation?: string, inputShape?: number[]) =>
  tfl.layers.dense({ units, activation: activation as any, inputShape, ...init() });

const sequential = (...layers: tfl.layers.Layer[]): Model => tfl.sequential({ layers });

interface Case {
  build: () => Model;
  /** Input shape without the batch axis. */
  input: number[];
  /** Output width (the targets' shape is [batch, out]). */
  out: number;
  /** The loss of the outputs (squared error when absent). */
  loss?: (f: tf.Tensor, y: tf.Tensor) => tf.Scalar;
  /** Piecewise linear (relu, max pooling): plain central differences with this small step. */
  kinkStep?: number;
}

const BATCH = 3;
const squaredError = (f: tf.Tensor, y: tf.Tensor): tf.Scalar => tf.mean(tf.square(tf.sub(f, y)));
/** Cross-entropy of probabilities (the softmax of the model's last layer), from primitive ops. */
const crossEntropy = (p: tf.Tensor, y: tf.Tensor): tf.Scalar => tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(p)), 1))) as tf.Scalar;

const conv2d = (filters: number, kernelSize: number, activation: string, extra: Record<string, unknown> = {}) =>
  tfl.layers.conv2d({ filters, kernelSize, activation: activation as any, ...init(), ...extra });

const CASES: Record<string, Case> = {
  'Dense relu': { build: () => sequential(dense(4, 'relu', [3]), dense(2)), input: [3], out: 2, kinkStep: 1e-3 },
  'Dense tanh': { build: () => sequential(dense(4, 'tanh', [3]), dense(2)), input: [3], out: 2 },
  'Dense sigmoid': { build: () => sequential(dense(4, 'sigmoid', [3]), dense(2)), input: [3], out: 2 },
  'Dense softmax output (cross-entropy)': {
    build: () => sequential(dense(4, 'tanh', [3]), dense(3, 'softmax')),
    input: [3],
    out: 3,
    loss: crossEntropy,
  },
  'Dense softmax output (squared error)': { build: () => sequential(dense(4, 'tanh', [3]), dense(3, 'softmax')), input: [3], out: 3 },
  'elu activation': { build: () => sequential(dense(4, 'elu', [3]), dense(2)), input: [3], out: 2 },
  'selu activation': { build: () => sequential(dense(4, 'selu', [3]), dense(2)), input: [3], out: 2 },
  'softplus activation': { build: () => sequential(dense(4, 'softplus', [3]), dense(2)), input: [3], out: 2 },
  'Conv1D tanh': {
    build: () =>
      sequential(
        tfl.layers.conv1d({ filters: 2, kernelSize: 2, activation: 'tanh', inputShape: [5, 2], ...init() }),
        tfl.layers.flatten(),
        dense(1),
      ),
    input: [5, 2],
    out: 1,
  },
  'Conv2D linear valid': {
    build: () => sequential(conv2d(2, 2, 'linear', { inputShape: [4, 4, 1] }), tfl.layers.flatten(), dense(1, 'tanh')),
    input: [4, 4, 1],
    out: 1,
  },
  'Conv2D tanh same': {
    build: () => sequential(conv2d(2, 3, 'tanh', { inputShape: [4, 4, 2], padding: 'same' }), tfl.layers.flatten(), dense(1)),
    input: [4, 4, 2],
    out: 1,
  },
  'Conv2D tanh same, stride 2': {
    build: () => sequential(conv2d(2, 3, 'tanh', { inputShape: [5, 5, 1], padding: 'same', strides: 2 }), tfl.layers.flatten(), dense(1)),
    input: [5, 5, 1],
    out: 1,
  },
  'Conv2D relu valid': {
    build: () => sequential(conv2d(2, 2, 'relu', { inputShape: [4, 4, 1] }), tfl.layers.flatten(), dense(1)),
    input: [4, 4, 1],
    out: 1,
    kinkStep: 1e-3,
  },
  'Conv2D sigmoid valid, stride 2': {
    build: () => sequential(conv2d(2, 2, 'sigmoid', { inputShape: [5, 5, 1], strides: 2 }), tfl.layers.flatten(), dense(1)),
    input: [5, 5, 1],
    out: 1,
  },
  'DepthwiseConv2D tanh': {
    build: () =>
      sequential(
        tfl.layers.depthwiseConv2d({
          kernelSize: 2,
          depthMultiplier: 2,
          activation: 'tanh',
          inputShape: [4, 4, 2],
          depthwiseInitializer: tfl.initializers.glorotUniform({ seed: nextSeed() }),
          biasInitializer: tfl.initializers.randomNormal({ mean: 0, stddev: 0.3, seed: nextSeed() }),
        }),
        tfl.layers.flatten(),
        dense(1),
      ),
    input: [4, 4, 2],
    out: 1,
  },
  MaxPooling2D: {
    build: () =>
      sequential(conv2d(2, 2, 'tanh', { inputShape: [5, 5, 1] }), tfl.layers.maxPooling2d({ poolSize: 2 }), tfl.layers.flatten(), dense(1)),
    input: [5, 5, 1],
    out: 1,
    kinkStep: 1e-3,
  },
  AveragePooling2D: {
    build: () =>
      sequential(
        conv2d(2, 2, 'tanh', { inputShape: [5, 5, 1] }),
        tfl.layers.averagePooling2d({ poolSize: 2 }),
        tfl.layers.flatten(),
        dense(1),
      ),
    input: [5, 5, 1],
    out: 1,
  },
  GlobalAveragePooling2D: {
    build: () => sequential(conv2d(3, 2, 'tanh', { inputShape: [4, 4, 1] }), tfl.layers.globalAveragePooling2d({}), dense(2)),
    input: [4, 4, 1],
    out: 2,
  },
  'Flatten and Reshape': {
    // Dense on a rank-3 input reshapes around its fused matMul.
    build: () =>
      sequential(dense(6, 'tanh', [3]), tfl.layers.reshape({ targetShape: [2, 3] }), dense(2, 'tanh'), tfl.layers.flatten(), dense(1)),
    input: [3],
    out: 1,
  },
  'Dropout (model.apply without training: identity)': {
    build: () => sequential(dense(4, 'tanh', [3]), tfl.layers.dropout({ rate: 0.5 }), dense(2)),
    input: [3],
    out: 2,
  },
  Add: {
    build: () => {
      const x = tfl.input({ shape: [3] });
      const a = dense(4, 'tanh').apply(x) as tfl.SymbolicTensor;
      const b = dense(4, 'sigmoid').apply(x) as tfl.SymbolicTensor;
      const out = dense(2).apply(tfl.layers.add().apply([a, b])) as tfl.SymbolicTensor;
      return tfl.model({ inputs: x, outputs: out });
    },
    input: [3],
    out: 2,
  },
  Concatenate: {
    build: () => {
      const x = tfl.input({ shape: [3] });
      const a = dense(3, 'tanh').apply(x) as tfl.SymbolicTensor;
      const b = dense(2, 'softplus').apply(x) as tfl.SymbolicTensor;
      const out = dense(2).apply(tfl.layers.concatenate().apply([a, b])) as tfl.SymbolicTensor;
      return tfl.model({ inputs: x, outputs: out });
    },
    input: [3],
    out: 2,
  },
};

/** The model's trainable variables, keyed by name: the params of the products. */
const paramsOf = (model: Model): Record<string, tf.Variable> =>
  Object.fromEntries(model.trainableWeights.map((w) => [(w.read() as tf.Variable).name, w.read() as tf.Variable]));

/** The first-order gradient (tfjs's own, fused kernels included) at the variables' current values. */
function gradient(loss: () => tf.Scalar, vars: tf.Variable[]): Float64Array {
  const { value, grads } = tf.variableGrads(loss, vars);
  const out = Float64Array.from(vars.flatMap((v) => Array.from(grads[v.name].dataSync())));
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

/** Central differences of the gradient along v: (g(θ + hv) − g(θ − hv)) / 2h, θ restored after. */
function gradientDifference(loss: () => tf.Scalar, vars: tf.Variable[], vs: tf.Tensor[], h: number): Float64Array {
  const theta = vars.map((v) => tf.clone(v));
  const at = (s: number) => {
    vars.forEach((v, i) => v.assign(tf.tidy(() => tf.add(theta[i], tf.mul(vs[i], s)))));
    return gradient(loss, vars);
  };
  const plus = at(h);
  const minus = at(-h);
  vars.forEach((v, i) => v.assign(theta[i]));
  tf.dispose(theta);
  return plus.map((p, i) => (p - minus[i]) / (2 * h));
}

describe('HVP through tfjs-layers models (model.apply, the variables as params) vs differences of the gradient', () => {
  test.each(Object.entries(CASES))('%s', (_name, c) => {
    const model = c.build();
    const params = paramsOf(model);
    const vars = Object.values(params);
    const n = vars.reduce((s, v) => s + v.size, 0);
    const v64 = rand(n, 11);
    let off = 0;
    const vs = vars.map((w) => tf.tensor(Array.from(v64.subarray(off, (off += w.size))), w.shape));
    const v = Object.fromEntries(Object.keys(params).map((k, i) => [k, vs[i]]));
    const batch = { x: tf.tensor(Array.from(rand(BATCH * c.input.reduce((a, b) => a * b, 1), 23)), [BATCH, ...c.input]), y: tf.tensor([]) };
    const y = rand(BATCH * c.out, 31).map((t) => (c.loss ? Math.abs(t) : t));
    batch.y = tf.tensor(Array.from(y), [BATCH, c.out]);
    const loss = c.loss ?? squaredError;
    const lossFn = (_p: unknown, b: typeof batch) => loss(model.apply(b.x) as tf.Tensor, b.y);

    const hv = hvp(lossFn, params, v, batch) as Record<string, tf.Tensor>;
    const got = Float64Array.from(Object.keys(params).flatMap((k) => Array.from(hv[k].dataSync())));

    const closed = () => lossFn(params, batch);
    let want: Float64Array;
    if (c.kinkStep) {
      want = gradientDifference(closed, vars, vs, c.kinkStep);
      // No kink within the step: halving it changes nothing beyond float32 rounding.
      expect(relErr(gradientDifference(closed, vars, vs, c.kinkStep / 2), want)).toBeLessThan(1e-3);
    } else {
      const h = 2e-2;
      const coarse = gradientDifference(closed, vars, vs, h);
      const fine = gradientDifference(closed, vars, vs, h / 2);
      want = fine.map((f, i) => (4 * f - coarse[i]) / 3);
    }
    expect(Math.hypot(...want)).toBeGreaterThan(1e-3);
    expect(relErr(got, want)).toBeLessThan(c.kinkStep ? 5e-4 : 1e-4);
    tf.dispose([...vs, batch.x, batch.y, ...Object.values(hv)]);
    model.layers.forEach((l) => l.dispose());
  });
});

describe('tf.fused.matMul / conv2d / depthwiseConv2d run as their plain ops inside second-order products', () => {
  const ACTIVATIONS = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const;
  type Act = (typeof ACTIVATIONS)[number];
  const fusedOps = tf.fused as unknown as Record<string, (args: any) => tf.Tensor> & {
    __somaxOriginal: Record<string, (args: any) => tf.Tensor>;
  };
  const t = (shape: number[], s: number, scale = 1) =>
    tf.tensor(
      Array.from(
        rand(
          shape.reduce((a, b) => a * b, 1),
          s,
        ),
      ).map((u) => u * scale),
      shape,
    );
  /** The activations written out by hand (the twin of the routed op). */
  const activate = (y: tf.Tensor, act: Act, alpha: tf.Tensor): tf.Tensor =>
    ({
      linear: () => y,
      relu: () => tf.relu(y),
      relu6: () => tf.clipByValue(y, 0, 6),
      elu: () => tf.elu(y),
      sigmoid: () => tf.sigmoid(y),
      leakyrelu: () => tf.where(tf.greater(y, 0), y, tf.mul(y, 0.3)),
      prelu: () => tf.where(tf.greater(y, 0), y, tf.mul(y, alpha)),
    })[act]();

  interface Op {
    /** The params: the op's input, weights, bias and PReLU weights. */
    params: () => Record<string, tf.Tensor>;
    fused: (p: Record<string, tf.Tensor>, act: Act, op: (args: any) => tf.Tensor) => tf.Tensor;
    plain: (p: Record<string, tf.Tensor>, act: Act) => tf.Tensor;
  }
  const toNhwc = (x: tf.Tensor) => tf.transpose(x, [0, 2, 3, 1]);
  const toNchw = (x: tf.Tensor) => tf.transpose(x, [0, 3, 1, 2]);
  const OPS: Record<string, Op> = {
    matMul: {
      params: () => ({ a: t([3, 4], 1), b: t([2, 4], 2), bias: t([2], 3, 0.5), alpha: t([2], 4, 0.5) }),
      fused: (p, activation, op) =>
        op({ a: p.a, b: p.b, transposeB: true, bias: p.bias, activation, preluActivationWeights: p.alpha, leakyreluAlpha: 0.3 }),
      plain: (p, act) => activate(tf.add(tf.matMul(p.a, p.b, false, true), p.bias), act, p.alpha),
    },
    'conv2d NHWC, stride 2, same': {
      params: () => ({ x: t([1, 5, 5, 2], 1), filter: t([3, 3, 2, 3], 2, 0.5), bias: t([3], 3, 0.5), alpha: t([3], 4, 0.5) }),
      fused: (p, activation, op) =>
        op({
          x: p.x,
          filter: p.filter,
          strides: 2,
          pad: 'same',
          bias: p.bias,
          activation,
          preluActivationWeights: p.alpha,
          leakyreluAlpha: 0.3,
        }),
      plain: (p, act) => activate(tf.add(tf.conv2d(p.x as tf.Tensor4D, p.filter as tf.Tensor4D, 2, 'same'), p.bias), act, p.alpha),
    },
    'conv2d NCHW, stride 2, pad 1 with dimRoundingMode floor': {
      params: () => ({ x: t([1, 2, 4, 4], 5), filter: t([2, 2, 2, 3], 6, 0.5), bias: t([3], 7, 0.5), alpha: t([3], 8, 0.5) }),
      fused: (p, activation, op) =>
        op({
          x: p.x,
          filter: p.filter,
          strides: 2,
          pad: 1,
          dataFormat: 'NCHW',
          dimRoundingMode: 'floor',
          bias: p.bias,
          activation,
          preluActivationWeights: p.alpha,
          leakyreluAlpha: 0.3,
        }),
      plain: (p, act) =>
        toNchw(
          activate(tf.add(tf.conv2d(toNhwc(p.x) as tf.Tensor4D, p.filter as tf.Tensor4D, 2, 1, 'NHWC', 1, 'floor'), p.bias), act, p.alpha),
        ),
    },
    'depthwiseConv2d, multiplier 2': {
      params: () => ({ x: t([1, 4, 4, 2], 9), filter: t([2, 2, 2, 2], 10, 0.5), bias: t([4], 11, 0.5), alpha: t([4], 12, 0.5) }),
      fused: (p, activation, op) =>
        op({
          x: p.x,
          filter: p.filter,
          strides: 1,
          pad: 'same',
          bias: p.bias,
          activation,
          preluActivationWeights: p.alpha,
          leakyreluAlpha: 0.3,
        }),
      plain: (p, act) => activate(tf.add(tf.depthwiseConv2d(p.x as tf.Tensor4D, p.filter as tf.Tensor4D, 1, 'same'), p.bias), act, p.alpha),
    },
  };
  const opName = (name: string) => name.split(/[ ,]/)[0];
  const cases = Object.keys(OPS).flatMap((name) => ACTIVATIONS.map((act) => [name, act] as const));

  test.each(cases)('%s, activation %s: the same values as the fused kernel, the HVP of the plain ops', (name, act) => {
    const op = OPS[name];
    const params = op.params();
    const v = Object.fromEntries(Object.entries(params).map(([k, p], i) => [k, t(p.shape, 40 + i)]));
    const w = (y: tf.Tensor) => t(y.shape, 99);
    const routed = (p: Record<string, tf.Tensor>) => op.fused(p, act, fusedOps[opName(name)]);
    const lossOf = (f: (p: Record<string, tf.Tensor>) => tf.Tensor) => (p: any) => {
      const y = f(p);
      return tf.sum(tf.mul(w(y), tf.square(y))) as tf.Scalar;
    };
    // Outside products the fused kernel runs; the plain twin computes the same values.
    const fusedValue = op.fused(params, act, fusedOps.__somaxOriginal[opName(name)]);
    expect(relErr(op.plain(params, act).dataSync(), fusedValue.dataSync())).toBeLessThan(1e-6);
    const got = hvp(lossOf(routed), params, v, null) as Record<string, tf.Tensor>;
    const want = hvp(
      lossOf((p) => op.plain(p, act)),
      params,
      v,
      null,
    ) as Record<string, tf.Tensor>;
    const flat = (tr: Record<string, tf.Tensor>) => Object.keys(params).flatMap((k) => Array.from(tr[k].dataSync()));
    expect(relErr(flat(got), flat(want))).toBeLessThan(1e-5);
    expect(Math.hypot(...flat(want))).toBeGreaterThan(1e-2);
    tf.dispose([fusedValue, ...Object.values(params), ...Object.values(v), ...Object.values(got), ...Object.values(want)]);
  });

  test('the fused ops are routed only inside products: outside, the fused kernels run as before', () => {
    expect(fusedOps.__somaxOriginal).toEqual({
      matMul: expect.any(Function),
      conv2d: expect.any(Function),
      depthwiseConv2d: expect.any(Function),
    });
    const p = OPS.matMul.params();
    // The patched op outside a product records the fused kernel, as the original does.
    const kernels = (f: () => tf.Tensor) => {
      const names: string[] = [];
      tf.tidy(() =>
        tf.grad(() => {
          const y = f();
          (tf.engine() as any).state.activeTape.forEach((node: { kernelName: string }) => names.push(node.kernelName));
          return tf.sum(y);
        })(p.a),
      );
      return names;
    };
    expect(kernels(() => OPS.matMul.fused(p, 'linear', fusedOps.matMul))).toEqual(
      kernels(() => OPS.matMul.fused(p, 'linear', fusedOps.__somaxOriginal.matMul)),
    );
    expect(kernels(() => OPS.matMul.fused(p, 'linear', fusedOps.matMul)).some((k) => /fused/i.test(k))).toBe(true);
    tf.dispose(Object.values(p));
  });
});
