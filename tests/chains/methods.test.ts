import * as tf from '@tensorflow/tfjs-core';
import * as somax from '../../index';
import {
  adahessian, denseGgn, denseHessian, egn, ggnDirect, linalg, makeStep, newtonCg, newtonDirect, objectiveLoss, sgn, sophiaG,
  sophiaH, tree, valueAndGrad, HyperparameterError,
} from '../../index';
import type { GradientTransformation, Tree } from '../../index';
import * as ref from '../helpers/mlp64';

const flat = (t: any) => Float64Array.from(tree.readValues(() => tree.ravel(t).vector));

/** An under-determined linear least-squares batch: f(x) = x w, 4 samples, 10 features. */
function lsq() {
  const x = tf.tensor2d(Array.from(ref.rand(40, 51)), [4, 10]);
  const y = tf.tensor2d(Array.from(ref.rand(4, 52)), [4, 1]);
  const objective = { predict: (p: any, xs: tf.Tensor) => tf.matMul(xs as tf.Tensor2D, p.w), loss: 'meanSquaredError' as const };
  return { x, y, objective, lossFn: objectiveLoss(objective), params: () => ({ w: tf.zeros([10, 1]) }) };
}

function oneStep(tx: GradientTransformation<any>, lossFn: any, params: Tree, batch: unknown, options: any = {}) {
  const step = makeStep(tx, lossFn);
  return step(params, tx.init(params), batch, options);
}

describe('methods against exact math', () => {
  test('newtonDirect with λ → 0 and learning rate 1 solves a strictly convex quadratic in one step', () => {
    const n = 5;
    const A = ref.randomSpd(n, 61, 0.2);
    const b = ref.rand(n, 62);
    const { lossFn: quad, dispose } = ref.quadratic(A, b);
    const out = oneStep(newtonDirect(quad, { lam0: 1e-10, learningRate: 1 }), quad, { x: tf.ones([n]) }, null);
    expect(ref.relErr(flat(out.params), linalg.solveSymmetric(A, b, n))).toBeLessThan(1e-4);
    tree.dispose([out.params, out.state, out.loss] as any);
    dispose();
  });

  test.each([
    ['ggnDirect', (o: any) => ggnDirect(o, { lam0: 1e-10 })],
    ['egn (Cholesky)', (o: any) => egn(o, { lam0: 1e-10 })],
    ['egn (row CG)', (o: any) => egn(o, { lam0: 1e-10, rowSolver: 'cg' })],
    ['sgn', (o: any) => sgn(o, { lam0: 1e-10, maxiter: 50, tol: 1e-10 })],
    ['newtonCg', (o: any) => newtonCg(objectiveLoss(o), { lam0: 1e-10, maxiter: 50, tol: 1e-10 })],
  ])('%s with λ → 0 fits an under-determined linear least-squares batch exactly in one step', (_name, make) => {
    const p = lsq();
    const out = oneStep(make(p.objective), p.lossFn, p.params(), { x: p.x, y: p.y });
    const resid = tree.readValues(() => tf.sub(p.objective.predict(out.params, p.x), p.y));
    expect(Math.max(...Array.from(resid).map(Math.abs))).toBeLessThan(1e-4);
    tree.dispose([p.x, p.y, out.params, out.state, out.loss] as any);
  });

  test.each(['softmaxCrossEntropy', 'meanSquaredError'] as const)('egn with λ > 0 takes the step −lr (G + λI)⁻¹ g on a small MLP (%s)', (lossName) => {
    const prob = ref.makeProblem('tanh', lossName);
    const objective = { predict: prob.predict, loss: lossName };
    const lossFn = objectiveLoss(objective);
    const params = prob.params();
    const batch = prob.batch();
    const p = ref.numParams(prob.m);
    const G = denseGgn(objective, params, batch);
    for (let i = 0; i < p; i++) G[i * p + i] += 0.3;
    const { value, grads } = valueAndGrad(lossFn)(params, batch);
    const s = linalg.solveSymmetric(G, flat(grads), p);
    const before = flat(params);
    const out = oneStep(egn(objective, { lam0: 0.3, learningRate: 0.5 }), lossFn, prob.params(), batch);
    const step = flat(out.params).map((v, i) => (before[i] - v) / 0.5);
    expect(ref.relErr(step, s)).toBeLessThan(1e-4);
    tree.dispose([params, batch, value, grads, out.params, out.state, out.loss] as any);
  });

  test('a separate curvature batch: the direction is (G_c + λI)⁻¹ g_b, and fewer per-sample rows are computed', () => {
    const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy', { b: 8 });
    let rows = 0;
    const predict = (p: any, xs: tf.Tensor) => { if (xs.shape[0] === 1) rows++; return prob.predict(p, xs); };
    const objective = { predict, loss: 'softmaxCrossEntropy' as const };
    const lossFn = objectiveLoss(objective);
    const batch = prob.batch();
    const curv = { x: tf.slice(batch.x, 0, 3), y: tf.slice(batch.y, 0, 3) };
    const params = prob.params();
    const p = ref.numParams(prob.m);
    const Gc = denseGgn({ predict: prob.predict, loss: 'softmaxCrossEntropy' }, params, curv);
    for (let i = 0; i < p; i++) Gc[i * p + i] += 0.5;
    const { value, grads } = valueAndGrad(lossFn)(params, batch);
    const want = linalg.solveSymmetric(Gc, flat(grads), p);
    const before = flat(params);
    rows = 0;
    const out = oneStep(egn(objective, { lam0: 0.5 }), lossFn, prob.params(), batch, { curvatureBatch: curv });
    const rowsSmall = rows;
    expect(ref.relErr(flat(out.params).map((v, i) => before[i] - v), want)).toBeLessThan(1e-4);
    rows = 0;
    const full = oneStep(egn(objective, { lam0: 0.5 }), lossFn, prob.params(), batch);
    expect(rowsSmall).toBeLessThan(rows / 2); // 3 samples' rows instead of 8
    // Newton-CG on a curvature batch uses its Hessian: compare with the dense H_c.
    const Hc = denseHessian(lossFn, params, curv);
    for (let i = 0; i < p; i++) Hc[i * p + i] += 2;
    const nc = oneStep(newtonCg(lossFn, { lam0: 2, maxiter: 200, tol: 1e-9, warmStart: false }), lossFn, prob.params(), batch, { curvatureBatch: curv });
    expect(ref.relErr(flat(nc.params).map((v, i) => before[i] - v), linalg.solveSymmetric(Hc, flat(grads), p))).toBeLessThan(1e-3);
    tree.dispose([batch, curv, params, value, grads, out.params, out.state, out.loss, full.params, full.state, full.loss, nc.params, nc.state, nc.loss] as any);
  });
});

describe('preconditioned Newton-CG', () => {
  test('a Hutchinson-diagonal preconditioner leaves the converged direction (H + λI)⁻¹ g unchanged', () => {
    const prob = ref.makeProblem('tanh', 'meanSquaredError');
    const lossFn = objectiveLoss({ predict: prob.predict, loss: 'meanSquaredError' as const });
    const params = prob.params();
    const batch = prob.batch();
    const p = ref.numParams(prob.m);
    const H = denseHessian(lossFn, params, batch);
    for (let i = 0; i < p; i++) H[i * p + i] += 3; // H + 3I is positive definite here
    const { value, grads } = valueAndGrad(lossFn)(params, batch);
    const want = linalg.solveSymmetric(H, flat(grads), p);
    const before = flat(params);
    const out = oneStep(newtonCg(lossFn, { lam0: 3, maxiter: 200, tol: 1e-9, warmStart: false, diagonalProbes: 4 }), lossFn, prob.params(), batch, { key: 1 });
    expect(ref.relErr(flat(out.params).map((v, i) => before[i] - v), want)).toBeLessThan(1e-3);
    expect(out.info.cgIterations).toBeGreaterThan(0);
    expect(out.info.negativeCurvature).toBe(false);
    tree.dispose([params, batch, value, grads, out.params, out.state, out.loss] as any);
  });
});

describe('diagonal methods', () => {
  test('sophiaH and sophiaG clip the preconditioned direction to ±1 before weight decay and −lr', () => {
    const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy');
    const objective = { predict: prob.predict, loss: 'softmaxCrossEntropy' as const };
    const lossFn = objectiveLoss(objective);
    for (const tx of [sophiaH(lossFn, { learningRate: 0.1, weightDecay: 0 }), sophiaG(objective, { learningRate: 0.1, weightDecay: 0 })]) {
      const params = prob.params();
      const before = flat(params);
      const out = oneStep(tx, lossFn, params, prob.batch(), { key: 4 });
      const u = flat(out.params).map((v, i) => v - before[i]);
      expect(Math.max(...u.map(Math.abs))).toBeLessThanOrEqual(0.1 + 1e-6);
      expect(u.every(Number.isFinite)).toBe(true);
      tree.dispose([out.params, out.state, out.loss] as any);
    }
  });
});

describe('every method: tensors flat over 200 steps (100 for the direct ones), and it lowers the loss', () => {
  const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy', { d: 3, h: 4, c: 3, b: 6 });
  const objective = { predict: prob.predict, loss: 'softmaxCrossEntropy' as const };
  const lossFn = objectiveLoss(objective);
  test.each([
    ['adahessian', () => adahessian(lossFn, { learningRate: 0.1 })],
    ['sophiaH', () => sophiaH(lossFn, { learningRate: 0.05, weightDecay: 0 })],
    ['sophiaG', () => sophiaG(objective, { learningRate: 0.05, weightDecay: 0 })],
    ['newtonCg', () => newtonCg(lossFn, { lam0: 1, maxiter: 5 })],
    ['newtonDirect', () => newtonDirect(lossFn, { lam0: 1 })],
    ['sgn', () => sgn(objective, { lam0: 0.1, maxiter: 5 })],
    ['egn', () => egn(objective, { lam0: 0.1, lamPolicy: 'trustRegion' })],
    ['ggnDirect', () => ggnDirect(objective, { lam0: 0.1 })],
  ])('%s', (name, make) => {
    const tx = make();
    const steps = name.endsWith('Direct') ? 100 : 200; // the direct methods do P products per step
    const step = makeStep(tx, lossFn);
    const batch = prob.batch();
    let params = prob.params() as Tree;
    let state = tx.init(params);
    const first = tree.readScalar(() => lossFn(params, batch));
    let reference = 0;
    for (let i = 0; i < steps; i++) {
      const out = step(params, state, batch, { key: i });
      out.loss.dispose();
      params = out.params; state = out.state;
      if (i === 1) reference = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(reference);
    expect(tree.readScalar(() => lossFn(params, batch))).toBeLessThan(0.7 * first);
    tree.dispose([params, state, batch] as any);
  });
});

describe('registry', () => {
  test('lists, describes and builds methods; unknown names and missing models are clear errors', () => {
    expect(somax.listMethods()).toEqual(expect.arrayContaining(['adahessian', 'sophiaH', 'sophiaG', 'newtonCg', 'newtonDirect', 'sgn', 'egn', 'ggnDirect', 'lbfgs']));
    expect(somax.describe('egn')).toMatch(/^egn: curvature: GGN · solver: row-space Cholesky/);
    expect(() => somax.make('adam2', { lossFn: () => tf.scalar(0) })).toThrow(/unknown method 'adam2'; known methods: adahessian, sophiaH/);
    expect(() => somax.describe('nope')).toThrow(HyperparameterError);
    expect(() => somax.make('egn', { lossFn: () => tf.scalar(0) } as any)).toThrow(/method 'egn' needs `objective`/);
    const p = lsq();
    const out = oneStep(somax.make('egn', { objective: p.objective, lam0: 1e-10 }), p.lossFn, p.params(), { x: p.x, y: p.y });
    const resid = tree.readValues(() => tf.sub(p.objective.predict(out.params, p.x), p.y));
    expect(Math.max(...Array.from(resid).map(Math.abs))).toBeLessThan(1e-4);
    tree.dispose([p.x, p.y, out.params, out.state, out.loss] as any);
  });
});
