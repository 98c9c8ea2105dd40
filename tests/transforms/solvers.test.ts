import * as tf from '@tensorflow/tfjs-core';
import {
  cgSolver,
  conjugateGradient,
  fisherWoodburySolver,
  constantDamping,
  denseGgn,
  denseSolve,
  directSolver,
  hessianCurvature,
  makeStep,
  mlpObjective,
  objectiveLoss,
  rowSpaceSolver,
  scale,
  scaleBySecondOrder,
  tree,
  trustRegionDamping,
  kirosDamping,
  valueAndGrad,
  HyperparameterError,
} from '../../index';
import { ggnRowsReads, rowSpaceCgSolve, rowSpaceCholeskySolve, rowSpaceDirection } from '../../transforms/solvers/woodbury';
import { runSync } from '../../lib/reads';
import { predictedDecrease } from '../../transforms/damping';
import * as linalg from '../../lib/linalg';
import * as ref from '../helpers/mlp64';

const flat = (t: any) => Float64Array.from(tree.readValues(() => tree.ravel(t).vector));

/** A random SPD matrix A = MᵀM + δI (n×n) and a tree-structured operator for it. */
function spd(n: number, seed: number, shift = 0.5) {
  const m = ref.rand(n * n, seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += m[k * n + i] * m[k * n + j];
      a[i * n + j] = s + (i === j ? shift : 0);
    }
  return a;
}
function operatorOf(a: Float64Array, n: number, like: any) {
  const at = tf.tensor2d(Array.from(a), [n, n]);
  const { def } = tree.flatten(like);
  const matvec = (v: any) => tree.tidy(() => tree.unravel(def, tf.reshape(tf.matMul(at, tf.reshape(tree.ravel(v).vector, [n, 1])), [n])));
  return { matvec, dispose: () => at.dispose() };
}
const like20 = () => ({ a: tf.zeros([4, 3]), b: [tf.zeros([5]), tf.zeros([3])] });

describe('conjugate gradient on trees', () => {
  test('equals the dense solve on an SPD system; warm start from the solution takes 0 iterations; leak-free', () => {
    const n = 20;
    const a = spd(n, 3);
    const like = like20();
    const op = operatorOf(a, n, like);
    const b64 = ref.rand(n, 4);
    const b = tree.unravel(tree.flatten(like).def, tf.tensor1d(Array.from(b64)));
    const exact = linalg.solveSymmetric(a, b64, n);
    const res = conjugateGradient(op.matvec, b, { maxIterations: 200, tol: 1e-7 });
    expect(res.converged).toBe(true);
    expect(ref.relErr(flat(res.x), exact)).toBeLessThan(1e-4);
    const warm = conjugateGradient(op.matvec, b, { x0: res.x, tol: 1e-3 });
    expect(warm.iterations).toBe(0);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 200; i++) tree.dispose(conjugateGradient(op.matvec, b, { maxIterations: 5 }).x);
    expect(tf.memory().numTensors).toBe(before);
    tree.dispose([like, b, res.x, warm.x] as any);
    op.dispose();
  });

  test('a diagonal preconditioner cuts the iterations on a badly scaled system', () => {
    const n = 20;
    const a = spd(n, 5, 0.1);
    const scales = Float64Array.from({ length: n }, (_, i) => 10 ** ((i % 5) - 1));
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] *= Math.sqrt(scales[i] * scales[j]);
    for (let i = 0; i < n; i++) a[i * n + i] += 5 * scales[i];
    const like = like20();
    const op = operatorOf(a, n, like);
    const b = tree.unravel(tree.flatten(like).def, tf.tensor1d(Array.from(ref.rand(n, 8))));
    const diag = tree.unravel(tree.flatten(like).def, tf.tensor1d(Array.from({ length: n }, (_, i) => a[i * n + i])));
    const plain = conjugateGradient(op.matvec, b, { maxIterations: 500, tol: 1e-6 });
    const pre = conjugateGradient(op.matvec, b, {
      maxIterations: 500,
      tol: 1e-6,
      preconditioner: (r) => tree.map((x: tf.Tensor, d: tf.Tensor) => tf.div(x, d), r, diag),
    });
    expect(pre.converged).toBe(true);
    expect(pre.iterations).toBeLessThan(plain.iterations);
    expect(ref.relErr(flat(pre.x), linalg.solveSymmetric(a, flat(b), n))).toBeLessThan(1e-4);
    tree.dispose([like, b, diag, plain.x, pre.x] as any);
    op.dispose();
  });

  test('an indefinite operator: the iterate of least residual is kept, never a huge step along barely positive curvature', () => {
    // A = diag(1, 1e-3, −1), b = 1: the first step has pᵀAp = 1e-3, so x₁ = 3000·b (residual 2450‖b‖);
    // the next direction has negative curvature. No iterate beats x = 0, so CG returns b.
    const d = tf.tensor1d([1, 1e-3, -1]);
    const b = tf.ones([3]);
    const res = conjugateGradient((v: any) => tf.mul(d, v), b, { maxIterations: 10 });
    expect(res.negativeCurvature).toBe(true);
    expect(Array.from(flat(res.x))).toEqual([1, 1, 1]);
    // A = diag(1.4, 1.7, −0.6), b = (1, 0.5, 0.1): the relative residuals are 0.151, then 2.618, then
    // negative curvature: the first iterate is returned, not the last.
    const d2 = tf.tensor1d([1.4, 1.7, -0.6]);
    const b2 = tf.tensor1d([1, 0.5, 0.1]);
    const res2 = conjugateGradient((v: any) => tf.mul(d2, v), b2, { maxIterations: 10 });
    const x2 = flat(res2.x);
    const resid = Math.hypot(1 - 1.4 * x2[0], 0.5 - 1.7 * x2[1], 0.1 + 0.6 * x2[2]) / Math.hypot(1, 0.5, 0.1);
    expect(res2.negativeCurvature).toBe(true);
    expect(res2.iterations).toBe(2);
    expect(resid).toBeCloseTo(0.151, 3);
    expect(res2.relativeResidual).toBeCloseTo(resid, 4);
    tf.dispose([d, b, d2, b2]);
    tree.dispose([res.x, res2.x]);
  });

  test('an indefinite operator neither diverges nor returns NaN, and reports negative curvature', () => {
    const d = tf.tensor1d([1, -1, 2, -3, 0.5]);
    const b = tf.tensor1d([1, 1, 1, 1, 1]);
    const res = conjugateGradient((v: any) => tf.mul(d, v), b, { maxIterations: 50 });
    const x = flat(res.x);
    expect(x.every(Number.isFinite)).toBe(true);
    expect(res.negativeCurvature).toBe(true);
    expect(Math.max(...x.map(Math.abs))).toBeLessThan(10);
    const zero = conjugateGradient((v: any) => tf.mul(d, v), tf.zeros([5]), { x0: b });
    expect(Array.from(flat(zero.x))).toEqual([0, 0, 0, 0, 0]); // b = 0: the solution is 0, whatever the warm start
    tree.dispose(zero.x);
    const first = conjugateGradient((v: any) => tf.neg(v), b, {});
    expect(Array.from(flat(first.x))).toEqual([1, 1, 1, 1, 1]); // no iterate yet: the gradient itself
    tf.dispose([d, b]);
    tree.dispose([res.x, first.x]);
  });
});

describe('solver options', () => {
  test('are resolved against their defaults: unknown keys (the old maxiter, method) are refused with the new name', () => {
    const objective = { predict: (p: any, xs: tf.Tensor) => tf.matMul(xs as tf.Tensor2D, p.w), loss: 'meanSquaredError' as const };
    expect(() => cgSolver({ maxiter: 5 } as any)).toThrow("unknown option 'maxiter' for cgSolver; did you mean 'maxIterations'?");
    const zeros = tf.zeros([2]);
    expect(() => conjugateGradient((v) => v, zeros, { maxiter: 5 } as any)).toThrow(/unknown option 'maxiter' for conjugateGradient/);
    zeros.dispose();
    expect(() => rowSpaceSolver(objective, { method: 'cg' } as any)).toThrow(/unknown option 'method' for rowSpaceSolver/);
    expect(() => fisherWoodburySolver(objective, { eps: 1 } as any)).toThrow(/unknown option 'eps' for woodburySolver/);
    expect(() => rowSpaceSolver(objective, { rowSolver: 'lu' } as any)).toThrow(/rowSolver must be 'cholesky' or 'cg'/);
    expect(() => cgSolver({ stabiliseEvery: -1 })).toThrow(HyperparameterError);
    expect(() => rowSpaceCgSolve(new Float64Array(1), [1], 1, 1, { maxiter: 3 } as any)).toThrow(/did you mean 'maxIterations'/);
  });

  test('stabiliseEvery: 0 never recomputes the residual (one operator product per iteration) and solves alike', () => {
    const n = 20;
    const a = spd(n, 3);
    const like = like20();
    const op = operatorOf(a, n, like);
    let products = 0;
    const counted = (v: any) => {
      products += 1;
      return op.matvec(v);
    };
    const b = tree.unravel(tree.flatten(like).def, tf.tensor1d(Array.from(ref.rand(n, 4))));
    const off = conjugateGradient(counted, b, { maxIterations: 30, tol: 1e-12, stabiliseEvery: 0 });
    expect(products).toBe(off.iterations);
    products = 0;
    const on = conjugateGradient(counted, b, { maxIterations: 30, tol: 1e-12, stabiliseEvery: 10 });
    expect(products).toBe(on.iterations + Math.floor(on.iterations / 10));
    expect(ref.relErr(flat(off.x), linalg.solveSymmetric(a, flat(b), n))).toBeLessThan(1e-4);
    tree.dispose([like, b, off.x, on.x] as any);
    op.dispose();
  });
});

describe('row-space and direct solves', () => {
  test('row Cholesky and row CG solve (G + μI)u = r to 1e-10; λ → 0 interpolates an under-determined least squares', () => {
    const m = 4;
    const p = 10;
    const A = ref.rand(m * p, 12);
    const gram = new Float64Array(m * m);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let k = 0; k < p; k++) s += A[i * p + k] * A[j * p + k];
        gram[i * m + j] = s;
      }
    const r = ref.rand(m, 13);
    for (const u of [rowSpaceCholeskySolve(gram, r, m, 0.3), rowSpaceCgSolve(gram, r, m, 0.3)]) {
      const res = ref.matVec(gram, u, m, m).map((v, i) => v + 0.3 * u[i] - r[i]);
      expect(Math.max(...res.map(Math.abs))).toBeLessThan(1e-10);
    }
    const u = rowSpaceCholeskySolve(gram, r, m, 1e-10);
    const s = new Float64Array(p);
    for (let i = 0; i < m; i++) for (let k = 0; k < p; k++) s[k] += A[i * p + k] * u[i];
    const as = ref.matVec(A, s, m, p);
    expect(Math.max(...as.map((v, i) => Math.abs(v - r[i])))).toBeLessThan(1e-4);
  });

  test('denseSolve equals the exact inverse on an SPD operator, with damping', () => {
    const n = 6;
    const a = spd(n, 21);
    const like = tf.zeros([n]);
    const op = operatorOf(a, n, like);
    const b64 = ref.rand(n, 22);
    const x = denseSolve(op.matvec, tf.tensor1d(Array.from(b64)), { damping: 0.7 });
    for (let i = 0; i < n; i++) a[i * n + i] += 0.7;
    expect(ref.relErr(flat(x), linalg.solveSymmetric(a, b64, n))).toBeLessThan(1e-5);
    tree.dispose([like, x] as any);
    op.dispose();
  });

  test.each(['softmaxCrossEntropy', 'meanSquaredError'] as const)(
    'row-space direction equals the dense (G + λI)⁻¹ g on a small MLP (%s)',
    (lossName) => {
      const prob = ref.makeProblem('tanh', lossName);
      const objective = { predict: prob.predict, loss: lossName };
      const params = prob.params();
      const batch = prob.batch();
      const p = ref.numParams(prob.m);
      const lam = 0.5;
      const G = denseGgn(objective, params, batch);
      for (let i = 0; i < p; i++) G[i * p + i] += lam;
      const { value, grads } = valueAndGrad(objectiveLoss(objective))(params, batch);
      const want = linalg.solveSymmetric(G, flat(grads), p);
      for (const method of ['cholesky', 'cg'] as const) {
        const s = rowSpaceDirection(objective, params, batch, lam, { rowSolver: method });
        expect(ref.relErr(flat(s), want)).toBeLessThan(1e-4);
        const sg = rowSpaceDirection(objective, params, batch, lam, { rowSolver: method, grads });
        expect(ref.relErr(flat(sg), want)).toBeLessThan(1e-4);
        tree.dispose([s, sg]);
      }
      tree.dispose([params, batch, value, grads] as any);
    },
  );
  test.each(['softmaxCrossEntropy', 'meanSquaredError'] as const)(
    'with a rowGram hook (the factors folded into the cotangents), the row-space direction equals the dense (G + λI)⁻¹ g (%s)',
    (lossName) => {
      // mlpObjective: implicit rows Lᵢᵀ J from cotangents Lᵢ[:, k], r̃ = L⁻¹ r on the device; reference in float64.
      const objective = mlpObjective({ activation: 'tanh', loss: lossName });
      const [b, d, c] = [6, 4, 3];
      const params = tree.tidy(() => tree.map((t: tf.Tensor) => tf.add(t, 0.05), objective.init([d, 5, c], 11)));
      const x = tf.tensor2d(Float32Array.from(ref.rand(b * d, 31)), [b, d]);
      const labels = tf.tensor1d(
        Array.from({ length: b }, (_, i) => (i * 2) % c),
        'int32',
      );
      const y =
        lossName === 'softmaxCrossEntropy' ? tf.oneHot(labels, c).toFloat() : tf.tensor2d(Float32Array.from(ref.rand(b * c, 32)), [b, c]);
      const batch = { x, y };
      const p = tree.ravel(params).vector.size;
      const { value, grads } = valueAndGrad(objectiveLoss(objective))(params, batch);
      const other = tree.randomNormalLike(params, 5);
      for (const lam of [0.05, 2]) {
        const g = denseGgn(objective, params, batch);
        for (let i = 0; i < p; i++) g[i * p + i] += lam;
        const want = linalg.solveSymmetric(g, flat(grads), p);
        const wantOther = linalg.solveSymmetric(g, flat(other), p);
        for (const rowSolver of ['cholesky', 'cg'] as const) {
          const s = rowSpaceDirection(objective, params, batch, lam, { rowSolver });
          const sg = rowSpaceDirection(objective, params, batch, lam, { rowSolver, grads: other });
          expect(ref.relErr(flat(s), want)).toBeLessThan(1e-4);
          expect(ref.relErr(flat(sg), wantOther)).toBeLessThan(1e-4);
          tree.dispose([s, sg]);
        }
      }
      tree.dispose([params, x, y, labels, value, grads, other] as any);
    },
  );
});

describe('the rows of the GGN (EGN)', () => {
  test.each([
    ['softmaxCrossEntropy', 'implicit', 2],
    ['softmaxCrossEntropy', 'materialized', 2],
    ['meanSquaredError', 'implicit', 3],
    ['softmaxCrossEntropy', 'implicit (saturated logits)', 2],
  ] as const)(
    '%s, %s rows: C − 1 rows per sample for the shift-invariant softmax (else C); R̃ᵀR̃ v / B = G v and R̃ᵀr̃ / B = g (dense float64)',
    (lossName, kind, rowsPerSample) => {
      const hooked = mlpObjective({ activation: 'tanh', loss: lossName });
      const objective = kind === 'materialized' ? { predict: hooked.predict, loss: lossName } : hooked;
      const [b, d, c] = [5, 4, 3];
      const spread = kind.includes('saturated') ? 8 : 0.05;
      const params = tree.tidy(() => tree.map((t: tf.Tensor) => tf.mul(tf.add(t, 0.05), spread / 0.05), hooked.init([d, 5, c], 12)));
      const x = tf.tensor2d(Float32Array.from(ref.rand(b * d, 41)), [b, d]);
      const labels = tf.tensor1d(
        Array.from({ length: b }, (_, i) => (i * 2) % c),
        'int32',
      );
      const y =
        lossName === 'softmaxCrossEntropy' ? tf.oneHot(labels, c).toFloat() : tf.tensor2d(Float32Array.from(ref.rand(b * c, 42)), [b, c]);
      const batch = { x, y };
      const p = tree.ravel(params).vector.size;
      const w = runSync(ggnRowsReads(objective, params, batch, 1e-6, true));
      expect(w.rows.rowsPerSample).toBe(rowsPerSample);
      const v = tree.randomNormalLike(params, 9);
      const g = denseGgn(objective, params, batch);
      const want = Array.from({ length: p }, (_, i) => flat(v).reduce((acc, vj, j) => acc + g[i * p + j] * vj, 0));
      const rv = w.rows.times(v);
      const got = tree.scale(w.rows.transposeTimes(rv), 1 / b);
      const scale = Math.max(...want.map(Math.abs));
      flat(got).forEach((gi, i) => expect(Math.abs(gi - want[i])).toBeLessThan(1e-4 * scale + 1e-5)); // + the jitter ε = 1e-6 on the range
      const { value, grads } = valueAndGrad(objectiveLoss(objective))(params, batch);
      const fromResidual = tree.scale(w.rows.transposeTimes(w.residual as tf.Tensor1D), 1 / b);
      const gFlat = flat(grads);
      const gScale = Math.max(...gFlat.map(Math.abs));
      flat(fromResidual).forEach((gi, i) => expect(Math.abs(gi - gFlat[i])).toBeLessThan(1e-4 * gScale));
      expect(flat(fromResidual).every(Number.isFinite)).toBe(true);
      w.dispose();
      tree.dispose([params, x, y, labels, v, rv, got, value, grads, fromResidual] as any);
    },
  );
});

describe('damping', () => {
  test('trust region follows the rule on a scripted sequence of ratios', () => {
    const d = trustRegionDamping({ lam0: 1, everyK: 1, minLam: 0.3, maxLam: 3 });
    let s = d.init();
    const lams: number[] = [];
    for (const [actual, predicted] of [
      [0.1, 1],
      [0.9, 1],
      [0.5, 1],
      [1, 0],
      [NaN, 1],
      [0, 1],
      [0, 1],
      [0, 1],
      [0, 1],
      [10, 1],
      [10, 1],
      [10, 1],
      [10, 1],
    ]) {
      const out = d.update(s, { actualDecrease: actual, predictedDecrease: predicted });
      s = out.state;
      lams.push(+s.lam.toFixed(6));
    }
    expect(lams).toEqual([1.5, 0.75, 0.75, 0.75, 0.75, 1.125, 1.6875, 2.53125, 3, 1.5, 0.75, 0.375, 0.3]);
    const every2 = trustRegionDamping({ everyK: 2 });
    let t = every2.init();
    const seen = [0.1, 0.1, 0.1].map(() => {
      const o = every2.update(t, { actualDecrease: 0.1, predictedDecrease: 1 });
      t = o.state;
      return [o.valid, t.lam];
    });
    expect(seen).toEqual([
      [true, 1.5],
      [false, 1.5],
      [true, 2.25],
    ]);
    const k = kirosDamping();
    expect(k.update(k.init(), { actualDecrease: 0, predictedDecrease: 1 }).state.lam).toBeCloseTo(1.01, 12);
    expect(predictedDecrease(-4, 2, 2)).toBe(2);
    expect(() => trustRegionDamping({ lower: 0.8, upper: 0.2 })).toThrow(HyperparameterError);
    expect(constantDamping(2).update(constantDamping(2).init(), { actualDecrease: 1, predictedDecrease: 1 }).state.lam).toBe(2);
  });
});

describe('scaleBySecondOrder', () => {
  // A strictly convex quadratic L(θ) = ½ θᵀAθ − bᵀθ over a tree; its minimizer is A⁻¹b.
  const n = 6;
  const A = spd(n, 31);
  const b64 = ref.rand(n, 32);
  const At = tf.tensor2d(Array.from(A), [n, n]);
  const bt = tf.tensor1d(Array.from(b64));
  const quad = (p: any) =>
    tf.tidy(() => {
      const th = tf.concat([p.u, p.v]);
      return tf.sub(
        tf.mul(0.5, tf.sum(tf.mul(th, tf.reshape(tf.matMul(At, tf.reshape(th, [n, 1])), [n])))),
        tf.sum(tf.mul(bt, th)),
      ) as tf.Scalar;
    });
  const start = () => ({ u: tf.tensor1d([1, -1, 0.5]), v: tf.tensor1d([0, 2, -0.5]) });

  test.each([
    ['direct', () => directSolver()],
    ['CG', () => cgSolver({ maxIterations: 50, tol: 1e-8 })],
  ])('Newton with the %s solver and λ → 0, learning rate 1, solves the quadratic in one step', (_n, make) => {
    const tx = scaleBySecondOrder({ curvature: hessianCurvature(quad), solver: make(), damping: constantDamping(1e-9), tx: scale(-1) });
    const step = makeStep(tx, quad);
    const out = step(start(), tx.init(start()), null);
    expect(ref.relErr(flat(out.params), linalg.solveSymmetric(A, b64, n))).toBeLessThan(1e-4);
    tree.dispose([out.params, out.state, out.loss] as any);
  });

  test('cgSolver (CG on raveled vectors) equals tree CG with a user preconditioner, and its warm start solves the quadratic', () => {
    const params = start();
    const { grads } = valueAndGrad(quad)(params, null);
    const op = hessianCurvature(quad)(params, null);
    const lam = 0.3;
    const diag = Float64Array.from({ length: n }, (_, i) => A[i * n + i] + lam);
    const split = (xs: Float64Array) => ({ u: tf.tensor1d(Array.from(xs.slice(0, 3))), v: tf.tensor1d(Array.from(xs.slice(3))) });
    const d = split(diag);
    const preconditioner = (r: any) => tree.map((x: tf.Tensor, di: tf.Tensor) => tf.div(x, di), r, d);
    const solver = cgSolver({ maxIterations: 3, tol: 1e-10, preconditioner });
    const problem = { params, grads, batch: null, key: 0, op, lam, gradsAreBatchGradient: true };
    const initial = solver.init(params);
    const before = tf.memory().numTensors;
    const first = solver.solve(problem, initial);
    const reference = conjugateGradient((v) => tree.tidy(() => tree.axpy(lam, v, op.matvec(v))), grads, {
      maxIterations: 3,
      tol: 1e-10,
      preconditioner,
    });
    expect(ref.relErr(flat(first.direction), flat(reference.x))).toBeLessThan(1e-5);
    expect(first.info.cgIterations).toBe(3);
    // Warm-started from the first direction, three more iterations get closer to (A + λI)⁻¹ g.
    const second = solver.solve(problem, first.state);
    const exact = linalg.solveSymmetric(
      A.map((a, i) => (i % (n + 1) === 0 ? a + lam : a)),
      flat(grads),
      n,
    );
    const [err1, err2] = [first, second].map((r) => ref.relErr(flat(r.direction), exact));
    expect(err1).toBeGreaterThan(1e-3);
    expect(err2).toBeLessThan(err1 / 3);
    tree.dispose([first.direction, first.state, second.direction, second.state, reference.x] as any);
    expect(tf.memory().numTensors).toBe(before);
    op.dispose();
    tree.dispose([params, grads, d, initial] as any);
  });

  test('trust-region damping moves λ from the gain ratio and reports it; leak-free over 50 steps', () => {
    const tx = scaleBySecondOrder({
      curvature: hessianCurvature(quad),
      solver: cgSolver(),
      damping: trustRegionDamping({ lam0: 10 }),
      tx: scale(-1),
      lossFn: quad,
    });
    const step = makeStep(tx, quad);
    let params: any = start();
    let state = tx.init(params);
    const out0 = step(params, state, null);
    // On an exact quadratic the model (with its ½λ‖δ‖² term) underestimates the decrease: ρ > 0.75, λ halves.
    expect(out0.info.rho).toBeGreaterThan(1);
    expect(out0.info.rhoValid).toBe(true);
    expect(out0.info.lamNext).toBeCloseTo(5, 10);
    params = out0.params;
    state = out0.state;
    out0.loss.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) {
      const out = step(params, state, null);
      out.loss.dispose();
      params = out.params;
      state = out.state;
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(ref.relErr(flat(params), linalg.solveSymmetric(A, b64, n))).toBeLessThan(1e-3);
    tree.dispose([params, state] as any);
  });

  test('EGN-style row-space step with λ → 0 interpolates an under-determined linear least-squares batch', () => {
    // f(x) = x W (4 samples, 10 features → 1 output), MSE; one step with lr 1 fits the batch exactly.
    const x = tf.tensor2d(Array.from(ref.rand(40, 41)), [4, 10]);
    const y = tf.tensor2d(Array.from(ref.rand(4, 42)), [4, 1]);
    const objective = { predict: (p: any, xs: tf.Tensor) => tf.matMul(xs as tf.Tensor2D, p.w), loss: 'meanSquaredError' as const };
    const lossFn = objectiveLoss(objective);
    const tx = scaleBySecondOrder({ solver: rowSpaceSolver(objective), damping: constantDamping(1e-10), tx: scale(-1) });
    const step = makeStep(tx, lossFn);
    const out = step({ w: tf.zeros([10, 1]) }, tx.init({ w: tf.zeros([10, 1]) }), { x, y });
    const resid = tree.readValues(() => tf.sub(objective.predict(out.params, x), y));
    expect(Math.max(...Array.from(resid).map(Math.abs))).toBeLessThan(1e-4);
    tree.dispose([x, y, out.params, out.state, out.loss] as any);
  });
});
