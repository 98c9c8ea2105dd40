/**
 * The benchmark suites: each is a named function of the backend returning table rows. Add a suite
 * here (or in its own file, then list it in `SUITES`) and `npm run bench -- <name>` runs it alone.
 */
import * as tf from '@tensorflow/tfjs';
import { adam, applyUpdates, asTfOptimizer, ggnCurvature, ggnvp, hvp, jvp, makeStep, rowGram, tree } from '../index';
import type { Tree } from '../index';
import { gradientOf, timeRatio } from './harness';
import { cnn } from './cnn';
import { kronecker } from './kronecker';
import { macro } from './macro';
import { regression } from './regression';
import { raceCnn } from './raceCnn';
import { raceMlp } from './raceMlp';
import { raceCars, raceSine } from './raceRegression';
import { methodSteps } from './methods';
import { peer } from './peer';
import type { Suite } from './harness';
import { B, batchOf, C, lossFn, mlpParams, objective, predict } from './mlp';

/** One adam step: somax (makeStep, and asTfOptimizer().minimize) vs tf.train.adam (minimize). */
export const adamStep: Suite = {
  name: 'adam',
  description: 'one adam step on the MLP 784-128-10, batch 128: somax vs tf.train.adam',
  run(backend) {
    const params = mlpParams(1);
    const batch = batchOf(B, 2);
    const vars = () => tree.map((t: tf.Tensor) => tf.variable(t), params) as Record<string, tf.Variable>;
    const ourVars = vars();
    const wrappedVars = vars();
    const theirVars = vars();
    const tx = adam(1e-3);
    let state = tx.init(ourVars);
    const step = makeStep(tx, lossFn);
    const wrapped = asTfOptimizer(adam(1e-3));
    const opt = tf.train.adam(1e-3);
    const rows = timeRatio(
      backend,
      { name: 'tf.train.adam step', fn: () => opt.minimize(() => lossFn(theirVars, batch), true, Object.values(theirVars)) as tf.Scalar },
      [
        {
          name: 'somax adam step (makeStep)',
          goal: '≤ 1.05',
          fn: () => {
            const out = step(ourVars, state, batch);
            state = out.state;
            return out.loss;
          },
        },
        {
          name: 'somax adam step (asTfOptimizer.minimize)',
          goal: '≤ 1.05',
          fn: () => wrapped.minimize(() => lossFn(wrappedVars, batch), true, Object.values(wrappedVars)) as tf.Scalar,
        },
      ],
      '/ tf.train.adam',
      { reps: 30, warmup: 5 },
    );
    tree.dispose([params, batch, ourVars, wrappedVars, theirVars, state] as any);
    opt.dispose();
    wrapped.dispose();
    return rows;
  },
};

/**
 * The optimizer's own work only (fixed gradients, no forward/backward pass): where a per-step
 * overhead of somax would show, undiluted by the model's matMuls.
 */
export const adamUpdate: Suite = {
  name: 'adamUpdate',
  description: 'adam update alone on the MLP 784-128-10 params (fixed gradients): somax vs tf.train.adam.applyGradients',
  notes:
    'the optimizer alone: both run the same number of full-size kernels (tf.profile: 56 for somax ' +
    'vs 60 for tf.train.adam on the 4 MLP leaves), so the gap is a fixed per-step cost, not math: somax builds ' +
    'the update in composable pieces (chain(scaleByAdam, scaleByLearningRate) keeps an intermediate tree, every ' +
    'tree.map flattens, checks structure and builds leaf paths, each piece has its own tidy scope). Profiled on ' +
    'wasm with 2-element leaves it is ~0.1–0.3 ms per step for 4 leaves: about 1% of a real MLP step, where ' +
    'the forward/backward matMuls dominate (see the adam rows).',
  run(backend) {
    const params = mlpParams(1);
    const vars = () => tree.map((t: tf.Tensor) => tf.variable(t), params) as Record<string, tf.Variable>;
    const gradsFor = (vs: Record<string, tf.Variable>): Record<string, tf.Tensor> =>
      Object.fromEntries(Object.values(vs).map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 0.01, 'float32', 10 + i)]));
    const [a, b, c] = [vars(), vars(), vars()];
    const [ga, gb, gc] = [gradsFor(a), gradsFor(b), gradsFor(c)];
    const tx = adam(1e-3);
    // The same tree keyed by variable name, as somax sees it inside asTfOptimizer.
    const byName = Object.fromEntries(Object.values(a).map((v) => [v.name, v]));
    const wrapped = asTfOptimizer(adam(1e-3));
    const opt = tf.train.adam(1e-3);
    const probe = (v: tf.Variable) => tf.tidy(() => tf.slice(tf.reshape(v, [-1]), 0, 1));
    let state = tx.init(byName);
    const rows = timeRatio(
      backend,
      {
        name: 'tf.train.adam applyGradients (no fwd/bwd)',
        fn: () => {
          opt.applyGradients(gc as unknown as Parameters<typeof opt.applyGradients>[0]);
          return probe(c.w1);
        },
      },
      [
        {
          name: 'somax adam update + applyUpdates (no fwd/bwd)',
          fn: () => {
            const [u, next] = tx.update(ga, state, byName);
            applyUpdates(byName, u);
            tree.dispose([u, state] as any);
            state = next;
            return probe(a.w1);
          },
        },
        {
          name: 'somax asTfOptimizer.applyGradients (no fwd/bwd)',
          fn: () => {
            wrapped.applyGradients(gb as tf.NamedTensorMap);
            return probe(b.w1);
          },
        },
      ],
      '/ tf.train.adam',
      { reps: 100, warmup: 10 },
    );
    tree.dispose([params, a, b, c, ga, gb, gc, state] as any);
    wrapped.dispose();
    opt.dispose();
    return rows;
  },
};

/** HVP, GGN-vp and JVP relative to one gradient. */
export const products: Suite = {
  name: 'products',
  description: 'curvature products on the MLP, batch 128, relative to one gradient',
  notes:
    'Where the HVP time goes (tf.profile on wasm, this MLP): a gradient ran 84 kernels and an HVP 309, of which 95 were Identity ' +
    'copies that tfjs makes of every saved tensor while recording the tape of the inner gradient, 58 Reshape and 26 Cast. ' +
    'Since issue #15 second-order products save aliases instead of those copies, somax installs leaner gradients for Add, Sub, ' +
    'Multiply, RealDiv, Square, Sum and Cast, and the HVP seeds its outer sweep with v: 73 kernels for the gradient, 140 for the HVP. ' +
    'Before that: ' +
    "Over three profiles the HVP kernels took 16–31 ms against the gradient's 13–19 ms, while the HVP wall-clock was 42–61 ms: " +
    'about half of an HVP is per-op engine overhead (tape bookkeeping, tidy scopes, saved-tensor copies; ~80 µs per op), which ' +
    "is why the ratio sits at 2.5–2.7× rather than the ≈ 2× of the flop count. tfjs-backend-wasm's Tile kernel (used by " +
    'tf.broadcastTo and by tf.where with a scalar condition) runs ~14× slower than a broadcasting Add, so somax avoids it. ' +
    "The GGN-vp rows: the tape-based product (any objective) against mlpObjective's closed-form linearization (two matrix " +
    'products per layer and direction, no tape; one forward pass kept), once per call and amortized inside a CG operator.',
  run(backend) {
    const params = mlpParams(1);
    const batch = batchOf(B, 2);
    const v = tree.randomNormalLike(params, 3);
    const plain = { predict: objective.predict, loss: objective.loss }; // the same MLP without its hooks
    const op = ggnCurvature(objective)(params, batch);
    const rows = timeRatio(
      backend,
      { name: 'gradient (batch 128)', fn: gradientOf(lossFn, params, batch) },
      [
        { name: 'HVP (reverse-over-reverse)', goal: '≤ 2.2', fn: () => tree.leaves(hvp(lossFn, params, v, batch)) },
        { name: 'GGN-vp (tape: JVP by double VJP + VJP)', goal: '≤ 3', fn: () => tree.leaves(ggnvp(plain, params, v, batch)) },
        {
          name: 'GGN-vp (mlpObjective.linearize: closed-form J v, Jᵀ u, forward pass included)',
          goal: '≤ 3',
          fn: () => tree.leaves(ggnvp(objective, params, v, batch)),
        },
        { name: 'GGN-vp inside a CG operator (linearized once per step; per product)', fn: () => tree.leaves(op.matvec(v)) },
        { name: 'JVP (double-VJP)', fn: () => jvp((p: Tree) => predict(p, batch.x), params, v, { outputShape: [B, C] }) },
      ],
      '/ gradient',
    );
    op.dispose();
    tree.dispose([params, batch, v] as any);
    return rows;
  },
};

/** The row Gram matrix J Jᵀ of 32 samples × 10 outputs by the mlpObjective hook (the delta trick). */
export const gram: Suite = {
  name: 'rowGram',
  description: 'row Gram J Jᵀ for 32 samples × 10 outputs (mlpObjective hook: the per-example delta trick)',
  run(backend) {
    const params = mlpParams(1);
    const small = batchOf(32, 4);
    const big = batchOf(B, 2);
    const rows = timeRatio(
      backend,
      { name: 'gradient (batch 128)', fn: gradientOf(lossFn, params, big) },
      [
        {
          name: 'row Gram J Jᵀ (batch 32 × 10 outputs, delta trick)',
          fn: () => {
            rowGram(objective, params, small.x);
          },
        },
      ],
      '/ gradient (batch 128)',
    );
    tree.dispose([params, small, big] as any);
    return rows.slice(1);
  },
};

/** Every suite, in run order. */
export const SUITES: readonly Suite[] = [
  adamStep,
  adamUpdate,
  products,
  gram,
  methodSteps,
  cnn,
  kronecker,
  peer,
  macro,
  regression,
  raceMlp,
  raceCnn,
  raceSine,
  raceCars,
];
