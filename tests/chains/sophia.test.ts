import * as tf from '@tensorflow/tfjs-core';
import {
  exactDiagEstimator,
  gaussNewtonBartlettDiag,
  makeStep,
  objectiveLoss,
  sophiaH,
  tree,
  chain,
  scaleByDiagonalCurvature,
  clip,
  addDecayedWeights,
  scaleByLearningRate,
} from '../../index';
import * as ref from '../helpers/mlp64';

const flat = (t: any) => Float64Array.from(tree.readValues(() => tree.ravel(t).vector));

describe('Sophia', () => {
  test('three steps match a hand computation: refresh every k, EMA with bias correction, element-wise clip, decay, −lr', () => {
    // L(θ) = ½ Σ aᵢ θᵢ² + cᵀθ: gradient a ⊙ θ + c, exact Hessian diagonal a.
    const a = [4, 0.5, 2, 8];
    const c = [0.3, -0.2, 0.1, 0];
    const loss = (p: any) =>
      tf.tidy(() => tf.add(tf.mul(0.5, tf.sum(tf.mul(tf.tensor1d(a), tf.square(p.w)))), tf.sum(tf.mul(tf.tensor1d(c), p.w))) as tf.Scalar);
    const [b1, b2, gamma, eps, lr, wd, k] = [0.965, 0.99, 0.5, 1e-8, 0.1, 0.2, 2];
    const tx = chain(
      scaleByDiagonalCurvature(exactDiagEstimator(loss), { mode: 'sophia', b1: b1, b2: b2, gamma, eps, evalEveryK: k }),
      clip(1),
      addDecayedWeights(wd),
      scaleByLearningRate(lr),
    );
    const step = makeStep(tx, loss);
    let params: any = { w: tf.tensor1d([1, -2, 0.5, 0.05]) };
    let state = tx.init(params);
    // Hand computation in float64.
    let th = [1, -2, 0.5, 0.05];
    let m = [0, 0, 0, 0];
    let v = [0, 0, 0, 0];
    let refreshes = 0;
    for (let t = 0; t < 3; t++) {
      const g = th.map((x, i) => a[i] * x + c[i]);
      if (t % k === 0) {
        v = v.map((vi, i) => b2 * vi + (1 - b2) * a[i]);
        refreshes++;
      }
      m = m.map((mi, i) => b1 * mi + (1 - b1) * g[i]);
      const mHat = m.map((mi) => mi / (1 - b1 ** (t + 1)));
      const vHat = v.map((vi) => vi / (1 - b2 ** refreshes));
      const u = mHat.map((mi, i) => Math.max(-1, Math.min(1, mi / Math.max(gamma * vHat[i], eps))));
      th = th.map((x, i) => x - lr * (u[i] + wd * x));
      const out = step(params, state, null);
      out.loss.dispose();
      params = out.params;
      state = out.state;
      expect(ref.relErr(flat(params), th)).toBeLessThan(1e-5);
    }
    expect((state as any)[0].refreshes).toBe(2); // steps 0 and 2
    tree.dispose([params, state] as any);
  });

  test('the Gauss-Newton-Bartlett estimate concentrates as samples grow (16 samples: < 0.3× the variance of 1)', () => {
    const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy', { b: 8 });
    const objective = { predict: prob.predict, loss: 'softmaxCrossEntropy' as const };
    const params = prob.params();
    const batch = prob.batch();
    const spread = (numProbes: number) => {
      const draws = Array.from({ length: 12 }, (_, s) => {
        const est = gaussNewtonBartlettDiag(objective, params, batch, 100 + s, { numProbes });
        const out = flat(est);
        tree.dispose(est);
        return out;
      });
      const p = draws[0].length;
      let total = 0;
      for (let j = 0; j < p; j++) {
        const mean = draws.reduce((acc, d) => acc + d[j], 0) / draws.length;
        total += draws.reduce((acc, d) => acc + (d[j] - mean) ** 2, 0) / draws.length;
      }
      return total;
    };
    expect(spread(16)).toBeLessThan(0.3 * spread(1));
    tree.dispose([params, batch] as any);
  });

  test('sophiaH with the default chain keeps every update within lr·(1 + wd·|θ|)', () => {
    const prob = ref.makeProblem('tanh', 'softmaxCrossEntropy');
    const lossFn = objectiveLoss({ predict: prob.predict, loss: 'softmaxCrossEntropy' as const });
    const tx = sophiaH(lossFn, { learningRate: 0.05 });
    const params = prob.params();
    const before = flat(params);
    const out = makeStep(tx, lossFn)(params, tx.init(params), prob.batch(), { key: 2 });
    flat(out.params).forEach((v, i) => expect(Math.abs(v - before[i])).toBeLessThanOrEqual(0.05 * (1 + 0.2 * Math.abs(before[i])) + 1e-6));
    tree.dispose([out.params, out.state, out.loss] as any);
  });
});
