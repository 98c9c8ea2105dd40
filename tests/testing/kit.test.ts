import * as tf from '@tensorflow/tfjs-core';
import { chain, identity, scale, tree } from '../../index';
import type { GradientTransformation } from '../../index';
import {
  buildTree, checkChainAssociativity, checkChainIdentity, checkDeterminism, checkNoLeaks, checkNoMutationOrDisposal,
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
});
