import * as tf from '@tensorflow/tfjs-core';
import { InputError, tree, TreeMismatchError } from '../../index';

describe('tree', () => {
  test('map over two trees adds leafwise and names the path of a shape mismatch', () => {
    const a = { w: tf.tensor([1, 2]), b: [tf.tensor([3])] };
    const b = { w: tf.tensor([10, 20]), b: [tf.tensor([30])] };
    const s = tree.add(a, b) as { w: tf.Tensor; b: tf.Tensor[] };
    expect(Array.from(s.w.dataSync())).toEqual([11, 22]);
    expect(Array.from(s.b[0].dataSync())).toEqual([33]);
    const bad = { w: tf.tensor([1, 2, 3]), b: [tf.tensor([3])] };
    expect(() => tree.add(a, bad)).toThrow(TreeMismatchError);
    expect(() => tree.add(a, bad)).toThrow('tree.w: first tree has shape [2], tree 2 has [3]');
  });
});

import fc from 'fast-check';
import { arbParamsAndGrads, buildTree } from '../../testing';
import { random } from '../../index';

const values = (t: any) => tree.leaves(t).flatMap((l) => Array.from(l.dataSync() as Float32Array));

describe('tree properties (fast-check over random nested trees)', () => {
  const run = (prop: (a: any, b: any, spec: any) => void) =>
    fc.assert(
      fc.property(arbParamsAndGrads(), ({ spec, paramSeed, gradSeed }) => {
        const a = buildTree(spec, paramSeed);
        const b = buildTree(spec, gradSeed);
        try {
          prop(a, b, spec);
        } finally {
          tree.dispose([a, b] as any);
        }
      }),
      { numRuns: 25, seed: 7 },
    );

  test('flatten/unflatten and ravel/unravel are inverse; paths and numel agree', () => {
    run((a) => {
      const { leaves, def } = tree.flatten(a);
      const back = tree.unflatten(def, leaves);
      tree.assertSameStructure(a, back);
      expect(tree.leaves(back)).toEqual(leaves);
      const { vector, unravel } = tree.ravel(a);
      expect(vector.size).toBe(tree.numel(a));
      const again = unravel(vector);
      expect(values(again)).toEqual(values(a));
      expect(tree.paths(a).length).toBe(leaves.length);
      tree.dispose([vector, again] as any);
    });
  });

  test('linearity: add, sub, scale, axpy', () => {
    run((a, b) => {
      const lhs = tree.axpy(2, a, b);
      const rhs = tree.add(tree.scale(a, 2), b);
      values(lhs).forEach((v, i) => expect(v).toBeCloseTo(values(rhs)[i], 4));
      const zero = tree.sub(tree.add(a, b), tree.add(b, a));
      values(zero).forEach((v) => expect(v).toBe(0));
      tree.dispose([lhs, rhs, zero] as any);
    });
  });

  test('vdot is symmetric, bilinear, and ‖a‖² = ⟨a, a⟩', () => {
    run((a, b) => {
      const ab = tree.vdot(a, b).dataSync()[0];
      const ba = tree.vdot(b, a).dataSync()[0];
      expect(ab).toBeCloseTo(ba, 4);
      const a3 = tree.scale(a, 3);
      expect(tree.vdot(a3, b).dataSync()[0]).toBeCloseTo(3 * ab, 3);
      const n = tree.l2Norm(a).dataSync()[0];
      expect(n * n).toBeCloseTo(tree.vdot(a, a).dataSync()[0], 3);
      tree.dispose(a3);
    });
  });

  test('random trees are reproducible from their key; Rademacher entries are ±1', () => {
    run((a) => {
      const k = random.key(11);
      const r1 = tree.rademacherLike(a, k);
      const r2 = tree.rademacherLike(a, k);
      expect(values(r1)).toEqual(values(r2));
      expect(values(r1).every((v) => v === 1 || v === -1)).toBe(true);
      const n1 = tree.randomNormalLike(a, random.split(k)[0]);
      const n2 = tree.randomNormalLike(a, random.split(k)[0]);
      expect(values(n1)).toEqual(values(n2));
      tree.dispose([r1, r2, n1, n2] as any);
    });
  });

  test('operations never dispose or mutate their inputs', () => {
    run((a, b) => {
      const before = values(a);
      const outs = [tree.add(a, b), tree.sub(a, b), tree.mul(a, b), tree.scale(a, 2), tree.zerosLike(a), tree.onesLike(a), tree.clone(a)];
      expect(values(a)).toEqual(before);
      tree.leaves(a).forEach((t) => expect(t.isDisposed).toBe(false));
      const inputs = new Set(tree.leaves(a));
      outs.forEach((o) => tree.leaves(o).forEach((t) => expect(inputs.has(t)).toBe(false)));
      tree.dispose(outs as any);
    });
  });
});

describe('tree: bad input named by path', () => {
  test('flatten, leaves and map refuse a disposed leaf naming its path; assertLive walks states and batches', () => {
    const dead = tf.tensor1d([1]);
    dead.dispose();
    const live = tf.tensor1d([2]);
    const t = { a: live, b: [live, dead] };
    expect(() => tree.flatten(t)).toThrow(InputError);
    expect(() => tree.flatten(t, 'params')).toThrow('params.b[1] is disposed');
    expect(() => tree.leaves(t, 'updates')).toThrow('updates.b[1] is disposed');
    expect(() => tree.map((x: tf.Tensor) => tf.neg(x), t)).toThrow('tree.b[1] is disposed');
    expect(() => tree.add({ w: live }, { w: dead })).toThrow('tree 2.w is disposed');
    expect(() => tree.assertLive({ count: 3, info: { tag: 'x' }, nums: [1, 2], m: { w: dead } }, 'state')).toThrow('state.m.w is disposed');
    expect(() => tree.assertLive({ count: 3, m: { w: live }, key: null }, 'state')).not.toThrow();
    live.dispose();
  });

  test('zerosLike / onesLike / fullLike refuse non-float leaves naming the path; assertNonEmpty refuses {} and []', () => {
    const p = { w: tf.tensor1d([1, 2]), n: [tf.tensor1d([1], 'int32')] };
    const n0 = tf.memory().numTensors;
    expect(() => tree.zerosLike(p)).toThrow('params.n[0]: expected float32 values, got int32; somax optimizes float32 tensors');
    expect(() => tree.onesLike(p)).toThrow(InputError);
    expect(() => tree.fullLike(p, 1, 'tree')).toThrow('tree.n[0]: expected float32 values');
    expect(tf.memory().numTensors).toBe(n0);
    expect(() => tree.assertNonEmpty({})).toThrow('params is an empty tree: nothing to optimize');
    expect(() => tree.assertNonEmpty([[], { a: [] }] as any, 'x')).toThrow('x is an empty tree');
    expect(() => tree.assertNonEmpty(p)).not.toThrow();
    tree.dispose(p as any);
  });
});

describe('tree.allFinite', () => {
  const allFinite = (t: Parameters<typeof tree.allFinite>[0]) => {
    const b = tree.allFinite(t);
    const v = b.dataSync()[0];
    b.dispose();
    return v === 1;
  };

  test('is false exactly when some float entry is NaN or ±∞ (fast-check), true for huge finite entries whose sum overflows', () => {
    const entry = fc.oneof(fc.double({ min: -3e38, max: 3e38, noNaN: true }), fc.constantFrom(NaN, Infinity, -Infinity, 3e38, -3e38, 0));
    fc.assert(
      fc.property(fc.array(fc.array(entry, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }), (leaves) => {
        const t = Object.fromEntries(leaves.map((l, i) => [`l${i}`, tf.tensor1d(l)]));
        const expected = leaves.every((l) => l.every((x) => Number.isFinite(Math.fround(x))));
        expect(allFinite(t)).toBe(expected);
        tf.dispose(Object.values(t));
      }),
      { numRuns: 200, seed: 11 },
    );
    const huge = { a: tf.fill([4], 3e38), i: tf.tensor1d([7], 'int32') }; // Σ x = +∞ in float32; every entry is finite
    expect(allFinite(huge)).toBe(true);
    tf.dispose(Object.values(huge));
    expect(allFinite({})).toBe(true);
  });
});
