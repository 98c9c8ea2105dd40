/**
 * The backend checks of the browser suite, written once: the test page runs them in Chromium on
 * `cpu`, `wasm` and `webgpu`, node runs the same functions on `cpu` for the reference steps and on
 * the `webgpu` package for `npm run test:webgpu`. Every result is plain numbers (read with the
 * asynchronous `data()`, never `dataSync`), so it crosses from the page to node as JSON.
 *
 * The library comes from `../index`: node runs the sources, the page bundle maps that import to
 * the built `dist/index.mjs` (see `rollup.browser.config.mjs`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  adam,
  applyIfFinite,
  conditionallyTransform,
  ggnvp,
  guardNonFinite,
  hessianDiag,
  hvp,
  injectHyperparams,
  jvp,
  layersObjective,
  listMethods,
  make,
  makeStepAsync,
  masked,
  mlpObjective,
  multiSteps,
  namedChain,
  objectiveLoss,
  partition,
  random,
  skipNotFinite,
  tree,
} from '../index';
import type { GradientTransformation, MethodName, Objective, Tree } from '../index';
import { makeProblem, numParams, rand } from '../tests/helpers/mlp64';
import type { Act, LossName } from '../tests/helpers/mlp64';

/** A small MLP problem of `tests/helpers/mlp64.ts`, by its arguments. */
export interface ProblemSpec {
  readonly act: Act;
  readonly loss: LossName;
  readonly size: { d: number; h: number; c: number; b: number; seed: number };
}

/** The product checks' problem: a 4-5-3 tanh MLP with softmax cross-entropy on 6 samples (43 params). */
export const PRODUCT_PROBLEM: ProblemSpec = { act: 'tanh', loss: 'softmaxCrossEntropy', size: { d: 4, h: 5, c: 3, b: 6, seed: 1 } };
/** Seed of the tangent vector `v` of the product checks (`rand(P, V_SEED)`). */
export const V_SEED = 99;
/** The products checked against float64 references. */
export const PRODUCTS = ['hvp', 'ggnvp', 'ggnvpLinearized', 'jvp', 'hessianDiag'] as const;
/** One of {@link PRODUCTS}. */
export type ProductName = (typeof PRODUCTS)[number];

/** The method checks' problem: a 3-4-3 tanh MLP, softmax cross-entropy, 6 samples (31 params). */
export const METHOD_PROBLEM: ProblemSpec = { act: 'tanh', loss: 'softmaxCrossEntropy', size: { d: 3, h: 4, c: 3, b: 6, seed: 2 } };
/** IGND is for scalar regression: a 3-4-1 tanh MLP with mean squared error. */
export const REGRESSION_PROBLEM: ProblemSpec = { act: 'tanh', loss: 'meanSquaredError', size: { d: 3, h: 4, c: 1, b: 6, seed: 2 } };

/** Options of each method in the step and training checks (the registry's defaults otherwise). */
export const METHOD_OPTIONS: Readonly<Record<string, Record<string, unknown>>> = {
  adam: { learningRate: 0.05 },
  adahessian: { learningRate: 0.1 },
  sophiaH: { learningRate: 0.05, weightDecay: 0 },
  sophiaG: { learningRate: 0.05, weightDecay: 0 },
  newtonCg: { lam0: 1, maxIterations: 5 },
  newtonDirect: { lam0: 0.1 },
  sgn: { lam0: 0.1, maxIterations: 10 },
  egn: { lam0: 0.1 },
  ggnDirect: { lam0: 0.1 },
  sqn: { learningRate: 1, linesearch: true },
  swmng: { lam0: 0.1, learningRate: 0.5 },
  ignd: { learningRate: 0.05 },
  kfac: { learningRate: 0.1 },
  shampoo: { learningRate: 0.01 },
  sgdArmijo: { learningRate: 2 },
  lbfgs: {},
};
/** The methods of the 200-step training check. */
export const TRAINING_METHODS = ['adam', 'sophiaG', 'egn', 'newtonCg'] as const;
/** The key of the checked step (the same in the page and in node). */
export const STEP_KEY = random.key(3);

/** The problem a method is checked on. */
export function problemFor(method: string): ProblemSpec {
  return method === 'ignd' ? REGRESSION_PROBLEM : METHOD_PROBLEM;
}

function build(spec: ProblemSpec) {
  const prob = makeProblem(spec.act, spec.loss, spec.size);
  // The MLP of makeProblem's predict, linearized in closed form (K-FAC needs its layer statistics).
  const objective = mlpObjective({ activation: spec.act, loss: spec.loss });
  return { prob, objective, lossFn: objectiveLoss(objective) };
}

/** Reads a tensor asynchronously (no synchronous GPU read) and disposes it. */
async function take(t: tf.Tensor): Promise<number[]> {
  try {
    return Array.from(await t.data());
  } finally {
    t.dispose();
  }
}

/** A tree's leaves raveled in sorted-key order (as `tests/helpers/mlp64.ts` orders parameters). */
function flat(t: Tree): Promise<number[]> {
  return take(tf.tidy(() => tree.ravel(t).vector));
}

/**
 * HVP, GGN-vector product (by tape, and by mlpObjective's linearization), JVP and the exact Hessian diagonal of
 * {@link PRODUCT_PROBLEM} at its parameters, with `v = rand(P, V_SEED)` (all of them, or those named, in order); compare with
 * `productReferences` of `browser/reference.ts`.
 */
export async function products(names: readonly ProductName[] = PRODUCTS): Promise<Partial<Record<ProductName, number[]>>> {
  const { prob, objective, lossFn } = build(PRODUCT_PROBLEM);
  const params = prob.params();
  const batch = prob.batch();
  const v = tree.tidy(() => tree.unravel(tree.flatten(params).def, tf.tensor1d(Array.from(rand(numParams(prob.m), V_SEED)))));
  const compute: Record<ProductName, () => Promise<number[]>> = {
    hvp: () => flat(hvp(lossFn, params, v, batch)),
    ggnvp: () => flat(ggnvp(objective, params, v, batch)),
    // The same MLP through mlpObjective's closed-form linearization (no tape).
    ggnvpLinearized: () => flat(ggnvp(mlpObjective({ activation: PRODUCT_PROBLEM.act, loss: PRODUCT_PROBLEM.loss }), params, v, batch)),
    jvp: () => take(jvp((q: Tree) => prob.predict(q, batch.x), params, v)),
    hessianDiag: () => flat(hessianDiag(lossFn, params, batch)),
  };
  try {
    const out: Partial<Record<ProductName, number[]>> = {};
    for (const name of names) out[name] = await compute[name]();
    return out;
  } finally {
    tree.dispose([params, batch, v] as any);
  }
}

/** The objective a method is built for. */
type MethodObjective = Objective<tf.Tensor>;

/** newtonCg (it reads CG scalars, damping ratios and its guard) with {@link METHOD_OPTIONS}, `lam0` overridable. */
function readingMethod(objective: MethodObjective, lam0 = METHOD_OPTIONS.newtonCg.lam0 as number): GradientTransformation<any> {
  return make('newtonCg', { objective, lossFn: objectiveLoss(objective), ...METHOD_OPTIONS.newtonCg, lam0 } as any);
}

/**
 * Every wrapper of `lib/combine` around a reading method, by the name of its step check: each
 * step runs through `makeStepAsync`, so on WebGPU it proves the wrapper carries the inner reads
 * (a synchronous read there stalls or fails). Each wrapper is set up to call newtonCg at the
 * first step, over the whole params (masks and labels select every leaf: a curvature piece needs
 * the model's params), so its step is newtonCg's.
 */
export const WRAPPED_METHODS: Readonly<Record<string, (objective: MethodObjective) => GradientTransformation<any>>> = {
  'injectHyperparams(newtonCg)': (o) => injectHyperparams((hp) => readingMethod(o, hp.lam0), { lam0: (t: number) => 1 / (t + 1) }),
  'namedChain(newtonCg)': (o) => namedChain(['newtonCg', readingMethod(o)]),
  'masked(masked(newtonCg))': (o) => masked(masked(readingMethod(o), true), () => true),
  'partition(newtonCg, adam)': (o) => partition({ newtonCg: readingMethod(o), adam: adam(0.05) }, 'newtonCg'),
  'multiSteps(newtonCg)': (o) => multiSteps(readingMethod(o), 1, { shouldSkipUpdateFn: skipNotFinite }),
  'applyIfFinite(newtonCg)': (o) => applyIfFinite(readingMethod(o), 2),
  'conditionallyTransform(newtonCg)': (o) => conditionallyTransform(readingMethod(o), (step) => step % 2 === 0),
  'guardNonFinite(newtonCg, sync: false)': (o) => guardNonFinite(readingMethod(o), { sync: false }),
};

/** The names of the step checks: every registry method, then every wrapper of {@link WRAPPED_METHODS}. */
export function stepChecks(): string[] {
  return [...listMethods(), ...Object.keys(WRAPPED_METHODS)];
}

/** `adam` (first order, for comparison), a registry method, or a wrapper of {@link WRAPPED_METHODS}, built for an objective. */
export function buildMethod(name: string, objective: MethodObjective): GradientTransformation<any> {
  const options = METHOD_OPTIONS[name] ?? {};
  if (name === 'adam') return adam(options.learningRate as number);
  if (Object.prototype.hasOwnProperty.call(WRAPPED_METHODS, name)) return WRAPPED_METHODS[name](objective);
  return make(name as MethodName, { objective, lossFn: objectiveLoss(objective), ...options } as any);
}

/** One step of a method: the parameters before and after, and the loss it reported. */
export interface StepOutcome {
  readonly before: number[];
  readonly after: number[];
  readonly loss: number;
}

/** One step of `method` (a name of {@link stepChecks}) from the initial parameters of its problem, with key {@link STEP_KEY}. */
export async function methodStep(method: string): Promise<StepOutcome> {
  const { prob, objective, lossFn } = build(problemFor(method));
  const tx = buildMethod(method, objective);
  const batch = prob.batch();
  const params = prob.params();
  const before = await flat(params);
  // makeStepAsync: every read the method exposes is fetched asynchronously (WebGPU needs it).
  const out = await makeStepAsync(tx, lossFn)(params, tx.init(params), batch, { key: STEP_KEY });
  try {
    return { before, after: await flat(out.params), loss: (await take(out.loss))[0] };
  } finally {
    tree.dispose([out.params, out.state, batch] as any);
  }
}

/** What a training run reports: losses, tensor counts after the 2nd and the last step, time. */
export interface TrainingOutcome {
  readonly firstLoss: number;
  readonly lastLoss: number;
  readonly tensorsAfterSecondStep: number;
  readonly tensorsAtEnd: number;
  readonly ms: number;
}

/**
 * `steps` steps of `tx` through `makeStepAsync` from `params` on one batch (keys 0, 1, …): the first
 * and last losses, the tensor counts after the second step and at the end, and the wall-clock.
 */
async function timedSteps(
  tx: GradientTransformation<any>,
  lossFn: (p: Tree, b: any) => tf.Scalar,
  params: Tree,
  batch: unknown,
  steps: number,
): Promise<{ outcome: TrainingOutcome; params: Tree; state: unknown }> {
  const step = makeStepAsync(tx, lossFn);
  let state = tx.init(params);
  const start = Date.now();
  let firstLoss = NaN;
  let tensorsAfterSecondStep = 0;
  for (let i = 0; i < steps; i++) {
    const out = await step(params, state, batch, { key: i });
    if (i === 0) firstLoss = (await take(out.loss))[0];
    else out.loss.dispose();
    ({ params, state } = out);
    if (i === 1) tensorsAfterSecondStep = tf.memory().numTensors;
  }
  const tensorsAtEnd = tf.memory().numTensors;
  const lastLoss = (await take(tf.tidy(() => lossFn(params, batch))))[0];
  const outcome = { firstLoss, lastLoss, tensorsAfterSecondStep, tensorsAtEnd, ms: Date.now() - start };
  return { outcome, params, state };
}

/** `steps` full-batch steps of `method` on {@link METHOD_PROBLEM} (keys 0, 1, …). */
export async function trainingRun(method: string, steps = 200): Promise<TrainingOutcome> {
  const { prob, objective, lossFn } = build(METHOD_PROBLEM);
  const tx = buildMethod(method, objective);
  const batch = prob.batch();
  const params: Tree = prob.params();
  const { outcome, params: last, state } = await timedSteps(tx, lossFn, params, batch, steps);
  tree.dispose([last, state, batch] as any);
  return outcome;
}

/** The methods trained on a tfjs-layers CNN by {@link layersRun}: one on the Hessian, one on the GGN. */
export const LAYERS_METHODS = ['newtonCg', 'egn'] as const;

const LAYERS_OPTIONS: Record<(typeof LAYERS_METHODS)[number], Record<string, unknown>> = {
  newtonCg: { lam0: 1, maxIterations: 5 },
  egn: { lam0: 1 },
};

/**
 * A compiled tfjs-layers CNN (conv 3×3×2 tanh → max-pool → flatten → dense softmax) trained by a
 * method built from it, `make(method, { model })`, in a hand-written `makeStepAsync` loop on the
 * model's own variables (updated in place): on the page the library and tfjs-layers are the
 * bundled ESM builds, where `tf.fused` cannot be routed, so this checks that the model route's
 * products need no routing (its Dense and Conv2D layers run as plain ops).
 */
export async function layersRun(method: (typeof LAYERS_METHODS)[number], steps = 10): Promise<TrainingOutcome> {
  const model = tfl.sequential();
  const init = (seed: number) => tfl.initializers.glorotNormal({ seed });
  model.add(tfl.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3, activation: 'tanh', kernelInitializer: init(1) }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tfl.layers.flatten());
  model.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(2) }));
  model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
  const objective = layersObjective(model);
  const lossFn = objectiveLoss(objective);
  const tx = make(method, { model, ...LAYERS_OPTIONS[method] } as never);
  const batch = tf.tidy(() => {
    const labels = Array.from({ length: 12 }, (_, i) => i % 3);
    const x = tf.add(
      tf.mul(
        tf.reshape(
          tf.oneHot(
            tf.tensor1d(
              labels.map((c) => c * 12 + 7),
              'int32',
            ),
            36,
          ),
          [12, 6, 6, 1],
        ),
        2,
      ),
      tf.randomNormal([12, 6, 6, 1], 0, 0.3, 'float32', 4),
    );
    return { x, y: tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 3), 'float32') };
  });
  const params: Tree = Object.fromEntries(model.trainableWeights.map((w) => [(w.read() as tf.Variable).name, w.read()]));
  const { outcome, state } = await timedSteps(tx, lossFn, params, batch, steps); // the variables train in place
  tree.dispose([state, batch] as any);
  model.dispose();
  return outcome;
}
