// Adaptive coefficients (transforms/quadraticModel.ts) against float64 brute force: the 2 × 2 solve
// and its degenerate cases; the GGN operator's Gram against the dense GGN; K-FAC with an adaptive
// learning rate steps α times its fixed-rate direction with α = gᵀs / sᵀ(G + λI)s from the dense
// GGN; with adaptive momentum the update minimizes the damped model over span{s, p} (its model
// gradient is orthogonal to both); the options that conflict are refused; tensors stay flat.
import * as tf from '@tensorflow/tfjs-core';
import { kfac, makeStep, mlpObjective, objectiveLoss, tree, valueAndGrad } from '../../index';
import type { Tree } from '../../index';
import { denseGgn } from '../../lib/autodiff/dense';
import { curvatureGram, ggnCurvature } from '../../transforms/curvature';
import { modelCoefficients } from '../../transforms/quadraticModel';

const objective = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });
const [D, H, C, B] = [4, 5, 3, 12];

function problemOf(seed: number) {
  const params = objective.init([D, H, C], seed) as Record<string, tf.Tensor>;
  const batch = tf.tidy(() => ({
    x: tf.randomNormal([B, D], 0, 1, 'float32', seed + 10),
    y: tf
      .oneHot(
        tf.tensor1d(
          Array.from({ length: B }, (_, i) => (i * 7 + seed) % C),
          'int32',
        ),
        C,
      )
      .toFloat(),
  }));
  return { params, batch };
}

const flat = (t: Tree) => Float64Array.from(tree.readValues(() => tree.ravel(t).vector));
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * b[i], 0);
/** (G + λI) v for a dense row-major P × P matrix G. */
const dampedTimes = (g: Float64Array, lam: number, v: ArrayLike<number>) =>
  Array.from(v, (vi, i) => lam * vi + dot(g.subarray(i * v.length, (i + 1) * v.length), v));

describe('modelCoefficients', () => {
  test('the 2 × 2 solve of random SPD systems: A [α, μ] = b, and the predicted decrease ½ bᵀ[α, μ]', () => {
    for (let k = 0; k < 20; k++) {
      const [r1, r2, r3] = [Math.sin(k + 1), Math.cos(3 * k + 2), Math.sin(5 * k + 3)];
      const [a11, a12, a22] = [2 + r1, 0.7 * r2, 1.5 + r3 * r3]; // a11 a22 > a12²
      const [b1, b2] = [r3 - 0.2, r1 * 2];
      const m = modelCoefficients([a11, a12, a12, a22, b1, b2]);
      expect(a11 * m.alpha + a12 * m.mu).toBeCloseTo(b1, 10);
      expect(a12 * m.alpha + a22 * m.mu).toBeCloseTo(b2, 10);
      expect(m.predictedDecrease).toBeCloseTo(0.5 * (b1 * m.alpha + b2 * m.mu), 12);
      expect(m.predictedDecrease).toBeGreaterThanOrEqual(0);
    }
  });

  test('one direction, p = 0, p parallel to s, s = 0, non-finite terms', () => {
    expect(modelCoefficients([4, 2])).toEqual({ alpha: 0.5, mu: 0, predictedDecrease: 0.5 });
    expect(modelCoefficients([4, 0, 0, 0, 2, 0])).toEqual({ alpha: 0.5, mu: 0, predictedDecrease: 0.5 });
    expect(modelCoefficients([4, 8, 8, 16, 2, 4])).toEqual({ alpha: 0.5, mu: 0, predictedDecrease: 0.5 }); // p = 2 s
    expect(modelCoefficients([0, 0, 0, 1, 0, 1])).toEqual({ alpha: 0, mu: 0, predictedDecrease: 0 });
    expect(modelCoefficients([NaN, 1])).toEqual({ alpha: 0, mu: 0, predictedDecrease: 0 });
    expect(modelCoefficients([4, 1, 1, NaN, 2, 1]).mu).toBe(0);
  });
});

test("the GGN operator's Gram (one JVP per direction) equals the dense GGN's and the matvec fallback's", () => {
  const { params, batch } = problemOf(1);
  const vs = [tree.randomNormalLike(params, 5), tree.randomNormalLike(params, 6)];
  const op = ggnCurvature(objective)(params, batch);
  const fast = Array.from(curvatureGram(op, vs).dataSync());
  const slow = Array.from(curvatureGram({ matvec: op.matvec, dispose: () => undefined }, vs).dataSync());
  const g = denseGgn(objective, params, batch);
  const [v0, v1] = vs.map(flat);
  const exact = [
    [v0, v0],
    [v0, v1],
    [v1, v0],
    [v1, v1],
  ].map(([a, b]) => dot(a, dampedTimes(g, 0, b)));
  fast.forEach((v, i) => expect(v).toBeCloseTo(exact[i], 4));
  slow.forEach((v, i) => expect(v).toBeCloseTo(exact[i], 4));
  op.dispose();
  tree.dispose([params, batch, vs] as never);
});

describe('kfac with adaptive coefficients', () => {
  const lam = 0.05;
  /** Two steps of `tx` from the problem's params (key = step), with the updates, infos and states. */
  function twoSteps(options: Parameters<typeof kfac>[1]) {
    const { params: init, batch } = problemOf(2);
    const tx = kfac(objective, { lam0: lam, inverseEvery: 1, labels: 'empirical', ...options });
    const step = makeStep(tx, objective);
    let params: Tree = tree.clone(init);
    let state = tx.init(params);
    const seen: { params: Float64Array; update: Float64Array; info: Record<string, number>; previous?: Float64Array }[] = [];
    for (let t = 0; t < 2; t++) {
      const before = flat(params);
      const out = step(params, state, batch, { key: t });
      out.loss.dispose();
      ({ params, state } = out);
      const inner = (state as any).innerState;
      const after = flat(params);
      seen.push({
        params: before,
        update: after.map((v, i) => v - before[i]),
        info: inner.info,
        previous: inner.previous ? flat(inner.previous) : undefined,
      });
    }
    tree.dispose([params, state as never, init]);
    return { seen, batch };
  }

  /** The dense GGN and the gradient at the flat params `at` (the problem's tree shape). */
  function denseAt(at: Float64Array, batch: { x: tf.Tensor; y: tf.Tensor }) {
    const { params: like } = problemOf(2);
    const params = tree.unravel(tree.flatten(like).def, tf.tensor1d(Float32Array.from(at))) as Tree;
    const g = denseGgn(objective, params, batch);
    const { value, grads } = valueAndGrad(objectiveLoss(objective))(params, batch);
    const out = { g, grad: flat(grads) };
    tree.dispose([value, grads] as never);
    tree.dispose([like, params] as never);
    return out;
  }

  test('the learning rate: the update is α times the fixed-rate one, α = gᵀs / sᵀ(G + λI)s (dense float64)', () => {
    const fixed = twoSteps({ learningRate: 1 });
    const adaptive = twoSteps({ adaptiveLearningRate: true });
    const s = fixed.seen[0].update.map((v) => -v); // the direction: update = −s at learning rate 1
    const { g, grad } = denseAt(fixed.seen[0].params, fixed.batch);
    const alpha = dot(grad, s) / dot(s, dampedTimes(g, lam, s));
    expect(adaptive.seen[0].info.learningRate).toBeCloseTo(alpha, 3);
    expect(alpha).toBeGreaterThan(0.05);
    adaptive.seen[0].update.forEach((v, i) => expect(v).toBeCloseTo(-alpha * s[i], 4));
    expect(adaptive.seen[0].info.momentum).toBe(0);
    tree.dispose([fixed.batch, adaptive.batch] as never);
  });

  test('with momentum: the second update minimizes the damped model over span{s, p} (model gradient ⊥ both)', () => {
    const { seen, batch } = twoSteps({ adaptiveLearningRate: true, adaptiveMomentum: true });
    const [first, second] = seen;
    expect(first.info.momentum).toBe(0); // no previous direction yet
    expect(Math.abs(second.info.momentum)).toBeGreaterThan(1e-3);
    const p = first.update.map((v) => -v); // the previous direction: update = −(α s + μ p)
    const { g, grad } = denseAt(second.params, batch);
    const delta = second.update;
    const r = dampedTimes(g, lam, delta).map((v, i) => v + grad[i]); // ∇M(δ) = g + (G + λI)δ
    const scale = Math.sqrt(dot(grad, grad));
    expect(Math.abs(dot(r, delta)) / (scale * Math.sqrt(dot(delta, delta)))).toBeLessThan(1e-3);
    expect(Math.abs(dot(r, p)) / (scale * Math.sqrt(dot(p, p)))).toBeLessThan(1e-3);
    expect(second.info.modelDecrease).toBeCloseTo(-(dot(grad, delta) + 0.5 * dot(delta, dampedTimes(g, lam, delta))), 4);
    tree.dispose([batch] as never);
  });

  test('conflicting options are refused, naming the option; tensors stay flat over steps', () => {
    expect(() => kfac(objective, { adaptiveMomentum: true })).toThrow(/adaptiveMomentum needs adaptiveLearningRate/);
    expect(() => kfac(objective, { adaptiveLearningRate: true, learningRate: 0.1 })).toThrow(/drop `learningRate`/);
    expect(() => kfac(objective, { adaptiveLearningRate: true, adaptiveMomentum: true, directionMomentum: 0.9 })).toThrow(
      /drop `directionMomentum`/,
    );
    const { params: init, batch } = problemOf(3);
    const tx = kfac(objective, { adaptiveLearningRate: true, adaptiveMomentum: true, lam0: lam });
    const step = makeStep(tx, objective);
    let params: Tree = tree.clone(init);
    let state = tx.init(params);
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    for (let t = 0; t < 40; t++) {
      const out = step(params, state, batch, { key: t });
      losses.push(out.loss.dataSync()[0]);
      out.loss.dispose();
      ({ params, state } = out);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(losses[39]).toBeLessThan(0.5 * losses[0]);
    tree.dispose([params, state as never, init, batch] as never);
  });
});
