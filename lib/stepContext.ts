/**
 * The step context: what one training step knows about its batches, computed once and handed to
 * every piece of the step (the design's "plan once, reuse within a step"). A second-order step
 * needs the model's outputs on the gradient and curvature batches, its linearization there, the
 * residuals and the loss, in several pieces: the gradient, the curvature operator, the row-space
 * solver, the damping ratio, IGND's coefficients. Each asks the context, which runs the forward
 * pass (a linearization) once per batch and params and keeps it until the step ends.
 *
 * `makeStep(tx, objective)` makes one per step and takes the gradient from it too (g = Jᵀr / B);
 * `scaleBySecondOrder` makes its own when the step has none (`extra.context`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { linearization } from './autodiff/linearize';
import { batchSize, checkObjective, checkTargets, residualAt } from './objective';
import type { Linearization, Objective, SupervisedBatch } from './objective';
import * as tree from './tree';
import type { Tree } from './types';

/**
 * The shared quantities of one step. Everything it returns is owned by the context (valid until
 * `dispose`); a linearization's own `dispose` is a no-op, so that code written for a fresh
 * linearization runs unchanged on a shared one.
 */
export interface StepContext {
  /** The objective linearized at `params` on `batch.x`: one forward pass per (objective, params, inputs) per step. */
  linearization<X>(objective: Objective<X>, params: Tree, batch: Pick<SupervisedBatch<X>, 'x'>): Linearization;
  /** The per-sample residuals rᵢ = ∂ℓᵢ/∂fᵢ at `batch.y`, from the linearization's outputs. */
  residual<X>(objective: Objective<X>, params: Tree, batch: SupervisedBatch<X>): tf.Tensor;
  /** The loss L(θ) on `batch`, from the linearization's outputs. */
  loss<X>(objective: Objective<X>, params: Tree, batch: SupervisedBatch<X>): tf.Scalar;
  /** The loss gradient on `batch` from the linearization, g = Jᵀr / B (a fresh tree the caller owns). */
  gradient<X>(objective: Objective<X>, params: Tree, batch: SupervisedBatch<X>): Tree;
  /** Model linearizations (forward passes) run so far. */
  readonly forwardPasses: number;
  /** Releases everything the context holds. */
  dispose(): void;
}

/** Options of {@link stepContext}. */
export interface StepContextOptions {
  /**
   * Reuse one linearization per batch within the step (default true). False builds a fresh one at
   * every request (each still released by the context): the cost of a step without the context,
   * for benchmarks.
   */
  reuse?: boolean;
}

/** One memoized batch: its linearization and what was derived from it. */
interface Entry {
  readonly objective: unknown;
  readonly params: readonly tf.Tensor[];
  readonly x: unknown;
  readonly lin: Linearization;
  residual?: { y: tf.Tensor; value: tf.Tensor };
  loss?: { y: tf.Tensor; value: tf.Scalar };
}

/** A linearization whose `dispose` does nothing (the context releases it). */
function borrowed(lin: Linearization): Linearization {
  return { ...lin, outputs: lin.outputs, dispose: () => undefined };
}

/**
 * A fresh {@link StepContext} for one step.
 *
 * @example
 * const context = stepContext();
 * const lin = context.linearization(objective, params, batch);   // one forward pass
 * const g = context.gradient(objective, params, batch);          // Jᵀr / B, no second pass
 * context.dispose();
 */
export function stepContext(options: StepContextOptions = {}): StepContext {
  const reuse = options.reuse ?? true;
  const entries: Entry[] = [];
  let forwardPasses = 0;
  const entryOf = <X>(objective: Objective<X>, params: Tree, x: X): Entry => {
    const leaves = tree.leaves(params);
    const same = (e: Entry) =>
      e.objective === objective && e.x === x && e.params.length === leaves.length && e.params.every((t, i) => t === leaves[i]);
    const found = reuse ? entries.find(same) : undefined;
    if (found) return found;
    const lin = linearization(objective, params, { x });
    tf.keep(lin.outputs); // the entry lives until the step ends, whatever tidy scope asked first
    forwardPasses++;
    const entry: Entry = { objective, params: leaves, x, lin };
    entries.push(entry);
    return entry;
  };
  const residualOf = <X>(objective: Objective<X>, params: Tree, batch: SupervisedBatch<X>): tf.Tensor => {
    const entry = entryOf(objective, params, batch.x);
    if (entry.residual?.y !== batch.y) {
      entry.residual?.value.dispose();
      entry.residual = { y: batch.y, value: tf.keep(residualAt(checkObjective(objective), entry.lin.outputs, batch.y)) };
    }
    return entry.residual.value;
  };
  return {
    linearization: (objective, params, batch) => borrowed(entryOf(objective, params, batch.x).lin),
    residual: residualOf,
    loss: (objective, params, batch) => {
      const entry = entryOf(objective, params, batch.x);
      if (entry.loss?.y !== batch.y) {
        entry.loss?.value.dispose();
        const loss = checkObjective(objective);
        checkTargets(entry.lin.outputs, batch.y, loss);
        entry.loss = { y: batch.y, value: tf.keep(tf.tidy(() => loss.value(entry.lin.outputs, batch.y))) };
      }
      return entry.loss.value;
    },
    gradient: (objective, params, batch) => {
      const r = residualOf(objective, params, batch);
      const lin = entryOf(objective, params, batch.x).lin;
      return tree.tidy(() => lin.vjp(tf.div(r, batchSize(lin.outputs))));
    },
    get forwardPasses() {
      return forwardPasses;
    },
    dispose: () => {
      for (const e of entries.splice(0)) {
        e.lin.dispose();
        e.residual?.value.dispose();
        e.loss?.value.dispose();
      }
    },
  };
}

/**
 * The objective linearized at `params` on `batch`: from the step's context when there is one (the
 * caller's `dispose` then does nothing), else a fresh {@link linearization} the caller disposes.
 */
export function linearizationIn<X>(
  context: StepContext | undefined,
  objective: Objective<X>,
  params: Tree,
  batch: Pick<SupervisedBatch<X>, 'x'>,
): Linearization {
  return context ? context.linearization(objective, params, batch) : linearization(objective, params, batch);
}
