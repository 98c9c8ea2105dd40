import * as tf from '@tensorflow/tfjs-core';
import {
  HyperparameterError,
  lbfgs,
  makeStep,
  scaleByBacktrackingLinesearch,
  scaleByZoomLinesearch as zoom,
  tree,
  valueAndGrad,
} from '../../index';

// Rosenbrock: f(x, y) = (1 − x)² + 100 (y − x²)².
const rosenbrock = (p: any) =>
  tf.tidy(() => {
    const [x, y] = tf.split(p.z, 2) as tf.Tensor[];
    return tf.sum(tf.add(tf.square(tf.sub(1, x)), tf.mul(100, tf.square(tf.sub(y, tf.square(x)))))) as tf.Scalar;
  });

describe('scaleByBacktrackingLinesearch', () => {
  test('every accepted step satisfies the Armijo condition on Rosenbrock, and the loss falls', () => {
    const c = 1e-4;
    const ls = scaleByBacktrackingLinesearch(rosenbrock, { slopeRtol: c, maxLearningRate: 1, maxBacktrackingSteps: 60 });
    let params: any = { z: tf.tensor1d([-1.2, 1]) };
    let state = ls.init(params);
    let last = Infinity;
    for (let i = 0; i < 200; i++) {
      const { value, grads } = valueAndGrad(rosenbrock)(params, null);
      const direction = tree.scale(grads, -1);
      const [u, next] = ls.update(direction, state, params, { batch: null, value, grad: grads });
      const f0 = value.dataSync()[0];
      const slope = tree.vdot(direction, grads);
      const newParams = tree.add(params, u);
      const f1 = rosenbrock(newParams).dataSync()[0];
      expect(next.info.accepted).toBe(true);
      expect(f1).toBeLessThanOrEqual(f0 + next.learningRate * c * slope.dataSync()[0] + 1e-6);
      expect(f1).toBeLessThanOrEqual(last);
      last = f1;
      tree.dispose([value, grads, direction, u, state, params, slope] as any);
      params = newParams;
      state = next;
    }
    expect(last).toBeLessThan(0.5 * 24.2);
    tree.dispose([params, state] as any);
  });

  test('without extra value/grad it computes them; step size grows back by increaseFactor', () => {
    const quad = (p: any) => tf.sum(tf.square(p.z)) as tf.Scalar;
    const ls = scaleByBacktrackingLinesearch(quad, { maxLearningRate: 1, increaseFactor: 2 });
    const params = { z: tf.tensor1d([1, -2]) };
    const direction = { z: tf.tensor1d([-1, 2]) };
    const s0 = ls.init(params);
    const [u, s1] = ls.update(direction, s0, params, { batch: null });
    // f(θ + η u) = (1 − η)² · 5: η = 1 gives 0 ≤ 5 − η c 10: accepted at once.
    expect(s1.learningRate).toBe(1);
    expect(Array.from((u as any).z.dataSync())).toEqual([-1, 2]);
    tree.dispose([params, direction, s0, u, s1] as any);
  });

  test('an unknown option key is rejected, naming the nearest known key; a key given as undefined takes its default', () => {
    const quad = (p: any) => tf.sum(tf.square(p.z)) as tf.Scalar;
    expect(() => scaleByBacktrackingLinesearch(quad, { maxBacktrackSteps: 3 } as any)).toThrow(HyperparameterError);
    expect(() => scaleByBacktrackingLinesearch(quad, { maxBacktrackSteps: 3 } as any)).toThrow(
      "unknown option 'maxBacktrackSteps' for scaleByBacktrackingLinesearch; did you mean 'maxBacktrackingSteps'?",
    );
    const ls = scaleByBacktrackingLinesearch(quad, { maxLearningRate: undefined });
    expect(ls.init({}).learningRate).toBe(1);
  });
});

describe('scaleByZoomLinesearch and lbfgs', () => {
  test('every accepted step satisfies the strong Wolfe conditions on Rosenbrock (steepest descent)', () => {
    const c1 = 1e-4;
    const c2 = 0.9;
    const ls = zoom(rosenbrock, { slopeRtol: c1, curvRtol: c2, maxLinesearchSteps: 30 });
    let params: any = { z: tf.tensor1d([-1.2, 1]) };
    let state = ls.init(params);
    for (let i = 0; i < 30; i++) {
      const { value, grads } = valueAndGrad(rosenbrock)(params, null);
      const u = tree.scale(grads, -1);
      const [step, next] = ls.update(u, state, params, { batch: null, value, grad: grads });
      const eta = next.learningRate;
      const np = tree.add(params, step);
      const g1 = valueAndGrad(rosenbrock)(np, null);
      const f0 = value.dataSync()[0];
      const f1 = g1.value.dataSync()[0];
      const d0 = tree.vdot(u, grads).dataSync()[0];
      const d1 = tree.vdot(u, g1.grads).dataSync()[0];
      expect(next.info.wolfe).toBe(true);
      expect(f1).toBeLessThanOrEqual(f0 + c1 * eta * d0 + 1e-6);
      expect(Math.abs(d1)).toBeLessThanOrEqual(c2 * Math.abs(d0) + 1e-6);
      tree.dispose([value, grads, u, step, state, params, g1.value, g1.grads] as any);
      params = np;
      state = next;
    }
    tree.dispose([params, state] as any);
  });

  test('lbfgs (two-loop + zoom line search) finds the Rosenbrock minimum (1, 1)', () => {
    const tx = lbfgs(rosenbrock);
    const step = makeStep(tx, rosenbrock);
    let params: any = { z: tf.tensor1d([-1.2, 1]) };
    let state = tx.init(params);
    for (let i = 0; i < 60; i++) {
      const out = step(params, state, null);
      out.loss.dispose();
      params = out.params;
      state = out.state;
    }
    Array.from(params.z.dataSync() as Float32Array).forEach((v) => expect(v).toBeCloseTo(1, 3));
    tree.dispose([params, state] as any);
  });
});
