/**
 * Per-method cost: one step of every registry method (and adam) on the MLP 784-128-10, gradient
 * batch 128, curvature batch 32, as a multiple of one gradient, with the peak tensor count and
 * bytes during the step. The dense direct methods (P products per step) run on a 16-8-10 MLP.
 */
import * as tf from '@tensorflow/tfjs';
import { adam, listMethods, losses, make, makeStep, objectiveLoss, tree } from '../index';
import type { GradientTransformation, Tree } from '../index';
import { gradientOf, interleaved, medianMs } from './harness';
import type { Row } from './harness';
import { batchOf, lossFn, mlpParams, objective } from './mlp';
import type { Suite } from './harness';

/** Options per method for the bench: the registry's defaults, with the knobs that make sense here. */
const OPTIONS: Record<string, Record<string, unknown>> = {
  adahessian: { learningRate: 0.1 },
  sophiaH: { learningRate: 0.01, evalEveryK: 1 },
  sophiaG: { learningRate: 0.01, evalEveryK: 1 },
  newtonCg: { lam0: 1, maxIterations: 10 },
  newtonDirect: { lam0: 1 },
  sgn: { lam0: 1, maxIterations: 10 },
  egn: { lam0: 1 },
  ggnDirect: { lam0: 1 },
  sqn: { learningRate: 0.1 },
  swmng: { lam0: 0.1, learningRate: 2 },
  ignd: { learningRate: 0.1 },
  sgdArmijo: { learningRate: 1 },
  lbfgs: {},
};
const DENSE = new Set(['newtonDirect', 'ggnDirect']);

/** A small MLP 16-8-10 for the dense methods (P = 226). */
function tinyProblem() {
  const params = tf.tidy(() => ({
    w1: tf.mul(tf.randomNormal([16, 8], 0, 1, 'float32', 3), 0.25),
    b1: tf.zeros([8]),
    w2: tf.mul(tf.randomNormal([8, 10], 0, 1, 'float32', 4), 0.35),
    b2: tf.zeros([10]),
  }));
  const batch = tf.tidy(() => ({
    x: tf.randomNormal([128, 16], 0, 1, 'float32', 5),
    y: losses.oneHotFloat(
      tf.tensor1d(
        Array.from({ length: 128 }, (_, i) => i % 10),
        'int32',
      ),
      10,
    ),
  }));
  return { params, batch, objective, lossFn: objectiveLoss(objective) };
}

/**
 * Median ms of `reps` steps interleaved with as many gradients (`gradient`, timed alike: the ratio
 * of the two medians is measured in one window of the machine's drift), after 2 warm-up rounds,
 * then one more step under `tf.profile` for the peak tensor count and bytes allocated inside a step.
 */
async function timeSteps(
  tx: GradientTransformation<any>,
  loss: typeof lossFn,
  params: Tree,
  batch: unknown,
  curvatureBatch: unknown,
  reps: number,
  gradient: () => tf.Tensor[],
) {
  const step = makeStep(tx, loss);
  let current = tree.map((t: tf.Tensor) => tf.clone(t), params);
  let state = tx.init(current);
  let i = 0;
  const once = () => {
    const out = step(current, state, batch as any, { curvatureBatch, key: i++ });
    current = out.params;
    state = out.state;
    return out.loss;
  };
  const { step: ms, gradient: gradientMs } = interleaved({ gradient, step: once }, { reps, warmup: 2 });
  const before = tf.memory();
  const profile = await tf.profile(() => {
    tf.dispose(once());
  });
  const peakTensors = Math.max(0, ...profile.kernels.map((k) => k.totalTensorsSnapshot)) - before.numTensors;
  const peakBytes = profile.peakBytes - before.numBytes;
  tree.dispose([current, state] as any);
  return { ms, gradientMs, peakTensors, peakBytes };
}

/** The issues' goals for a method's step, as a ratio to one gradient (issue #15: egn at 32 samples × 10 classes). */
const GOALS: Readonly<Record<string, string>> = { egn: '≤ 4' };

/** The per-method suite: step time / gradient time, peak tensors and bytes (wasm). */
export const methodSteps: Suite = {
  name: 'methods',
  backends: ['wasm'],
  description: 'one step of every method / one gradient, MLP 784-128-10, batch 128, curvature batch 32 (dense methods: MLP 16-8-10)',
  notes:
    'step time / gradient time of each method, gradient batch 128 and curvature batch 32 (the first 32 samples), ' +
    'median of 9 steps (3 for the dense methods) interleaved with as many gradients, the ratio of the two medians; ' +
    'egn, ignd and swmng take the row Gram of the mlpObjective hook (the delta trick; before it, their 320 ' +
    'per-sample Jacobian rows cost egn 704 and ignd 28 gradients a step). Peak tensors and MB are the allocations inside one step ' +
    '(one more step under tf.profile). wasm only (the cpu backend is 3–8× slower per step and would not fit the 10-minute bench). ' +
    'The dense direct methods (P Hessian or ' +
    "GGN products per step) run on an MLP 16-8-10 (P = 226) and are divided by that model's gradient. lbfgs runs its " +
    'zoom line search (several loss and gradient evaluations per step).',
  async run(backend) {
    const big = { params: mlpParams(7), batch: batchOf(128, 8) };
    const bigCurv = { x: tf.slice(big.batch.x, 0, 32), y: tf.slice(big.batch.y, 0, 32) };
    const tiny = tinyProblem();
    const tinyCurv = { x: tf.slice(tiny.batch.x, 0, 32), y: tf.slice(tiny.batch.y, 0, 32) };
    const gradients = { big: gradientOf(lossFn, big.params, big.batch), tiny: gradientOf(tiny.lossFn, tiny.params, tiny.batch) };
    const gradBig = medianMs(gradients.big, { reps: 10 });
    const rows: Row[] = [{ backend, name: 'gradient (784-128-10, batch 128)', ms: gradBig }];
    const cases: [string, () => GradientTransformation<any>][] = [
      ['adam', () => adam(1e-3)],
      ...listMethods().map((name): [string, () => GradientTransformation<any>] => [
        name,
        () =>
          make(name, {
            // Both: make takes the one the method needs (a new method needing an objective runs unlisted).
            objective,
            lossFn: DENSE.has(name) ? tiny.lossFn : lossFn,
            ...OPTIONS[name],
          } as any),
      ]),
    ];
    for (const [name, build] of cases) {
      const dense = DENSE.has(name);
      const p = dense ? tiny : { ...big, lossFn };
      const reps = dense ? 3 : 9;
      const r = await timeSteps(
        build(),
        p.lossFn,
        p.params,
        p.batch,
        dense ? tinyCurv : bigCurv,
        reps,
        dense ? gradients.tiny : gradients.big,
      );
      rows.push({
        backend,
        name: `${name} step${dense ? ' (16-8-10)' : ''}: peak ${r.peakTensors} tensors, ${(r.peakBytes / 2 ** 20).toFixed(1)} MB`,
        ms: r.ms,
        ratio: r.ms / r.gradientMs,
        ratioOf: '/ gradient',
        ...(name in GOALS ? { goal: GOALS[name] } : {}),
      });
    }
    tree.dispose([big.params, big.batch, bigCurv, tiny.params, tiny.batch, tinyCurv] as any);
    return rows;
  },
};
