// The chain contract (docs/chain.md: "whatever a returns enters b"): a method's step is a function
// of the updates it receives. egn may use its residual form only where that provably equals the
// gradient form (its updates are makeStep's very gradient tensors, on the curvature batch).
import * as tf from '@tensorflow/tfjs-core';
import {
  chain,
  denseGgn,
  egn,
  ggnDirect,
  identity,
  makeStep,
  mlpObjective,
  newtonCg,
  newtonDirect,
  objectiveLoss,
  scale,
  sgn,
  swmng,
  tree,
  valueAndGrad,
} from '../../index';
import { receivesBatchGradient } from '../../transforms/secondOrder';
import * as linalg from '../../lib/linalg';
import type { GradientTransformation, Linearization, Objective, Tree } from '../../index';
import * as ref from '../helpers/mlp64';

const LAM = 0.5;
type LossName = 'softmaxCrossEntropy' | 'meanSquaredError';
type Batch = { x: tf.Tensor; y: tf.Tensor };
const flat = (t: Tree) => Float64Array.from(tree.readValues(() => tree.ravel(t).vector));

/** A gradient batch and a separate curvature batch (other inputs and targets) of the same small MLP. */
function setup(lossName: LossName) {
  const prob = ref.makeProblem('tanh', lossName);
  const curv = ref.makeProblem('tanh', lossName, { seed: 5 });
  const plain: Objective = { predict: prob.predict, loss: lossName };
  const fast = mlpObjective({ activation: 'tanh', loss: lossName });
  return { prob, plain, fast, batch: prob.batch(), curvatureBatch: curv.batch(), p: ref.numParams(prob.m) };
}

/** The update θ′ − θ of one makeStep step from fresh params and state, in float64; leak-free. */
function stepOf(tx: GradientTransformation<any>, objective: Objective, params: () => Tree, batch: Batch, curvatureBatch?: Batch) {
  const start = params();
  const before = flat(start);
  const out = makeStep(tx, objectiveLoss(objective))(start, tx.init(start), batch, curvatureBatch === undefined ? {} : { curvatureBatch });
  const after = flat(out.params);
  tree.dispose([out.params, out.state, out.loss] as any);
  return after.map((v, i) => v - before[i]);
}

/** The update of one hand-written `tx.update(g, state, params, extra)` (no extra.grad), in float64. */
function updateOf(tx: GradientTransformation<any>, params: Tree, g: Tree, extra: Record<string, unknown>): Float64Array {
  const state = tx.init(params);
  const [u, next] = tx.update(g, state, params, extra);
  const out = flat(u);
  tree.dispose([u, next, state] as any);
  return out;
}

/** The dense float64 (C + λI)⁻¹ g. */
function denseDirection(c: Float64Array, g: Float64Array, p: number): Float64Array {
  const a = Float64Array.from(c);
  for (let i = 0; i < p; i++) a[i * p + i] += LAM;
  return linalg.solveSymmetric(a, g, p);
}

/** The empirical Fisher (1/B) Σ ∇ℓᵢ∇ℓᵢᵀ of a float64 problem. */
function denseFisher(m: ref.Mlp64, theta: Float64Array): Float64Array {
  const p = ref.numParams(m);
  const f = new Float64Array(p * p);
  for (let i = 0; i < m.b; i++) {
    const mi = { ...m, b: 1, x: m.x.slice(i * m.d, (i + 1) * m.d), y: m.y.slice(i * m.c, (i + 1) * m.c) };
    const g = ref.grad(mi, theta);
    for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) f[a * p + b] += (g[a] * g[b]) / m.b;
  }
  return f;
}

/** An mlpObjective whose linearization counts its Jacobian-vector products (J g: the gradient form). */
function countingJvps(lossName: LossName) {
  const base = mlpObjective({ activation: 'tanh', loss: lossName });
  let jvps = 0;
  const linearize = (params: Tree, x: tf.Tensor): Linearization => {
    const lin = base.linearize(params, x);
    return {
      ...lin,
      jvp: (v) => {
        jvps += 1;
        return lin.jvp(v);
      },
    };
  };
  return {
    objective: { ...base, linearize },
    take: () => {
      const n = jvps;
      jvps = 0;
      return n;
    },
  };
}

const maxAbs = (xs: ArrayLike<number>) => Math.max(...Array.from(xs, Math.abs));

describe('egn keeps the chain contract', () => {
  test.each(['softmaxCrossEntropy', 'meanSquaredError'] as const)('chain(scale(0), egn) takes a zero step (%s)', (lossName) => {
    const { prob, plain, fast, batch, curvatureBatch } = setup(lossName);
    for (const objective of [plain, fast]) {
      expect(maxAbs(stepOf(egn(objective, { lam0: LAM }), objective, prob.params, batch))).toBeGreaterThan(1e-3);
      expect(maxAbs(stepOf(chain(scale(0), egn(objective, { lam0: LAM })), objective, prob.params, batch))).toBe(0);
      expect(maxAbs(stepOf(chain(scale(0), egn(objective, { lam0: LAM })), objective, prob.params, batch, curvatureBatch))).toBe(0);
    }
    tree.dispose([batch, curvatureBatch] as any);
  });

  test.each(['softmaxCrossEntropy', 'meanSquaredError'] as const)('chain(scale(2), egn) takes twice the egn step, no leak (%s)', (loss) => {
    const { prob, plain, fast, batch } = setup(loss);
    for (const objective of [plain, fast]) {
      const single = stepOf(egn(objective, { lam0: LAM }), objective, prob.params, batch);
      const before = tf.memory().numTensors;
      const doubled = stepOf(chain(scale(2), egn(objective, { lam0: LAM })), objective, prob.params, batch);
      expect(tf.memory().numTensors).toBe(before);
      expect(
        ref.relErr(
          doubled,
          single.map((v) => 2 * v),
        ),
      ).toBeLessThan(1e-4);
    }
    tree.dispose(batch as any);
  });

  test.each(['softmaxCrossEntropy', 'meanSquaredError'] as const)(
    'with a separate curvature batch, egn steps by (G_curv + λI)⁻¹ g for the g it receives (%s)',
    (lossName) => {
      const { prob, plain, fast, batch, curvatureBatch, p } = setup(lossName);
      const params = prob.params();
      const { value, grads } = valueAndGrad(objectiveLoss(plain))(params, batch);
      const want = denseDirection(denseGgn(plain, params, curvatureBatch), flat(grads), p);
      for (const objective of [plain, fast]) {
        // makeStep with a curvature batch: g on the batch, G on the curvature batch.
        const stepped = stepOf(egn(objective, { lam0: LAM }), objective, prob.params, batch, curvatureBatch);
        expect(
          ref.relErr(
            stepped.map((v) => -v),
            want,
          ),
        ).toBeLessThan(1e-4);
        // A hand-written loop that gives its own g and only the curvature data: no extra.grad, so g is used.
        const updated = updateOf(egn(objective, { lam0: LAM }), params, grads, { batch: curvatureBatch });
        expect(
          ref.relErr(
            updated.map((v) => -v),
            want,
          ),
        ).toBeLessThan(1e-4);
      }
      tree.dispose([params, grads, value, batch, curvatureBatch] as any);
    },
  );

  test('with a separate curvature batch, swmng steps by (F_curv + λI)⁻¹ g for the g it receives', () => {
    const lossName = 'softmaxCrossEntropy';
    const { prob, plain, fast, batch, curvatureBatch, p } = setup(lossName);
    const curv = ref.makeProblem('tanh', lossName, { seed: 5 });
    const params = prob.params();
    const { value, grads } = valueAndGrad(objectiveLoss(plain))(params, batch);
    const want = denseDirection(denseFisher(curv.m, prob.theta), ref.grad(prob.m, prob.theta), p);
    for (const objective of [plain, fast]) {
      const stepped = stepOf(swmng(objective, { lam0: LAM }), objective, prob.params, batch, curvatureBatch);
      expect(
        ref.relErr(
          stepped.map((v) => -v),
          want,
        ),
      ).toBeLessThan(1e-4);
      const updated = updateOf(swmng(objective, { lam0: LAM }), params, grads, { batch: curvatureBatch });
      expect(
        ref.relErr(
          updated.map((v) => -v),
          want,
        ),
      ).toBeLessThan(1e-4);
      const doubled = stepOf(chain(scale(2), swmng(objective, { lam0: LAM })), objective, prob.params, batch, curvatureBatch);
      expect(
        ref.relErr(
          doubled.map((v) => -v / 2),
          want,
        ),
      ).toBeLessThan(1e-4);
    }
    tree.dispose([params, grads, value, batch, curvatureBatch] as any);
  });

  test.each(['softmaxCrossEntropy', 'meanSquaredError'] as const)(
    'makeStep(egn) (residual form) and chain(identity(), egn) (Woodbury form, J g computed) take the same step (%s)',
    (lossName) => {
      const { prob, batch } = setup(lossName);
      const { objective, take } = countingJvps(lossName);
      const residual = stepOf(egn(objective, { lam0: LAM }), objective, prob.params, batch);
      expect(take()).toBe(0);
      const woodbury = stepOf(chain(identity(), egn(objective, { lam0: LAM })), objective, prob.params, batch);
      expect(take()).toBeGreaterThan(0);
      expect(ref.relErr(woodbury, residual)).toBeLessThan(1e-4);
      tree.dispose(batch as any);
    },
  );

  test('the residual form is taken exactly when provable: under makeStep on one batch, not otherwise', () => {
    const lossName = 'softmaxCrossEntropy';
    const { prob, batch, curvatureBatch } = setup(lossName);
    const { objective, take } = countingJvps(lossName);
    stepOf(egn(objective, { lam0: LAM }), objective, prob.params, batch);
    expect(take()).toBe(0); // makeStep: the updates are extra.grad, the curvature batch is the batch
    stepOf(egn(objective, { lam0: LAM }), objective, prob.params, batch, curvatureBatch);
    expect(take()).toBe(1); // a separate curvature batch: J g
    const params = prob.params();
    const { value, grads } = valueAndGrad(objectiveLoss(objective))(params, batch);
    updateOf(egn(objective, { lam0: LAM }), params, grads, { batch });
    expect(take()).toBe(1); // no extra.grad: nothing proves g is the batch gradient
    updateOf(egn(objective, { lam0: LAM }), params, grads, { batch, grad: grads });
    expect(take()).toBe(0); // the same tensors as extra.grad
    expect(receivesBatchGradient(grads, { batch, grad: grads })).toBe(true);
    const copy = tree.clone(grads);
    expect(receivesBatchGradient(copy, { batch, grad: grads })).toBe(false); // equal values, other tensors
    expect(receivesBatchGradient(grads, { batch })).toBe(false);
    expect(receivesBatchGradient(grads, { batch, curvatureBatch, grad: grads })).toBe(false);
    expect(receivesBatchGradient(grads, { batch, curvatureBatch: batch, grad: grads })).toBe(true);
    tree.dispose([params, grads, copy, value, batch, curvatureBatch] as any);
  });
});

describe('every second-order method is linear in the updates it receives (constant damping)', () => {
  type Make = (objective: Objective) => GradientTransformation<any>;
  const METHODS: [string, Make][] = [
    ['egn', (o) => egn(o, { lam0: LAM })],
    ['egn (row CG)', (o) => egn(o, { lam0: LAM, rowSolver: 'cg' })],
    ['sgn', (o) => sgn(o, { lam0: LAM })],
    ['newtonCg', (o) => newtonCg(objectiveLoss(o), { lam0: LAM + 1 })],
    ['newtonDirect', (o) => newtonDirect(objectiveLoss(o), { lam0: LAM + 1 })],
    ['ggnDirect', (o) => ggnDirect(o, { lam0: LAM })],
    ['swmng', (o) => swmng(o, { lam0: LAM })],
  ];
  test.each(METHODS)('%s: 0·g → 0, 2·g → twice the step', (_name, make) => {
    const { prob, plain, batch, curvatureBatch } = setup('softmaxCrossEntropy');
    for (const curv of [undefined, curvatureBatch]) {
      const single = stepOf(make(plain), plain, prob.params, batch, curv);
      expect(maxAbs(single)).toBeGreaterThan(1e-3);
      expect(maxAbs(stepOf(chain(scale(0), make(plain)), plain, prob.params, batch, curv))).toBe(0);
      const doubled = stepOf(chain(scale(2), make(plain)), plain, prob.params, batch, curv);
      expect(
        ref.relErr(
          doubled,
          single.map((v) => 2 * v),
        ),
      ).toBeLessThan(1e-4);
    }
    tree.dispose([batch, curvatureBatch] as any);
  });
});
