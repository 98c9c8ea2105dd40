// The law kit of somax/testing run over every transform and optimizer somax exports.
import * as tf from '@tensorflow/tfjs-core';
import * as somax from '../../index';
import type { GradientTransformation, Tree } from '../../index';
import * as clippingModule from '../../transforms/clipping';
import * as firstOrderModule from '../../chains/firstOrder';
import * as miscModule from '../../transforms/misc';
import * as momentsModule from '../../transforms/moments';
import * as scaleModule from '../../transforms/scale';
import * as weightDecayModule from '../../transforms/weightDecay';
import { chainLinearization, denseLayer } from '../../models/layerChain';
import {
  checkCarriesReads,
  checkDeterminism,
  checkLinearInUpdates,
  checkNoLeaks,
  checkNoMutationOrDisposal,
  checkStructure,
  checkTransformLaws,
} from '../../testing';

const { tree } = somax;

// A loss over any params tree, for the transforms that need one: Σ ½‖θ‖² + ¼ Σ θ⁴ (convex, with curvature).
const anyLoss = (p: Tree) =>
  tf.tidy(() =>
    tree
      .leaves(p)
      .reduce<tf.Scalar>(
        (acc, t) => tf.add(acc, tf.add(tf.mul(0.5, tf.sum(tf.square(t))), tf.mul(0.25, tf.sum(tf.pow(t, 4))))),
        tf.scalar(0),
      ),
  );

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
  [
    'masked',
    () =>
      somax.masked(somax.scale(2), (p: Tree) =>
        tree.leaves(p).length > 0 && !Array.isArray(p) ? Object.fromEntries(Object.keys(p).map((k, i) => [k, i % 2 === 0])) : true,
      ),
  ],
  [
    'multiTransform',
    () =>
      somax.multiTransform({ a: somax.scaleByAdam(), b: somax.scale(0.5) }, (p: Tree) =>
        Object.fromEntries(Object.keys(p).map((k, i) => [k, i % 2 === 0 ? 'a' : 'b'])),
      ),
  ],
  ['injectHyperparams', () => somax.injectHyperparams((hp) => somax.adam(hp.lr), { lr: (t: number) => 0.1 / (t + 1) })],
  ['applyIfFinite', () => somax.applyIfFinite(somax.adam(0.1), 3)],
  ['guardNonFinite', () => somax.guardNonFinite(somax.adam(0.1))],
  ['multiSteps', () => somax.multiSteps(somax.adam(0.1), 2)],
  ['multiSteps (skipNotFinite)', () => somax.multiSteps(somax.adam(0.1), 2, { shouldSkipUpdateFn: somax.skipNotFinite })],
  [
    'partition',
    () =>
      somax.partition({ a: somax.sgd(0.1), b: somax.identity() }, (p: Tree) =>
        Object.fromEntries(Object.keys(p).map((k, i) => [k, i % 2 === 0 ? 'b' : 'a'])),
      ),
  ],
  ['conditionallyTransform', () => somax.conditionallyTransform(somax.scaleByAdam(), (step: number) => step % 2 === 1)],
  ['conditionallyMask', () => somax.conditionallyMask(somax.scaleByAdam(), (step: number) => step > 0)],
  [
    'scaleByDiagonalCurvature (adahessian, Hutchinson)',
    () => somax.scaleByDiagonalCurvature(somax.hutchinsonEstimator(somax.hessianCurvature(anyLoss)), { mode: 'adahessian', seed: 1 }),
  ],
  [
    'scaleByDiagonalCurvature (sophia, exact)',
    () => somax.scaleByDiagonalCurvature(somax.exactDiagEstimator(anyLoss), { mode: 'sophia', evalEveryK: 2 }),
  ],
  ['scaleByBacktrackingLinesearch', () => somax.chain(somax.scale(-1), somax.scaleByBacktrackingLinesearch(anyLoss))],
  ['scaleByLbfgs', () => somax.scaleByLbfgs({ memorySize: 3 })],
  ['scaleByZoomLinesearch', () => somax.chain(somax.scale(-1), somax.scaleByZoomLinesearch(anyLoss))],
  ['scaleBySqn', () => somax.scaleBySqn(anyLoss, { learningRate: 0.1, memorySize: 3 })],
  [
    'scaleBySecondOrder (Hessian, CG, trust region)',
    () =>
      somax.scaleBySecondOrder({
        curvature: somax.hessianCurvature(anyLoss),
        solver: somax.cgSolver({ maxIterations: 5 }),
        damping: somax.trustRegionDamping(),
        tx: somax.scale(-1),
        lossFn: anyLoss,
      }),
  ],
  [
    'scaleBySecondOrder (Hessian, direct)',
    () => somax.scaleBySecondOrder({ curvature: somax.hessianCurvature(anyLoss), solver: somax.directSolver(), tx: somax.scale(-1) }),
  ],
];

// Every first-order alias, over random trees (every optimizer on a model: see the suite below).
const firstOrder: [string, () => GradientTransformation<any>][] = [
  ['sgd', () => somax.sgd(0.1, { momentum: 0.9 })],
  ['sgd (nesterov)', () => somax.sgd(0.1, { momentum: 0.9, nesterov: true })],
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
  ['sqn', () => somax.sqn(anyLoss, { memorySize: 3 })],
  ['newtonCg', () => somax.newtonCg(anyLoss, { maxIterations: 5 })],
  ['adahessian', () => somax.adahessian(anyLoss, { learningRate: 0.1 })],
  ['sophiaH', () => somax.sophiaH(anyLoss, { learningRate: 0.1 })],
];

describe.each([...transforms, ...firstOrder])('laws of %s', (_name, make) => {
  test('structure, no mutation/disposal, fresh outputs, no leaks, determinism, chain identity', () => {
    checkTransformLaws(make(), { numRuns: 8, leakSteps: 12, extra: { batch: null, key: 5 }, gradScale: 0.5, seed: 42 });
  });
});

// Coverage: every factory exported by the first-order modules is in one of the tables above
// (HELPERS are functions of trees, not transforms).
const HELPERS = new Set(['updateMoment']);
test('the tables cover every exported first-order transform and alias', () => {
  const names = new Set([...transforms, ...firstOrder].map(([n]) => n.split(' ')[0]));
  const modules = { scaleModule, momentsModule, clippingModule, weightDecayModule, miscModule, firstOrderModule };
  const missing = Object.entries(modules).flatMap(([m, mod]) =>
    Object.entries(mod)
      .filter(([k, v]) => typeof v === 'function' && !HELPERS.has(k))
      .map(([k]) => k)
      .filter((k) => !names.has(k))
      .map((k) => `${m}.${k}`),
  );
  expect(missing).toEqual([]);
  const combinators = [
    'identity',
    'namedChain',
    'masked',
    'multiTransform',
    'partition',
    'injectHyperparams',
    'applyIfFinite',
    'guardNonFinite',
    'multiSteps',
    'conditionallyTransform',
    'conditionallyMask',
  ];
  expect(combinators.filter((c) => !names.has(c))).toEqual([]);
});

// ---------------------------------------------------------------------------------------------
// Optax-style common tests over EVERY exported optimizer (first-order aliases and every method of
// the registry), on tiny models: a linear regression (3 → 1, squared error) and a linear
// classifier (3 → 3, softmax cross-entropy).

type Problem = 'regression' | 'classification';
const predict = (p: Tree, x: tf.Tensor) => tf.add(tf.matMul(x as tf.Tensor2D, (p as any).w), (p as any).b);
const objectives = {
  regression: { predict, loss: 'meanSquaredError' as const },
  classification: { predict, loss: 'softmaxCrossEntropy' as const },
};
// The same linear model with its closed-form linearization and layer statistics (K-FAC needs them).
const kfacObjective = {
  predict,
  loss: 'softmaxCrossEntropy' as const,
  linearize: chainLinearization([denseLayer('w', 'b')]),
  layerParams: () => [{ weight: 'w', bias: 'b' }],
};
const lossFns = { regression: somax.objectiveLoss(objectives.regression), classification: somax.objectiveLoss(objectives.classification) };

function problem(kind: Problem) {
  const c = kind === 'regression' ? 1 : 3;
  return tf.tidy(() => {
    const x = tf.randomNormal([8, 3], 0, 1, 'float32', 11);
    const y =
      kind === 'regression'
        ? tf.matMul(x, tf.tensor2d([[1], [-2], [0.5]]))
        : tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3, 1, 0, 'float32');
    const params = { w: tf.mul(tf.randomNormal([3, c], 0, 1, 'float32', 12), 0.3), b: tf.zeros([c]) };
    return { params, batch: { x, y } };
  });
}

// [name, problem, build(learningRate)]: learning rates small enough that every method decreases the loss.
const optimizers: [string, Problem, (lr: number) => GradientTransformation<any>][] = [
  ['sgd', 'regression', (lr) => somax.sgd(lr, { momentum: 0.9 })],
  ['adam', 'regression', (lr) => somax.adam(lr)],
  ['adamw', 'regression', (lr) => somax.adamw(lr)],
  ['nadam', 'regression', (lr) => somax.nadam(lr)],
  ['amsgrad', 'regression', (lr) => somax.amsgrad(lr)],
  ['rmsprop', 'regression', (lr) => somax.rmsprop(lr, { centered: true, momentum: 0.9 })],
  ['adagrad', 'regression', (lr) => somax.adagrad(lr * 10)],
  ['lion', 'regression', (lr) => somax.lion(lr / 3)],
  ['noisySgd', 'regression', (lr) => somax.noisySgd(lr)],
  ['lbfgs', 'regression', (lr) => somax.lbfgs(lossFns.regression, { learningRate: lr * 20 })],
  ['sgdArmijo', 'regression', (lr) => somax.sgdArmijo(lossFns.regression, { learningRate: lr * 20 })],
  ['sqn', 'regression', (lr) => somax.sqn(lossFns.regression, { learningRate: lr * 5, memorySize: 3 })],
  ['adahessian', 'regression', (lr) => somax.adahessian(lossFns.regression, { learningRate: lr })],
  ['sophiaH', 'regression', (lr) => somax.sophiaH(lossFns.regression, { learningRate: lr, evalEveryK: 2 })],
  ['sophiaG', 'classification', (lr) => somax.sophiaG(objectives.classification, { learningRate: lr, evalEveryK: 2 })],
  ['newtonCg', 'regression', (lr) => somax.newtonCg(lossFns.regression, { learningRate: lr * 5, maxIterations: 5 })],
  ['newtonDirect', 'regression', (lr) => somax.newtonDirect(lossFns.regression, { learningRate: lr * 5 })],
  ['sgn', 'regression', (lr) => somax.sgn(objectives.regression, { learningRate: lr * 5, maxIterations: 5 })],
  ['egn', 'classification', (lr) => somax.egn(objectives.classification, { learningRate: lr * 5 })],
  ['ggnDirect', 'classification', (lr) => somax.ggnDirect(objectives.classification, { learningRate: lr * 5 })],
  ['ignd', 'regression', (lr) => somax.ignd(objectives.regression, { learningRate: lr * 5 })],
  ['swmng', 'regression', (lr) => somax.swmng(objectives.regression, { learningRate: lr * 5 })],
  ['kfac', 'classification', (lr) => somax.kfac(kfacObjective, { learningRate: lr * 5 })],
  // The step size and momentum from the quadratic model: the learning rate only scales the damping here.
  [
    'kfac (adaptive coefficients)',
    'classification',
    (lr) => somax.kfac(kfacObjective, { adaptiveLearningRate: true, adaptiveMomentum: true, lam0: lr * 20 }),
  ],
  ['shampoo', 'regression', (lr) => somax.shampoo({ learningRate: lr })],
];

// The optimizers whose step is not linear in the incoming updates at a fixed state, and why.
const NOT_LINEAR: Record<string, string> = {
  adam: 'divides by the root of the second moment of g (scale-invariant)',
  adamw: 'Adam plus a decay term independent of g',
  nadam: 'as Adam',
  amsgrad: 'as Adam',
  rmsprop: 'divides by the root mean square of g',
  adagrad: 'divides by the root of the sum of g²',
  lion: 'the sign of the momentum',
  noisySgd: 'adds noise independent of g',
  lbfgs: 'H₀ = min(1, 1/‖g‖) I on the first step, and a line search',
  sgdArmijo: 'a line search on the loss along g',
  sophiaH: 'clips the preconditioned direction to ±1 and adds weight decay',
  sophiaG: 'clips the preconditioned direction to ±1 and adds weight decay',
  shampoo: "grafted onto Adam's step norm (scale-invariant), and inverse fourth roots of the statistics of g",
  'kfac (adaptive coefficients)': 'α = gᵀs / sᵀ(C + λI)s with s linear in g: homogeneous of degree 1 in g, not additive',
  ignd: 'its direction is the average of per-sample Gauss-Newton steps from the residuals; a summed g cannot give it',
};

test('the optimizer table covers every first-order alias and every registered method', () => {
  const names = new Set(optimizers.map(([n]) => n));
  const all = [
    ...Object.entries(firstOrderModule)
      .filter(([, v]) => typeof v === 'function')
      .map(([k]) => k),
    ...somax.listMethods(),
  ];
  expect(all.filter((n) => !names.has(n))).toEqual([]);
});

describe.each(optimizers)('optimizer %s (Optax-style common tests)', (_name, kind, build) => {
  const lr = 0.05;
  let setup: ReturnType<typeof problem>;
  let grads: Tree;
  let extra: somax.Extra;
  beforeAll(() => {
    setup = problem(kind);
    const { value, grads: g } = somax.valueAndGrad(lossFns[kind])(setup.params, setup.batch);
    grads = g;
    // Every key a step may pass, plus one no transform knows (Optax: optimizers accept extra args).
    extra = { batch: setup.batch, curvatureBatch: setup.batch, value, grad: g, key: 3, someUnknownArgument: 'ignored' };
  });
  afterAll(() => tree.dispose([setup.params, setup.batch, grads, extra.value] as any));

  test('accepts extra args; state structure stable; no mutation, no leaks; deterministic', () => {
    const tx = build(lr);
    checkStructure(tx, setup.params, grads, { steps: 3, extra });
    checkNoMutationOrDisposal(tx, setup.params, grads, { extra });
    checkNoLeaks(tx, setup.params, grads, { steps: 8, extra });
    checkDeterminism(tx, setup.params, grads, { steps: 2, extra });
  });

  // The chain contract: a step is a function of the updates received. At a fixed (initial) state
  // it is linear in them — 0·g gives 0, 2·g twice the step — except where the method is not linear
  // in g by design (NOT_LINEAR says why); those are still checked to respond to the updates.
  test('its step is a function of the updates it receives (linear at a fixed state, or documented)', () => {
    const tx = build(lr);
    if (NOT_LINEAR[_name] === undefined) {
      checkLinearInUpdates(tx, setup.params, grads, { extra, tol: 2e-4 });
      return;
    }
    if (_name === 'ignd') return; // its direction comes from the per-sample residuals, not from g
    const s0 = tx.init(setup.params);
    const [a, sa] = tx.update(grads, s0, setup.params, extra);
    // Another direction (random signs on g): the step must change with it.
    const other = tree.mul(grads, tree.rademacherLike(grads, 7));
    const [b, sb] = tx.update(other, s0, setup.params, extra);
    const diff = tree.leaves(a).reduce(
      (m, t, i) =>
        Math.max(
          m,
          tf.tidy(() => tf.max(tf.abs(tf.sub(t, tree.leaves(b)[i]))).dataSync()[0]),
        ),
      0,
    );
    expect(diff).toBeGreaterThan(1e-6);
    tree.dispose([a, b, other, sa, sb, s0] as any);
  });

  test('can be wrapped in injectHyperparams (same updates as unwrapped)', () => {
    const plain = build(lr);
    const wrapped = somax.injectHyperparams((hp) => build(hp.learningRate), { learningRate: lr });
    let s1 = plain.init(setup.params);
    let s2 = wrapped.init(setup.params);
    for (let i = 0; i < 3; i++) {
      const [u1, n1] = plain.update(grads, s1, setup.params, extra);
      const [u2, n2] = wrapped.update(grads, s2, setup.params, extra);
      const a = tree.leaves(u1).flatMap((t) => Array.from(t.dataSync()));
      const b = tree.leaves(u2).flatMap((t) => Array.from(t.dataSync()));
      b.forEach((v, k) => expect(v).toBeCloseTo(a[k], 6));
      tree.dispose([u1, u2, s1, s2] as any);
      s1 = n1;
      s2 = n2;
    }
    tree.dispose([s1, s2] as any);
  });

  test('decreases the loss of its problem in 30 steps', () => {
    const tx = build(lr);
    const step = somax.makeStep(tx, lossFns[kind]);
    let params: Tree = tree.clone(setup.params);
    let state = tx.init(params);
    const losses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const out = step(params, state, setup.batch, { key: i });
      losses.push(out.loss.dataSync()[0]);
      out.loss.dispose();
      ({ params, state } = out);
    }
    tree.dispose([params, state] as any);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(0.9 * losses[0]);
  });
});

// ---------------------------------------------------------------------------------------------
// The read protocol through every wrapper: a wrapper of a transform that exposes its device reads
// (updateReads) exposes them too, and makeStepAsync fetches them (checkCarriesReads).
describe('every wrapper carries the async reads of what it wraps', () => {
  const params = {
    a: tf.tensor1d([1, -2, 3]),
    b: tf.tensor2d([
      [0.5, -1],
      [2, 0.25],
    ]),
  };
  const grads = {
    a: tf.tensor1d([0.1, 0.2, -0.3]),
    b: tf.tensor2d([
      [1, -1],
      [0.5, 2],
    ]),
  };
  afterAll(() => tree.dispose([params, grads]));
  const wrappers: [string, (inner: GradientTransformation<unknown>) => GradientTransformation<unknown>, number][] = [
    ['chain', (inner) => somax.chain(somax.clip(1), inner), 3],
    ['namedChain', (inner) => somax.namedChain(['clip', somax.clip(1)], ['inner', inner]), 3],
    ['masked', (inner) => somax.masked(inner, { a: true, b: true }), 3],
    ['masked (nested)', (inner) => somax.masked(somax.masked(inner, { a: true, b: true }), { a: true, b: true }), 3],
    ['multiTransform', (inner) => somax.multiTransform({ x: inner }, { a: 'x', b: 'x' }), 3],
    ['partition', (inner) => somax.partition({ x: inner, y: somax.identity() }, { a: 'x', b: 'x' }), 3],
    ['injectHyperparams', (inner) => somax.injectHyperparams(() => inner, { lr: 0.1 }), 3],
    ['multiSteps', (inner) => somax.multiSteps(inner, 2), 4],
    ['applyIfFinite', (inner) => somax.applyIfFinite(inner, 3), 3],
    ['guardNonFinite', (inner) => somax.guardNonFinite(inner), 3],
    ['guardNonFinite (sync: false)', (inner) => somax.guardNonFinite(inner, { sync: false }), 3],
    ['conditionallyTransform', (inner) => somax.conditionallyTransform(inner, () => true), 3],
    ['conditionallyMask', (inner) => somax.conditionallyMask(inner, () => true), 3],
  ];
  test('the wrapper table covers every combinator', () => {
    const combinators = [
      'chain',
      'namedChain',
      'masked',
      'multiTransform',
      'partition',
      'injectHyperparams',
      'multiSteps',
      'applyIfFinite',
      'guardNonFinite',
      'conditionallyTransform',
      'conditionallyMask',
    ];
    const names = new Set(wrappers.map(([n]) => n.split(' ')[0]));
    expect(combinators.filter((c) => !names.has(c))).toEqual([]);
  });
  test.each(wrappers)('%s', async (name, wrap, steps) => {
    const before = tf.memory().numTensors;
    await checkCarriesReads(wrap, { params, grads, steps, name });
    expect(tf.memory().numTensors).toBe(before);
  });
});
