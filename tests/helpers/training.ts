/**
 * The training checks every method must pass (issue #5): 300 steps (gradient on the full batch,
 * curvature on its first 8 samples) lower the loss below a stated threshold with a flat tensor
 * count; the same seed gives the same trajectory; a batch with a NaN never writes NaN into the
 * params or the state (the step is skipped).
 */
import * as tf from '@tensorflow/tfjs-core';
import { make, makeStep, tree } from '../../index';
import type { GradientTransformation, MethodName, Tree } from '../../index';
import type { TrainingProblem } from './problems';

/** A method as the registry builds it, with the options used in the training tests. */
export interface MethodCase {
  readonly name: string;
  readonly options: Record<string, unknown>;
  /** The loss after the run must be below this. */
  readonly threshold: number;
  /** Steps of the run (default 300). */
  readonly steps?: number;
  /** Samples of the curvature batch (default {@link CURVATURE_SAMPLES}; all for IGND, whose direction has no gradient batch). */
  readonly curvatureSamples?: number;
}

const NEEDS_OBJECTIVE = new Set(['sophiaG', 'sgn', 'egn', 'ggnDirect', 'swmng', 'ignd']);

/** The registry's method `name` built for `problem`. */
export function build(problem: TrainingProblem, name: string, options: Record<string, unknown>): GradientTransformation<any> {
  const model = NEEDS_OBJECTIVE.has(name) ? { objective: problem.objective } : { lossFn: problem.lossFn };
  return make(name as MethodName, { ...model, ...options } as any);
}

/** Runs `steps` steps of a method from the problem's initial params; returns the final params. */
export function train(
  problem: TrainingProblem,
  c: Pick<MethodCase, 'name' | 'options'>,
  steps: number,
  batch: unknown,
  curvatureBatch?: unknown,
) {
  const tx = build(problem, c.name, c.options);
  const step = makeStep(tx, problem.lossFn as any);
  let params: Tree = problem.params();
  let state = tx.init(params);
  let tensorsAfterFirstSteps = 0;
  for (let i = 0; i < steps; i++) {
    const out = step(params, state, batch as any, { key: i, curvatureBatch });
    out.loss.dispose();
    params = out.params;
    state = out.state;
    if (i === 1) tensorsAfterFirstSteps = tf.memory().numTensors;
  }
  const tensorsAtEnd = tf.memory().numTensors;
  tree.dispose(state as any);
  return { params, tensorsAfterFirstSteps, tensorsAtEnd };
}

/** Curvature quantities (products, Jacobian rows, estimators, pairs) use the first 8 samples. */
export const CURVATURE_SAMPLES = 8;

/** The first `n` samples of a batch. */
export function firstSamples(batch: { x: tf.Tensor; y: tf.Tensor }, n: number) {
  return { x: tf.slice(batch.x, 0, n), y: tf.slice(batch.y, 0, n) };
}

const flat = (t: Tree) => Array.from(tree.readValues(() => tree.ravel(t).vector));

/** Skipped steps so far: in `info` (guards that read) or on the device (read-free guards). */
function skippedSteps(out: { info: Record<string, unknown>; state: any }): number {
  if (typeof out.info.skippedSteps === 'number') return out.info.skippedSteps;
  return out.state.info.skippedSteps.dataSync()[0];
}

/** Registers, for each method, the 300-step, same-seed and NaN tests on `problem`. */
export function describeTraining(problem: TrainingProblem, cases: readonly MethodCase[]): void {
  describe(`${problem.name}: every method`, () => {
    test.each(cases.map((c) => [c.name, c.steps ?? 300, c] as const))(
      '%s: %d steps reach the threshold, tensors flat',
      (_name, _steps, c) => {
        const batch = problem.batch();
        const curvatureBatch = firstSamples(batch, c.curvatureSamples ?? CURVATURE_SAMPLES);
        const first = tree.readScalar(() => problem.lossFn(problem.params(), batch));
        const run = train(problem, c, c.steps ?? 300, batch, curvatureBatch);
        const last = tree.readScalar(() => problem.lossFn(run.params, batch));
        expect(run.tensorsAtEnd).toBe(run.tensorsAfterFirstSteps);
        expect(last).toBeLessThan(c.threshold);
        expect(last).toBeLessThan(first);
        tree.dispose([run.params, batch, curvatureBatch] as any);
      },
    );

    test.each(cases.map((c) => [c.name, c] as const))('%s: the same seed gives the same trajectory', (_name, c) => {
      const batch = problem.batch();
      const a = train(problem, c, 12, batch);
      const b = train(problem, c, 12, batch);
      expect(flat(b.params)).toEqual(flat(a.params));
      tree.dispose([a.params, b.params, batch] as any);
    });

    test.each(cases.map((c) => [c.name, c] as const))('%s: a NaN in the batch skips the step, params and state stay finite', (_name, c) => {
      const good = problem.batch();
      const bad = { x: tf.tidy(() => tf.concat([tf.fill([1, good.x.shape[1]], NaN), tf.slice(good.x, [1, 0], [-1, -1])])), y: good.y };
      const tx = build(problem, c.name, c.options);
      const step = makeStep(tx, problem.lossFn as any);
      const start = problem.params();
      const before = flat(start);
      const skipped = step(start, tx.init(start), bad as any, { key: 0 });
      expect(skippedSteps(skipped)).toBe(1);
      expect(flat(skipped.params)).toEqual(before);
      const next = step(skipped.params, skipped.state, good as any, { key: 1 });
      expect(skippedSteps(next)).toBe(1);
      const after = flat(next.params);
      expect(after.every(Number.isFinite)).toBe(true);
      expect(after).not.toEqual(before);
      expect(tree.readScalar(() => tf.cast(tree.allFinite(tree.tensors(next.state as any)), 'float32') as tf.Scalar)).toBe(1);
      tree.dispose([skipped.loss, next.loss, next.params, next.state, good, bad.x] as any);
    });
  });
}
