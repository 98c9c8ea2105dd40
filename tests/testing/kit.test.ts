import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import { chain, identity, scale, tree } from '../../index';
import type { GradientTransformation } from '../../index';
import {
  arbParamsAndGrads, arbTreeSpec, buildTree, checkChainAssociativity, checkChainIdentity, checkDeterminism, checkNoLeaks, checkNoMutationOrDisposal,
  checkStructure, checkTransformLaws,
} from '../../testing';

const spec = { kind: 'object', children: { w: { kind: 'leaf', shape: [2, 3] }, b: { kind: 'array', children: [{ kind: 'leaf', shape: [3] }] } } } as const;

function withTrees(fn: (params: any, grads: any) => void) {
  const params = buildTree(spec, 1);
  const grads = buildTree(spec, 2);
  try { fn(params, grads); } finally { tree.dispose([params, grads] as any); }
}

describe('somax/testing catches broken transforms', () => {
  test('well-behaved transforms pass every law', () => {
    checkTransformLaws(identity(), { numRuns: 5 });
    checkTransformLaws(chain(scale(2), scale(-0.5)), { numRuns: 5 });
    withTrees((p, g) => checkChainAssociativity(scale(2), identity(), scale(3), p, g));
  });

  test('a transform that disposes its input is caught', () => {
    const bad: GradientTransformation<{}> = { init: () => ({}), update: (u) => { const out = tree.clone(u); tree.dispose(u); return [out, {}]; } };
    withTrees((p, g) => expect(() => checkNoMutationOrDisposal(bad, p, g)).toThrow(/disposed one of its inputs/));
  });

  test('a transform that returns its input uncloned is caught', () => {
    const bad: GradientTransformation<{}> = { init: () => ({}), update: (u) => [u, {}] };
    withTrees((p, g) => expect(() => checkNoMutationOrDisposal(bad, p, g)).toThrow(/returned one of its input tensors/));
  });

  test('a transform that leaks is caught', () => {
    const bad: GradientTransformation<{}> = { init: () => ({}), update: (u) => { tf.zeros([2]); return [tree.clone(u), {}]; } };
    withTrees((p, g) => expect(() => checkNoLeaks(bad, p, g, { steps: 10 })).toThrow(/8 tensors leaked/));
  });

  test('a transform whose updates lose the structure, or that is not deterministic, is caught', () => {
    const flat: GradientTransformation<{}> = { init: () => ({}), update: (u) => [tree.leaves(u).map((t) => tf.clone(t)), {}] };
    withTrees((p, g) => expect(() => checkStructure(flat, p, g)).toThrow(/transform law violated/));
    let calls = 0;
    const noisy: GradientTransformation<{}> = { init: () => ({}), update: (u) => [tree.scale(u, ++calls), {}] };
    withTrees((p, g) => expect(() => checkDeterminism(noisy, p, g)).toThrow(/differs between two identical runs/));
    const skipsFirst: GradientTransformation<{ n: number }> = { init: () => ({ n: 0 }), update: (u, s) => [tree.scale(u, s.n), { n: s.n + 1 }] };
    withTrees((p, g) => checkChainIdentity(skipsFirst, p, g));
  });

  test('checkTransformLaws reports a transform returning its input, and never disposes the caller\'s tensors', () => {
    const bad: GradientTransformation<{}> = { init: () => ({}), update: (u) => [u, {}] };
    const before = tf.memory().numTensors;
    expect(() => checkTransformLaws(bad, { numRuns: 3, seed: 1 })).toThrow(/returned one of its input tensors/);
    expect(tf.memory().numTensors).toBe(before);
    withTrees((p, g) => {
      expect(() => checkStructure(bad, p, g)).not.toThrow();
      expect(tree.leaves(g).some((t) => t.isDisposed)).toBe(false);
    });
  });

  test('mutating a tf.Variable param, a growing state, and a non-associative chain are caught', () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    const g = tf.tensor1d([0.5, 0.5]);
    const mutates: GradientTransformation<{}> = { init: () => ({}), update: (u, _s, p) => { (p as tf.Variable).assign(tf.zerosLike(p as tf.Tensor)); return [tree.clone(u), {}]; } };
    expect(() => checkNoMutationOrDisposal(mutates, v, g)).toThrow(/mutated one of its inputs/);
    const grows: GradientTransformation<{ hist: tf.Tensor[] }> = { init: () => ({ hist: [] }), update: (u, s) => [tree.clone(u), { hist: [...s.hist.map((t) => tf.clone(t)), tf.clone(u as tf.Tensor)] }] };
    expect(() => checkStructure(grows, v, g)).toThrow(/state changed structure at step 1/);
    let calls = 0;
    const counting: GradientTransformation<{}> = { init: () => ({}), update: (u) => [tree.scale(u, ++calls), {}] };
    expect(() => checkChainAssociativity(counting, identity(), scale(2), v, g)).toThrow(/not associative/);
    tf.dispose([v, g]);
  });

  test('a transform that disposes a tensor of extra is caught', () => {
    const bad: GradientTransformation<{}> = { init: () => ({}), update: (u, _s, _p, extra) => { (extra?.value as tf.Tensor).dispose(); return [tree.clone(u), {}]; } };
    withTrees((p, g) => {
      const value = tf.scalar(1.5);
      expect(() => checkNoMutationOrDisposal(bad, p, g, { extra: { value } })).toThrow(/disposed one of its inputs/);
    });
  });

  test('arbitraries: specs are plain data, buildTree builds matching tensors deterministically', () => {
    fc.assert(fc.property(arbParamsAndGrads(), ({ spec: s, paramSeed }) => {
      expect(JSON.parse(JSON.stringify(s))).toEqual(s);
      const a = buildTree(s, paramSeed);
      const b = buildTree(s, paramSeed);
      const shapes = (sp: any): number[][] => (sp.kind === 'leaf' ? [sp.shape] : Object.keys(sp.children).sort((x, y) => (sp.kind === 'array' ? +x - +y : x < y ? -1 : 1)).flatMap((k) => shapes(sp.children[k])));
      expect(tree.leaves(a).map((t) => t.shape)).toEqual(shapes(s));
      tree.leaves(a).forEach((t, i) => expect(Array.from(t.dataSync())).toEqual(Array.from(tree.leaves(b)[i].dataSync())));
      tree.dispose([a, b] as any);
    }), { numRuns: 20, seed: 3 });
    fc.assert(fc.property(arbTreeSpec({ maxRank: 1, maxDim: 2 }), (s) => {
      const a = buildTree(s, 0);
      expect(tree.leaves(a).every((t) => t.rank <= 1 && t.shape.every((d) => d <= 2))).toBe(true);
      tree.dispose(a as any);
    }), { numRuns: 10, seed: 4 });
  });
});
