import * as tf from '@tensorflow/tfjs-core';
import {
  applyIfFinite, chain, conditionallyMask, guardNonFinite, conditionallyTransform, hasUpdated, identity, injectHyperparams, leafLabels,
  maskLeaves, masked, multiSteps, multiTransform, namedChain, partition, setHyperparams, skipNotFinite,
} from '../../lib/combine';
import type { LabelTree } from '../../lib/combine';
import { HyperparameterError, InputError, TreeMismatchError } from '../../lib/errors';
import * as tree from '../../lib/tree';
import type { Extra, GradientTransformation, StateTree, Tree } from '../../lib/types';
import { applyUpdates, makeStep } from '../../lib/update';
import { checkTransformLaws } from '../../testing';

// Inline transforms, so these tests do not depend on transforms/.
const scaleTx = (s: number): GradientTransformation<Record<string, never>> => ({ init: () => ({}), update: (u) => [tree.scale(u, s), {}] });
interface TraceState { readonly count: number; readonly m: Tree }
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
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, walk(o[k])]));
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
    const p = params(); const g = grads();
    const a = namedChain(['momentum', traceTx(0.5)], ['lr', scaleTx(-0.1)]);
    const b = chain(traceTx(0.5), scaleTx(-0.1));
    let sa = a.init(p); let sb = b.init(p);
    for (let i = 0; i < 3; i++) {
      const [ua, sa1] = a.update(g, sa, p);
      const [ub, sb1] = b.update(g, sb, p);
      tree.leaves(ua).forEach((t, j) => expect(vals(t)).toEqual(vals(tree.leaves(ub)[j])));
      tree.dispose([ua, ub, sa, sb] as StateTree);
      sa = sa1; sb = sb1;
    }
    expect(Object.keys(sa).sort()).toEqual(['lr', 'momentum']);
    expect((sa.momentum as TraceState).count).toBe(3);
    expectClose((sa.momentum as any).m.b, [2 * (1 + 0.5 + 0.25)]);
    tree.dispose([p, g, sa, sb] as StateTree);
  });

  test('rejects duplicate names, bad pairs and a state without a name', () => {
    expect(() => namedChain(['x', identity()], ['x', identity()])).toThrow(/duplicate name 'x'/);
    expect(() => namedChain(['x', 3 as any])).toThrow(HyperparameterError);
    const p = params(); const g = grads();
    expect(() => namedChain(['x', identity()]).update(g, {}, p)).toThrow(InputError);
    tree.dispose([p, g] as StateTree);
  });
});

describe('masked', () => {
  test('applies the inner transform only where the mask is true; its state has holes ({}) at the other leaves', () => {
    const p = params(); const g = grads();
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
    const p = params(); const g = grads();
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
    const p = params(); const g = grads();
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
    const p = params(); const g = grads();
    expect(() => multiTransform({ fast: scaleTx(1) }, { w: 'fast', b: 'other', h: 'fast' }).init(p)).toThrow(/no transform for label 'other'/);
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
    const p = params(); const g = grads();
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
    const p = params(); const g = grads();
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
    const p = params(); const g = grads();
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
      [false, 0, 1], [true, 1, 1], [true, 2, 1], [true, 3, 1], [false, 3, 2],
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
      seen.push({ u: vals((u as any).b), m: vals((next.innerState as any)[0].m.b), skipped: info.skippedSteps.dataSync()[0], count: (next.innerState as any)[0].count });
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
      [0, true, 0], [1, false, 1], [2, false, 2], [0, true, 2],
    ]);
    // Step 4 continues the momentum of step 1 as if steps 2-3 never happened: m = 0.9·2 + 2.
    expect(seen[3].u[0]).toBeCloseTo(-0.1 * 3.8, 6);
    tree.dispose([p, s] as StateTree);
  });

  test('checks the incoming updates, as Optax does: a finite input is applied even if the inner output is not', () => {
    const p = params(); const g = grads();
    let calls = 0;
    const blowUp: GradientTransformation<Record<string, never>> = { init: () => ({}), update: (u) => { calls++; return [tree.scale(u, Infinity), {}]; } };
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
    const g1 = bad(); const g2 = bad();
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
  const X = [[1, 2], [0, 1], [-1, 3], [2, 2], [1, -1], [0.5, 0], [3, 1], [-2, 1]];
  const Y = [1, 0, 2, -1, 0.5, 1, 2, -0.5];
  const batchOf = (rows: number[]) => ({ x: tf.tensor2d(rows.map((r) => X[r])), y: tf.tensor1d(rows.map((r) => Y[r])) });
  const loss = (p: Tree, b: { x: tf.Tensor2D; y: tf.Tensor1D }) =>
    tf.mean(tf.square(tf.sub(tf.squeeze(tf.matMul(b.x, tf.reshape((p as any).w, [2, 1])), [1]), b.y))) as tf.Scalar;

  test('k = 4 micro-batches give exactly one step on the big batch (SGD with momentum, 3 cycles)', () => {
    const inner = sgdTx(0.05, 0.9);
    const big = batchOf([0, 1, 2, 3, 4, 5, 6, 7]);
    const micro = [[0, 1], [2, 3], [4, 5], [6, 7]].map(batchOf);
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
    const p = params(); const g = grads();
    const even = (step: number) => step % 2 === 0;
    for (const [tx, other] of [[conditionallyTransform(traceTx(0.5), even), 2], [conditionallyMask(traceTx(0.5), even), 0]] as const) {
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
    const fwd = conditionallyTransform(identity(), (_step, extra) => { seen.push(extra?.flag); return true; }, { forwardExtraArgs: true });
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
    checkTransformLaws(masked(traceTx(0.9), (p: Tree) => labelsByLeaf(p, [true, false])), opts);
    checkTransformLaws(multiTransform({ x: traceTx(0.5), y: scaleTx(-2) }, (p: Tree) => labelsByLeaf(p, ['y', 'x'])), opts);
    checkTransformLaws(multiSteps(sgdTx(0.1, 0.9), 2), opts);
    checkTransformLaws(applyIfFinite(sgdTx(0.1, 0.9), 2), opts);
    checkTransformLaws(injectHyperparams((hp) => sgdTx(hp.lr), { lr: (t) => 1 / (t + 1) }), opts);
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
      p = np; s = next;
    }
    expectClose((p as any).w, [1 - 0.15, 2 + 0.3]);
    expectClose((p as any).b, [3 + 3 * 2]); // masked-out updates pass through unchanged
    tree.dispose([p, s, g] as StateTree);
  });
});
