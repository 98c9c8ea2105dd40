/**
 * Curvature operators: the matrix C of a second-order method as a matvec closure on one batch,
 * built once per step and shared by every piece that needs it (solver, estimator, damping ratio).
 *
 * - {@link hessianCurvature}: C = ∇²L(θ), by reverse-over-reverse HVPs;
 * - {@link ggnCurvature}: C = (1/B) Jᵀ Q J (Gauss-Newton), by one JVP and one VJP per product,
 *   with the model outputs computed once per operator;
 * - {@link fisherCurvature}: C = (1/B) Σᵢ gᵢgᵢᵀ, the Fisher of per-sample gradients gᵢ at the batch's
 *   targets (empirical) or at targets sampled from the model (sampled), kept as a `[B, P]` matrix.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { gaussNewtonProduct, hvp } from '../lib/autodiff';
import { linearizationIn } from '../lib/stepContext';
import type { StepContext } from '../lib/stepContext';
import { batchSize, checkObjective, checkTargets, predictOn } from '../lib/objective';
import { resolveOptions } from '../lib/options';
import type { Objective, SupervisedBatch } from '../lib/objective';
import { gradientSampleRows } from '../lib/autodiff';
import * as tree from '../lib/tree';
import type { LossFn, PRNGKey, Tree } from '../lib/types';

/** A curvature matrix at fixed params on a fixed batch, as a linear operator on parameter trees. */
export interface CurvatureOperator {
  /** `C v`, a fresh tree shaped like the params. */
  matvec(v: Tree): Tree;
  /**
   * Optional: the k × k matrix `vᵢᵀ C vⱼ` of the directions `vs` without forming C v (the GGN's
   * takes one JVP per direction: (J vᵢ)ᵀ Q (J vⱼ) / B). See {@link curvatureGram}.
   */
  gram?(vs: readonly Tree[]): tf.Tensor2D;
  /** Releases what the operator cached (model outputs, per-sample gradients). */
  dispose(): void;
}

/**
 * The k × k matrix `vᵢᵀ C vⱼ` of `vs` under the operator: its own `gram` when it has one, else
 * from the products C vⱼ (symmetrized).
 *
 * @example
 * const m = curvatureGram(op, [s, p]); // [[sᵀCs, sᵀCp], [pᵀCs, pᵀCp]]
 */
export function curvatureGram(op: CurvatureOperator, vs: readonly Tree[]): tf.Tensor2D {
  if (op.gram) return op.gram(vs);
  return tf.tidy(() => {
    const products = vs.map((v) => op.matvec(v));
    const m = tf.stack(vs.map((vi) => tf.stack(products.map((cv) => tree.vdot(vi, cv)))));
    return tf.div(tf.add(m, tf.transpose(m)), 2) as tf.Tensor2D;
  });
}

/**
 * Builds the curvature operator of a model at `params` on `batch`; with the step's `context`, the
 * model's forward pass on the batch is the step's shared one.
 */
export type Curvature = (params: Tree, batch: unknown, key?: PRNGKey, context?: StepContext) => CurvatureOperator;

/** The Hessian of `lossFn`: `C v = ∇²L(θ) v` (Pearlmutter 1994, by nested reverse mode). */
export function hessianCurvature<B>(lossFn: LossFn<B>): Curvature {
  return (params, batch) => ({
    matvec: (v) => hvp(lossFn, params, v, batch as B),
    dispose: () => undefined,
  });
}

/**
 * The generalized Gauss-Newton matrix of an objective, `C = (1/B) Jᵀ Q J` (Schraudolph 2002).
 * The operator linearizes the model once (`linearization`: the objective's closed-form
 * `linearize` hook, e.g. `mlpObjective`'s, or the outputs computed once with tape-based JVP/VJP)
 * and reuses it in every product.
 */
export function ggnCurvature<X>(objective: Objective<X>): Curvature {
  const loss = checkObjective(objective);
  return (params, batch, _key, context) => {
    const b = batch as SupervisedBatch<X>;
    const lin = linearizationIn(context, objective, params, b);
    try {
      checkTargets(lin.outputs, b.y);
    } catch (err) {
      lin.dispose();
      throw err;
    }
    return {
      matvec: (v) => gaussNewtonProduct(loss, lin, v),
      gram: (vs) =>
        tf.tidy(() => {
          const jv = vs.map((v) => lin.jvp(v));
          const qjv = jv.map((u) => loss.hessianProduct(lin.outputs, u));
          const m = tf.stack(jv.map((ui) => tf.stack(qjv.map((qu) => tf.sum(tf.mul(ui, qu))))));
          return tf.div(tf.add(m, tf.transpose(m)), 2 * batchSize(lin.outputs)) as tf.Tensor2D;
        }),
      dispose: () => lin.dispose(),
    };
  };
}

/**
 * The Fisher matrix of per-sample gradients, `C = (1/B) Σᵢ gᵢgᵢᵀ` (Amari 1998; the empirical
 * Fisher with `kind: 'empirical'`, the true Fisher in expectation with `kind: 'sampled'`). With a
 * {@link Objective.rowGram} hook (e.g. `mlpObjective`) a product is one JVP and one VJP, without
 * forming the B per-sample gradients.
 */
export function fisherCurvature<X>(objective: Objective<X>, options: { kind?: 'empirical' | 'sampled' } = {}): Curvature {
  const { kind } = resolveOptions('fisherCurvature', options, { kind: 'empirical' });
  const loss = checkObjective(objective);
  return (params, batch, key = 0, context) => {
    const b = batch as SupervisedBatch<X>;
    const outputs = () => (context ? context.linearization(objective, params, b).outputs : predictOn(objective, params, b));
    const targets = kind === 'sampled' ? tf.tidy(() => loss.sampleTargets(outputs(), key)) : b.y;
    const rows = gradientSampleRows(objective, params, b, targets, context);
    if (targets !== b.y) targets.dispose();
    return {
      // C v = Lᵀ (L v) / B: one JVP and one VJP with a rowGram hook, else two products with L.
      matvec: (v) => tree.tidy(() => tree.scale(rows.transposeTimes(rows.times(v)), 1 / rows.samples)),
      dispose: () => rows.dispose(),
    };
  };
}
