/**
 * Automatic differentiation over parameter trees, built on tfjs's tape autodiff: gradients,
 * vector-Jacobian and Jacobian-vector products, Hessian-vector products, Jacobian rows,
 * per-sample gradients and Fisher diagonals. (Linearized models and Gauss-Newton products:
 * `linearize.ts`; per-sample rows and their Gram without forming them: `rows.ts`.)
 *
 * Second-order products are nested reverse-mode (reverse-over-reverse) and are exact only with
 * the second-order-safe gradients of `kernels.ts`; every second-order entry point checks that
 * they are the registered ones (and re-installs them if another package replaced them).
 *
 * Every function returns fresh tensors owned by the caller and disposes its intermediates.
 * @module
 */
import { checkOptionKeys } from '../options';
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import { batchSize, checkObjective, predictOn } from '../objective';
import type { Objective, SupervisedBatch } from '../objective';
import * as tree from '../tree';
import type { PRNGKey, Tree } from '../types';
import { ensureSecondOrderGradients, withSecondOrder } from './install';
import { assertSecondOrderSafe } from './tapeCheck';

/** Throws unless `value` is a scalar tensor; `what` names the function that produced it. */
export function assertScalarLoss(value: unknown, what = 'lossFn'): asserts value is tf.Scalar {
  if (!tree.isTensor(value)) throw new InputError(`${what} must return a tf.Scalar, got ${String(value)}`);
  if (value.rank !== 0) {
    throw new InputError(`${what} must return a scalar (rank 0), got shape [${value.shape.join(', ')}]`);
  }
}

/**
 * Reverse-mode gradients of `f()` with respect to `xs` (with cotangent `dy` for a non-scalar
 * output). A leaf that `f` does not depend on gets a zero gradient, as in JAX.
 */
function gradientsOf(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor): { value: tf.Tensor; grads: tf.Tensor[] } {
  const { value, grads } = tf.engine().gradients(f, xs, dy, true);
  return { value, grads: xs.map((x, i) => grads[i] ?? tf.zerosLike(x)) };
}

/**
 * Gradients w.r.t. `xs` of `⟨f(), v⟩ = Σᵢ ⟨fᵢ, vᵢ⟩` for a function `f` returning a list of
 * tensors shaped like the list `v`: one reverse sweep seeded with `v`. The sweep starts at a scalar
 * node whose gradient w.r.t. each fᵢ is vᵢ itself (a `tf.customGrad` of the fᵢ; its value is not
 * used), so the seed costs one copy per leaf: no products and sums (about six kernels per leaf), and
 * no raveling of the fᵢ into one vector, whose gradient is a Split that tfjs-backend-wasm runs
 * by copying the whole vector once per piece (0.8 ms of an MLP 784-128-10 HVP).
 */
function gradientsOfDot(f: () => tf.Tensor[], xs: tf.Tensor[], v: readonly tf.Tensor[]): tf.Tensor[] {
  const seeds = v.map((t) => (t.dtype === 'float32' ? t : tf.cast(t, 'float32')));
  // The last argument customGrad passes is its save function.
  const seeded = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    if (args.length - 1 !== seeds.length) throw new InputError(`expected ${seeds.length} outputs, got ${args.length - 1}`);
    return { value: tf.zeros([]), gradFunc: () => seeds.map((s) => tf.clone(s)) };
  });
  return gradientsOf(() => seeded(...f()), xs).grads;
}

/** The leaves of `other`, checked to match `params` in structure and shapes. */
function leavesLike(params: Tree, other: Tree, name: string): tf.Tensor[] {
  tree.assertSameStructure(params, other, { names: ['params have', `${name} has`], root: name });
  return tree.leaves(other);
}

/**
 * Value and gradient of a scalar loss over a parameter tree:
 * `valueAndGrad(lossFn)(params, batch) → { value, grads }` with `grads = ∇_θ lossFn(θ, batch)` in
 * the structure of `params`. Both results are fresh tensors owned by the caller.
 *
 * @example
 * const { value, grads } = valueAndGrad((p, b) => tf.sum(tf.square(tf.sub(p.w, b))))({ w }, target);
 */
export function valueAndGrad<B>(lossFn: (params: Tree, batch: B) => tf.Scalar): (
  params: Tree,
  batch: B,
) => {
  /** The loss, a scalar the caller owns. */
  value: tf.Scalar;
  /** Its gradient, shaped like the params (fresh tensors the caller owns). */
  grads: Tree;
} {
  return (params, batch) => {
    const { leaves, def } = tree.flatten(params);
    const { value, grads } = gradientsOf(() => {
      const out = lossFn(tree.unflatten(def, leaves), batch);
      assertScalarLoss(out);
      return out;
    }, leaves);
    return { value: value as tf.Scalar, grads: tree.unflatten(def, grads) };
  };
}

/**
 * Vector-Jacobian product `Jᵀu` of `fn` at `params`, with `J = ∂fn(θ)/∂θ`; `u` is shaped like
 * `fn(params)`. Returns a tree shaped like `params`.
 */
export function vjp(fn: (params: Tree) => tf.Tensor, params: Tree, cotangent: tf.Tensor): Tree {
  const { leaves, def } = tree.flatten(params);
  const grads = tf.tidy(() => gradientsOf(() => fn(tree.unflatten(def, leaves)), leaves, tf.cast(cotangent, 'float32')).grads);
  return tree.unflatten(def, grads);
}

/**
 * Jacobian-vector product `J v` of `fn` at `params` by the double-VJP trick: `u ↦ Jᵀu` is linear,
 * so `J v = ∇_u ⟨Jᵀu, v⟩` (evaluated at u = 0). Costs about one forward and two backward passes;
 * pass `outputShape` when the caller already knows it, to save a forward pass.
 */
export function jvp(
  fn: (params: Tree) => tf.Tensor,
  params: Tree,
  tangent: Tree,
  options: { outputShape?: readonly number[] } = {},
): tf.Tensor {
  checkOptionKeys('jvp', options, ['outputShape']);
  const { outputShape } = options;
  ensureSecondOrderGradients();
  const { leaves, def } = tree.flatten(params);
  const vs = leavesLike(params, tangent, 'tangent');
  return withSecondOrder(() =>
    tf.tidy(() => {
      const shape = outputShape ?? fn(params).shape;
      const u = tf.zeros(shape as number[]);
      return gradientsOfDot(
        () => {
          const inner = gradientsOf(() => fn(tree.unflatten(def, leaves)), leaves, u).grads;
          assertSecondOrderSafe();
          return inner;
        },
        [u],
        vs,
      )[0];
    }),
  );
}

/**
 * Hessian-vector product `∇²L(θ) v` of `lossFn(params, batch)` by reverse-over-reverse autodiff:
 * `Hv = ∇_θ ⟨∇_θ L(θ), v⟩`, the outer sweep seeded with `v` (no dot product on the tape). About
 * twice a gradient's kernels (tanh MLP 784-128-10 with softmax cross-entropy: 140 against 73 on
 * wasm) and 2–2.5 gradients of time. Returns a tree shaped like `params`.
 *
 * @example
 * const hv = hvp((p, b) => loss(p, b), params, v, batch);
 */
export function hvp<B>(lossFn: (params: Tree, batch: B) => tf.Scalar, params: Tree, v: Tree, batch: B): Tree {
  ensureSecondOrderGradients();
  const { leaves, def } = tree.flatten(params);
  const vs = leavesLike(params, v, 'v');
  const grads = withSecondOrder(() =>
    tf.tidy(() =>
      gradientsOfDot(
        () => {
          const inner = gradientsOf(() => {
            const out = lossFn(tree.unflatten(def, leaves), batch);
            assertScalarLoss(out);
            return out;
          }, leaves).grads;
          assertSecondOrderSafe();
          return inner;
        },
        leaves,
        vs,
      ),
    ),
  );
  return tree.unflatten(def, grads);
}

/** The i-th sample of a batch input (a tensor sliced along its leading axis, kept rank). */
function sampleOf(x: unknown, i: number): tf.Tensor {
  if (!tree.isTensor(x)) throw new InputError('per-sample products need batch.x to be a tensor with samples along axis 0');
  return tf.slice(x, i, 1);
}

/**
 * The Jacobian of the model outputs on a batch, one row per (sample, output) pair in sample-major
 * order: a `[B·C, P]` tensor whose row `i·C + k` is `∂f_ik/∂θ` raveled like `tree.ravel(params)`.
 * Costs B·C single-sample backward passes; meant for the small batches of row-space solvers.
 * Row-space solvers need only products with these rows and their Gram matrix: see `rows.ts`
 * (`rowGram`, `jacobianSampleRows`) for those without the rows.
 */
export function jacobianRows<X>(objective: Objective<X>, params: Tree, x: X): tf.Tensor2D {
  const { leaves, def } = tree.flatten(params);
  return tf.tidy(() => {
    const n = batchSize(x as unknown as tf.Tensor);
    const rows: tf.Tensor[] = [];
    for (let i = 0; i < n; i++) {
      const xi = sampleOf(x, i) as unknown as X;
      const fi = objective.predict(params, xi);
      const c = fi.size;
      for (let k = 0; k < c; k++) {
        const unit = new Float32Array(c);
        unit[k] = 1;
        const e = tf.tensor(unit, fi.shape);
        const g = gradientsOf(() => objective.predict(tree.unflatten(def, leaves), xi), leaves, e).grads;
        rows.push(
          tf.concat(
            g.map((t) => tf.reshape(t, [-1])),
            0,
          ),
        );
      }
    }
    return tf.stack(rows) as tf.Tensor2D;
  });
}

/**
 * Per-sample gradients `∇ℓᵢ(θ)` of an objective, as a `[B, P]` tensor (rows raveled like
 * `tree.ravel(params)`); `targets` overrides `batch.y` (e.g. sampled labels for a Fisher).
 */
export function perSampleGradients<X>(
  objective: Objective<X>,
  params: Tree,
  batch: SupervisedBatch<X>,
  targets: tf.Tensor = batch.y,
): tf.Tensor2D {
  const loss = checkObjective(objective);
  const { leaves, def } = tree.flatten(params);
  return tf.tidy(() => {
    const n = batchSize(targets);
    const rows: tf.Tensor[] = [];
    for (let i = 0; i < n; i++) {
      const xi = sampleOf(batch.x, i) as unknown as X;
      const yi = tf.slice(targets, i, 1);
      const g = gradientsOf(() => loss.value(objective.predict(tree.unflatten(def, leaves), xi), yi), leaves).grads;
      rows.push(
        tf.concat(
          g.map((t) => tf.reshape(t, [-1])),
          0,
        ),
      );
    }
    return tf.stack(rows) as tf.Tensor2D;
  });
}

/**
 * Diagonal of the Fisher information, `(1/B) Σᵢ ∇ℓᵢ ⊙ ∇ℓᵢ`: `'empirical'` uses the batch's
 * targets; `'sampled'` draws targets from the model's predictive distribution with `key` (the
 * true Fisher in expectation). Returns a tree shaped like `params`.
 */
export function fisherDiag<X>(
  objective: Objective<X>,
  params: Tree,
  batch: SupervisedBatch<X>,
  options: { kind?: 'empirical' | 'sampled'; key?: PRNGKey } = {},
): Tree {
  checkOptionKeys('fisherDiag', options, ['kind', 'key']);
  const { kind = 'empirical', key = 0 } = options;
  const loss = checkObjective(objective);
  const { def } = tree.flatten(params);
  const diag = tf.tidy(() => {
    const targets = kind === 'sampled' ? loss.sampleTargets(predictOn(objective, params, batch), key) : batch.y;
    const g = perSampleGradients(objective, params, batch, targets);
    return tf.mean(tf.square(g), 0);
  });
  const out = tree.unravel(def, diag);
  diag.dispose();
  return out;
}
