/**
 * Sample-space solves of the empirical Fisher and the incremental Gauss-Newton direction (somax
 * 2024's SWM-NG and IGND), on the curvature batch.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { jacobianRows, perSampleGradients } from '../lib/autodiff';
import { assertInRange, assertNonNegative, InputError } from '../lib/errors';
import { batchSize, checkObjective, predictOn } from '../lib/objective';
import type { Objective, SupervisedBatch } from '../lib/objective';
import * as tree from '../lib/tree';
import type { GradientTransformation, Tree } from '../lib/types';
import type { DirectionSolver } from './secondOrder';
import { rowSpaceCholeskySolve } from './solvers';

/**
 * The natural-gradient direction with the empirical Fisher F = LᵀL / B (L: per-sample gradients on
 * the curvature batch, B × P) by Sherman-Morrison-Woodbury in sample space:
 *
 *   s = (F + λI)⁻¹ g = (g − Lᵀ (LLᵀ + BλI)⁻¹ L g) / λ,
 *
 * a B × B solve in float64. (somax 2024's SWM-NG returns −s.)
 *
 * @see Amari (1998); Ren & Goldfarb (2019), arXiv 1906.02353.
 */
export function fisherWoodburySolver<X>(objective: Objective<X>): DirectionSolver<null> {
  checkObjective(objective);
  return {
    needsOperator: false,
    initInfo: {},
    init: () => null,
    solve: (problem) => {
      if (!(problem.lam > 0)) throw new InputError('the Woodbury Fisher solve needs λ > 0');
      const { def } = tree.flatten(problem.params);
      const l = perSampleGradients(objective, problem.params, problem.batch as SupervisedBatch<X>);
      try {
        const b = l.shape[0];
        const gram = Float64Array.from(tree.readValues(() => tf.matMul(l, l, false, true)));
        const lg = tree.readValues(() => tf.reshape(tf.matMul(l, tf.reshape(tree.ravel(problem.grads).vector, [-1, 1])), [-1]));
        const a = rowSpaceCholeskySolve(gram, lg, b, b * problem.lam);
        const s = tf.tidy(() => {
          const lta = tf.reshape(tf.matMul(tf.tensor2d(Float32Array.from(a), [1, b]), l), [-1]);
          return tf.div(tf.sub(tree.ravel(problem.grads).vector, lta), problem.lam);
        });
        const direction = tree.unravel(def, s);
        s.dispose();
        return { direction, info: {}, state: null };
      } finally {
        l.dispose();
      }
    },
  };
}

/** State of {@link scaleByIgnd}. */
export interface ScaleByIgndState {
  readonly count: number;
  readonly m: Tree;
  readonly v: Tree;
}

/**
 * The incremental Gauss-Newton direction for a scalar-output regression (squared error): each
 * sample's Gauss-Newton step in its own row space, averaged,
 *
 *   s = (1/B) Σᵢ Jᵢ rᵢ / ‖Jᵢ‖²,   rᵢ = fᵢ − yᵢ,
 *
 * with optional Adam-like moments (β1 momentum, β2 second moment, bias-corrected, ε = 1e-7).
 * Uses `extra.curvatureBatch` (default `extra.batch`) for J and r. Cross-entropy is not supported
 * (somax 2024 left it unimplemented).
 *
 * @see somax (2024) `IGND`.
 */
export function scaleByIgnd<X>(objective: Objective<X>, { beta1 = 0, beta2 = 0, eps = 1e-7 }: { beta1?: number; beta2?: number; eps?: number } = {}): GradientTransformation<ScaleByIgndState> {
  const loss = checkObjective(objective);
  if (loss.name !== 'meanSquaredError') throw new InputError(`IGND supports the 'meanSquaredError' loss, got '${loss.name}'`);
  assertInRange('beta1', beta1, 0, 1, { hiOpen: true });
  assertInRange('beta2', beta2, 0, 1, { hiOpen: true });
  assertNonNegative('eps', eps);
  return {
    init: (params) => ({ count: 0, m: tree.zerosLike(params), v: tree.zerosLike(params) }),
    // IGND builds its direction from the residuals, not from the incoming gradient.
    update: (_updates, state, params, extra = {}) => {
      if (params === undefined) throw new InputError('scaleByIgnd needs params');
      const batch = (extra.curvatureBatch ?? extra.batch) as SupervisedBatch<X>;
      const { def } = tree.flatten(params);
      const t = state.count + 1;
      const out = tree.tidy(() => {
        const f = predictOn(objective, params, batch);
        if (f.size !== batchSize(f)) throw new InputError(`IGND needs one output per sample, got outputs of shape [${f.shape.join(', ')}]`);
        const j = jacobianRows(objective, params, batch.x);
        const r = tf.reshape(tf.sub(f, tf.reshape(batch.y, f.shape)), [-1, 1]);
        const norms = tf.sum(tf.square(j), 1, true);
        const s = tree.unravel(def, tf.reshape(tf.mean(tf.div(tf.mul(j, r), norms), 0), [-1]));
        const m = tree.map((mi: tf.Tensor, si: tf.Tensor) => tf.add(tf.mul(mi, beta1), tf.mul(si, 1 - beta1)), state.m, s);
        const v = tree.map((vi: tf.Tensor, si: tf.Tensor) => tf.add(tf.mul(vi, beta2), tf.mul(tf.square(si), 1 - beta2)), state.v, s);
        const mHat = tree.scale(m, 1 / (1 - beta1 ** t));
        const d = beta2 > 0 ? tree.map((a: tf.Tensor, b: tf.Tensor) => tf.div(a, tf.add(tf.sqrt(tf.div(b, 1 - beta2 ** t)), eps)), mHat, v) : mHat;
        return { d, m, v };
      });
      return [out.d, { count: t, m: out.m, v: out.v }];
    },
  };
}
