import * as tf from '@tensorflow/tfjs-core';
import {
  applyIfFinite,
  chain,
  conditionallyMask,
  guardNonFinite,
  conditionallyTransform,
  hasUpdated,
  identity,
  injectHyperparams,
  leafLabels,
  maskLeaves,
  masked,
  multiSteps,
  multiTransform,
  namedChain,
  partition,
  setHyperparams,
  skipNotFinite,
} from '../../lib/combine';
import type { EmptyState, LabelTree } from '../../lib/combine';
import { trace } from '../../transforms/moments';
import { scale } from '../../transforms/scale';
import { HyperparameterError, InputError, TreeMismatchError } from '../../lib/errors';
import * as tree from '../../lib/tree';
import { fetchScalar, runAsync, withReads } from '../../lib/reads';
import type { Extra, GradientTransformation, Reads, StateTree, Tree } from '../../lib/types';
import { applyUpdates, makeStep } from '../../lib/update';
import { checkTransformLaws } from '../../testing';

// Inline transforms, so these tests do not depend on transforms/.
const scaleTx = (s: number): GradientTransformation<Record<string, never>> => ({ init: () => ({}), update: (u) => [tree.scale(u, s), {}] });
interface TraceState {
  readonly count: number;
  readonly m: Tree;
}
/** Heavy-ball momentum m ← decay·m + u, output m; counts its calls. */
const traceTx = (decay: number): GradientTransformation<TraceState> => ({
  init: (p) => ({ count: 0, m: tree.zerosLike(p) }),
  update: (u, s) => {
    const m = tree.axpy(decay, s.m, u);
    return [tree.clone(m), { count: s.count + 1, m }];
  },
});
const sgdTx = (lr: number, momentum = 0) => chain(traceTx(momentum), scaleTx(-lr));

const vals = (t: tf.Tensor) => Array.from(t.dataSync());
const expectClose = (t: tf.Tensor, expected: number[], digits = 6) => {
  const v = vals(t);
  expect(v.length).toBe(expected.length);
  v.forEach((x, i) => expect(x).toBeCloseTo(expected[i], digits));
};
const params = () => ({ w: tf.tensor1d([1, 2]), b: tf.tensor1d([3]), h: [tf.tensor2d([[1, -1]]), tf.scalar(4)] });
const grads = (k = 1) => ({ w: tf.tensor1d([0.5 * k, -1]), b: tf.tensor1d([2]), h: [tf.tensor2d([[k, 3]]), tf.scalar(-2)] });

/** A label tree over any params: each leaf labelled by its position in `labels` (cyclic). */
function labelsByLeaf<L>(p: Tree, labels: readonly L[]): LabelTree<L> {
  let i = 0;
  const walk = (t: Tree): LabelTree<L> => {
    if (tree.isTensor(t)) return labels[i++ % labels.length];
    if (Array.isArray(t)) return t.map(walk);
    const o = t as Record<string, Tree>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, walk(o[k])]),
    );
  };
  return walk(p);
}

/**
 * Runs `tx` over the gradient sequence checking ownership at EVERY step: inputs (updates, state,
 * params) neither disposed nor mutated, outputs never aliasing an input, numTensors flat.
 */
function checkOwnershipOverSteps(tx: GradientTransformation<any>, p: Tree, gradsAt: (i: number) => Tree, steps: number, extra?: Extra) {
  let state = tx.init(p);
  let reference = -1;
  for (let i = 0; i < steps; i++) {
    const g = gradsAt(i);
    const inputs = [...tree.leaves(p), ...tree.leaves(g), ...tree.tensors(state as StateTree)];
    const before = inputs.map((t) => Array.from(t.dataSync()));
    const [u, next] = tx.update(g, state, p, extra);
    inputs.forEach((t, j) => {
      expect(t.isDisposed).toBe(false);
      expect(Array.from(t.dataSync()).every((v, k) => Object.is(v, before[j][k]))).toBe(true);
    });
    const inputSet = new Set(inputs);
    for (const t of [...tree.leaves(u), ...tree.tensors(next as StateTree)]) expect(inputSet.has(t)).toBe(false);
    tree.assertSameStructure(p, u);
    tree.dispose([g, u, state] as StateTree);
    state = next;
    if (i === 1) reference = tf.memory().numTensors;
  }
  expect(tf.memory().numTensors).toBe(reference);
  tree.dispose(state as StateTree);
}

describe('namedChain', () => {
  test('equals chain and keys its state by name', () => {
    const p = params();
    const g = grads();
    const a = namedChain(['momentum', traceTx(0.5)], ['lr', scaleTx(-0.1)]);
    const b = chain(traceTx(0.5), scaleTx(-0.1));
    let sa = a.init(p);
    let sb = b.init(p);
    for (let i = 0; i < 3; i++) {
      const [ua, sa1] = a.update(g, sa, p);
      const [ub, sb1] = b.update(g, sb, p);
      tree.leaves(ua).forEach((t, j) => expect(vals(t)).toEqual(vals(tree.leaves(ub)[j])));
      tree.dispose([ua, ub, sa, sb] as StateTree);
      sa = sa1;
      sb = sb1;
    }
    expect(Object.keys(sa).sort()).toEqual(['lr', 'momentum']);
    expect((sa.momentum as TraceState).count).toBe(3);
    expectClose((sa.momentum as any).m.b, [2 * (1 + 0.5 + 0.25)]);
    tree.dispose([p, g, sa, sb] as StateTree);
  });

  test('rejects duplicate names, bad pairs and a state without a name', () => {
    expect(() => namedChain(['x', identity()], ['x', identity()])).toThrow(/duplicate name 'x'/);
    expect(() => namedChain(['x', 3 as any])).toThrow(HyperparameterError);
    const p = params();
    const g = grads();
    expect(() => namedChain(['x', identity()]).update(g, {}, p)).toThrow(InputError);
    tree.dispose([p, g] as StateTree);
  });
});

describe('masked', () => {
  test('applies the inner transform only where the mask is true; its state has holes ({}) at the other leaves', () => {
    const p = params();
    const g = grads();
    const tx = masked(traceTx(0.5), { w: true, b: false, h: [false, true] });
    const s0 = tx.init(p);
    // Optax's layout: the params' structure, a MaskedNode (here `{}`) where the mask is false.
    expect((s0.m as any).b).toEqual({});
    expect((s0.m as any).h[0]).toEqual({});
    expect(tree.leaves(s0.m).map((t) => t.shape)).toEqual([[], [2]]); // h[1] then w, in leaf order
    const [u1, s1] = tx.update(g, s0, p);
    const [u2, s2] = tx.update(g, s1, p);
    const out = u2 as any;
    expectClose(out.w, [0.5 * 1.5, -1.5]);
    expectClose(out.h[1], [-3]);
    expectClose(out.b, [2]); // passed through, not accumulated
    expectClose(out.h[0], [1, 3]);
    expect(s2.count).toBe(2);
    tree.dispose([p, g, s0, u1, s1, u2, s2] as StateTree);
  });

  test('a boolean covers a subtree; a function mask gets the params; mismatches name the path', () => {
    const p = params();
    const g = grads();
    const tx = masked(scaleTx(10), (pp: Tree) => ({ w: false, b: false, h: tree.isTensor(pp) ? false : true }));
    const [u, s] = tx.update(g, tx.init(p), p);
    expectClose((u as any).h[0], [10, 30]);
    expectClose((u as any).h[1], [-20]);
    expectClose((u as any).w, [0.5, -1]);
    expect(() => masked(scaleTx(2), { w: true, b: true } as any).update(g, {}, p)).toThrow(/mask\.h: missing/);
    expect(() => masked(scaleTx(2), { w: true, b: true, h: true, z: true } as any).update(g, {}, p)).toThrow(/mask\.z/);
    expect(() => masked(scaleTx(2), { w: true, b: true, h: [true] } as any).update(g, {}, p)).toThrow(TreeMismatchError);
    tree.dispose([p, g, u, s] as StateTree);
  });

  test('works without params (the mask then sees the updates) and with nothing selected', () => {
    const g = grads();
    const tx = masked(scaleTx(3), { w: true, b: false, h: false });
    const [u, s] = tx.update(g, {} as any);
    expectClose((u as any).w, [1.5, -3]);
    const none = masked(traceTx(0.9), false);
    const p = params();
    const s0 = none.init(p);
    const [u2, s2] = none.update(g, s0, p);
    tree.leaves(u2).forEach((t, i) => expect(vals(t)).toEqual(vals(tree.leaves(g)[i])));
    tree.dispose([g, u, s, p, s0, u2, s2] as StateTree);
  });
});

describe('multiTransform', () => {
  test('uses one transform per label (labels by tree or by function); the state is keyed by label', () => {
    const p = params();
    const g = grads();
    const tx = multiTransform({ fast: scaleTx(10), slow: traceTx(0.5) }, () => ({ w: 'fast', b: 'slow', h: ['fast', 'slow'] }));
    const s0 = tx.init(p);
    expect(Object.keys(s0).sort()).toEqual(['fast', 'slow']);
    expect(tree.leaves((s0.slow as TraceState).m).map((t) => t.shape)).toEqual([[1], []]); // b, h[1]
    expect(((s0.slow as TraceState).m as any).w).toEqual({});
    const [u1, s1] = tx.update(g, s0, p);
    const [u2, s2] = tx.update(g, s1, p);
    const out = u2 as any;
    expectClose(out.w, [5, -10]);
    expectClose(out.h[0], [10, 30]);
    expectClose(out.b, [3]);
    expectClose(out.h[1], [-3]);
    expect(partition).toBe(multiTransform);
    tree.dispose([p, g, s0, u1, s1, u2, s2] as StateTree);
  });

  test('a label without a transform is an error naming the label; a transform without leaves is fine', () => {
    const p = params();
    const g = grads();
    expect(() => multiTransform({ fast: scaleTx(1) }, { w: 'fast', b: 'other', h: 'fast' }).init(p)).toThrow(
      /no transform for label 'other'/,
    );
    const tx = multiTransform({ a: scaleTx(2), unused: traceTx(0.9) }, 'a');
    const s0 = tx.init(p);
    const [u, s1] = tx.update(g, s0, p);
    expectClose((u as any).b, [4]);
    expect(tree.leaves((s1.unused as TraceState).m)).toEqual([]); // only holes
    tree.dispose([p, g, s0, u, s1] as StateTree);
  });
});

describe('injectHyperparams', () => {
  test('schedules are evaluated at the count; the state records the values used', () => {
    const p = params();
    const g = grads();
    const tx = injectHyperparams((hp) => sgdTx(hp.learningRate, hp.momentum), { learningRate: (t: number) => 0.1 * (t + 1), momentum: 0 });
    let s = tx.init(p);
    expect(s.hyperparams).toEqual({ learningRate: 0.1, momentum: 0 });
    for (let t = 0; t < 3; t++) {
      const [u, next] = tx.update(g, s, p);
      expectClose((u as any).b, [-0.1 * (t + 1) * 2]);
      expect(next.count).toBe(t + 1);
      expect(next.hyperparams.learningRate).toBeCloseTo(0.1 * (t + 1), 12);
      tree.dispose([u, s] as StateTree);
      s = next;
    }
    tree.dispose([p, g, s] as StateTree);
  });

  test('a user changes the learning rate (and momentum) between steps with setHyperparams', () => {
    const p = params();
    const g = grads();
    const tx = injectHyperparams((hp) => sgdTx(hp.learningRate, hp.momentum), { learningRate: 0.1, momentum: 0.5 });
    const s0 = tx.init(p);
    const [u1, s1] = tx.update(g, s0, p);
    expectClose((u1 as any).b, [-0.2]);
    const s1b = setHyperparams(s1, { learningRate: 0.01 });
    expect(s1.hyperparams.learningRate).toBe(0.1); // the old state object is unchanged
    const [u2, s2] = tx.update(g, s1b, p);
    expectClose((u2 as any).b, [-0.01 * 2 * 1.5]); // momentum buffer carried: m = 0.5·2 + 2
    expect(s2.hyperparams).toEqual({ learningRate: 0.01, momentum: 0.5 });
    expect(() => setHyperparams(s2, { nope: 1 })).toThrow(/unknown hyperparameter 'nope'/);
    expect(() => setHyperparams(s2, { learningRate: NaN })).toThrow(HyperparameterError);
    tree.dispose([p, g, s0, u1, s1, u2, s2] as StateTree);
  });

  test('validates hyperparameters when built and schedule values at step time', () => {
    const checked = (hp: Record<string, number>) => {
      if (!(hp.lr >= 0)) throw new HyperparameterError('lr must be >= 0');
      return scaleTx(-hp.lr);
    };
    expect(() => injectHyperparams(checked, { lr: -1 })).toThrow(HyperparameterError);
    expect(() => injectHyperparams(checked, { lr: 'x' as any })).toThrow(/'lr' must be a finite number/);
    const tx = injectHyperparams(checked, { lr: (t: number) => (t < 1 ? 0.1 : NaN) });
    const p = params();
    const g = grads();
    const s0 = tx.init(p);
    const [u, s1] = tx.update(g, s0, p);
    expect(() => tx.update(g, s1, p)).toThrow(/schedule 'lr' at step 1/);
    tree.dispose([p, g, s0, u, s1] as StateTree);
  });
});

describe('guardNonFinite', () => {
  test('skips steps whose input or inner output is not finite: zeros out, inner state kept, counted; never gives up', () => {
    const p = params();
    const tx = guardNonFinite(chain(traceTx(0.9), scaleTx(-0.1)));
    const nan = () => ({ w: tf.tensor1d([NaN, 1]), b: tf.tensor1d([1]), h: [tf.tensor2d([[0, 0]]), tf.scalar(0)] });
    const seq = [grads(), nan(), nan(), nan(), grads()];
    let s = tx.init(p);
    const seen: { u: number[]; skipped: boolean; skippedSteps: number; count: number }[] = [];
    for (const g of seq) {
      const [u, next] = tx.update(g, s, p);
      seen.push({ u: vals((u as any).b), ...(next.info as any), count: (next.innerState as any)[0].count });
      tree.dispose([u, s, g] as StateTree);
      s = next;
    }
    expect(seen.map((x) => [x.skipped, x.skippedSteps, x.count])).toEqual([
      [false, 0, 1],
      [true, 1, 1],
      [true, 2, 1],
      [true, 3, 1],
      [false, 3, 2],
    ]);
    expect(seen[1].u).toEqual([0]);
    // Output check: a finite gradient whose update overflows float32 (4 × 1e38 → Inf) is skipped.
    const inner = guardNonFinite(chain(traceTx(0), scaleTx(1e38)));
    const t0 = inner.init(p);
    const g1 = grads();
    const [u1, t1] = inner.update(g1, t0, p);
    expect(t1.info).toEqual({ skipped: false, skippedSteps: 0 });
    expect(vals((u1 as any).b)[0]).toBeCloseTo(2e38, -33);
    const big = { w: tf.tensor1d([0, 0]), b: tf.tensor1d([4]), h: [tf.tensor2d([[0, 0]]), tf.scalar(0)] };
    const [u2, t2] = inner.update(big, t1, p);
    expect(t2.info).toEqual({ skipped: true, skippedSteps: 1 });
    expect(vals((u2 as any).b)).toEqual([0]);
    expect((t2.innerState as any)[0].count).toBe(1); // the overflowing step left no trace
    expect(vals((t2.innerState as any)[0].m.b)).toEqual([2]);
    tree.dispose([u1, u2, t0, t1, t2, g1, big, p, s] as StateTree);
  });
});

describe('guardNonFinite({ sync: false })', () => {
  test('selects on the device: zeros out and the old state tensors on a NaN step, a device count of skips, no reads', () => {
    const p = params();
    const tx = guardNonFinite(chain(traceTx(0.9), scaleTx(-0.1)), { sync: false });
    const nan = () => ({ w: tf.tensor1d([NaN, 1]), b: tf.tensor1d([1]), h: [tf.tensor2d([[0, 0]]), tf.scalar(0)] });
    let s = tx.init(p);
    const seen: { u: number[]; m: number[]; skipped: number; count: number }[] = [];
    const reads = jest.spyOn(tf.Tensor.prototype, 'dataSync');
    for (const g of [grads(), nan(), grads()]) {
      reads.mockClear();
      const [u, next] = tx.update(g, s, p);
      expect(reads).not.toHaveBeenCalled();
      const info = next.info as { skippedSteps: tf.Scalar };
      seen.push({
        u: vals((u as any).b),
        m: vals((next.innerState as any)[0].m.b),
        skipped: info.skippedSteps.dataSync()[0],
        count: (next.innerState as any)[0].count,
      });
      tree.dispose([u, s, g] as StateTree);
      s = next;
    }
    expect(seen[1].u).toEqual([0]);
    expect(seen.map((x) => x.m)).toEqual([[2], [2], [0.9 * 2 + 2].map(Math.fround)]);
    expect(seen.map((x) => x.skipped)).toEqual([0, 1, 1]);
    // Documented: plain-number counters of the inner state advance on a skipped step.
    expect(seen.map((x) => x.count)).toEqual([1, 2, 3]);
    reads.mockRestore();
    tree.dispose([p, s] as StateTree);
  });
});

describe('applyIfFinite', () => {
  const bad = () => ({ w: tf.tensor1d([NaN, 1]), b: tf.tensor1d([1]), h: [tf.tensor2d([[0, 0]]), tf.scalar(0)] });
  const inf = () => ({ w: tf.tensor1d([0, 1]), b: tf.tensor1d([Infinity]), h: [tf.tensor2d([[0, 0]]), tf.scalar(0)] });

  test('skips NaN / Inf steps (zero updates, inner state kept, inner not called) and counts them', () => {
    const p = params();
    const tx = applyIfFinite(sgdTx(0.1, 0.9), 3);
    const seq = [grads(), bad(), inf(), grads()];
    let s = tx.init(p);
    const seen: { u: any; s: any }[] = [];
    for (const g of seq) {
      const [u, next] = tx.update(g, s, p);
      seen.push({ u: vals((u as any).b).concat(vals((u as any).w)), s: { ...next, innerState: undefined } });
      expect((next.innerState as any)[0].count).toBe(seen.filter((x) => x.s.lastFinite).length);
      tree.dispose([u, s, g] as StateTree);
      s = next;
    }
    expect(seen[1].u).toEqual([0, 0, 0]);
    expect(seen[2].u).toEqual([0, 0, 0]);
    expect(seen.map((x) => [x.s.notfiniteCount, x.s.lastFinite, x.s.totalNotfinite])).toEqual([
      [0, true, 0],
      [1, false, 1],
      [2, false, 2],
      [0, true, 2],
    ]);
    // Step 4 continues the momentum of step 1 as if steps 2-3 never happened: m = 0.9·2 + 2.
    expect(seen[3].u[0]).toBeCloseTo(-0.1 * 3.8, 6);
    tree.dispose([p, s] as StateTree);
  });

  test('checks the incoming updates, as Optax does: a finite input is applied even if the inner output is not', () => {
    const p = params();
    const g = grads();
    let calls = 0;
    const blowUp: GradientTransformation<Record<string, never>> = {
      init: () => ({}),
      update: (u) => {
        calls++;
        return [tree.scale(u, Infinity), {}];
      },
    };
    const tx = applyIfFinite(blowUp, 1);
    const [u, s] = tx.update(g, tx.init(p), p);
    expect(vals((u as any).b)).toEqual([Infinity]);
    expect(s.lastFinite).toBe(true);
    const b = bad();
    const [u2, s2] = tx.update(b, s, p);
    expect(calls).toBe(1); // a skipped step never calls the inner transform
    expect(s2.lastFinite).toBe(false);
    tree.dispose([p, g, u, s, b, u2, s2] as StateTree);
  });

  test('after more than maxConsecutiveErrors non-finite steps in a row the update goes through', () => {
    const p = params();
    const tx = applyIfFinite(traceTx(0), 1);
    const g1 = bad();
    const g2 = bad();
    const s0 = tx.init(p);
    const [a1, t1] = tx.update(g1, s0, p);
    const [a2, t2] = tx.update(g2, t1, p);
    expect(vals((a1 as any).w)).toEqual([0, 0]);
    expect(Number.isNaN(vals((a2 as any).w)[0])).toBe(true);
    expect([t2.notfiniteCount, t2.totalNotfinite, t2.lastFinite]).toEqual([2, 2, false]);
    expect(t2.innerState.count).toBe(1);
    expect(() => applyIfFinite(identity(), -1)).toThrow(HyperparameterError);
    expect(() => applyIfFinite(identity(), 1.5)).toThrow(HyperparameterError);
    tree.dispose([p, g1, g2, s0, a1, t1, a2, t2] as StateTree);
  });
});

describe('multiSteps', () => {
  // Least squares on 8 samples: L(w, {x, y}) = mean((x·w − y)²).
  const X = [
    [1, 2],
    [0, 1],
    [-1, 3],
    [2, 2],
    [1, -1],
    [0.5, 0],
    [3, 1],
    [-2, 1],
  ];
  const Y = [1, 0, 2, -1, 0.5, 1, 2, -0.5];
  const batchOf = (rows: number[]) => ({ x: tf.tensor2d(rows.map((r) => X[r])), y: tf.tensor1d(rows.map((r) => Y[r])) });
  const loss = (p: Tree, b: { x: tf.Tensor2D; y: tf.Tensor1D }) =>
    tf.mean(tf.square(tf.sub(tf.squeeze(tf.matMul(b.x, tf.reshape((p as any).w, [2, 1])), [1]), b.y))) as tf.Scalar;

  test('k = 4 micro-batches give exactly one step on the big batch (SGD with momentum, 3 cycles)', () => {
    const inner = sgdTx(0.05, 0.9);
    const big = batchOf([0, 1, 2, 3, 4, 5, 6, 7]);
    const micro = [
      [0, 1],
      [2, 3],
      [4, 5],
      [6, 7],
    ].map(batchOf);
    const acc = multiSteps(inner, 4);
    const stepBig = makeStep(inner, loss);
    const stepMicro = makeStep(acc, loss);
    let pBig: Tree = { w: tf.tensor1d([0.3, -0.2]) };
    let pMicro: Tree = { w: tf.tensor1d([0.3, -0.2]) };
    let sBig = inner.init(pBig);
    let sMicro = acc.init(pMicro);
    for (let cycle = 0; cycle < 3; cycle++) {
      const r = stepBig(pBig, sBig, big);
      r.loss.dispose();
      ({ params: pBig, state: sBig } = r);
      for (let i = 0; i < 4; i++) {
        const before = vals((pMicro as any).w);
        const m = stepMicro(pMicro, sMicro, micro[i]);
        m.loss.dispose();
        ({ params: pMicro, state: sMicro } = m);
        expect(hasUpdated(sMicro)).toBe(i === 3);
        expect(sMicro.miniStep).toBe((i + 1) % 4);
        if (i < 3) expect(vals((pMicro as any).w)).toEqual(before); // zero updates on mini-steps
      }
      expect(sMicro.gradientStep).toBe(cycle + 1);
      expectClose((pMicro as any).w, vals((pBig as any).w), 6);
    }
    expect(vals((pBig as any).w)).not.toEqual([0.3, -0.2]);
    tree.dispose([big, micro, pBig, pMicro, sBig, sMicro] as unknown as StateTree);
  });

  test('useGradMean: false sums; everyK may be a schedule of the gradient step; skip functions', () => {
    const p = params();
    const gs = [grads(1), grads(2), grads(3)];
    const sum = multiSteps(scaleTx(1), 2, { useGradMean: false });
    const s0 = sum.init(p);
    const [u1, s1] = sum.update(gs[0], s0, p);
    const [u2, s2] = sum.update(gs[1], s1, p);
    expectClose((u2 as any).w, [1.5, -2]);
    expect(vals((u1 as any).w)).toEqual([0, 0]);
    // everyK(g) = g + 1: updates after micro-steps 1, 1+2 = 3, ...
    const sched = multiSteps(scaleTx(1), (g) => g + 1);
    let s: any = sched.init(p);
    const updated: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      const [u, next] = sched.update(gs[i % 3], s, p);
      updated.push(hasUpdated(next));
      tree.dispose([u, s] as StateTree);
      s = next;
    }
    expect(updated).toEqual([true, false, true, false, false, true]);
    // A skipped micro-step is as if it never happened.
    const skipping = multiSteps(scaleTx(1), 2, { shouldSkipUpdateFn: skipNotFinite });
    const nan = grads();
    nan.b.dispose();
    nan.b = tf.tensor1d([NaN]);
    const k0 = skipping.init(p);
    const [v1, k1] = skipping.update(gs[0], k0, p);
    const [v2, k2] = skipping.update(nan, k1, p);
    const [v3, k3] = skipping.update(gs[2], k2, p);
    expect(k2.miniStep).toBe(1);
    expectClose((v3 as any).w, [1, -1]);
    expect(skipNotFinite(gs[0])).toBe(false);
    expect(() => multiSteps(identity(), 0)).toThrow(HyperparameterError);
    tree.dispose([p, gs, s0, u1, s1, u2, s2, s, nan, k0, v1, k1, v2, k2, v3, k3] as unknown as StateTree);
  });
});

describe('conditionallyTransform and conditionallyMask', () => {
  test('call the inner transform only when the condition holds; otherwise pass through or zero', () => {
    const p = params();
    const g = grads();
    const even = (step: number) => step % 2 === 0;
    for (const [tx, other] of [
      [conditionallyTransform(traceTx(0.5), even), 2],
      [conditionallyMask(traceTx(0.5), even), 0],
    ] as const) {
      let s: any = tx.init(p);
      const outs: number[] = [];
      for (let i = 0; i < 4; i++) {
        const [u, next] = tx.update(g, s, p);
        outs.push(vals((u as any).b)[0]);
        tree.dispose([u, s] as StateTree);
        s = next;
      }
      expect(outs).toEqual([2, other, 3, other]);
      expect(s.step).toBe(4);
      expect(s.innerState.count).toBe(2);
      tree.dispose(s);
    }
    const seen: unknown[] = [];
    const fwd = conditionallyTransform(
      identity(),
      (_step, extra) => {
        seen.push(extra?.flag);
        return true;
      },
      { forwardExtraArgs: true },
    );
    const [u, s] = fwd.update(g, fwd.init(p), p, { flag: 7 });
    expect(seen).toEqual([7]);
    tree.dispose([p, g, u, s] as StateTree);
  });
});

describe('labels', () => {
  test('leafLabels / maskLeaves give one label per leaf in sorted-key order', () => {
    const p = params();
    expect(leafLabels({ w: 'a', b: 'b', h: ['c', 'd'] }, p)).toEqual(['b', 'c', 'd', 'a']);
    expect(maskLeaves({ w: true, b: false, h: false }, p)).toEqual([false, false, false, true]);
    expect(() => maskLeaves({ w: 1, b: false, h: false } as any, p)).toThrow(TreeMismatchError);
    tree.dispose(p as StateTree);
  });
});

describe('ownership of every combinator', () => {
  const nanAt = (i: number) => {
    const g = grads(i);
    if (i % 3 !== 1) return g;
    g.b.dispose();
    return { ...g, b: tf.tensor1d([NaN]) };
  };
  const cases: [string, () => GradientTransformation<any>, (i: number) => Tree][] = [
    ['namedChain', () => namedChain(['m', traceTx(0.9)], ['lr', scaleTx(-0.1)]), grads],
    ['masked', () => masked(traceTx(0.9), { w: true, b: false, h: [true, false] }), grads],
    ['multiTransform', () => multiTransform({ a: traceTx(0.9), b: scaleTx(2) }, { w: 'a', b: 'b', h: 'a' }), grads],
    ['injectHyperparams', () => injectHyperparams((hp) => sgdTx(hp.lr, hp.m), { lr: (t) => 0.1 / (t + 1), m: 0.9 }), grads],
    ['applyIfFinite (with NaN steps)', () => applyIfFinite(sgdTx(0.1, 0.9), 1), nanAt],
    ['multiSteps', () => multiSteps(sgdTx(0.1, 0.9), 3), grads],
    ['multiSteps (skipping)', () => multiSteps(sgdTx(0.1, 0.9), 2, { shouldSkipUpdateFn: skipNotFinite }), nanAt],
    ['conditionallyTransform', () => conditionallyTransform(traceTx(0.9), (s) => s % 2 === 0), grads],
    ['conditionallyMask', () => conditionallyMask(traceTx(0.9), (s) => s % 2 === 0), grads],
  ];
  test.each(cases)('%s: inputs intact, outputs fresh, numTensors flat over 30 steps', (_, make, gradsAt) => {
    const p = params();
    checkOwnershipOverSteps(make(), p, gradsAt, 30);
    tree.dispose(p as StateTree);
  });

  test('the somax/testing laws hold on random trees', () => {
    const opts = { numRuns: 3, leakSteps: 6 };
    checkTransformLaws(
      masked(traceTx(0.9), (p: Tree) => labelsByLeaf(p, [true, false])),
      opts,
    );
    checkTransformLaws(
      multiTransform({ x: traceTx(0.5), y: scaleTx(-2) }, (p: Tree) => labelsByLeaf(p, ['y', 'x'])),
      opts,
    );
    checkTransformLaws(multiSteps(sgdTx(0.1, 0.9), 2), opts);
    checkTransformLaws(applyIfFinite(sgdTx(0.1, 0.9), 2), opts);
    checkTransformLaws(
      injectHyperparams((hp) => sgdTx(hp.lr), { lr: (t) => 1 / (t + 1) }),
      opts,
    );
    checkTransformLaws(namedChain(['a', traceTx(0.9)], ['b', scaleTx(3)]), opts);
  });

  test('applyUpdates keeps the combinators usable in a loop (smoke)', () => {
    let p: Tree = params();
    const tx = masked(sgdTx(0.1), { w: true, b: false, h: false });
    let s = tx.init(p);
    const g = grads();
    for (let i = 0; i < 3; i++) {
      const [u, next] = tx.update(g, s, p);
      const np: Tree = applyUpdates(p, u);
      tree.dispose([u, s, p] as StateTree);
      p = np;
      s = next;
    }
    expectClose((p as any).w, [1 - 0.15, 2 + 0.3]);
    expectClose((p as any).b, [3 + 3 * 2]); // masked-out updates pass through unchanged
    tree.dispose([p, s, g] as StateTree);
  });
});

/**
 * A transform that reads (like a CG solver): `u′ = u / (1 + ‖u‖²)`, the norm fetched by a Reads
 * computation; it records every tensor it yields in `yielded` and counts its calls in the state.
 */
function readingTx(yielded: tf.Tensor[]): GradientTransformation<{ readonly calls: number }> {
  return withReads(
    () => ({ calls: 0 }),
    function* (u: Tree, s: { readonly calls: number }): Reads<[Tree, { readonly calls: number }]> {
      const norm2 = yield* fetchScalar(() => {
        const t = tree.squaredNorm(u);
        yielded.push(t);
        return t;
      });
      return [tree.scale(u, 1 / (1 + norm2)), { calls: s.calls + 1 }];
    },
  );
}

/** Drives a Reads computation by hand, collecting what it yields (each fetched, as runAsync does). */
async function drive<T>(reads: Reads<T>): Promise<{ value: T; seen: tf.Tensor[] }> {
  const seen: tf.Tensor[] = [];
  let r = reads.next();
  while (!r.done) {
    seen.push(r.value);
    await r.value.data();
    r = reads.next();
  }
  return { value: r.value, seen };
}

describe('async reads through every wrapper', () => {
  const all = { w: true, b: true, h: [true, true] };
  // Each wrapper around an inner transform, set up so that the inner is called at the first step.
  const wrappers: [string, (inner: GradientTransformation<any>) => GradientTransformation<any>][] = [
    ['chain', (t) => chain(scaleTx(2), t)],
    ['namedChain', (t) => namedChain(['x2', scaleTx(2)], ['inner', t])],
    ['masked', (t) => masked(t, { w: true, b: false, h: [true, false] })],
    ['masked (nested)', (t) => masked(masked(t, { w: true, b: true, h: false }), all)],
    ['multiTransform', (t) => multiTransform({ a: t, b: scaleTx(3) }, { w: 'a', b: 'b', h: ['a', 'b'] })],
    ['partition', (t) => partition({ a: scaleTx(3), b: t }, { w: 'b', b: 'a', h: 'b' })],
    ['injectHyperparams', (t) => injectHyperparams((hp) => chain(scaleTx(hp.k), t), { k: (c: number) => c + 2 })],
    ['multiSteps', (t) => multiSteps(t, 1)],
    ['multiSteps (skipNotFinite)', (t) => multiSteps(t, 1, { shouldSkipUpdateFn: skipNotFinite })],
    ['applyIfFinite', (t) => applyIfFinite(t, 2)],
    ['guardNonFinite', (t) => guardNonFinite(t)],
    ['guardNonFinite (sync: false)', (t) => guardNonFinite(t, { sync: false })],
    ['conditionallyTransform', (t) => conditionallyTransform(t, (step) => step === 0)],
    ['conditionallyMask', (t) => conditionallyMask(t, (step) => step === 0)],
  ];

  test.each(wrappers)('%s: exposes updateReads; runAsync surfaces the inner reads and equals update', async (_name, wrap) => {
    const p = params();
    const g = grads();
    const before = tf.memory().numTensors;
    const yielded: tf.Tensor[] = [];
    const tx = wrap(readingTx(yielded));
    expect(typeof tx.updateReads).toBe('function');
    const s0 = tx.init(p);
    const [uSync, sSync] = tx.update(g, s0, p);
    const syncYields = yielded.splice(0);
    expect(syncYields.length).toBe(1); // the inner ran once, synchronously
    const {
      value: [uAsync, sAsync],
      seen,
    } = await drive(tx.updateReads!(g, s0, p));
    expect(yielded.length).toBe(1);
    expect(seen).toContain(yielded[0]); // the inner's read reached the driver, which fetched it first
    const [uRun, sRun] = await runAsync(tx.updateReads!(g, s0, p));
    for (const u of [uAsync, uRun]) tree.leaves(u).forEach((t, i) => expect(vals(t)).toEqual(vals(tree.leaves(uSync)[i])));
    expect(JSON.stringify(tree.tensors(sAsync as StateTree).map(vals))).toBe(JSON.stringify(tree.tensors(sSync as StateTree).map(vals)));
    tree.dispose([uSync, sSync, uAsync, sAsync, uRun, sRun, s0] as StateTree);
    expect(tf.memory().numTensors).toBe(before); // no leak
    tree.dispose([p, g] as StateTree);
  });

  test.each(wrappers)('%s: around a transform without updateReads, updateReads gives what update gives', async (_name, wrap) => {
    const p = params();
    const g = grads();
    const tx = wrap(traceTx(0.5));
    const s0 = tx.init(p);
    const [a, sa] = tx.update(g, s0, p);
    const [b, sb] = await runAsync(tx.updateReads!(g, s0, p));
    tree.leaves(b).forEach((t, i) => expect(vals(t)).toEqual(vals(tree.leaves(a)[i])));
    tree.dispose([p, g, s0, a, sa, b, sb] as StateTree);
  });
});

describe("masked: Optax's nested masks (optax#271)", () => {
  // Optax's test_nested_mask: three linear layers; the outer mask (a function) keeps the matrices,
  // the inner mask is given over the FULL params and drops linear_2 with a prefix `false`.
  const layers = () => ({
    linear_1: { w: tf.tensor2d([[1]]), b: tf.tensor1d([2]) },
    linear_2: { w: tf.tensor2d([[3, 4]]), b: tf.tensor1d([5, 6]) },
    linear_3: {
      w: tf.tensor2d([
        [1, 2, 3],
        [4, 5, 6],
      ]),
      b: tf.tensor1d([7, 8, 9]),
    },
  });
  const matrices = (p: Tree): LabelTree<boolean> => {
    const o = p as Record<string, Record<string, Tree>>;
    return Object.fromEntries(Object.keys(o).map((k) => [k, Object.fromEntries(Object.keys(o[k]).map((n) => [n, n === 'w']))]));
  };
  const innerMask = { linear_1: true, linear_2: false, linear_3: { w: true, b: true } };

  test('masked(masked(sgd(1), innerMask), outerMask): only the leaves both masks select move (hand-computed)', () => {
    const p = layers();
    const g = tree.map((t: tf.Tensor) => tf.onesLike(t), p); // ones, as in Optax's test
    const tx = masked(masked(sgdTx(1, 0), innerMask), matrices);
    const s0 = tx.init(p);
    const [u, s1] = tx.update(g, s0, p);
    const out = u as any;
    // −1 on linear_1.w and linear_3.w (selected by both); +1 (passed through) everywhere else.
    expect(vals(out.linear_1.w)).toEqual([-1]);
    expect(vals(out.linear_3.w)).toEqual([-1, -1, -1, -1, -1, -1]);
    expect(vals(out.linear_2.w)).toEqual([1, 1]);
    for (const k of ['linear_1', 'linear_2', 'linear_3']) expect(vals(out[k].b).every((v) => v === 1)).toBe(true);
    // The inner state (the momentum trace) has the params' structure, holes where not selected.
    const m = (s1 as any)[0].m;
    expect(m.linear_2).toEqual({ w: {}, b: {} });
    expect(m.linear_1.b).toEqual({});
    expect(vals(m.linear_3.w)).toEqual([1, 1, 1, 1, 1, 1]);
    tree.dispose([p, g, s0, u, s1] as StateTree);
  });

  test('a stateful inner: two steps of momentum 0.5 on the doubly selected leaf; a prefix mask; a function inner mask', () => {
    const p = layers();
    const g = tree.map((t: tf.Tensor) => tf.mul(t, 0.1), p);
    // Inner mask as a function (called with the holey tree it sees): everything under linear_1 and linear_2.
    const inner = masked(traceTx(0.5), () => ({ linear_1: true, linear_2: true, linear_3: false }));
    const tx = masked(inner, { linear_1: { w: true, b: false }, linear_2: true, linear_3: true });
    let s = tx.init(p);
    let u: Tree = {};
    for (let i = 0; i < 2; i++) {
      tree.dispose(u);
      const [next, ns] = tx.update(g, s, p);
      tree.dispose(s as unknown as StateTree);
      u = next;
      s = ns;
    }
    const out = u as any;
    // Selected by both: linear_1.w, linear_2.{w, b}: m = g + 0.5·g = 1.5·g. Others: g.
    expectClose(out.linear_1.w, [0.15]);
    expectClose(out.linear_2.w, [0.45, 0.6]);
    expectClose(out.linear_2.b, [0.75, 0.9]);
    expectClose(out.linear_1.b, [0.2]);
    expectClose(out.linear_3.w, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    expect(s.count).toBe(2);
    tree.dispose([p, g, s, u] as StateTree);
  });

  test('masked inside partition: the inner mask is over the full params too (hand-computed)', () => {
    const p = layers();
    const g = tree.map((t: tf.Tensor) => tf.onesLike(t), p);
    // Matrices → 'scaled' (×−2 where the inner mask, over the full params, selects linear_1); biases → 'kept'.
    const labels = (q: Tree) => {
      const m = matrices(q) as Record<string, Record<string, boolean>>;
      return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { w: v.w ? 'scaled' : 'kept', b: v.b ? 'scaled' : 'kept' }]));
    };
    const tx = partition({ scaled: masked(scaleTx(-2), { linear_1: true, linear_2: false, linear_3: false }), kept: identity() }, labels);
    const s0 = tx.init(p);
    const [u, s1] = tx.update(g, s0, p);
    const out = u as any;
    expect(vals(out.linear_1.w)).toEqual([-2]);
    expect(vals(out.linear_2.w)).toEqual([1, 1]);
    expect(vals(out.linear_3.w).every((v) => v === 1)).toBe(true);
    expect(vals(out.linear_1.b)).toEqual([1]);
    tree.dispose([p, g, s0, u, s1] as StateTree);
  });
});

describe('options are resolved against their defaults', () => {
  test('an unknown or misspelt option is rejected, naming the nearest known one', () => {
    const misspelt = () => multiSteps(identity(), 2, { useGradMeans: false } as any);
    expect(misspelt).toThrow(/unknown option 'useGradMeans' for multiSteps; did you mean 'useGradMean'\?/);
    expect(() => guardNonFinite(identity(), { synch: false } as any)).toThrow(/unknown option 'synch' for guardNonFinite/);
    expect(() => conditionallyTransform(identity(), () => true, { forwardExtra: true } as any)).toThrow(/did you mean 'forwardExtraArgs'/);
    expect(() => conditionallyMask(identity(), () => true, { nope: 1 } as any)).toThrow(HyperparameterError);
  });
});

describe('chain when a member throws', () => {
  test('the earlier members’ updates and new states are disposed, the error passes through, inputs untouched', () => {
    const boom: GradientTransformation<EmptyState> = {
      init: () => ({}),
      update: () => {
        throw new Error('boom');
      },
    };
    const tx = chain(trace(0.9), scale(2), boom);
    const params = { w: tf.tensor1d([1, 2]) };
    const g = { w: tf.tensor1d([0.5, -1]) };
    const state = tx.init(params);
    const before = tf.memory().numTensors;
    expect(() => tx.update(g, state, params)).toThrow('boom');
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(g.w.dataSync())).toEqual([0.5, -1]);
    expect(tree.tensors(state as never).every((t) => !t.isDisposed)).toBe(true);
    tree.dispose([params, g, state as never]);
  });
});
