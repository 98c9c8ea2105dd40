/**
 * docs/testing.md: property-testing a user's own transform with somax/testing.
 * Run: npx tsx docs/snippets/testing.ts
 */
import * as tf from '@tensorflow/tfjs';
import { tree } from '../../index';
import type { GradientTransformation, Tree } from '../../index';
import { checkTransformLaws } from '../../testing';

/** Scales each leaf by 1 / (1 + its running max |g|): a fresh state tensor per leaf. */
function scaleByRunningMax(): GradientTransformation<{ max: Tree }> {
  return {
    init: (params) => ({ max: tree.zerosLike(params) }),
    update: (updates, state) =>
      tree.tidy(() => {
        const max = tree.map((m: tf.Tensor, g: tf.Tensor) => tf.maximum(m, tf.max(tf.abs(g))), state.max, updates);
        const out = tree.map((g: tf.Tensor, m: tf.Tensor) => tf.div(g, tf.add(1, m)), updates, max);
        return [out, { max }] as [Tree, { max: Tree }];
      }),
  };
}

checkTransformLaws(scaleByRunningMax(), { numRuns: 10, seed: 1 });
console.log('scaleByRunningMax: every law holds');

/** A broken transform: returns its input as-is (aliasing), which the kit reports. */
const aliasing: GradientTransformation<Record<string, never>> = { init: () => ({}), update: (u) => [u, {}] };
try {
  checkTransformLaws(aliasing, { numRuns: 5, seed: 1 });
} catch (e) {
  console.log('aliasing transform rejected:', (e as Error).message.split('\n')[0]);
}
