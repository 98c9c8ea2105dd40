import * as tf from '@tensorflow/tfjs-core';
import {
  adam, applyIfFinite, chain, clip, clipByBlockRms, clipByGlobalNorm, ema, hasUpdated, identity, injectHyperparams,
  keepParamsNonnegative, loadState, masked, multiSteps, multiTransform, namedChain, saveState, scale, scaleByAdam,
  scaleByLearningRate, setHyperparams, sgd, trace, tree, zeroNans, incrementalUpdate, periodicUpdate, applyUpdates,
  HyperparameterError, TreeMismatchError,
} from '../../index';

const vals = (t: any) => Array.from(t.dataSync() as Float32Array);

describe('combinators', () => {
  const params = () => ({ w: tf.tensor1d([1, 2]), b: tf.tensor1d([3]) });
  const grads = () => ({ w: tf.tensor1d([0.5, -1]), b: tf.tensor1d([2]) });

  test('namedChain equals chain and keys its state by name', () => {
    const p = params(); const g = grads();
    const a = namedChain(['clip', clipByGlobalNorm(1)], ['lr', scaleByLearningRate(0.1)]);
    const b = chain(clipByGlobalNorm(1), scaleByLearningRate(0.1));
    const sa = a.init(p); const sb = b.init(p);
    const [ua, sa1] = a.update(g, sa, p);
    const [ub, sb1] = b.update(g, sb, p);
    expect(vals((ua as any).w)).toEqual(vals((ub as any).w));
    expect(Object.keys(sa1)).toEqual(['clip', 'lr']);
    expect(() => namedChain(['x', identity()], ['x', identity()])).toThrow(HyperparameterError);
    tree.dispose([p, g, ua, ub, sa1, sb1] as any);
  });

  test('masked applies the inner transform only where the mask is true', () => {
    const p = params(); const g = grads();
    const tx = masked(scale(10), { w: true, b: false });
    const [u, s] = tx.update(g, tx.init(p), p);
    expect(vals((u as any).w)).toEqual([5, -10]);
    expect(vals((u as any).b)).toEqual([2]);
    expect(() => masked(scale(2), { w: true } as any).update(g, {}, p)).toThrow(TreeMismatchError);
    tree.dispose([p, g, u, s] as any);
  });

  test('multiTransform uses one transform per label, labels by tree or function', () => {
    const p = params(); const g = grads();
    const tx = multiTransform({ fast: scale(10), slow: scale(0.1) }, () => ({ w: 'fast', b: 'slow' }));
    const [u, s] = tx.update(g, tx.init(p), p);
    expect(vals((u as any).w)).toEqual([5, -10]);
    expect(vals((u as any).b)[0]).toBeCloseTo(0.2, 6);
    expect(() => multiTransform({ fast: scale(1) }, { w: 'fast', b: 'other' }).init(p)).toThrow(/no transform for label 'other'/);
    tree.dispose([p, g, u, s] as any);
  });

  test('injectHyperparams: schedules are evaluated at the count; numbers can be changed between steps', () => {
    const p = params(); const g = grads();
    const tx = injectHyperparams((hp) => sgd(hp.learningRate, { momentum: hp.momentum }), { learningRate: (t: number) => 0.1 * (t + 1), momentum: 0 });
    let s = tx.init(p);
    const [u0, s1] = tx.update(g, s, p);
    expect(vals((u0 as any).b)[0]).toBeCloseTo(-0.2, 6);
    const s2 = setHyperparams(s1, { momentum: 0.5 });
    const [u1, s3] = tx.update(g, s2, p);
    // momentum 0.5 with a fresh trace (inner state carried): t = g + 0.5 · g, lr = 0.2.
    expect(vals((u1 as any).b)[0]).toBeCloseTo(-0.2 * 2 * (1 + 0.5), 5);
    expect(s3.hyperparams.learningRate).toBeCloseTo(0.2, 10);
    expect(() => setHyperparams(s3, { nope: 1 })).toThrow(/unknown hyperparameter 'nope'/);
    expect(() => injectHyperparams((hp) => adam(hp.lr), { lr: -1 })).toThrow(HyperparameterError);
    s = s3;
    tree.dispose([p, g, u0, s1, u1, s] as any);
  });

  test('applyIfFinite skips a NaN step, keeps the inner state, counts, and gives up after N in a row', () => {
    const p = params();
    const tx = applyIfFinite(chain(scaleByAdam(), scaleByLearningRate(0.1)), 2);
    let s = tx.init(p);
    const bad = { w: tf.tensor1d([NaN, 1]), b: tf.tensor1d([1]) };
    const good = grads();
    const [u1, s1] = tx.update(bad, s, p);
    expect(vals((u1 as any).w)).toEqual([0, 0]);
    expect(s1.notfiniteCount).toBe(1);
    expect(s1.lastFinite).toBe(false);
    expect((s1.innerState as any)[0].count).toBe(0);
    const [u2, s2] = tx.update(bad, s1, p);
    const [u3, s3] = tx.update(good, s2, p);
    expect(s3.notfiniteCount).toBe(0);
    expect(s3.totalNotfinite).toBe(2);
    expect((s3.innerState as any)[0].count).toBe(1); // the skipped steps never reached Adam
    expect(vals((u3 as any).b).every(Number.isFinite)).toBe(true);
    // Giving up: more than maxConsecutiveErrors non-finite steps in a row go through.
    const plain = applyIfFinite(scale(1), 1);
    const [a1, t1] = plain.update(bad, plain.init(p), p);
    const [a2, t2] = plain.update(bad, t1, p);
    expect(vals((a1 as any).w)).toEqual([0, 0]);
    expect(Number.isNaN(vals((a2 as any).w)[0])).toBe(true);
    expect(t2.notfiniteCount).toBe(2);
    const u4 = a2;
    const s4 = t2;
    tree.dispose([p, bad, good, u1, s1, u2, s2, u3, s3, a1, t1, u4, s4, s] as any);
  });

  test('multiSteps over 4 micro-batches equals one step on the mean gradient', () => {
    const p = params();
    const micro = [0, 1, 2, 3].map((k) => ({ w: tf.tensor1d([k, -k]), b: tf.tensor1d([k * 2]) }));
    const inner = chain(scaleByAdam(), scaleByLearningRate(0.1));
    const tx = multiSteps(inner, 4);
    let s = tx.init(p);
    let last: any = null;
    for (let i = 0; i < 4; i++) {
      const [u, next] = tx.update(micro[i], s, p);
      if (i < 3) {
        expect(vals((u as any).w)).toEqual([0, 0]);
        expect(hasUpdated(next)).toBe(false);
      }
      tree.dispose([s as any, last]);
      last = u;
      s = next;
    }
    expect(hasUpdated(s)).toBe(true);
    const mean = { w: tf.tensor1d([1.5, -1.5]), b: tf.tensor1d([3]) };
    const [ref, rs] = inner.update(mean, inner.init(p), p);
    expect(vals(last.w)).toEqual(vals((ref as any).w));
    expect(vals(last.b)).toEqual(vals((ref as any).b));
    tree.dispose([p, micro, s, last, mean, ref, rs] as any);
  });

  test('clip, clipByGlobalNorm, clipByBlockRms, trace, ema, zeroNans, keepParamsNonnegative', () => {
    const p = { a: tf.tensor1d([1, 0.5]) };
    const g = { a: tf.tensor1d([3, -4]) };
    const one = (tx: any, gg: any = g) => { const s = tx.init(p); const [u, s1] = tx.update(gg, s, p); const out = vals(u.a); tree.dispose([s, u, s1]); return out; };
    expect(one(clip(2))).toEqual([2, -2]);
    one(clipByGlobalNorm(1)).forEach((v, i) => expect(v).toBeCloseTo([0.6, -0.8][i], 6));
    one(clipByGlobalNorm(10)).forEach((v, i) => expect(v).toBeCloseTo([3, -4][i], 6));
    const rms = Math.sqrt(12.5);
    one(clipByBlockRms(1)).forEach((v, i) => expect(v).toBeCloseTo([3, -4][i] / rms, 6));
    one(trace(0.9, { nesterov: true })).forEach((v, i) => expect(v).toBeCloseTo([3, -4][i] * 1.9, 5));
    one(ema(0.9)).forEach((v, i) => expect(v).toBeCloseTo([3, -4][i], 5));
    one(ema(0.9, { debias: false })).forEach((v, i) => expect(v).toBeCloseTo([0.3, -0.4][i], 6));
    expect(one(zeroNans(), { a: tf.tensor1d([NaN, 2]) })).toEqual([0, 2]);
    expect(one(keepParamsNonnegative())).toEqual([3, -0.5]);
    tree.dispose([p, g] as any);
  });
});

describe('update helpers and state', () => {
  test('applyUpdates returns new tensors for plain params and assigns tf.Variables in place', () => {
    const p = { w: tf.tensor1d([1, 2]) };
    const u = { w: tf.tensor1d([0.5, 0.5]) };
    const np = applyUpdates(p, u) as any;
    expect(vals(np.w)).toEqual([1.5, 2.5]);
    expect(vals(p.w)).toEqual([1, 2]);
    const v = { w: tf.variable(tf.tensor1d([1, 2])) };
    const nv = applyUpdates(v, u) as any;
    expect(nv.w).toBe(v.w);
    expect(vals(v.w)).toEqual([1.5, 2.5]);
    const inc = incrementalUpdate(u, p, 0.5) as any;
    expect(vals(inc.w)).toEqual([0.75, 1.25]);
    expect(vals((periodicUpdate(u, p, 4, 2) as any).w)).toEqual([0.5, 0.5]);
    expect(vals((periodicUpdate(u, p, 3, 2) as any).w)).toEqual([1, 2]);
    tree.dispose([p, u, np, v, inc] as any);
  });

  test('saveState / loadState round-trips bit-exactly through JSON', () => {
    const p = { w: tf.tensor1d([1, 2]), b: [tf.tensor2d([[1e-30, -3.25]])] };
    const tx = chain(scaleByAdam({ amsgrad: true }), scaleByLearningRate(0.1));
    let s = tx.init(p);
    const g = { w: tf.tensor1d([0.123456789, -7.1e-12]), b: [tf.tensor2d([[Math.PI, 1e20]])] };
    const [u, s1] = tx.update(g, s, p);
    const json = JSON.parse(JSON.stringify(saveState(s1)));
    const back = loadState<typeof s1>(json);
    const a = tree.tensors(s1 as any);
    const b = tree.tensors(back as any);
    expect(b.length).toBe(a.length);
    a.forEach((t, i) => {
      expect(b[i].shape).toEqual(t.shape);
      expect(Buffer.from((b[i].dataSync() as Float32Array).buffer).equals(Buffer.from((t.dataSync() as Float32Array).buffer))).toBe(true);
    });
    expect((back as any)[0].count).toBe(1);
    expect(loadState(saveState({ x: NaN, y: -Infinity, z: null }) as any)).toEqual({ x: NaN, y: -Infinity, z: null });
    s = s1;
    tree.dispose([p, g, u, s, back] as any);
  });
});
