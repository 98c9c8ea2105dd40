// K-FAC's factors and direction (transforms/solvers/kronecker.ts) against float64 brute force: the
// factors of a 2-layer MLP from its inputs and deltas computed by hand, A ⊗ G against the per-sample
// gradient's outer product for one sample, and the direction against the dense solve with the
// damped Kronecker blocks (whole, and split into diagonal blocks).
import * as tf from '@tensorflow/tfjs-core';
import { adam, kfac, makeStep, mlpObjective, tree } from '../../index';
import type { Tree } from '../../index';
import { luSolve } from '../../lib/linalg';
import { blockSizes, dampedInverses, kroneckerSolver, layerFactors } from '../../transforms/solvers';
import type { KroneckerState } from '../../transforms/solvers';
import { chainLinearization, conv2dLayer } from '../../models/layerChain';
import type { ChainLinearization } from '../../models/layerChain';

const objective = mlpObjective({ activation: 'tanh', loss: 'softmaxCrossEntropy' });
const [D, H, C] = [4, 5, 3];

function problemOf(b: number, seed: number) {
  const params = objective.init([D, H, C], seed) as Record<string, tf.Tensor>;
  const batch = tf.tidy(() => ({
    x: tf.randomNormal([b, D], 0, 1, 'float32', seed + 10),
    y: tf
      .oneHot(
        tf.tensor1d(
          Array.from({ length: b }, (_, i) => (i + seed) % C),
          'int32',
        ),
        C,
      )
      .toFloat(),
  }));
  return { params, batch };
}

const values = (t: tf.Tensor) => Array.from(t.dataSync(), Number);
const matrix = (t: tf.Tensor) => {
  const v = values(t);
  const [r, c] = t.shape;
  return Array.from({ length: r }, (_, i) => v.slice(i * (c as number), (i + 1) * (c as number)));
};

/** The MLP's layer inputs (with the homogeneous 1) and deltas of the residuals, in float64, by hand. */
function byHand(params: Record<string, tf.Tensor>, x: tf.Tensor, y: tf.Tensor) {
  const [w1, b1, w2, b2] = [matrix(params.w1), values(params.b1), matrix(params.w2), values(params.b2)];
  const xs = matrix(x);
  const ys = matrix(y);
  return xs.map((xi, n) => {
    const z1 = b1.map((b, j) => b + xi.reduce((s, v, i) => s + v * w1[i][j], 0));
    const a1 = z1.map(Math.tanh);
    const f = b2.map((b, k) => b + a1.reduce((s, v, j) => s + v * w2[j][k], 0));
    const top = Math.max(...f);
    const e = f.map((v) => Math.exp(v - top));
    const p = e.map((v) => v / e.reduce((s, u) => s + u, 0));
    const d2 = p.map((v, k) => v - ys[n][k]);
    const d1 = a1.map((a, j) => (1 - a * a) * d2.reduce((s, v, k) => s + v * w2[j][k], 0));
    return { in1: [...xi, 1], d1, in2: [...a1, 1], d2 };
  });
}

const outer = (rows: number[][], scale: number) =>
  rows[0].map((_, i) => rows[0].map((__, j) => rows.reduce((s, r) => s + r[i] * r[j], 0) * scale));

function maxRelative(a: number[][], b: number[][]): number {
  const scale = Math.max(1e-12, ...b.flat().map(Math.abs));
  return Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i][j])))) / scale;
}

describe('K-FAC factors', () => {
  test('A and G of each layer of a 2-layer MLP equal the float64 second moments of its inputs and deltas (1e-5)', () => {
    const { params, batch } = problemOf(7, 1);
    const lin = objective.linearize(params, batch.x) as ChainLinearization;
    const factors = tf.tidy(() => layerFactors(lin.layerStatistics(tf.sub(tf.softmax(lin.outputs), batch.y)), 7));
    const ref = byHand(params, batch.x, batch.y);
    expect(Object.keys(factors)).toEqual(['w1', 'w2']);
    const cases = [
      ['w1', 'a', 'in1'],
      ['w1', 'g', 'd1'],
      ['w2', 'a', 'in2'],
      ['w2', 'g', 'd2'],
    ] as const;
    for (const [layer, factor, rows] of cases) {
      const expected = outer(
        ref.map((r) => r[rows]),
        1 / 7,
      );
      expect(maxRelative(matrix(factors[layer][factor]), expected)).toBeLessThan(1e-5);
    }
    lin.dispose();
    tree.dispose([factors as never, params, batch.x, batch.y]);
  });

  test('for one sample, A ⊗ G is the outer product of the layer gradient [∂W; ∂b] (the empirical Fisher block, exact)', () => {
    const { params, batch } = problemOf(1, 2);
    const lin = objective.linearize(params, batch.x) as ChainLinearization;
    const factors = tf.tidy(() => layerFactors(lin.layerStatistics(tf.sub(tf.softmax(lin.outputs), batch.y)), 1));
    const grads = lin.vjp(tf.sub(tf.softmax(lin.outputs), batch.y)) as Record<string, tf.Tensor>;
    for (const [w, b] of [
      ['w1', 'b1'],
      ['w2', 'b2'],
    ]) {
      const g = [...matrix(grads[w]), values(grads[b])].flat(); // row-major [in + 1, out]
      const [a, gg] = [matrix(factors[w].a), matrix(factors[w].g)];
      const out = gg.length;
      const kron = g.map((_, r) => g.map((__, s) => a[Math.floor(r / out)][Math.floor(s / out)] * gg[r % out][s % out]));
      expect(maxRelative(kron, outer([g], 1))).toBeLessThan(1e-5);
    }
    lin.dispose();
    tree.dispose([factors as never, grads, params, batch.x, batch.y]);
  });
});

describe('K-FAC direction', () => {
  test.each([
    ['whole factors', 256],
    ['factors split into diagonal blocks of 2', 2],
  ])('equals the dense float64 solve with the damped Kronecker blocks (%s), 1e-4', (_name, blockSize) => {
    const { params, batch } = problemOf(8, 3);
    const lam = 0.05;
    const solver = kroneckerSolver(objective, { labels: 'empirical', blockSize });
    const grads = tree.map((t: tf.Tensor) => tf.randomNormal(t.shape, 0, 1, 'float32', 40), params) as Record<string, tf.Tensor>;
    const problem = { params, grads, batch, key: 0, op: null, lam, gradsAreBatchGradient: false };
    const state0 = solver.init(params);
    const before = tf.memory().numTensors;
    const out = solver.solve(problem, state0);
    expect(out.info.factorsRefreshed).toBe(true);
    const state = out.state as KroneckerState;
    // The reference: the factors of this step (EMA of one step, bias-corrected: the step's own).
    const lin = objective.linearize(params, batch.x) as ChainLinearization;
    const factors = tf.tidy(() => layerFactors(lin.layerStatistics(tf.sub(tf.softmax(lin.outputs), batch.y)), 8));
    for (const [w, b] of [
      ['w1', 'b1'],
      ['w2', 'b2'],
    ]) {
      const blockDiagonal = (m: number[][]) => {
        const sizes = blockSizes(m.length, blockSize);
        const blockOf = (i: number) => sizes.findIndex((_, k) => i < sizes.slice(0, k + 1).reduce((s, x) => s + x, 0));
        return m.map((row, i) => row.map((v, j) => (blockOf(i) === blockOf(j) ? v : 0)));
      };
      const [a, g] = [blockDiagonal(matrix(factors[w].a)), blockDiagonal(matrix(factors[w].g))];
      const [dA, dG] = [a.length, g.length];
      const trace = (m: number[][]) => m.reduce((s, row, i) => s + row[i], 0) / m.length;
      const pi = Math.sqrt(trace(matrix(factors[w].a)) / trace(matrix(factors[w].g)));
      const ad = a.map((row, i) => row.map((v, j) => v + (i === j ? pi * Math.sqrt(lam) : 0)));
      const gd = g.map((row, i) => row.map((v, j) => v + (i === j ? Math.sqrt(lam) / pi : 0)));
      const n = dA * dG;
      const dense = new Float64Array(n * n);
      for (let r = 0; r < n; r++)
        for (let s = 0; s < n; s++) dense[r * n + s] = ad[Math.floor(r / dG)][Math.floor(s / dG)] * gd[r % dG][s % dG];
      const rhs = [...matrix(grads[w]), values(grads[b])].flat();
      const expected = Array.from(luSolve(dense, rhs, n));
      const got = [
        ...matrix((out.direction as Record<string, tf.Tensor>)[w]),
        values((out.direction as Record<string, tf.Tensor>)[b]),
      ].flat();
      const scale = Math.max(...expected.map(Math.abs));
      expect(Math.max(...got.map((v, i) => Math.abs(v - expected[i]))) / scale).toBeLessThan(1e-4);
    }
    lin.dispose();
    tree.dispose([factors as never, out.direction]);
    tree.dispose(state as never);
    expect(tf.memory().numTensors).toBe(before);
    tree.dispose([grads, params, batch.x, batch.y]);
  });

  test('precondition: only the selected layers are preconditioned (as without a mask), the others pass their gradient', () => {
    const { params, batch } = problemOf(8, 6);
    const grads = tree.map((t: tf.Tensor) => tf.randomNormal(t.shape, 0, 1, 'float32', 42), params) as Record<string, tf.Tensor>;
    const problem = { params, grads, batch, key: 0, op: null, lam: 0.01, gradsAreBatchGradient: false };
    const solveWith = (precondition?: Record<string, boolean>) => {
      const solver = kroneckerSolver(objective, { precondition });
      const state = solver.init(params);
      const out = solver.solve(problem, state);
      const direction = Object.fromEntries(Object.entries(out.direction as Record<string, tf.Tensor>).map(([k, t]) => [k, values(t)]));
      const factored = Object.keys((out.state as KroneckerState).factors);
      tree.dispose([out.direction, state as never, out.state as never]);
      return { direction, factored };
    };
    const full = solveWith();
    const masked = solveWith({ w1: false, b1: false, w2: true, b2: true });
    expect(masked.factored).toEqual(['w2']);
    for (const k of ['w2', 'b2']) masked.direction[k].forEach((v, i) => expect(v).toBeCloseTo(full.direction[k][i], 5));
    for (const k of ['w1', 'b1']) expect(masked.direction[k]).toEqual(values(grads[k]));
    tree.dispose([grads, params, batch.x, batch.y]);
  });

  test('the inverses are refreshed every inverseEvery steps and reused in between; dampedInverses checks its π', () => {
    const { params, batch } = problemOf(6, 4);
    const solver = kroneckerSolver(objective, { inverseEvery: 3 });
    const grads = tree.map((t: tf.Tensor) => tf.randomNormal(t.shape, 0, 1, 'float32', 41), params);
    let state = solver.init(params) as KroneckerState;
    const refreshed: boolean[] = [];
    for (let t = 0; t < 4; t++) {
      const out = solver.solve({ params, grads, batch, key: t, op: null, lam: 1e-3, gradsAreBatchGradient: false }, state);
      refreshed.push(out.info.factorsRefreshed as boolean);
      tree.dispose([out.direction, state as never]);
      state = out.state as KroneckerState;
    }
    expect(refreshed).toEqual([true, false, false, true]);
    tree.dispose([state as never, grads, params, batch.x, batch.y]);
    const { pi } = dampedInverses([[4, 0, 0, 4]], [[1]], 1);
    expect(pi).toBeCloseTo(2, 10);
  });

  test('statisticsEvery: the factors are the EMA of the update steps only; between them the curvature batch is not read', () => {
    const { params } = problemOf(6, 7);
    const decay = 0.8;
    const solver = kroneckerSolver(objective, { labels: 'empirical', statisticsEvery: 2, inverseEvery: 1, decay });
    const grads = tree.map((t: tf.Tensor) => tf.randomNormal(t.shape, 0, 1, 'float32', 43), params);
    const batches = [0, 1, 2, 3].map((t) => {
      const { batch } = problemOf(6, 20 + t);
      if (t % 2 === 0) return batch;
      tf.dispose(batch.x);
      return { x: tf.fill([6, D], NaN), y: batch.y }; // a step between updates must not look at it
    });
    let state = solver.init(params) as KroneckerState;
    for (let t = 0; t < 4; t++) {
      const out = solver.solve({ params, grads, batch: batches[t], key: t, op: null, lam: 1e-3, gradsAreBatchGradient: false }, state);
      tree.dispose([out.direction, state as never]);
      state = out.state as KroneckerState;
      expect(Object.values(out.info).every((v) => typeof v !== 'number' || Number.isFinite(v))).toBe(true);
    }
    const factorsOf = (batch: { x: tf.Tensor; y: tf.Tensor }) => {
      const lin = objective.linearize(params, batch.x) as ChainLinearization;
      const f = tf.tidy(() => layerFactors(lin.layerStatistics(tf.sub(tf.softmax(lin.outputs), batch.y)), 6));
      lin.dispose();
      return f;
    };
    const [f0, f2] = [factorsOf(batches[0]), factorsOf(batches[2])];
    for (const w of ['w1', 'w2'])
      for (const k of ['a', 'g'] as const) {
        const [m0, m2] = [matrix(f0[w][k]), matrix(f2[w][k])];
        const expected = m0.map((row, i) => row.map((v, j) => decay * (1 - decay) * v + (1 - decay) * m2[i][j]));
        expect(maxRelative(matrix(state.factors[w][k][0]), expected)).toBeLessThan(1e-5);
      }
    tree.dispose([f0 as never, f2 as never, state as never, grads, params, ...batches.flatMap((b) => [b.x, b.y])]);
  });

  test('a model not linearized in closed form is refused, naming what K-FAC needs', () => {
    const { params, batch } = problemOf(4, 5);
    const onTape = { predict: objective.predict, loss: objective.loss };
    const tx = kfac(onTape, { skipNonFinite: false });
    expect(() => tx.init(params)).toThrow(/K-FAC needs a model linearized in closed form/);
    tree.dispose([params, batch.x, batch.y]);
  });
});

describe('K-FAC on a conv layer (KFC)', () => {
  test('A sums the input patches of every output position, G averages the deltas over them: float64 by hand, 1e-5', () => {
    // One conv 2×2 (valid, stride 1, 2 → 3 channels, bias) on 3×3×2 images: 4 output positions.
    const [B, H, CIN, COUT, K] = [2, 3, 2, 3, 2];
    const linearize = chainLinearization([conv2dLayer('k', 'c', [1, 1], 'valid')]);
    const params = {
      k: tf.randomNormal([K, K, CIN, COUT], 0, 0.5, 'float32', 1),
      c: tf.tensor1d([0.1, -0.2, 0.3]),
    };
    const x = tf.randomNormal([B, H, H, CIN], 0, 1, 'float32', 2);
    const u = tf.randomNormal([B, H - 1, H - 1, COUT], 0, 1, 'float32', 3); // cotangents at the outputs
    const lin = linearize(params, x);
    const factors = tf.tidy(() => layerFactors(lin.layerStatistics(u), B));
    const [xs, us] = [values(x), values(u)];
    const positions = (H - K + 1) ** 2;
    // Patches in (kh, kw, cin) order with a trailing 1, per sample and output position.
    const dA = K * K * CIN + 1;
    const a = Array.from({ length: dA }, () => new Array<number>(dA).fill(0));
    const g = Array.from({ length: COUT }, () => new Array<number>(COUT).fill(0));
    for (let b = 0; b < B; b++)
      for (let i = 0; i < H - 1; i++)
        for (let j = 0; j < H - 1; j++) {
          const patch: number[] = [];
          for (let di = 0; di < K; di++)
            for (let dj = 0; dj < K; dj++) for (let c = 0; c < CIN; c++) patch.push(xs[((b * H + i + di) * H + j + dj) * CIN + c]);
          patch.push(1);
          patch.forEach((p, r) => patch.forEach((q, s) => (a[r][s] += (p * q) / B)));
          const delta = Array.from({ length: COUT }, (_, o) => us[((b * (H - 1) + i) * (H - 1) + j) * COUT + o]);
          delta.forEach((p, r) => delta.forEach((q, s) => (g[r][s] += (p * q) / (B * positions))));
        }
    expect(maxRelative(matrix(factors.k.a), a)).toBeLessThan(1e-5);
    expect(maxRelative(matrix(factors.k.g), g)).toBeLessThan(1e-5);
    lin.dispose();
    tree.dispose([factors as never, params, x, u]);
  });
});

describe('kfac (the method)', () => {
  test('same seed, same trajectory; a NaN batch is skipped; flat tensor count; the trust region adapts λ', () => {
    const { params: init, batch } = problemOf(16, 8);
    const run = (steps: number, options: Parameters<typeof kfac>[1], poison = -1) => {
      const tx = kfac(objective, options);
      let params: Tree = tree.clone(init);
      let state = tx.init(params);
      const step = makeStep(tx, objective);
      const losses: number[] = [];
      const lams: number[] = [];
      for (let t = 0; t < steps; t++) {
        const b = t === poison ? { x: tf.mul(batch.x, NaN), y: batch.y } : batch;
        const out = step(params, state, b, { key: t });
        losses.push(out.loss.dataSync()[0]);
        out.loss.dispose();
        if (b !== batch) b.x.dispose();
        ({ params, state } = out);
        lams.push((state as any).innerState.info.lam as number);
      }
      const final = Array.from(tree.readValues(() => tree.ravel(params).vector));
      tree.dispose([params, state as never]);
      return { losses, lams, final };
    };
    const before = tf.memory().numTensors;
    const a = run(30, { learningRate: 0.3, inverseEvery: 5 });
    expect(tf.memory().numTensors).toBe(before);
    expect(a.losses[29]).toBeLessThan(0.5 * a.losses[0]);
    expect(run(30, { learningRate: 0.3, inverseEvery: 5 }).final).toEqual(a.final);
    const poisoned = run(6, { learningRate: 0.3 }, 2);
    expect(Number.isNaN(poisoned.losses[2])).toBe(true);
    expect(poisoned.final.every(Number.isFinite)).toBe(true);
    const adaptive = run(10, { lam0: 1, lamPolicy: 'trustRegion', learningRate: 1 });
    expect(new Set(adaptive.lams).size).toBeGreaterThan(1);
    expect(adaptive.losses[9]).toBeLessThan(adaptive.losses[0]);
    tree.dispose([init, batch.x, batch.y]);
  });
});

describe('kfac with precondition', () => {
  test('the selected layers step as K-FAC alone, the others as Adam from the same gradients; a NaN step moves neither', () => {
    const { params, batch } = problemOf(8, 9);
    const grads = tree.map((t: tf.Tensor) => tf.randomNormal(t.shape, 0, 1, 'float32', 43), params) as Record<string, tf.Tensor>;
    const extra = { curvatureBatch: batch, key: 0 };
    const updateOf = (tx: ReturnType<typeof kfac> | ReturnType<typeof adam>, g: Tree = grads) => {
      const state = tx.init(params);
      const [u, next] = tx.update(g, state as never, params, extra);
      const out = Object.fromEntries(Object.entries(u as Record<string, tf.Tensor>).map(([k, t]) => [k, values(t)]));
      tree.dispose([u, state as never, next as never]);
      return out;
    };
    const mask = { w1: true, b1: true, w2: false, b2: false };
    const mixed = updateOf(kfac(objective, { precondition: mask, restLearningRate: 0.01 }));
    const alone = updateOf(kfac(objective));
    const adamOnly = updateOf(adam(0.01));
    for (const k of ['w1', 'b1']) mixed[k].forEach((v, i) => expect(v).toBeCloseTo(alone[k][i], 5));
    for (const k of ['w2', 'b2']) mixed[k].forEach((v, i) => expect(v).toBeCloseTo(adamOnly[k][i], 6));
    const poisoned = tree.map((t: tf.Tensor) => tf.mul(t, NaN), grads);
    const skipped = updateOf(kfac(objective, { precondition: mask }), poisoned);
    Object.values(skipped).forEach((v) => expect(v.every((x) => x === 0)).toBe(true));
    tree.dispose([poisoned, grads, params, batch.x, batch.y]);
  });
});
