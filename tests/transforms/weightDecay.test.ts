// transforms/weightDecay.ts: addDecayedWeights with and without masks.
import * as tf from '@tensorflow/tfjs-core';
import { addDecayedWeights, tree, HyperparameterError, InputError, TreeMismatchError } from '../../index';
import type { GradientTransformation, Tree } from '../../index';

const params = () => ({ w: tf.tensor1d([1, -2]), b: tf.tensor1d([4]), head: { k: tf.tensor1d([10]), q: tf.tensor1d([-10]) } });
const grads = () => ({ w: tf.tensor1d([0.5, 0.5]), b: tf.tensor1d([1]), head: { k: tf.tensor1d([0]), q: tf.tensor1d([2]) } });
// Leaves in sorted-key order: b, head.k, head.q, w.
const flat = (t: Tree) => tree.leaves(t).flatMap((l) => Array.from(l.dataSync()));

function once(tx: GradientTransformation<any>): number[] {
  const p = params();
  const g = tree.map((x: tf.Tensor) => tf.clone(x), grads());
  const before = [flat(p), flat(g)];
  const s = tx.init(p);
  const [u, s1] = tx.update(g, s, p);
  const out = flat(u);
  expect([flat(p), flat(g)]).toEqual(before);
  tree.tensors(u).forEach((t) => expect(tree.tensors([g, p]).includes(t)).toBe(false));
  tree.dispose([p, g, u, s, s1] as any);
  return out;
}
const close = (got: number[], want: number[]) => got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));

describe('addDecayedWeights', () => {
  test('u + wd·θ on every leaf', () => {
    close(once(addDecayedWeights(0.1)), [1 + 0.4, 0 + 1, 2 - 1, 0.5 + 0.1, 0.5 - 0.2]);
    close(once(addDecayedWeights(0)), [1, 0, 2, 0.5, 0.5]);
  });

  test('a mask tree: masked-out leaves pass through unchanged; a boolean may cover a subtree', () => {
    close(once(addDecayedWeights(0.1, { mask: { w: true, b: false, head: { k: false, q: true } } })), [1, 0, 2 - 1, 0.6, 0.3]);
    close(once(addDecayedWeights(0.1, { mask: { w: false, b: true, head: false } })), [1.4, 0, 2, 0.5, 0.5]);
  });

  test('a mask function of the params: here, decay only the leaves with more than one entry', () => {
    const seen: Tree[] = [];
    const mask = (p: any) => {
      seen.push(p);
      return { w: p.w.size > 1, b: p.b.size > 1, head: { k: p.head.k.size > 1, q: p.head.q.size > 1 } };
    };
    close(once(addDecayedWeights(0.1, { mask })), [1, 0, 2, 0.6, 0.3]);
    expect(seen.length).toBeGreaterThan(0);
    expect(Object.keys(seen[0]).sort()).toEqual(['b', 'head', 'w']);
  });

  test('missing params raise an InputError; mismatched params and updates name the path', () => {
    const tx = addDecayedWeights(0.1);
    const g = grads();
    expect(() => tx.update(g, tx.init(g))).toThrow(InputError);
    expect(() => tx.update(g, tx.init(g))).toThrow(/needs params/);
    const p = { ...params(), b: tf.tensor1d([1, 2]) };
    expect(() => tx.update(g, tx.init(p), p)).toThrow(TreeMismatchError);
    expect(() => tx.update(g, tx.init(p), p)).toThrow(/updates\.b: params have shape \[2\], updates have \[1\]/);
    const badMask = addDecayedWeights(0.1, { mask: { w: true } as any });
    expect(() => badMask.update(g, badMask.init(p), params())).toThrow(/mask\.b: missing/);
    tree.dispose([g, p] as any);
  });

  test('a negative or NaN weight decay throws at construction', () => {
    expect(() => addDecayedWeights(-1e-4)).toThrow(HyperparameterError);
    expect(() => addDecayedWeights(-1e-4)).toThrow(/weightDecay must be in \[0, Infinity\]/);
    expect(() => addDecayedWeights(NaN)).toThrow(/weightDecay must be a finite number/);
  });
});
