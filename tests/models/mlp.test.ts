// The closed-form MLP linearization (mlpObjective.linearize): outputs, J v and Jᵀ u against the
// tape-based products of the same model without hooks, and the Gauss-Newton products it speeds up
// (ggnvp, ggnCurvature, the implicit row products) against float64 references.
import * as tf from '@tensorflow/tfjs-core';
import { ggnCurvature, ggnvp, jvp, linearization, mlpObjective, tree, vjp } from '../../index';
import { jacobianSampleRows } from '../../lib/autodiff/rows';
import type { Activation, OutputLossName, Tree } from '../../index';
import * as ref from '../helpers/mlp64';

const values = (fn: () => tf.Tensor) => Float64Array.from(tree.readValues(fn));
const flat = (t: Tree) => values(() => tree.ravel(t).vector);
/** `flat` of a fresh tree, which it disposes. */
const taken = (t: Tree) => {
  const out = flat(t);
  tree.dispose(t);
  return out;
};

interface Case {
  name: string;
  sizes: number[];
  activation: Activation;
  loss: OutputLossName;
  b: number;
}

const CASES: Case[] = [
  { name: '1 hidden tanh, CE', sizes: [4, 5, 3], activation: 'tanh', loss: 'softmaxCrossEntropy', b: 6 },
  { name: '1 hidden relu, MSE', sizes: [3, 6, 1], activation: 'relu', loss: 'meanSquaredError', b: 7 },
  { name: '2 hidden sigmoid, MSE', sizes: [4, 5, 4, 2], activation: 'sigmoid', loss: 'meanSquaredError', b: 5 },
  { name: '2 hidden softplus, CE', sizes: [5, 6, 3, 4], activation: 'softplus', loss: 'softmaxCrossEntropy', b: 4 },
  { name: '3 hidden elu, CE', sizes: [3, 4, 4, 4, 3], activation: 'elu', loss: 'softmaxCrossEntropy', b: 5 },
  {
    name: '1 hidden user function x·sigmoid(x), MSE',
    sizes: [3, 5, 2],
    activation: (z) => tf.mul(z, tf.sigmoid(z)),
    loss: 'meanSquaredError',
    b: 4,
  },
  { name: 'linear model (no hidden layer), CE', sizes: [3, 4], activation: 'tanh', loss: 'softmaxCrossEntropy', b: 5 },
];

/** Params with nonzero biases, inputs and a tangent of the case, from fixed seeds. */
function setup(c: Case) {
  const objective = mlpObjective({ activation: c.activation, loss: c.loss });
  const plain = { predict: objective.predict, loss: objective.loss }; // no hooks: tape-based products
  const params = tree.tidy(() =>
    tree.map((t: tf.Tensor) => (t.rank === 1 ? tf.add(t, tf.randomNormal(t.shape, 0, 0.3, 'float32', 9)) : t), objective.init(c.sizes, 5)),
  );
  const [d, out] = [c.sizes[0], c.sizes[c.sizes.length - 1]];
  const x = tf.tensor2d(Float32Array.from(ref.rand(c.b * d, 3)), [c.b, d]);
  const y =
    c.loss === 'softmaxCrossEntropy'
      ? tf
          .oneHot(
            tf.tensor1d(
              Array.from({ length: c.b }, (_, i) => i % out),
              'int32',
            ),
            out,
          )
          .toFloat()
      : tf.tensor2d(Float32Array.from(ref.rand(c.b * out, 4)), [c.b, out]);
  const v = tree.tidy(() => tree.map((t: tf.Tensor) => tf.randomNormal(t.shape, 0, 1, 'float32', t.size), params));
  const u = tf.randomNormal([c.b, out], 0, 1, 'float32', 7);
  return { objective, plain, params, batch: { x, y }, v, u };
}

describe('mlpObjective.linearize: closed-form J v and Jᵀ u', () => {
  test.each(CASES)('$name: outputs, J v and Jᵀ u equal the tape-based ones to 1e-5, leak-free', (c) => {
    const { objective, plain, params, batch, v, u } = setup(c);
    const fn = (p: Tree) => objective.predict(p, batch.x);
    const before = tf.memory().numTensors;
    const lin = objective.linearize(params, batch.x);
    const [f, jv, jtu] = [values(() => tf.clone(lin.outputs)), values(() => lin.jvp(v)), taken(lin.vjp(u))];
    lin.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(
      ref.relErr(
        f,
        values(() => fn(params)),
      ),
    ).toBeLessThan(1e-6);
    expect(
      ref.relErr(
        jv,
        values(() => jvp(fn, params, v)),
      ),
    ).toBeLessThan(1e-5);
    expect(ref.relErr(jtu, taken(vjp(fn, params, u)))).toBeLessThan(1e-5);
    expect(Math.max(...Array.from(jtu, Math.abs))).toBeGreaterThan(1e-2);
    // ggnvp with the hook against ggnvp on the plain objective (tape-based).
    const [hooked, taped] = [objective, plain].map((o) => taken(ggnvp(o, params, v, batch)));
    expect(ref.relErr(hooked, taped)).toBeLessThan(1e-5);
    tree.dispose([params, batch, v, u] as any);
  });

  test('ggnCurvature with the hook equals the dense float64 GGN (tanh and relu, CE and MSE)', () => {
    for (const act of ['tanh', 'relu'] as const) {
      for (const lossName of ['softmaxCrossEntropy', 'meanSquaredError'] as const) {
        const prob = ref.makeProblem(act, lossName);
        const p = ref.numParams(prob.m);
        const objective = mlpObjective({ activation: act, loss: lossName });
        const params = prob.params();
        const batch = prob.batch();
        const v64 = ref.rand(p, 11);
        const v = tree.unravel(tree.flatten(params).def, tf.tensor1d(Array.from(v64)));
        const before = tf.memory().numTensors;
        const op = ggnCurvature(objective)(params, batch);
        const products = [0, 1, 2].map(() => {
          const gv = op.matvec(v);
          const out = flat(gv);
          tree.dispose(gv);
          return out;
        });
        op.dispose();
        expect(tf.memory().numTensors).toBe(before);
        const exact = ref.matVec(ref.ggn(prob.m, prob.theta), v64, p, p);
        for (const gv of products) expect(ref.relErr(gv, exact)).toBeLessThan(1e-4);
        tree.dispose([params, batch, v] as any);
      }
    }
  });

  test('the implicit Jacobian rows (R v, Rᵀ w) equal the materialized rows with the hook', () => {
    const c = CASES[3];
    const { objective, plain, params, batch, v } = setup(c);
    const [k, b] = [c.sizes[c.sizes.length - 1], c.b];
    const w = tf.randomNormal([b * k], 0, 1, 'float32', 13);
    const before = tf.memory().numTensors;
    const [fast, slow] = [objective, plain].map((o) => {
      const rows = jacobianSampleRows(o, params, batch.x); // implicit with the hooks, materialized without
      const out = [values(() => rows.times(v)), taken(rows.transposeTimes(w))];
      rows.dispose();
      return out;
    });
    expect(ref.relErr(fast[0], slow[0])).toBeLessThan(1e-5);
    expect(ref.relErr(fast[1], slow[1])).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(before);
    tree.dispose([params, batch, v, w] as any);
  });

  test('linearization never disposes or changes its inputs', () => {
    const { objective, params, batch, v, u } = setup(CASES[0]);
    const snapshot = [flat(params), flat(v), values(() => tf.clone(batch.x)), values(() => tf.clone(u))];
    const lin = linearization(objective, params, batch);
    tree.dispose([lin.jvp(v), lin.vjp(u)] as any);
    expect(lin.outputs.isDisposed).toBe(false);
    lin.dispose();
    expect([flat(params), flat(v), values(() => tf.clone(batch.x)), values(() => tf.clone(u))]).toEqual(snapshot);
    expect([...tree.leaves(params), ...tree.leaves(v), batch.x, u].every((t) => !t.isDisposed)).toBe(true);
    tree.dispose([params, batch, v, u] as any);
  });

  test('a tangent of the wrong structure is an error naming the path; bad inputs name the call and shape', () => {
    const { objective, params, batch, u } = setup(CASES[0]);
    const lin = objective.linearize(params, batch.x);
    const bad = { w1: tf.zeros([4, 5]), b1: tf.zeros([5]), w2: tf.zeros([5, 3]) };
    expect(() => lin.jvp(bad)).toThrow(/b2/);
    lin.dispose();
    expect(() => linearization(objective, params, { x: tf.zeros([2, 7]) })).toThrow(
      /linearize\(params, batch\.x\) failed for batch\.x of shape \[2, 7\]/,
    );
    tree.dispose([params, batch, u, bad] as any);
  });
});
