// The row Gram of the delta trick (mlpObjective / denseObjective) against the Jacobian rows, and
// the implicit row products (R v by one JVP, Rᵀ w by one VJP) against the materialized ones.
import * as tf from '@tensorflow/tfjs-core';
import { denseObjective, jacobianRows, mlpObjective, perSampleGradients, rowGram, tree } from '../../index';
import { gradientSampleRows, jacobianSampleRows } from '../../lib/autodiff/rows';
import { outputBasis } from '../../lib/objective';
import type { Activation, Objective, OutputLossName, Tree } from '../../index';
import { rand } from '../helpers/mlp64';

/** Largest entrywise difference relative to the largest entry of `b`. */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

const values = (fn: () => tf.Tensor) => Array.from(tree.readValues(fn));
const flat = (t: Tree) => values(() => tree.ravel(t).vector);

interface Case {
  name: string;
  sizes: number[];
  activation: Activation;
  loss: OutputLossName;
  b: number;
}

/** A batch of `b` inputs and targets (one-hot for cross-entropy) from fixed seeds. */
function batchFor({ sizes, loss, b }: Case, seed = 3): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const [d, c] = [sizes[0], sizes[sizes.length - 1]];
  const x = tf.tensor2d(Float32Array.from(rand(b * d, seed)), [b, d]);
  const y =
    loss === 'softmaxCrossEntropy'
      ? tf.tensor2d(
          Float32Array.from({ length: b * c }, (_, i) => (i % c === (Math.floor(i / c) * 7) % c ? 1 : 0)),
          [b, c],
        )
      : tf.tensor2d(Float32Array.from(rand(b * c, seed + 1)), [b, c]);
  return { x, y };
}

/** Params with nonzero biases, so that every term of the Gram is exercised. */
function paramsFor(objective: ReturnType<typeof mlpObjective>, sizes: number[]): Tree {
  return tree.tidy(() =>
    tree.map((t: tf.Tensor) => (t.rank === 1 ? tf.add(t, tf.randomNormal(t.shape, 0, 0.3, 'float32', 9)) : t), objective.init(sizes, 5)),
  );
}

/** `[R rows][P]`: the dense J Jᵀ reference from the Jacobian rows. */
function referenceGram(objective: Objective, params: Tree, x: tf.Tensor): number[] {
  return values(() => {
    const j = jacobianRows({ predict: objective.predict, loss: objective.loss }, params, x);
    return tf.matMul(j, j, false, true);
  });
}

const CASES: Case[] = [
  { name: '1 hidden tanh, CE, C = 3', sizes: [4, 5, 3], activation: 'tanh', loss: 'softmaxCrossEntropy', b: 6 },
  { name: '1 hidden relu, MSE, C = 1', sizes: [3, 6, 1], activation: 'relu', loss: 'meanSquaredError', b: 7 },
  { name: '2 hidden tanh, MSE, C = 2', sizes: [4, 5, 4, 2], activation: 'tanh', loss: 'meanSquaredError', b: 5 },
  { name: '2 hidden relu, CE, C = 4', sizes: [5, 6, 3, 4], activation: 'relu', loss: 'softmaxCrossEntropy', b: 4 },
  { name: 'linear model (no hidden layer), CE', sizes: [3, 4], activation: 'tanh', loss: 'softmaxCrossEntropy', b: 5 },
];

describe('mlpObjective: the delta-trick row Gram', () => {
  test.each(CASES)('$name: J Jᵀ equals the Gram of the Jacobian rows to 1e-5', (c) => {
    const objective = mlpObjective({ activation: c.activation, loss: c.loss });
    const params = paramsFor(objective, c.sizes);
    const { x, y } = batchFor(c);
    const before = tf.memory().numTensors;
    const gram = rowGram(objective, params, x);
    expect(tf.memory().numTensors).toBe(before);
    const ref = referenceGram(objective, params, x);
    expect(gram.length).toBe((c.b * c.sizes[c.sizes.length - 1]) ** 2);
    expect(relDiff(gram, ref)).toBeLessThan(1e-5);
    tree.dispose([params, x, y] as any);
  });

  test.each(CASES)('$name: the Gram of the per-sample gradients (cotangents r) equals L Lᵀ to 1e-5', (c) => {
    const objective = mlpObjective({ activation: c.activation, loss: c.loss });
    const params = paramsFor(objective, c.sizes);
    const batch = batchFor(c);
    const rows = gradientSampleRows(objective, params, batch);
    const gram = values(() => rows.gram());
    rows.dispose();
    const ref = values(() => {
      const l = perSampleGradients(objective, params, batch);
      return tf.matMul(l, l, false, true);
    });
    expect(relDiff(gram, ref)).toBeLessThan(1e-5);
    tree.dispose([params, batch] as any);
  });

  test('the hook with K cotangent sets gives ⟨Jᵢᵀuₖᵢ, Jⱼᵀuₗⱼ⟩ in sample-major order', () => {
    const c: Case = CASES[0];
    const objective = mlpObjective({ activation: c.activation, loss: c.loss });
    const params = paramsFor(objective, c.sizes);
    const { x, y } = batchFor(c);
    const u = tf.tensor3d(Float32Array.from(rand(2 * c.b * 3, 17)), [2, c.b, 3]);
    const gram = values(() => objective.rowGram(params, x, u));
    // Reference: V = rows of (Σ_c u[k,i,c] J_(i,c)) in sample-major order.
    const ref = values(() => {
      const j = tf.reshape(jacobianRows(objective, params, x), [c.b, 3, -1]); // [B, C, P]
      const v = tf.reshape(tf.matMul(tf.transpose(u, [1, 0, 2]), j), [2 * c.b, -1]); // [B·K, P]
      return tf.matMul(v, v, false, true);
    });
    expect(relDiff(gram, ref)).toBeLessThan(1e-5);
    tree.dispose([params, x, y, u] as any);
  });
});

describe('implicit sample rows', () => {
  test.each(CASES.slice(0, 4))('$name: R v, Rᵀ w and the diagonal blocks equal the materialized ones', (c) => {
    const objective = mlpObjective({ activation: c.activation, loss: c.loss });
    const plain: Objective = { predict: objective.predict, loss: objective.loss };
    const params = paramsFor(objective, c.sizes);
    const { x, y } = batchFor(c);
    const v = tree.randomNormalLike(params, 4);
    const k = c.sizes[c.sizes.length - 1];
    const w = tf.tensor1d(Float32Array.from(rand(c.b * k, 21)));
    const before = tf.memory().numTensors;
    const [fast, slow] = [jacobianSampleRows(objective, params, x), jacobianSampleRows(plain, params, x)];
    expect([fast.samples, fast.rowsPerSample]).toEqual([c.b, k]);
    expect([slow.samples, slow.rowsPerSample]).toEqual([c.b, k]);
    expect(
      relDiff(
        values(() => fast.times(v)),
        values(() => slow.times(v)),
      ),
    ).toBeLessThan(1e-5);
    const [a, b] = [fast.transposeTimes(w), slow.transposeTimes(w)];
    expect(relDiff(flat(a), flat(b))).toBeLessThan(1e-5);
    expect(
      relDiff(
        values(() => fast.blockGram()),
        values(() => slow.blockGram()),
      ),
    ).toBeLessThan(1e-5);
    tree.dispose([a, b] as any);
    fast.dispose();
    slow.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tree.dispose([params, x, y, v, w] as any);
  });

  test('outputBasis is e_k for every sample', () => {
    const f = tf.zeros([2, 3]);
    expect(Array.from(tree.readValues(() => outputBasis(f)))).toEqual([1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1]);
    f.dispose();
  });
});

describe('denseObjective', () => {
  test('a residual MLP written with dense(): its Gram equals the Jacobian rows', () => {
    const objective = denseObjective({
      forward: (p: any, x, dense) => {
        const h = tf.tanh(dense(x, p.w1, p.b1));
        return dense(tf.add(h, tf.relu(dense(h, p.w2))), p.w3, p.b3); // skip connection, w2 without bias
      },
      loss: 'meanSquaredError',
    });
    const params = {
      w1: tf.tensor2d(Float32Array.from(rand(12, 31)), [3, 4]),
      b1: tf.tensor1d(Float32Array.from(rand(4, 32))),
      w2: tf.tensor2d(Float32Array.from(rand(16, 33)), [4, 4]),
      w3: tf.tensor2d(Float32Array.from(rand(8, 34)), [4, 2]),
      b3: tf.tensor1d(Float32Array.from(rand(2, 35))),
    };
    const x = tf.tensor2d(Float32Array.from(rand(15, 36)), [5, 3]);
    expect(relDiff(rowGram(objective, params, x), referenceGram(objective, params, x))).toBeLessThan(1e-5);
    tree.dispose([params, x] as any);
  });

  test('a parameter outside a dense layer, a shared weight or a transformed weight is refused, naming it', () => {
    const x = tf.ones([2, 3]);
    const f = tf.zeros([2, 2]);
    const u = outputBasis(f);
    const w = tf.ones([3, 2]);
    const scale = tf.scalar(2);
    const outside = denseObjective({ forward: (p: any, xs, dense) => tf.mul(dense(xs, p.w), p.scale), loss: 'meanSquaredError' });
    expect(() => outside.rowGram({ w, scale }, x, u)).toThrow(/params\.scale does not enter the model through a dense layer/);
    const w2 = tf.ones([2, 2]);
    const shared = denseObjective({ forward: (p: any, xs, dense) => dense(dense(dense(xs, p.w), p.w2), p.w2), loss: 'meanSquaredError' });
    expect(() => shared.rowGram({ w, w2 }, x, u)).toThrow(/params\.w2 is used by two dense layers/);
    const transformed = denseObjective({ forward: (p: any, xs, dense) => dense(xs, tf.mul(p.w, 2)), loss: 'meanSquaredError' });
    expect(() => transformed.rowGram({ w }, x, u)).toThrow(/not a parameter leaf/);
    expect(() => mlpObjective({ loss: 'meanSquaredError' }).rowGram({ w }, x, u)).toThrow(/w1, b1/);
    expect(() => mlpObjective({ activation: 'swish' as any, loss: 'meanSquaredError' })).toThrow(/unknown activation 'swish'/);
    tree.dispose([x, f, u, w, w2, scale] as any);
  });

  test('mlpObjective.predict is the plain MLP and init gives LeCun-normal weights, zero biases', () => {
    const objective = mlpObjective({ activation: 'relu', loss: 'meanSquaredError' });
    const params = objective.init([3, 4, 2], 7) as Record<string, tf.Tensor>;
    expect(Object.keys(params).sort()).toEqual(['b1', 'b2', 'w1', 'w2']);
    expect(params.w1.shape).toEqual([3, 4]);
    expect(values(() => tf.sum(tf.abs(params.b2)))[0]).toBe(0);
    const x = tf.tensor2d(Float32Array.from(rand(6, 41)), [2, 3]);
    const expected = values(() => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, params.w1), params.b1)), params.w2), params.b2));
    expect(values(() => objective.predict(params, x))).toEqual(expected);
    tree.dispose([params, x] as any);
  });
});
