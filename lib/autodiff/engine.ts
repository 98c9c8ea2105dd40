/**
 * The private parts of tfjs's engine that somax's autodiff reads or patches (tfjs-core 4.x), in
 * one place: the tape depths (`gradientDepth`: tapes recording; `kernelDepth`: ops inside a
 * kernel, not recorded) and the saving of tensors for the backward pass.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** tfjs's engine as somax uses it. */
export interface EngineInternals {
  saveTensorsForBackwardMode?: ((tensors: tf.Tensor[]) => tf.Tensor[]) & { __somaxOriginal?: (tensors: tf.Tensor[]) => tf.Tensor[] };
  makeTensorFromTensorInfo(info: { dataId: tf.DataId; shape: number[]; dtype: tf.DataType }, backend?: unknown): tf.Tensor;
  keep<T extends tf.Tensor>(t: T): T;
  state: {
    tensorInfo: { get(dataId: tf.DataId): { backend: { incRef?: (dataId: tf.DataId) => void } } | undefined };
    /** Tapes recording now: 1 while the forward pass of a first-order gradient runs, 0 in its backward sweep. */
    gradientDepth: number;
    /** Nesting of kernels in progress: ops run while it is positive are not recorded on any tape. */
    kernelDepth: number;
  };
}

/** The engine, typed with the internals somax uses. */
export const engineInternals = (): EngineInternals => tf.engine() as unknown as EngineInternals;

/**
 * Whether the backward sweep running now is itself recorded (a gradient taken inside another
 * gradient: an HVP, a JVP by double VJP). Outside of it, at first order, nothing differentiates the
 * gradient again, so a saved output may be used as stock tfjs does.
 */
export const backwardRecorded = (): boolean => engineInternals().state.gradientDepth > 0;

/** The tensors saved for a backward pass as aliases of the taped originals (see `install.ts`). */
const savedAliases = new WeakSet<tf.Tensor>();

/** Records that `t` was saved for backprop as an alias carrying its original's tape id. */
export function markSavedAlias(t: tf.Tensor): void {
  savedAliases.add(t);
}

/**
 * Whether a gradient may use the output a kernel saved, `y`, and stay differentiable: always at
 * first order; in a recorded backward sweep only when `y` was saved as an alias, whose id is the
 * taped output's, so that the outer sweep differentiates through it (tfjs's own saved copy is not
 * on the tape, and a gradient through it drops the second-order terms).
 */
export const savedOutputUsable = (y: tf.Tensor): boolean => !backwardRecorded() || savedAliases.has(y);
