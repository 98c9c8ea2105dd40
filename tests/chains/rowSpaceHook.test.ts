// egn, ignd, swmng and sgn with the objective's hooks (mlpObjective: the row Gram without Jacobian
// rows, the closed-form linearization) take the same steps as with the Jacobian rows and the tape,
// leak-free, and read nothing unfetched under makeStepAsync.
import * as tf from '@tensorflow/tfjs-core';
import { egn, ignd, makeStep, makeStepAsync, mlpObjective, objectiveLoss, sgn, swmng, tree } from '../../index';
import { rowSpaceDirection } from '../../transforms/solvers';
import type { Activation, GradientTransformation, Objective, OutputLossName, Tree } from '../../index';
import { rand } from '../helpers/mlp64';

interface Problem {
  name: string;
  sizes: number[];
  activation: Activation;
  loss: OutputLossName;
  b: number;
}

const PROBLEMS: Problem[] = [
  { name: 'tanh 5-8-3, CE', sizes: [5, 8, 3], activation: 'tanh', loss: 'softmaxCrossEntropy', b: 8 },
  { name: 'relu 3-6-1, MSE', sizes: [3, 6, 1], activation: 'relu', loss: 'meanSquaredError', b: 8 },
  { name: 'tanh 4-5-4-2, MSE', sizes: [4, 5, 4, 2], activation: 'tanh', loss: 'meanSquaredError', b: 6 },
];

type Method = (objective: Objective) => GradientTransformation<any>;
const METHODS: [string, Method][] = [
  ['egn', (o) => egn(o, { lam0: 0.5 })],
  ['egn (row CG)', (o) => egn(o, { lam0: 0.5, rowSolver: 'cg' } as any)],
  ['swmng', (o) => swmng(o, { lam0: 0.5, learningRate: 0.5 })],
  ['ignd', (o) => ignd(o, { learningRate: 0.1 })],
  // The Gauss-Newton products of ggnCurvature, by the linearize hook: CG, and egn's trust-region ratio.
  ['sgn', (o) => sgn(o, { lam0: 0.5, maxIterations: 5 })],
  ['egn (trust region)', (o) => egn(o, { lam0: 0.5, lamPolicy: 'trustRegion' })],
];

function setup(p: Problem) {
  const fast = mlpObjective({ activation: p.activation, loss: p.loss });
  const plain: Objective = { predict: fast.predict, loss: fast.loss };
  const [d, c] = [p.sizes[0], p.sizes[p.sizes.length - 1]];
  const batch = () =>
    tf.tidy(() => ({
      x: tf.tensor2d(Float32Array.from(rand(p.b * d, 51)), [p.b, d]),
      y:
        p.loss === 'softmaxCrossEntropy'
          ? (tf
              .oneHot(
                tf.tensor1d(
                  Array.from({ length: p.b }, (_, i) => (i * 5) % c),
                  'int32',
                ),
                c,
              )
              .toFloat() as tf.Tensor2D)
          : tf.tensor2d(Float32Array.from(rand(p.b * c, 52)), [p.b, c]),
    }));
  const params = () => tree.tidy(() => tree.map((t: tf.Tensor) => (t.rank === 1 ? tf.add(t, 0.1) : t), fast.init(p.sizes, 3)));
  return { fast, plain, batch, params };
}

/**
 * `steps` steps of a method from the same start; the curvature batch is the first half of the batch (gradient form) or the batch
 * itself.
 */
async function run(
  tx: GradientTransformation<any>,
  lossFn: any,
  start: Tree,
  batch: { x: tf.Tensor; y: tf.Tensor },
  { steps = 3, halfCurvature = true, async_ = false } = {},
) {
  const step = async_ ? makeStepAsync(tx, lossFn) : makeStep(tx, lossFn);
  const curvatureBatch = halfCurvature
    ? tf.tidy(() => ({ x: tf.slice(batch.x, 0, batch.x.shape[0] / 2), y: tf.slice(batch.y, 0, batch.y.shape[0] / 2) }))
    : undefined;
  let params = tree.clone(start);
  let state = tx.init(params);
  for (let i = 0; i < steps; i++) {
    const out = await step(params, state, batch, curvatureBatch ? { curvatureBatch } : {});
    out.loss.dispose();
    params = out.params;
    state = out.state;
  }
  tree.dispose([state, curvatureBatch ?? []] as any);
  const values = Array.from(tree.readValues(() => tree.ravel(tree.sub(params, start)).vector));
  tree.dispose(params);
  return values;
}

function relDiff(a: number[], b: number[]): number {
  const num = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  return num / Math.max(...b.map(Math.abs));
}

describe.each(PROBLEMS)('$name', (p) => {
  const { fast, plain, batch, params } = setup(p);

  test.each(METHODS)(
    '%s: 3 steps with the hooks equal the steps with Jacobian rows and tape products (≤ 1e-5), leak-free',
    async (_name, method) => {
      const [b, start] = [batch(), params()];
      for (const halfCurvature of [false, true]) {
        const slow = await run(method(plain), objectiveLoss(plain), start, b, { halfCurvature });
        const before = tf.memory().numTensors;
        const quick = await run(method(fast), objectiveLoss(fast), start, b, { halfCurvature });
        expect(tf.memory().numTensors).toBe(before);
        expect(Math.max(...slow.map(Math.abs))).toBeGreaterThan(1e-4); // the methods moved
        expect(relDiff(quick, slow)).toBeLessThan(1e-5);
      }
      tree.dispose([b, start] as any);
    },
  );
});

test('egn, swmng and ignd with the hook: makeStepAsync reads nothing unfetched and equals makeStep', async () => {
  const { fast, batch, params } = setup(PROBLEMS[0]);
  const [b, start] = [batch(), params()];
  const fetched = new Set<number>();
  let unfetched = 0;
  const { data: origData, dataSync: origSync } = tf.Tensor.prototype;
  for (const [, method] of METHODS) {
    const sync = await run(method(fast), objectiveLoss(fast), start, b);
    const data = jest.spyOn(tf.Tensor.prototype, 'data').mockImplementation(function (this: tf.Tensor) {
      fetched.add(this.id);
      return origData.call(this) as any;
    });
    const dataSync = jest.spyOn(tf.Tensor.prototype, 'dataSync').mockImplementation(function (this: tf.Tensor) {
      if (!fetched.has(this.id)) unfetched++;
      return origSync.call(this) as any;
    });
    let async_: number[];
    try {
      async_ = await run(method(fast), objectiveLoss(fast), start, b, { async_: true });
    } finally {
      data.mockRestore();
      dataSync.mockRestore();
    }
    // run() reads the result once at the end, synchronously: that one read is expected.
    expect(async_).toEqual(sync);
  }
  expect(unfetched).toBe(METHODS.length);
  tree.dispose([b, start] as any);
});

test('the egn direction with the hook equals the one from Jacobian rows, residual and gradient forms', () => {
  const { fast, plain, batch, params } = setup(PROBLEMS[0]);
  const [b, start] = [batch(), params()];
  const grads = tree.randomNormalLike(start, 8);
  for (const options of [{}, { grads }]) {
    const flat = (o: Objective) => {
      const s = rowSpaceDirection(o, start, b, 0.3, options);
      const v = Array.from(tree.readValues(() => tree.ravel(s).vector));
      tree.dispose(s);
      return v;
    };
    expect(relDiff(flat(fast), flat(plain))).toBeLessThan(1e-5);
  }
  tree.dispose([b, start, grads] as any);
});
