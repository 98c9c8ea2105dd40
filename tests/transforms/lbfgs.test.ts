import * as tf from '@tensorflow/tfjs-core';
import { chain, lbfgsTwoLoop, makeStep, scale, scaleByBacktrackingLinesearch, scaleByLbfgs, tree } from '../../index';
import * as linalg from '../../lib/linalg';
import { matVec, quadratic, rand, randomSpd, relErr } from '../helpers/mlp64';

const flat = (t: any) => Float64Array.from(tree.readValues(() => tree.ravel(t).vector));

describe('L-BFGS', () => {
  test('the two-loop recursion equals the dense BFGS inverse-Hessian update in float64', () => {
    const n = 7;
    const k = 5;
    const ss = Array.from({ length: k }, (_, i) => rand(n, 10 + i));
    // yᵢ = A sᵢ for an SPD A, so sᵢᵀyᵢ > 0.
    const m = rand(n * n, 3);
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < n; q++) s += m[q * n + i] * m[q * n + j];
        A[i * n + j] = s + (i === j ? 0.3 : 0);
      }
    const ys = ss.map((s) => matVec(A, s, n, n));
    const rhos = ss.map((s, i) => 1 / s.reduce((a, v, j) => a + v * ys[i][j], 0));
    const gamma = 0.37;
    // Dense: H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ, from H₀ = γ I, oldest pair first.
    let H = new Float64Array(n * n);
    for (let i = 0; i < n; i++) H[i * n + i] = gamma;
    for (let p = 0; p < k; p++) {
      const s = ss[p];
      const y = ys[p];
      const r = rhos[p];
      const V = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) V[i * n + j] = (i === j ? 1 : 0) - r * y[i] * s[j];
      const HV = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let t = 0;
          for (let q = 0; q < n; q++) t += H[i * n + q] * V[q * n + j];
          HV[i * n + j] = t;
        }
      const next = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let t = 0;
          for (let q = 0; q < n; q++) t += V[q * n + i] * HV[q * n + j];
          next[i * n + j] = t + r * s[i] * s[j];
        }
      H = next;
    }
    const g = rand(n, 99);
    const toTree = (v: Float64Array) => ({
      a: tf.tensor1d(Array.from(v.subarray(0, 3))),
      b: tf.tensor2d(Array.from(v.subarray(3)), [2, 2]),
    });
    const hist = { s: ss.map(toTree), y: ys.map(toTree), rho: rhos };
    const gt = toTree(g);
    const hg = lbfgsTwoLoop(gt, hist, { gamma });
    expect(relErr(flat(hg), matVec(H, g, n, n))).toBeLessThan(1e-5);
    tree.dispose([hist.s, hist.y, gt, hg] as any);
  });

  test('scaleByLbfgs with a backtracking line search reaches the minimizer of an ill-conditioned quadratic (8-D) within 30 steps', () => {
    const n = 8;
    const A = randomSpd(n, 5, 0.1);
    const b64 = rand(n, 6);
    const { lossFn: quad, dispose } = quadratic(A, b64);
    const tx = chain(scaleByLbfgs(), scale(-1), scaleByBacktrackingLinesearch(quad, { maxLearningRate: 1 }));
    const step = makeStep(tx, quad);
    let params: any = { x: tf.zeros([n]) };
    let state = tx.init(params);
    for (let i = 0; i < 30; i++) {
      const out = step(params, state, null);
      out.loss.dispose();
      params = out.params;
      state = out.state;
    }
    expect(relErr(flat(params), linalg.solveSymmetric(A, b64, n))).toBeLessThan(1e-3);
    tree.dispose([params, state] as any);
    dispose();
  });
});
