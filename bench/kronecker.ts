/**
 * The `kronecker` suite: K-FAC and Shampoo steps relative to one gradient on the MLP 784-128-10
 * and the MNIST-shaped CNN of `bench/cnn.ts`, with their factors / roots refreshed every 1, 10 and
 * 50 steps; the inverse fourth roots by coupled Newton on the device and by float64
 * eigendecomposition on the host, timed and checked against a float64 reference; and K-FAC's
 * block size, timed and compared with the unblocked direction.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { adam, inverseRoot, make, objectiveLoss, tree } from '../index';
import type { GradientTransformation, Objective, Tree } from '../index';
import { symmetricPower } from '../lib/linalg';
import { cnnProblem, disposeProblem, stepAtFixedParams } from './cnn';
import { gradientOf, median, medianMs, timeOnce } from './harness';
import type { Row, Suite } from './harness';
import { rand, relErr } from '../tests/helpers/mlp64';
import { B, batchOf, mlpParams, objective as mlpObjective } from './mlp';

/** Refresh periods of the factors (K-FAC) and roots (Shampoo) reported per model. */
const PERIODS = [1, 10, 50];
/** Samples of the curvature batch (the first of the 128-sample batch). */
const CURVATURE_SAMPLES = 32;

/** What one model contributes: its objective, params, gradient batch and curvature batch. */
interface Problem {
  readonly label: string;
  readonly objective: Objective<tf.Tensor>;
  readonly params: Record<string, tf.Tensor>;
  readonly batch: { x: tf.Tensor; y: tf.Tensor };
  readonly curvatureBatch: { x: tf.Tensor; y: tf.Tensor };
}

/** The median ms of a step of `build(inverseEvery)` that refreshes (every step does) and of one that does not. */
function refreshAndPlainMs(problem: Problem, build: (inverseEvery: number) => GradientTransformation<any>, reps: number) {
  const time = (inverseEvery: number) => {
    const s = stepAtFixedParams(build(inverseEvery), problem.objective, problem, true);
    try {
      return medianMs(s.fn, { reps, warmup: 1 }); // the warm-up is step 0, which always refreshes
    } finally {
      s.dispose();
    }
  };
  return { refresh: time(1), plain: time(1e9) };
}

/** Rows of K-FAC and Shampoo steps per refresh period, amortized: (refresh + (k − 1) · plain) / k, per gradient. */
function stepRows(backend: string, problem: Problem, reps: number): Row[] {
  const loss = objectiveLoss(problem.objective);
  const gradient = gradientOf(loss, problem.params, problem.batch);
  const gradientMs = median([0, 1, 2, 3, 4].map(() => timeOnce(gradient)));
  const methods: Record<string, (k: number) => GradientTransformation<any>> = {
    kfac: (k) => make('kfac', { objective: problem.objective, inverseEvery: k }),
    shampoo: (k) => make('shampoo', { lossFn: loss, inverseEvery: k }),
  };
  const refreshed: Record<string, string> = { kfac: 'factors inverted', shampoo: 'roots' };
  const rows: Row[] = [{ backend, name: `${problem.label}: gradient (batch ${B})`, ms: gradientMs }];
  const adamStep = stepAtFixedParams(adam(1e-3), problem.objective, problem, true);
  const adamMs = medianMs(adamStep.fn, { reps, warmup: 1 });
  adamStep.dispose();
  rows.push({ backend, name: `${problem.label}: adam step`, ms: adamMs, ratio: adamMs / gradientMs, ratioOf: '/ gradient' });
  for (const [name, build] of Object.entries(methods)) {
    const { refresh, plain } = refreshAndPlainMs(problem, build, reps);
    for (const k of PERIODS) {
      const ms = (refresh + (k - 1) * plain) / k;
      rows.push({
        backend,
        name: `${problem.label}: ${name} step, ${refreshed[name]} every ${k} step${k > 1 ? 's' : ''} (amortized)`,
        ms,
        ratio: ms / gradientMs,
        ratioOf: '/ gradient',
        more: [{ value: ms / adamMs, of: '/ adam step' }],
      });
    }
  }
  return rows;
}

/** A statistic like Shampoo's: X Xᵀ / 2n for a random X `[n, 2n]` (float64 values). */
function statistic(n: number, seed: number): Float64Array {
  const x = rand(n * 2 * n, seed);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < 2 * n; k++) s += x[i * 2 * n + k] * x[j * 2 * n + k];
      out[i * n + j] = out[j * n + i] = s / (2 * n);
    }
  return out;
}

/** Inverse fourth roots of n × n statistics: device (coupled Newton, 25 iterations) and host (float64 eigen), time and error. */
function rootRows(backend: string): Row[] {
  const rows: Row[] = [];
  for (const n of [32, 128, 256]) {
    const a = statistic(n, n);
    const norm = Math.sqrt(a.reduce((s, v) => s + v * v, 0));
    const ridged = Float64Array.from(a, (v, i) => (i % (n + 1) === 0 ? v + 1e-6 * norm : v));
    const reference = symmetricPower(ridged, n, -0.25);
    const at = tf.tensor2d(Float32Array.from(a), [n, n]);
    let device: Float32Array = new Float32Array(0);
    const deviceMs = median(
      [0, 1, 2].map(() =>
        timeOnce(() => {
          const r = inverseRoot(at, 4);
          device = r.dataSync() as Float32Array;
          return r;
        }),
      ),
    );
    let host: Float64Array = new Float64Array(0);
    const hostMs = median(
      [0, 1, 2].map(() =>
        timeOnce(() => {
          const values = Float64Array.from(at.dataSync());
          host = symmetricPower(
            Float64Array.from(values, (v, i) => (i % (n + 1) === 0 ? v + 1e-6 * norm : v)),
            n,
            -0.25,
          );
        }),
      ),
    );
    at.dispose();
    rows.push(
      {
        backend,
        name: `inverse 4th root ${n}×${n}: coupled Newton on the device (25 iterations)`,
        ms: deviceMs,
        ratio: 1e6 * relErr(device, reference),
        ratioOf: '× 1e-6: relative error vs float64',
      },
      {
        backend,
        name: `inverse 4th root ${n}×${n}: float64 eigendecomposition on the host (read + Jacobi)`,
        ms: hostMs,
        ratio: 1e6 * relErr(host, reference),
        ratioOf: '× 1e-6: relative error vs float64 (from the float32 statistic)',
      },
    );
  }
  return rows;
}

/** K-FAC's block size on the MLP: the refresh step's time, and the direction's cosine with the unblocked one. */
function blockRows(backend: string, problem: Problem): Row[] {
  const directionOf = (blockSize: number): { ms: number; direction: Float32Array } => {
    const tx = make('kfac', { objective: problem.objective, blockSize, inverseEvery: 1, learningRate: 1, skipNonFinite: false });
    const step = stepAtFixedParams(tx, problem.objective, problem, true);
    const ms = medianMs(step.fn, { reps: 3, warmup: 1 });
    step.dispose();
    const state = tx.init(problem.params);
    const ones = tree.map((t: tf.Tensor) => tf.onesLike(t), problem.params);
    const [u, next] = tx.update(ones, state, problem.params, { curvatureBatch: problem.curvatureBatch, key: 1 });
    const direction = tree.readValues(() => tree.ravel(u).vector) as Float32Array;
    tree.dispose([ones, u as Tree, state as never, next as never]);
    return { ms, direction };
  };
  const whole = directionOf(1024);
  const rows: Row[] = [];
  for (const size of [64, 128, 256, 1024]) {
    const { ms, direction } = size === 1024 ? whole : directionOf(size);
    let [dot, na, nb] = [0, 0, 0];
    direction.forEach((v, i) => {
      dot += v * whole.direction[i];
      na += v * v;
      nb += whole.direction[i] ** 2;
    });
    rows.push({
      backend,
      name: `${problem.label}: kfac refresh step, factors in blocks of ≤ ${size}${size === 1024 ? ' (unblocked: A 785×785)' : ''}`,
      ms,
      ratio: dot / Math.sqrt(na * nb),
      ratioOf: 'cosine with the unblocked direction',
    });
  }
  return rows;
}

/** The MLP 784-128-10 problem (batch 128, curvature batch 32). */
function mlpProblem(): Problem {
  const batch = batchOf(B, 2);
  return {
    label: 'MLP 784-128-10',
    objective: mlpObjective,
    params: mlpParams(1),
    batch,
    curvatureBatch: { x: tf.slice(batch.x, 0, CURVATURE_SAMPLES), y: tf.slice(batch.y, 0, CURVATURE_SAMPLES) },
  };
}

/** The `kronecker` suite (see the module comment and `notes`). */
export const kronecker: Suite = {
  name: 'kronecker',
  backends: ['wasm'],
  description: 'K-FAC and Shampoo: step cost per refresh period on the MLP and the CNN, inverse roots device vs host, block sizes',
  notes:
    'Step rows: one step at fixed params through makeStep(tx, objective) (the step context), gradient batch 128, curvature batch ' +
    'its first 32 (K-FAC factors), amortized over a refresh period k as (refresh step + (k − 1) · plain step) / k from the median ' +
    'of steps that always refresh (inverseEvery 1) and of steps that never do; the ratio is to one gradient of the batch by the ' +
    "tape, the second figure to an adam step (makeStep). K-FAC's refresh reads the EMA factors and inverts them in float64 " +
    "blocks of ≤ 256 on the host (Cholesky); its plain step is the curvature batch's forward pass, its layer statistics and two " +
    "small products per layer. Shampoo's refresh computes inverse fourth roots of L and R (blocks of ≤ 256) by 25 coupled Newton " +
    'iterations on the device; its plain step is Adam plus L, R updates and two products per matrix. Root rows: one n × n ' +
    'statistic X Xᵀ / 2n (X uniform random, n × 2n) with the ridge 1e-6 ‖·‖_F, rooted on the device and on the host, error ' +
    "(relative, Frobenius) against the float64 eigendecomposition of the float64 statistic. Block rows: K-FAC's refresh step on the MLP " +
    'with factors split into diagonal blocks of at most the size (A of the first layer is 785 × 785), and the cosine of its ' +
    'direction (a step from the same state on a gradient of ones) with the unblocked one. CNN: the model of the cnn suite ' +
    '(28×28×1, conv 16, conv 32, P = 20,490). wasm only.',
  run(backend) {
    const mlp = mlpProblem();
    const cnn = cnnProblem(28, [16, 32], 1);
    const cnnAsProblem: Problem = { label: 'CNN', ...cnn };
    try {
      return [...stepRows(backend, mlp, 5), ...blockRows(backend, mlp), ...stepRows(backend, cnnAsProblem, 3), ...rootRows(backend)];
    } finally {
      tree.dispose([mlp.params, mlp.batch, mlp.curvatureBatch] as never);
      disposeProblem(cnn);
    }
  },
};
