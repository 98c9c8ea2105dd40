/**
 * The training loop the examples share: one method (a somax transform, or tfjs's own
 * `tf.train.*` optimizer as the baseline) trained from given initial params on a fixed sequence of
 * batches, timed step by step, evaluated every few steps (evaluation time not counted).
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { makeStep, tree } from '../index';
import type { GradientTransformation, LossFn, Tree } from '../index';

/** A supervised batch. */
export interface Batch {
  readonly x: tf.Tensor;
  readonly y: tf.Tensor;
}

/** How a method is built: a somax transform, or a `tf.train` optimizer (the baseline). */
export type MethodBuilder = () => GradientTransformation<any> | { readonly tfOptimizer: tf.Optimizer };

/** One evaluation point of a run. */
export interface CurvePoint {
  /** Steps done. */
  readonly step: number;
  /** Training wall-clock so far (steps only), in seconds. */
  readonly seconds: number;
  /** The mean batch loss of the steps since the previous point (each at the params before its step). */
  readonly loss: number;
  /** Whatever `evaluate` returns (e.g. test accuracy, test loss). */
  readonly metrics: Readonly<Record<string, number>>;
}

/** The record of one method's run. */
export interface Run {
  readonly method: string;
  readonly curve: readonly CurvePoint[];
  /** Steps actually run (fewer than asked when the loss became NaN). */
  readonly steps: number;
  /** Mean wall-clock per step, in ms. */
  readonly msPerStep: number;
  /** Live tensors after the last step (params, optimizer state, data). */
  readonly tensorsAtEnd: number;
  /** Tensors left behind once params and state are disposed (0 when nothing leaks). */
  readonly leaked: number;
  /** Steps the method's NaN/Inf guard skipped (`info.skipped`). */
  readonly skipped: number;
  /** Set when the run stopped early: the step and what happened. */
  readonly failure?: string;
}

/** What {@link trainRun} needs. */
export interface TrainOptions {
  /** The name the run is reported under. */
  readonly name: string;
  /** Builds the method. */
  readonly build: MethodBuilder;
  /** The training loss `(params, batch) → scalar`. */
  readonly lossFn: LossFn<Batch>;
  /** Fresh initial params (the same values on every call). */
  readonly init: () => Tree;
  /** Batch `i` (the caller disposes nothing: the returned tensors are disposed by the loop). */
  readonly batchAt: (i: number) => Batch;
  /** The curvature batch of step `i`, cut from its batch (not disposed by the loop if it is the batch itself). */
  readonly curvatureOf?: (batch: Batch) => Batch;
  /** Maximum number of steps. */
  readonly steps: number;
  /** Stop once training time exceeds this many seconds (default: no limit). */
  readonly maxSeconds?: number;
  /** Evaluate every this many steps (and after the last step). */
  readonly every: number;
  /** Metrics of params, read on the host (not timed). */
  readonly evaluate: (params: Tree) => Record<string, number>;
  /** Called after each evaluation. */
  readonly onProgress?: (point: CurvePoint, run: { steps: number; stepsPerSecond: number }) => void;
}

/** A step function over an opaque state: `(params, i) → { params, loss, skipped }`. */
interface Stepper {
  params: Tree;
  step(i: number, batch: Batch): { loss: number; skipped: boolean };
  dispose(): void;
}

/** tfjs's optimizer on variables: `minimize` with the loss returned. */
function tfStepper(opt: tf.Optimizer, lossFn: LossFn<Batch>, init: Tree): Stepper {
  const vars = tree.map((t: tf.Tensor) => tf.variable(t), init) as Tree;
  tree.dispose(init);
  return {
    params: vars,
    step(_i, batch) {
      const l = opt.minimize(() => lossFn(vars, batch) as tf.Scalar, true) as tf.Scalar;
      const loss = l.dataSync()[0];
      l.dispose();
      return { loss, skipped: false };
    },
    dispose() {
      opt.dispose();
      tree.dispose(vars);
    },
  };
}

/** A somax transform through `makeStep`, with the curvature batch and the step index as key. */
function somaxStepper(tx: GradientTransformation<any>, lossFn: LossFn<Batch>, init: Tree, curvatureOf?: (b: Batch) => Batch): Stepper {
  const step = makeStep(tx, lossFn);
  let state = tx.init(init);
  const self: Stepper = {
    params: init,
    step(i, batch) {
      const curvatureBatch = curvatureOf ? curvatureOf(batch) : batch;
      try {
        const out = step(self.params, state, batch, { curvatureBatch, key: i });
        const loss = out.loss.dataSync()[0];
        out.loss.dispose();
        self.params = out.params;
        state = out.state;
        return { loss, skipped: out.info.skipped === true };
      } finally {
        if (curvatureBatch !== batch) tf.dispose([curvatureBatch.x, curvatureBatch.y]);
      }
    },
    dispose() {
      tree.dispose(state);
      tree.dispose(self.params);
    },
  };
  return self;
}

/**
 * Trains one method: `steps` steps (or until `maxSeconds` of training time), timing each step
 * (the loss read included, as every method reads it), evaluating every `every` steps. A NaN loss
 * or an exception stops the run and is recorded in `failure`.
 */
export function trainRun(o: TrainOptions): Run {
  const before = tf.memory().numTensors;
  const built = o.build();
  const stepper =
    'tfOptimizer' in built ? tfStepper(built.tfOptimizer, o.lossFn, o.init()) : somaxStepper(built, o.lossFn, o.init(), o.curvatureOf);
  const curve: CurvePoint[] = [];
  let seconds = 0;
  let skipped = 0;
  let failure: string | undefined;
  let done = 0;
  let loss = NaN;
  let lossSum = 0;
  let lossCount = 0;
  for (let i = 0; i < o.steps; i++) {
    const batch = o.batchAt(i);
    const start = performance.now();
    try {
      const r = stepper.step(i, batch);
      loss = r.loss;
      lossSum += loss;
      lossCount += 1;
      if (r.skipped) skipped++;
    } catch (e) {
      failure = `step ${i}: ${(e as Error).message.split('\n')[0]}`;
    } finally {
      tf.dispose([batch.x, batch.y]);
    }
    seconds += (performance.now() - start) / 1000;
    if (failure) break;
    done = i + 1;
    if (!Number.isFinite(loss)) failure = `step ${i}: loss ${loss}`;
    const last = failure !== undefined || done === o.steps || (o.maxSeconds !== undefined && seconds >= o.maxSeconds);
    if (done % o.every === 0 || last) {
      const point = { step: done, seconds, loss: lossSum / lossCount, metrics: o.evaluate(stepper.params) };
      lossSum = 0;
      lossCount = 0;
      curve.push(point);
      o.onProgress?.(point, { steps: done, stepsPerSecond: done / seconds });
    }
    if (last) break;
  }
  const tensorsAtEnd = tf.memory().numTensors;
  stepper.dispose();
  return {
    method: o.name,
    curve,
    steps: done,
    msPerStep: (1000 * seconds) / Math.max(done, 1),
    tensorsAtEnd,
    leaked: tf.memory().numTensors - before,
    skipped,
    failure,
  };
}

/** The first point of `run` whose metric `key` reaches `target`, if any. */
export function firstReaching(run: Run, key: string, target: number): CurvePoint | undefined {
  return run.curve.find((c) => c.metrics[key] >= target);
}
