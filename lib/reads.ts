/**
 * Device reads that can be awaited: the computations of somax that read values from the device
 * (CG scalars, float64 solves, damping ratios, finiteness guards) are written once as
 * {@link Reads} generators that yield each tensor before its `dataSync()`. Run synchronously they
 * are plain code; run by {@link runAsync} every yielded tensor is fetched with `await t.data()`
 * first, which caches its values on the CPU, so that the `dataSync()` that follows does not touch
 * the GPU. That is what makes the second-order methods usable on WebGPU, where a synchronous read
 * stalls or (in headless SwiftShader) fails.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Extra, GradientTransformation, Reads, Tree } from './types';

/** Runs a {@link Reads} computation synchronously (reads happen at each `dataSync()`). */
export function runSync<T>(reads: Reads<T>): T {
  let r = reads.next();
  while (!r.done) r = reads.next();
  return r.value;
}

/** Runs a {@link Reads} computation, fetching each yielded tensor with `await data()` first. */
export async function runAsync<T>(reads: Reads<T>): Promise<T> {
  let r = reads.next();
  while (!r.done) {
    try {
      await r.value.data();
    } catch (e) {
      r = reads.throw(e); // let the computation clean up (its finally blocks) and rethrow
      continue;
    }
    r = reads.next();
  }
  return r.value;
}

/** The values of `fn()`'s tensor (disposed afterwards), fetched first when run asynchronously. */
export function* fetchValues(fn: () => tf.Tensor): Reads<tf.TypedArray> {
  const t = tf.tidy(fn);
  try {
    yield t;
    return t.dataSync();
  } finally {
    t.dispose();
  }
}

/** The first value of `fn()`'s tensor, as a number. */
export function* fetchScalar(fn: () => tf.Tensor): Reads<number> {
  return (yield* fetchValues(fn))[0];
}

/** A transform's update as a {@link Reads} computation: its `updateReads`, or its plain `update`. */
export function* updateReadsOf<S>(tx: GradientTransformation<S>, updates: Tree, state: S, params?: Tree, extra?: Extra): Reads<[Tree, S]> {
  if (tx.updateReads) return yield* tx.updateReads(updates, state, params, extra);
  return tx.update(updates, state, params, extra);
}

/**
 * A transform from its `init` and its update written as a {@link Reads} computation: `update` runs
 * it synchronously, `updateReads` exposes it to `makeStepAsync`.
 */
export function withReads<S>(
  init: (params: Tree) => S,
  updateReads: (updates: Tree, state: S, params?: Tree, extra?: Extra) => Reads<[Tree, S]>,
): GradientTransformation<S> {
  return { init, update: (u, s, p, e) => runSync(updateReads(u, s, p, e)), updateReads };
}
