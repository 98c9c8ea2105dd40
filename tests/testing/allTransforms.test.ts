// The law kit of somax/testing run over every transform and optimizer somax exports.
import * as tf from '@tensorflow/tfjs-core';
import * as somax from '../../index';
import type { GradientTransformation, Tree } from '../../index';
import { buildTree, checkTransformLaws } from '../../testing';

const { tree } = somax;

// A loss over any params tree, for the transforms that need one: Σ ½‖θ‖² + ¼ Σ θ⁴ (convex, with curvature).
const anyLoss = (p: Tree) =>
  tf.tidy(() => tree.leaves(p).reduce<tf.Scalar>((acc, t) => tf.add(acc, tf.add(tf.mul(0.5, tf.sum(tf.square(t))), tf.mul(0.25, tf.sum(tf.pow(t, 4))))), tf.scalar(0)));

const transforms: [string, () => GradientTransformation<any>][] = [
  ['identity', () => somax.identity()],
  ['scale', () => somax.scale(-0.1)],
  ['scaleByLearningRate (schedule)', () => somax.scaleByLearningRate(somax.cosineDecaySchedule({ initValue: 0.1, decaySteps: 10 }))],
  ['scaleBySchedule', () => somax.scaleBySchedule(somax.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 5 }))],
  ['scaleBySign', () => somax.scaleBySign()],
  ['trace (nesterov)', () => somax.trace(0.9, { nesterov: true })],
  ['ema', () => somax.ema(0.9)],
  ['scaleByAdam', () => somax.scaleByAdam()],
  ['scaleByAmsgrad', () => somax.scaleByAmsgrad()],
  ['scaleByRms', () => somax.scaleByRms()],
  ['scaleByStddev', () => somax.scaleByStddev()],
  ['scaleByRss', () => somax.scaleByRss()],
  ['scaleByLion', () => somax.scaleByLion()],
  ['clip', () => somax.clip(0.5)],
  ['clipByGlobalNorm', () => somax.clipByGlobalNorm(1)],
  ['clipByBlockRms', () => somax.clipByBlockRms(0.5)],
  ['addDecayedWeights', () => somax.addDecayedWeights(1e-2)],
  ['addNoise', () => somax.addNoise(0.01, 0.55, 3)],
  ['keepParamsNonnegative', () => somax.keepParamsNonnegative()],
  ['zeroNans', () => somax.zeroNans()],
  ['namedChain', () => somax.namedChain(['a', somax.scaleByAdam()], ['lr', somax.scaleByLearningRate(0.1)])],
  ['masked', () => somax.masked(somax.scale(2), (p: Tree) => tree.leaves(p).length > 0 && !Array.isArray(p) ? Object.fromEntries(Object.keys(p).map((k, i) => [k, i % 2 === 0])) : true)],
  ['multiTransform', () => somax.multiTransform({ a: somax.scaleByAdam(), b: somax.scale(0.5) }, (p: Tree) => Object.fromEntries(Object.keys(p).map((k, i) => [k, i % 2 === 0 ? 'a' : 'b'])))],
  ['injectHyperparams', () => somax.injectHyperparams((hp) => somax.adam(hp.lr), { lr: (t: number) => 0.1 / (t + 1) })],
  ['applyIfFinite', () => somax.applyIfFinite(somax.adam(0.1), 3)],
  ['multiSteps', () => somax.multiSteps(somax.adam(0.1), 2)],
  ['scaleByDiagonalCurvature (adahessian, Hutchinson)', () => somax.scaleByDiagonalCurvature(somax.hutchinsonEstimator(somax.hessianCurvature(anyLoss)), { mode: 'adahessian', seed: 1 })],
  ['scaleByDiagonalCurvature (sophia, exact)', () => somax.scaleByDiagonalCurvature(somax.exactDiagEstimator(anyLoss), { mode: 'sophia', evalEveryK: 2 })],
  ['scaleByBacktrackingLinesearch', () => somax.chain(somax.scale(-1), somax.scaleByBacktrackingLinesearch(anyLoss))],
  ['scaleByLbfgs', () => somax.scaleByLbfgs({ memorySize: 3 })],
  ['scaleByZoomLinesearch', () => somax.chain(somax.scale(-1), somax.scaleByZoomLinesearch(anyLoss))],
  ['scaleBySqn', () => somax.scaleBySqn(anyLoss, { learningRate: 0.1, memorySize: 3 })],
  ['scaleBySecondOrder (Hessian, CG, trust region)', () => somax.scaleBySecondOrder({ curvature: somax.hessianCurvature(anyLoss), solver: somax.cgSolver({ maxiter: 5 }), damping: somax.trustRegionDamping(), tx: somax.scale(-1), lossFn: anyLoss })],
  ['scaleBySecondOrder (Hessian, direct)', () => somax.scaleBySecondOrder({ curvature: somax.hessianCurvature(anyLoss), solver: somax.directSolver(), tx: somax.scale(-1) })],
];

const optimizers: [string, () => GradientTransformation<any>][] = [
  ['sgd', () => somax.sgd(0.1, { momentum: 0.9 })],
  ['adam', () => somax.adam(1e-2)],
  ['adamw', () => somax.adamw(1e-2)],
  ['nadam', () => somax.nadam(1e-2)],
  ['amsgrad', () => somax.amsgrad(1e-2)],
  ['rmsprop', () => somax.rmsprop(1e-2, { centered: true, momentum: 0.9 })],
  ['adagrad', () => somax.adagrad(1e-2)],
  ['lion', () => somax.lion(1e-3)],
  ['noisySgd', () => somax.noisySgd(1e-2)],
  ['lbfgs', () => somax.lbfgs(anyLoss)],
  ['sgdArmijo', () => somax.sgdArmijo(anyLoss)],
  ['newtonCg', () => somax.newtonCg(anyLoss, { maxiter: 5 })],
  ['adahessian', () => somax.adahessian(anyLoss, { learningRate: 0.1 })],
  ['sophiaH', () => somax.sophiaH(anyLoss, { learningRate: 0.1 })],
];

describe.each([...transforms, ...optimizers])('laws of %s', (_name, make) => {
  test('structure, no mutation/disposal, fresh outputs, no leaks, determinism, chain identity', () => {
    checkTransformLaws(make(), { numRuns: 8, leakSteps: 12, extra: { batch: null, key: 5 }, gradScale: 0.5, seed: 42 });
  });
});

describe.each(optimizers)('optimizer %s (Optax-style common tests)', (_name, make) => {
  const spec = { kind: 'object', children: { w: { kind: 'leaf', shape: [3, 2] }, b: { kind: 'leaf', shape: [2] } } } as const;
  test('accepts extra args, state structure stable, minimizes a quadratic', () => {
    const tx = make();
    let params = buildTree(spec, 1);
    let state = tx.init(params);
    const step = somax.makeStep(tx, (p: Tree) => tf.tidy(() => tree.leaves(p).reduce<tf.Scalar>((a, t) => tf.add(a, tf.sum(tf.square(tf.sub(t, 1)))), tf.scalar(0))));
    const first = step(params, state, null, { key: 3, curvatureBatch: null });
    let loss0 = first.loss.dataSync()[0];
    first.loss.dispose();
    params = first.params;
    state = first.state;
    for (let i = 0; i < 150; i++) {
      const out = step(params, state, null);
      if (i === 149) loss0 = loss0 - out.loss.dataSync()[0];
      out.loss.dispose();
      params = out.params;
      state = out.state;
    }
    expect(loss0).toBeGreaterThan(0);
    tree.dispose([params, state] as any);
  });
});
