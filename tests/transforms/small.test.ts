import * as tf from '@tensorflow/tfjs-core';
import { clip, clipByBlockRms, clipByGlobalNorm, ema, keepParamsNonnegative, trace, tree, zeroNans } from '../../index';

const vals = (t: any) => Array.from(t.dataSync() as Float32Array);

describe('clipping, moments and small transforms in closed form', () => {
  test('clip, clipByGlobalNorm, clipByBlockRms, trace, ema, zeroNans, keepParamsNonnegative', () => {
    const p = { a: tf.tensor1d([1, 0.5]) };
    const g = { a: tf.tensor1d([3, -4]) };
    const one = (tx: any, gg: any = g) => {
      const s = tx.init(p);
      const [u, s1] = tx.update(gg, s, p);
      const out = vals(u.a);
      tree.dispose([s, u, s1]);
      return out;
    };
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
