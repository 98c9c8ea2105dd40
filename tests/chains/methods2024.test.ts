import * as tf from '@tensorflow/tfjs-core';
import { ignd, linalg, makeStep, memoryOrder, objectiveLoss, sgdArmijo, sqn, swmng, tree } from '../../index';
import type { GradientTransformation, Tree } from '../../index';
import * as ref from '../helpers/mlp64';

const flat = (t: any) => Float64Array.from(tree.readValues(() => tree.ravel(t).vector));
function oneStep(tx: GradientTransformation<any>, lossFn: any, params: Tree, batch: unknown) {
  return makeStep(tx, lossFn)(params, tx.init(params), batch);
}

describe('somax 2024 methods against exact math', () => {
  test('swmng steps by −lr (F + λI)⁻¹ g with the dense empirical Fisher', () => {
    const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy');
    const objective = { predict: prob.predict, loss: 'softmaxCrossEntropy' as const };
    const lossFn = objectiveLoss(objective);
    const p = ref.numParams(prob.m);
    const F = new Float64Array(p * p);
    for (let i = 0; i < prob.m.b; i++) {
      const mi = { ...prob.m, b: 1, x: prob.m.x.slice(i * prob.m.d, (i + 1) * prob.m.d), y: prob.m.y.slice(i * prob.m.c, (i + 1) * prob.m.c) };
      const g = ref.grad(mi, prob.theta);
      for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) F[a * p + b] += (g[a] * g[b]) / prob.m.b;
    }
    for (let i = 0; i < p; i++) F[i * p + i] += 0.4;
    const want = linalg.solveSymmetric(F, ref.grad(prob.m, prob.theta), p);
    const out = oneStep(swmng(objective, { lam0: 0.4, learningRate: 0.5 }), lossFn, prob.params(), prob.batch());
    const step = flat(out.params).map((v, i) => (prob.theta[i] - v) / 0.5);
    expect(ref.relErr(step, want)).toBeLessThan(1e-4);
    tree.dispose([out.params, out.state, out.loss] as any);
  });

  test('ignd steps by −lr · mean over samples of Jᵢ rᵢ / ‖Jᵢ‖² on a linear regression', () => {
    const xs = ref.rand(12, 71); const ys = ref.rand(4, 72); const w = ref.rand(3, 73);
    const x = tf.tensor2d(Array.from(xs), [4, 3]);
    const y = tf.tensor2d(Array.from(ys), [4, 1]);
    const objective = { predict: (p: any, xx: tf.Tensor) => tf.matMul(xx as tf.Tensor2D, p.w), loss: 'meanSquaredError' as const };
    const out = oneStep(ignd(objective, { learningRate: 0.1 }), objectiveLoss(objective), { w: tf.tensor2d(Array.from(w), [3, 1]) }, { x, y });
    const s = new Float64Array(3);
    for (let i = 0; i < 4; i++) {
      const xi = xs.subarray(i * 3, i * 3 + 3);
      const r = xi.reduce((a, v, k) => a + v * w[k], 0) - ys[i];
      const nn = xi.reduce((a, v) => a + v * v, 0);
      for (let k = 0; k < 3; k++) s[k] += (xi[k] * r) / nn / 4;
    }
    expect(ref.relErr(flat(out.params), w.map((v, k) => v - 0.1 * s[k]))).toBeLessThan(1e-5);
    expect(() => ignd({ predict: objective.predict, loss: 'softmaxCrossEntropy' })).toThrow(/IGND supports the 'meanSquaredError' loss/);
    tree.dispose([x, y, out.params, out.state, out.loss] as any);
  });

  test('sqn stores exact secant pairs (y = A s) and minimizes a convex quadratic', () => {
    const n = 6;
    const A = ref.randomSpd(n, 81);
    const b = ref.rand(n, 82);
    const { lossFn: quad, dispose } = ref.quadratic(A, b);
    const tx = sqn(quad, { learningRate: 1, lineSearch: true });
    const step = makeStep(tx, quad);
    let params: any = { x: tf.zeros([n]) };
    let state = tx.init(params);
    for (let i = 0; i < 60; i++) {
      const out = step(params, state, null);
      out.loss.dispose();
      params = out.params; state = out.state;
      if (i === 4) {
        // An early pair (large s, so float32 differences are accurate): y = A s.
        const mem = (state as any).memory;
        const order = memoryOrder(mem);
        const slot = order[order.length - 1];
        expect(ref.relErr(flat(mem.y[slot]), ref.matVec(A, flat(mem.s[slot]), n, n))).toBeLessThan(1e-4);
      }
    }
    expect(ref.relErr(flat(params), linalg.solveSymmetric(A, b, n))).toBeLessThan(1e-3);
    tree.dispose([params, state] as any);
    dispose();
  });
});

describe('somax 2024 methods: tensors flat over 200 steps, loss falls', () => {
  const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy', { d: 3, h: 4, c: 3, b: 6 });
  const objective = { predict: prob.predict, loss: 'softmaxCrossEntropy' as const };
  const lossFn = objectiveLoss(objective);
  const reg = ref.makeProblem('tanh', 'meanSquaredError', { d: 3, h: 4, c: 1, b: 6 });
  const regObjective = { predict: reg.predict, loss: 'meanSquaredError' as const };
  test.each([
    ['sqn', () => sqn(lossFn, { learningRate: 0.2 }), lossFn, prob],
    ['sqn + Armijo', () => sqn(lossFn, { learningRate: 1, lineSearch: true }), lossFn, prob],
    ['swmng (adaptive λ, momentum)', () => swmng(objective, { lam0: 0.1, adaptiveLambda: true, learningRate: 0.5, directionMomentum: 0.5 }), lossFn, prob],
    ['sgdArmijo', () => sgdArmijo(lossFn, { learningRate: 2 }), lossFn, prob],
    ['ignd (moments)', () => ignd(regObjective, { learningRate: 0.05, beta1: 0.9, beta2: 0.99 }), objectiveLoss(regObjective), reg],
  ] as const)('%s', (_name, make, loss, pr) => {
    const tx = make();
    const step = makeStep(tx, loss as any);
    const batch = pr.batch();
    let params = pr.params() as Tree;
    let state = tx.init(params);
    const first = tree.readScalar(() => (loss as any)(params, batch));
    let reference = 0;
    for (let i = 0; i < 200; i++) {
      const out = step(params, state, batch, { key: i });
      out.loss.dispose();
      params = out.params; state = out.state;
      if (i === 1) reference = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(reference);
    expect(tree.readScalar(() => (loss as any)(params, batch))).toBeLessThan(0.7 * first);
    tree.dispose([params, state, batch] as any);
  });
});

