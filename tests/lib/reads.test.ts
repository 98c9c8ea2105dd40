// makeStepAsync: the same steps as makeStep, with every device read fetched by `await data()`
// first — what WebGPU needs (a synchronous read of an unfetched tensor stalls or fails there).
import * as tf from '@tensorflow/tfjs-core';
import {
  applyIfFinite,
  conditionallyTransform,
  egn,
  fetchValues,
  guardNonFinite,
  injectHyperparams,
  listMethods,
  makeStep,
  makeStepAsync,
  masked,
  multiSteps,
  namedChain,
  newtonCg,
  objectiveLoss,
  partition,
  runAsync,
  scaleByAdam,
  scaleByLearningRate,
  chain,
  skipNotFinite,
  tree,
  withReads,
  mlpObjective,
} from '../../index';
import type { GradientTransformation, Reads, Tree } from '../../index';
import { buildMethod } from '../../browser/suite';
import * as ref from '../helpers/mlp64';

const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy', { d: 3, h: 4, c: 3, b: 8 });
// The same MLP as prob.predict, linearized in closed form (K-FAC needs its layer statistics).
const objective = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });
const lossFn = objectiveLoss(objective);
const flat = (t: Tree) => Array.from(tree.readValues(() => tree.ravel(t).vector));

/** newtonCg (CG scalars, damping ratios, guards: all read) inside each wrapper of lib/combine. */
function wrappedNewtonCg(): [string, () => GradientTransformation<any>][] {
  const ncg = (lam0 = 1) => newtonCg(lossFn, { lam0, maxIterations: 5 });
  const adamLr = () => chain(scaleByAdam(), scaleByLearningRate(0.05));
  const everyOtherKey = (p: Tree) => Object.fromEntries(Object.keys(p).map((k, i) => [k, i % 2 === 0]));
  return [
    ['injectHyperparams(newtonCg)', () => injectHyperparams((hp) => ncg(hp.lam0), { lam0: (t: number) => 1 / (t + 1) })],
    ['namedChain(newtonCg)', () => namedChain(['ncg', ncg()])],
    ['masked(newtonCg, all)', () => masked(masked(ncg(), true), () => true)],
    ['partition(newtonCg, adam)', () => partition({ ncg: ncg(), none: adamLr() }, 'ncg')],
    ['masked(guardNonFinite(adam))', () => masked(guardNonFinite(adamLr()), everyOtherKey)],
    ['multiSteps(newtonCg, 2, skipNotFinite)', () => multiSteps(ncg(), 2, { shouldSkipUpdateFn: skipNotFinite })],
    ['applyIfFinite(newtonCg)', () => applyIfFinite(ncg(), 2)],
    ['conditionallyTransform(newtonCg)', () => conditionallyTransform(ncg(), (step) => step % 2 === 0)],
    ['guardNonFinite(newtonCg, sync: false)', () => guardNonFinite(ncg(), { sync: false })],
  ];
}

/** Counts `dataSync()` calls on tensors that were not fetched with `data()` before. */
function watchReads() {
  const fetched = new Set<number>();
  const { data: origData, dataSync: origSync } = tf.Tensor.prototype;
  let unfetched = 0;
  const data = jest.spyOn(tf.Tensor.prototype, 'data').mockImplementation(function (this: tf.Tensor) {
    fetched.add(this.id);
    return origData.call(this) as any;
  });
  const sync = jest.spyOn(tf.Tensor.prototype, 'dataSync').mockImplementation(function (this: tf.Tensor) {
    if (!fetched.has(this.id)) unfetched++;
    return origSync.call(this) as any;
  });
  return {
    unfetched: () => unfetched,
    restore: () => {
      data.mockRestore();
      sync.mockRestore();
    },
  };
}

describe('makeStepAsync', () => {
  test.each([
    // Every method of the registry, with the browser suite's options (ignd here on cross-entropy).
    ...listMethods().map((name) => [name, () => buildMethod(name, objective)]),
    ['newtonCg (trust region)', () => newtonCg(lossFn, { lam0: 1, maxIterations: 5, lamPolicy: 'trustRegion' })],
    ['egn (trust region)', () => egn(objective, { lam0: 0.5, lamPolicy: 'trustRegion' })],
    // Every wrapper of lib/combine around a reading method: its reads must reach makeStepAsync.
    ...wrappedNewtonCg(),
  ] as [string, () => GradientTransformation<any>][])(
    '%s: the same 5 steps as makeStep, and no unfetched synchronous read',
    async (_name, make) => {
      const before = tf.memory().numTensors;
      const batch = prob.batch();
      const curvatureBatch = { x: tf.slice(batch.x, 0, 4), y: tf.slice(batch.y, 0, 4) };
      const run = async (async_: boolean) => {
        const tx = make();
        const step = async_ ? makeStepAsync(tx, lossFn) : makeStep(tx, lossFn);
        let params = prob.params() as Tree;
        let state = tx.init(params);
        let unfetched = 0;
        for (let i = 0; i < 5; i++) {
          const watch = async_ ? watchReads() : null;
          const out = await step(params, state, batch, { curvatureBatch, key: i });
          if (watch) {
            unfetched += watch.unfetched();
            watch.restore();
          }
          out.loss.dispose();
          params = out.params;
          state = out.state;
        }
        tree.dispose(state as any);
        return { params, unfetched };
      };
      const sync = await run(false);
      const async_ = await run(true);
      expect(flat(async_.params)).toEqual(flat(sync.params));
      expect(async_.unfetched).toBe(0);
      tree.dispose([sync.params, async_.params, batch, curvatureBatch] as any);
      expect(tf.memory().numTensors).toBe(before);
    },
  );

  test('a transform that does not expose its reads still runs (synchronous reads)', async () => {
    const halveIfLarge: GradientTransformation<null> = {
      init: () => null,
      update: (u) => [tree.scale(u, tree.readScalar(() => tree.squaredNorm(u)) > 1 ? 0.5 : 1), null],
    };
    const batch = prob.batch();
    const out = await makeStepAsync(halveIfLarge, lossFn)(prob.params(), null, batch);
    expect(flat(out.params).every(Number.isFinite)).toBe(true);
    tree.dispose([out.params, out.loss, batch] as any);
  });

  test('withReads: update runs the computation synchronously, updateReads exposes its reads', async () => {
    const tx = withReads(
      () => null,
      function* (u: Tree) {
        const norm = yield* fetchValues(() => tree.squaredNorm(u));
        return [tree.scale(u, 1 / Math.sqrt(norm[0])), null] as [Tree, null];
      },
    );
    const u = tf.tensor1d([3, 4]);
    const [a] = tx.update(u, null);
    const [b] = await runAsync(tx.updateReads!(u, null));
    expect(flat(a)).toEqual([0.6, 0.8].map(Math.fround));
    expect(flat(b)).toEqual(flat(a));
    tree.dispose([u, a, b] as any);
  });

  test('runAsync lets a computation clean up when a fetch fails', async () => {
    let cleaned = false;
    function* reads(): Reads<number> {
      try {
        return (yield* fetchValues(() => tf.scalar(1)))[0];
      } finally {
        cleaned = true;
      }
    }
    const data = jest.spyOn(tf.Tensor.prototype, 'data').mockRejectedValue(new Error('device lost'));
    await expect(runAsync(reads())).rejects.toThrow('device lost');
    data.mockRestore();
    expect(cleaned).toBe(true);
  });
});
