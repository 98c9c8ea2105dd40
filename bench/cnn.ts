/**
 * The `cnn` suite: somax on a compiled tfjs-layers CNN (MNIST-shaped: conv 3×3×16 → max-pool →
 * conv 3×3×32 → max-pool → dense 10 softmax), through `layersObjective`, whose closed-form chain
 * linearization (models/layerChain.ts) gives J v, Jᵀu and the row Gram from one kept forward pass.
 * Rows: the row Gram, a GGN-vector product inside CG and egn / sgn steps, each relative to one
 * gradient and against the same objective without its hooks (the tape); then the forward passes
 * per step of every registry method, with the step context and without it.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { ggnCurvature, layersObjective, listMethods, losses, make, makeStep, objectiveLoss, rowGram, tree } from '../index';
import type { GradientTransformation, MethodName, Objective, OutputLoss, Tree } from '../index';
import { countForwardPasses } from '../testing';
import { gradientOf, median, timeOnce, timeRatio } from './harness';
import type { Suite, Timed } from './harness';

/** A synthetic supervised batch: inputs `[n, side, side, 1]` and one-hot labels `[n, 10]`. */
interface ImageBatch {
  x: tf.Tensor;
  y: tf.Tensor;
}

/** Classes of the CNN's output. */
const CLASSES = 10;
/** Samples of the gradient batch. */
const GRADIENT_SAMPLES = 128;
/** Samples of the curvature batch (the first ones of the gradient batch). */
const CURVATURE_SAMPLES = 32;

/**
 * A compiled Sequential CNN on `side`×`side`×1 images: per entry of `filters`, a conv2d 3×3 'same'
 * relu then a 2×2 max-pool; then flatten and a dense 10 softmax; categorical cross-entropy.
 * Glorot-normal kernels seeded from `seed`.
 */
export function compiledCnn(side: number, filters: readonly number[], seed: number): tf.Sequential {
  const model = tf.sequential();
  const init = (k: number) => tf.initializers.glorotNormal({ seed: seed + k });
  filters.forEach((f, i) => {
    model.add(
      tf.layers.conv2d({
        ...(i === 0 ? { inputShape: [side, side, 1] } : {}),
        filters: f,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(i),
      }),
    );
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  });
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: init(filters.length) }));
  model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
  return model;
}

/** A synthetic batch of `n` standard-normal `side`×`side`×1 images and one-hot labels, from `seed`. */
function imageBatch(n: number, side: number, seed: number): ImageBatch {
  return tf.tidy(() => ({
    x: tf.randomNormal([n, side, side, 1], 0, 1, 'float32', seed),
    y: losses.oneHotFloat(
      tf.tensor1d(
        Array.from({ length: n }, (_, i) => (i * 7) % CLASSES),
        'int32',
      ),
      CLASSES,
    ),
  }));
}

/** The first `n` samples of a batch (fresh tensors). */
function firstSamples(batch: ImageBatch, n: number): ImageBatch {
  return { x: tf.slice(batch.x, 0, n), y: tf.slice(batch.y, 0, n) };
}

/** The model's trainable weights as a params tree of fresh tensors, keyed by variable name (as `layersObjective` reads them). */
function paramsOf(model: tf.Sequential): Record<string, tf.Tensor> {
  return Object.fromEntries(model.trainableWeights.map((w) => [(w.read() as tf.Variable).name, tf.clone(w.read())]));
}

/** A CNN with its objective, params and batches. */
export interface CnnProblem {
  model: tf.Sequential;
  objective: Objective<tf.Tensor>;
  params: Record<string, tf.Tensor>;
  batch: ImageBatch;
  curvatureBatch: ImageBatch;
}

/** The CNN problem: model, objective, params, gradient batch and curvature batch. */
export function cnnProblem(side: number, filters: readonly number[], seed: number): CnnProblem {
  const model = compiledCnn(side, filters, seed);
  const batch = imageBatch(GRADIENT_SAMPLES, side, seed + 10);
  return {
    model,
    objective: layersObjective(model) as Objective<tf.Tensor>,
    params: paramsOf(model),
    batch,
    curvatureBatch: firstSamples(batch, CURVATURE_SAMPLES),
  };
}

/** Frees a problem's tensors and model. */
export function disposeProblem(p: CnnProblem): void {
  tree.dispose([p.params, p.batch, p.curvatureBatch] as any);
  p.model.dispose();
}

/**
 * A timed step of `tx` at fixed params: each call steps from fresh clones of `params` (the step
 * consumes them), carries the state on and returns the loss; `dispose` frees the last state.
 */
export function stepAtFixedParams(
  tx: GradientTransformation<any>,
  objective: Objective<tf.Tensor>,
  problem: Pick<CnnProblem, 'params' | 'batch' | 'curvatureBatch'>,
  reuse: boolean,
): { fn: Timed; dispose: () => void } {
  const step = makeStep(tx, objective, { reuse });
  let state = tx.init(problem.params);
  let key = 0;
  return {
    fn: () => {
      const fresh = tree.map((t: tf.Tensor) => tf.clone(t), problem.params);
      const out = step(fresh, state, problem.batch, { curvatureBatch: problem.curvatureBatch, key: key++ });
      state = out.state;
      tree.dispose(out.params as any);
      return out.loss;
    },
    dispose: () => tree.dispose(state as any),
  };
}

/**
 * A timed gradient by the closed-form linearization (what the step context computes): one kept
 * forward pass, then g = Jᵀr / B for the loss's residuals r; returns the loss and the gradient's leaves.
 */
function closedFormGradient(objective: Objective<tf.Tensor>, params: Tree, batch: ImageBatch): Timed {
  const loss = objective.loss as OutputLoss;
  const linearize = objective.linearize;
  if (linearize === undefined) throw new Error('the CNN objective has no linearize hook');
  return () =>
    tf.tidy(() => {
      const lin = linearize.call(objective, params, batch.x);
      try {
        const value = loss.value(lin.outputs, batch.y);
        const residual = tf.div(loss.residual(lin.outputs, batch.y), lin.outputs.shape[0]);
        return [value, ...tree.leaves(lin.vjp(residual))];
      } finally {
        lin.dispose();
      }
    });
}

/** Options per method for the forward-pass counts: as in the `methods` suite, with short CG runs. */
const COUNT_OPTIONS: Record<MethodName, Record<string, unknown>> = {
  adahessian: { learningRate: 0.1 },
  sophiaH: { learningRate: 0.01, evalEveryK: 1 },
  sophiaG: { learningRate: 0.01, evalEveryK: 1 },
  newtonCg: { lam0: 1, maxIterations: 3 },
  newtonDirect: { lam0: 1 },
  sgn: { lam0: 1, maxIterations: 3 },
  egn: { lam0: 1 },
  ggnDirect: { lam0: 1 },
  sqn: { learningRate: 0.1 },
  swmng: { lam0: 0.1, learningRate: 2 },
  ignd: { learningRate: 0.1 },
  kfac: {},
  shampoo: { learningRate: 0.01 },
  sgdArmijo: { learningRate: 1 },
  lbfgs: {},
};
/** The methods that build a dense P×P matrix: counted on the tiny CNN. */
const DENSE: ReadonlySet<string> = new Set(['newtonDirect', 'ggnDirect']);

/**
 * Forward passes of the model in one step of `name` (after one warm-up step), run by
 * `makeStep(tx, objective)` with `reuse` on or off.
 */
function forwardPassesPerStep(name: MethodName, problem: CnnProblem, reuse: boolean): number {
  const counted = countForwardPasses(problem.objective);
  const tx = make(name, { objective: counted.objective, lossFn: objectiveLoss(counted.objective), ...COUNT_OPTIONS[name] } as any);
  const step = makeStep(tx, counted.objective, { reuse });
  let params: Tree = tree.map((t: tf.Tensor) => tf.clone(t), problem.params);
  let state = tx.init(params);
  let count = 0;
  for (let i = 0; i < 2; i++) {
    counted.reset();
    const out = step(params, state, problem.batch, { curvatureBatch: problem.curvatureBatch, key: i });
    count = counted.count;
    ({ params, state } = out);
    out.loss.dispose();
  }
  tree.dispose([params, state] as any);
  return count;
}

/** The CNN suite (see the module comment and `notes`). */
export const cnn: Suite = {
  name: 'cnn',
  backends: ['wasm'],
  description:
    'tfjs-layers CNN 28×28×1 (conv 16, pool, conv 32, pool, dense 10): row Gram, GGN-vp, egn/sgn steps / one gradient (batch 128); ' +
    'forward passes per step of every method',
  notes:
    'A compiled tfjs-layers Sequential CNN (28×28×1 → conv 3×3×16 relu → max-pool 2 → conv 3×3×32 relu → max-pool 2 → dense 10 ' +
    'softmax, P = 20,490) through layersObjective; synthetic batch of 128, curvature batch its first 32. Every ratio is to one ' +
    'gradient of the 128-batch by the tape (valueAndGrad). "closed form" is the chain linearization of models/layerChain.ts (one ' +
    'kept forward pass, J v and Jᵀu by plain ops); "tape" is the same objective without its hooks ({ predict, loss }: JVP by ' +
    'double VJP, the row Gram by 320 backward passes, timed twice). The GGN-vp rows are one product of a CG operator built once. ' +
    'The egn / sgn (3 CG iterations) rows are one step at fixed params with the step context (makeStep(tx, objective): one ' +
    'forward pass per batch shared by the gradient, Jᵀr / B, and the curvature) and without it (reuse: false). On wasm the tape ' +
    "gradient runs somax's MaxPool gradient (lib/autodiff/kernels.ts, maxPoolScatter: tfjs-backend-wasm's own MaxPoolGrad drops " +
    'the gradient of windows whose values are all ≤ 0), as strided rank-4 slices (ranks above 4 fall to a per-element JS Slice: ' +
    'the gradient took 1.6 s with rank-6 slices, ~0.4 s now); the closed-form gradient row (the chain routes the pooled deltas ' +
    'through a kept argmax mask) ' +
    'is the same gradient without it. The "forward passes per step" rows are counts, not timings (ms 0): the first figure ' +
    'with the step context, the second with reuse: false, counted by testing.countForwardPasses on the second step, on the same ' +
    'layers at 8×8×1 (conv 4, conv 8, P = 666; newtonCg and sgn with 3 CG iterations, sophia estimating every step); ' +
    'newtonDirect and ggnDirect, which build dense P×P matrices, on a tiny CNN 4×4×1 → conv 3×3×2 → pool → dense 10 (P = 110). ' +
    'wasm only (cpu convolutions would not fit the bench).',
  run(backend) {
    const problem = cnnProblem(28, [16, 32], 1);
    const { objective, params, batch, curvatureBatch } = problem;
    const tape: Objective<tf.Tensor> = { predict: objective.predict, loss: objective.loss };
    const gradient = gradientOf(objectiveLoss(objective), params, batch);
    const v = tree.randomNormalLike(params, 3);
    const closedOp = ggnCurvature(objective)(params, curvatureBatch);
    const tapeOp = ggnCurvature(tape)(params, curvatureBatch);
    const steps = {
      egnContext: stepAtFixedParams(make('egn', { objective, lam0: 1 }), objective, problem, true),
      egnNoReuse: stepAtFixedParams(make('egn', { objective, lam0: 1 }), objective, problem, false),
      sgnContext: stepAtFixedParams(make('sgn', { objective, lam0: 1, maxIterations: 3 }), objective, problem, true),
      sgnNoReuse: stepAtFixedParams(make('sgn', { objective, lam0: 1, maxIterations: 3 }), objective, problem, false),
    };
    const rows = timeRatio(
      backend,
      { name: 'gradient (CNN, batch 128)', fn: gradient },
      [
        {
          name: 'CNN gradient by the closed-form linearization (Jᵀr / B, as in the step context)',
          fn: closedFormGradient(objective, params, batch),
        },
        {
          name: 'CNN row Gram J Jᵀ (32 samples × 10 outputs, closed form)',
          goal: '≤ 3',
          fn: () => void rowGram(objective, params, curvatureBatch.x),
        },
        { name: 'CNN GGN-vp inside a CG operator (closed form, per product)', goal: '≤ 1', fn: () => tree.leaves(closedOp.matvec(v)) },
        { name: 'CNN GGN-vp inside a CG operator (tape, per product)', fn: () => tree.leaves(tapeOp.matvec(v)) },
        { name: 'CNN egn step (step context)', fn: steps.egnContext.fn },
        { name: 'CNN egn step (reuse: false)', fn: steps.egnNoReuse.fn },
        { name: 'CNN sgn step, 3 CG iterations (step context)', fn: steps.sgnContext.fn },
        { name: 'CNN sgn step, 3 CG iterations (reuse: false)', fn: steps.sgnNoReuse.fn },
      ],
      '/ gradient',
      { reps: 5, warmup: 1 },
    );
    closedOp.dispose();
    tapeOp.dispose();
    Object.values(steps).forEach((s) => s.dispose());
    // The tape's row Gram (320 backward passes) is slow: timed twice, as a ratio to the gradient above.
    const tapeGramMs = median([0, 1].map(() => timeOnce(() => void rowGram(tape, params, curvatureBatch.x))));
    rows.splice(3, 0, {
      backend,
      name: 'CNN row Gram J Jᵀ (32 samples × 10 outputs, tape: 320 backward passes)',
      ms: tapeGramMs,
      ratio: tapeGramMs / rows[0].ms,
      ratioOf: '/ gradient',
    });
    tree.dispose(v as any);

    // Counts do not depend on the size: the same layers on 8×8 images (P = 666), the dense methods on a tiny CNN (P = 110).
    const small = cnnProblem(8, [4, 8], 5);
    const tiny = cnnProblem(4, [2], 7);
    for (const name of listMethods()) {
      const p = DENSE.has(name) ? tiny : small;
      rows.push({
        backend,
        name: `CNN forward passes per step: ${name}${DENSE.has(name) ? ' (tiny CNN)' : ''}`,
        ms: 0,
        ratio: forwardPassesPerStep(name, p, true),
        ratioOf: 'forward passes (step context)',
        more: [{ value: forwardPassesPerStep(name, p, false), of: 'forward passes (reuse: false)' }],
      });
    }
    [problem, small, tiny].forEach(disposeProblem);
    return rows;
  },
};
