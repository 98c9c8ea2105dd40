import * as tf from '@tensorflow/tfjs-core';
import * as somax from '../../index';
import {
  denseGgn,
  denseHessian,
  egn,
  ggnDirect,
  makeStep,
  newtonCg,
  newtonDirect,
  objectiveLoss,
  sgn,
  sophiaG,
  sophiaH,
  tree,
  valueAndGrad,
  HyperparameterError,
} from '../../index';
import * as linalg from '../../lib/linalg';
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
    ['sgn', (o: any) => sgn(o, { lam0: 1e-10, maxIterations: 50, tol: 1e-10 })],
    ['newtonCg', (o: any) => newtonCg(objectiveLoss(o), { lam0: 1e-10, maxIterations: 50, tol: 1e-10 })],
  ])('%s with λ → 0 fits an under-determined linear least-squares batch exactly in one step', (_name, make) => {
    const p = lsq();
    const out = oneStep(make(p.objective), p.lossFn, p.params(), { x: p.x, y: p.y });
    const resid = tree.readValues(() => tf.sub(p.objective.predict(out.params, p.x), p.y));
    expect(Math.max(...Array.from(resid).map(Math.abs))).toBeLessThan(1e-4);
    tree.dispose([p.x, p.y, out.params, out.state, out.loss] as any);
  });

  test.each(['softmaxCrossEntropy', 'meanSquaredError'] as const)(
    'egn with λ > 0 takes the step −lr (G + λI)⁻¹ g on a small MLP (%s)',
    (lossName) => {
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
    },
  );

  test('a separate curvature batch: the direction is (G_c + λI)⁻¹ g_b, and fewer per-sample rows are computed', () => {
    const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy', { b: 8 });
    let rows = 0;
    const predict = (p: any, xs: tf.Tensor) => {
      if (xs.shape[0] === 1) rows++;
      return prob.predict(p, xs);
    };
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
    expect(
      ref.relErr(
        flat(out.params).map((v, i) => before[i] - v),
        want,
      ),
    ).toBeLessThan(1e-4);
    rows = 0;
    const full = oneStep(egn(objective, { lam0: 0.5 }), lossFn, prob.params(), batch);
    expect(rowsSmall).toBeLessThan(rows / 2); // 3 samples' rows instead of 8
    // Newton-CG on a curvature batch uses its Hessian: compare with the dense H_c.
    const Hc = denseHessian(lossFn, params, curv);
    for (let i = 0; i < p; i++) Hc[i * p + i] += 2;
    const nc = oneStep(newtonCg(lossFn, { lam0: 2, maxIterations: 200, tol: 1e-9, warmStart: false }), lossFn, prob.params(), batch, {
      curvatureBatch: curv,
    });
    expect(
      ref.relErr(
        flat(nc.params).map((v, i) => before[i] - v),
        linalg.solveSymmetric(Hc, flat(grads), p),
      ),
    ).toBeLessThan(1e-3);
    tree.dispose([
      batch,
      curv,
      params,
      value,
      grads,
      out.params,
      out.state,
      out.loss,
      full.params,
      full.state,
      full.loss,
      nc.params,
      nc.state,
      nc.loss,
    ] as any);
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
    const out = oneStep(
      newtonCg(lossFn, { lam0: 3, maxIterations: 200, tol: 1e-9, warmStart: false, numProbes: 4 }),
      lossFn,
      prob.params(),
      batch,
      { key: 1 },
    );
    expect(
      ref.relErr(
        flat(out.params).map((v, i) => before[i] - v),
        want,
      ),
    ).toBeLessThan(1e-3);
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

describe('Levenberg-Marquardt damping inside a method', () => {
  test('newtonCg on pseudo-Huber Σ√(1 + x²): λ grows after overshooting steps, which are rejected, and shrinks after good ones', () => {
    // Far from 0 the curvature (1 + x²)^(−3/2) is tiny, so an undamped Newton step overshoots
    // (ρ < 0); near 0 the quadratic model is accurate (ρ ≈ 1).
    const lossFn = (p: any) => tf.sum(tf.sqrt(tf.add(1, tf.square(p.x)))) as tf.Scalar;
    const tx = newtonCg(lossFn, { lam0: 1e-3, lamPolicy: 'trustRegion', maxIterations: 5 });
    const step = makeStep(tx, lossFn);
    let params: any = { x: tf.tensor1d([3, -2]) };
    let state = tx.init(params);
    const seen: { lam: number; lamNext: number; rho: number; valid: boolean; accepted: boolean }[] = [];
    for (let i = 0; i < 40; i++) {
      const out = step(params, state, null);
      out.loss.dispose();
      params = out.params;
      state = out.state;
      const { lam, lamNext, rho, rhoValid, stepAccepted } = out.info as any;
      seen.push({ lam, lamNext, rho, valid: rhoValid, accepted: stepAccepted });
    }
    expect(seen[0].rho).toBeLessThan(0); // the first step overshoots
    for (const { lam, lamNext, rho, valid } of seen) {
      if (!valid) expect(lamNext).toBe(lam);
      else if (rho < 0.25) expect(lamNext).toBeCloseTo(1.5 * lam, 12);
      else if (rho > 0.75) expect(lamNext).toBeCloseTo(0.5 * lam, 12);
      else expect(lamNext).toBe(lam);
    }
    // Overshooting steps (the loss rose) are rejected, the others taken.
    for (const o of seen) expect(o.accepted).toBe(!(o.valid && o.rho < 0));
    expect(seen.filter((o) => !o.accepted).length).toBeGreaterThan(2);
    expect(seen.filter((o) => o.rho < 0.25).length).toBeGreaterThan(2);
    expect(seen.filter((o) => o.rho > 0.75).length).toBeGreaterThan(2);
    expect(Math.max(...flat(params).map(Math.abs))).toBeLessThan(1e-3);
    tree.dispose([params, state] as any);
  });
});

describe('singular systems never write NaN into params', () => {
  // Two identical samples and a model with more parameters than distinct samples: with λ = 0 the
  // GGN, the Hessian of this least-squares loss, and the row Gram JJᵀ are all singular.
  const x = tf.tensor2d([
    [1, 2, 0],
    [1, 2, 0],
  ]);
  const y = tf.tensor2d([[1], [1]]);
  const objective = { predict: (p: any, xs: tf.Tensor) => tf.matMul(xs as tf.Tensor2D, p.w), loss: 'meanSquaredError' as const };
  const lossFn = objectiveLoss(objective);
  const params = () => ({ w: tf.tensor2d([[0.1], [0.2], [0.3]]) });
  afterAll(() => tf.dispose([x, y]));

  // The documented behaviour: dense and row-space factorizations refuse a singular system with an
  // InputError (the step's inputs intact); CG stops at the zero-curvature direction with a finite step.
  test.each([
    ['ggnDirect', 'error', () => ggnDirect(objective, { lam0: 0 })],
    ['newtonDirect', 'error', () => newtonDirect(lossFn, { lam0: 0 })],
    ['egn', 'error', () => egn(objective, { lam0: 0 })],
    ['sgn', 'finite', () => sgn(objective, { lam0: 0, maxIterations: 10 })],
    ['newtonCg', 'finite', () => newtonCg(lossFn, { lam0: 0, maxIterations: 10 })],
  ] as const)('%s with λ = 0: %s, never NaN', (_name, behaviour, make) => {
    const tx = make();
    const start = params();
    const before = flat(start);
    let out: any;
    try {
      out = makeStep(tx, lossFn)(start, tx.init(start), { x, y });
    } catch (e) {
      expect(behaviour).toBe('error');
      expect(String(e)).toMatch(/InputError: .*(singular|not positive definite)/);
      expect(flat(start)).toEqual(before);
      tree.dispose(start);
      return;
    }
    expect(behaviour).toBe('finite');
    const after = flat(out.params);
    expect(after.every(Number.isFinite)).toBe(true);
    if (out.info.skipped) expect(after).toEqual(Array.from(before));
    tree.dispose([out.params, out.state, out.loss] as any);
  });
});

describe('registry', () => {
  test('lists, describes and builds methods; unknown names and missing models are clear errors', () => {
    expect(somax.listMethods()).toEqual(
      expect.arrayContaining(['adahessian', 'sophiaH', 'sophiaG', 'newtonCg', 'newtonDirect', 'sgn', 'egn', 'ggnDirect', 'lbfgs']),
    );
    expect(somax.describe('egn')).toMatch(/^egn: curvature: GGN · solver: row-space Cholesky/);
    expect(() => somax.make('adam2' as somax.MethodName, { lossFn: () => tf.scalar(0) })).toThrow(
      /unknown method 'adam2'; known methods: adahessian, sophiaH/,
    );
    expect(() => somax.describe('nope')).toThrow(HyperparameterError);
    expect(() => somax.make('egn', { lossFn: () => tf.scalar(0) } as any)).toThrow(/method 'egn' needs `objective`/);
    const p = lsq();
    const out = oneStep(somax.make('egn', { objective: p.objective, lam0: 1e-10 }), p.lossFn, p.params(), { x: p.x, y: p.y });
    const resid = tree.readValues(() => tf.sub(p.objective.predict(out.params, p.x), p.y));
    expect(Math.max(...Array.from(resid).map(Math.abs))).toBeLessThan(1e-4);
    tree.dispose([p.x, p.y, out.params, out.state, out.loss] as any);
  });
});
