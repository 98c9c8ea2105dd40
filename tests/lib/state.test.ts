import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { chain, multiSteps } from '../../lib/combine';
import { InputError } from '../../lib/errors';
import { loadState, saveState } from '../../lib/state';
import * as tree from '../../lib/tree';
import type { GradientTransformation, StateTree, Tree } from '../../lib/types';

/** The raw bytes of a tensor, for bit-exact comparison. */
const bytes = (t: tf.Tensor) => {
  const d = t.dataSync() as Float32Array | Int32Array | Uint8Array;
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
};

/** Structure, dtypes, shapes, bits and plain values are identical; tensors are distinct objects. */
function expectIdentical(a: unknown, b: unknown, path = 'state'): void {
  if (tree.isTensor(a)) {
    expect(tree.isTensor(b)).toBe(true);
    const tb = b as tf.Tensor;
    expect(tb).not.toBe(a);
    expect([path, tb.dtype, tb.shape]).toEqual([path, a.dtype, a.shape]);
    expect(bytes(tb).equals(bytes(a))).toBe(true);
    return;
  }
  if (Array.isArray(a)) {
    expect(Array.isArray(b)).toBe(true);
    expect((b as unknown[]).length).toBe(a.length);
    a.forEach((c, i) => expectIdentical(c, (b as unknown[])[i], `${path}[${i}]`));
    return;
  }
  if (a !== null && typeof a === 'object') {
    expect(Object.keys(b as object)).toEqual(Object.keys(a));
    for (const k of Object.keys(a)) expectIdentical((a as any)[k], (b as any)[k], `${path}.${k}`);
    return;
  }
  expect([path, Object.is(a, b)]).toEqual([path, true]);
}

const roundTrip = <S>(s: S): S => loadState<S>(JSON.parse(JSON.stringify(saveState(s))));

describe('saveState / loadState', () => {
  test('round-trips bit-exactly through JSON: awkward floats, int32, bool, nested structure, plain values', () => {
    const f32 = new Float32Array([Math.PI, -0, 1e-45, -3.4028234663852886e38, NaN, Infinity, -Infinity, 0.1]);
    const weirdNaN = new Float32Array(1);
    new Uint32Array(weirdNaN.buffer)[0] = 0x7fc00123; // a NaN with a payload
    const state = {
      count: 7,
      neg: -0,
      nums: [NaN, Infinity, -Infinity, 1.5e300],
      flag: true,
      name: 'adam',
      none: null,
      missing: undefined,
      mu: { w: tf.tensor2d(f32, [2, 4]), b: [tf.tensor1d(weirdNaN), tf.scalar(-2.5)] },
      idx: tf.tensor1d([-2147483648, 0, 2147483647], 'int32'),
      mask: tf.tensor2d(
        [
          [true, false],
          [false, true],
        ],
        [2, 2],
        'bool',
      ),
      empty: tf.zeros([0, 3]),
      nested: [[{ deep: tf.scalar(1e-38) }], []],
    };
    const json = saveState(state);
    const text = JSON.stringify(json);
    expect(typeof text).toBe('string');
    const back = loadState<typeof state>(JSON.parse(text));
    expectIdentical(state, back);
    expect('missing' in back).toBe(true);
    // Saving disposes nothing; the loaded tensors are fresh and owned by the caller.
    expect(tree.tensors(state as unknown as StateTree).every((t) => !t.isDisposed)).toBe(true);
    tree.dispose([state, back] as unknown as StateTree);
  });

  test('an optimizer state survives save / load: continuing gives the same updates as never stopping', () => {
    interface S {
      count: number;
      m: Tree;
    }
    const traceTx = (d: number): GradientTransformation<S> => ({
      init: (p) => ({ count: 0, m: tree.zerosLike(p) }),
      update: (u, s) => {
        const m = tree.axpy(d, s.m, u);
        return [tree.clone(m), { count: s.count + 1, m }];
      },
    });
    const tx = multiSteps(chain(traceTx(0.9), traceTx(0.5)), 2);
    const p = { w: tf.tensor1d([1, 2]), b: [tf.scalar(3)] };
    const g = { w: tf.tensor1d([0.1234567, -7e-12]), b: [tf.scalar(Math.E)] };
    let s = tx.init(p);
    for (let i = 0; i < 3; i++) {
      const [u, n] = tx.update(g, s, p);
      tree.dispose([u, s] as StateTree);
      s = n;
    }
    const restored = roundTrip(s);
    expectIdentical(s, restored);
    const [ua, sa] = tx.update(g, s, p);
    const [ub, sb] = tx.update(g, restored, p);
    tree.leaves(ua).forEach((t, i) => expect(bytes(tree.leaves(ub)[i]).equals(bytes(t))).toBe(true));
    tree.dispose([p, g, s, restored, ua, sa, ub, sb] as unknown as StateTree);
  });

  test('property: any float32 / int32 data round-trips bit-exactly', () => {
    fc.assert(
      fc.property(
        fc.float32Array({ maxLength: 40 }),
        fc.array(fc.integer({ min: -2147483648, max: 2147483647 }), { maxLength: 20 }),
        (f, i) => {
          const s = { f: tf.tensor1d(f), i: tf.tensor1d(i, 'int32'), n: f.length ? f[0] : 0 };
          const back = roundTrip(s);
          try {
            expectIdentical(s, back);
          } finally {
            tree.dispose([s, back] as unknown as StateTree);
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  test('refuses what it cannot restore exactly', () => {
    const c = tf.complex([1], [2]);
    expect(() => saveState({ c })).toThrow(/state\.c is a complex64 tensor/);
    expect(() => saveState({ when: new Date() })).toThrow(InputError);
    expect(() => saveState({ f: () => 1 })).toThrow(InputError);
    expect(() => saveState({ __somaxTensor: 1 })).toThrow(/reserved key/);
    expect(() => loadState({ __somaxTensor: true, dtype: 'float32', shape: [3], data: 'AAAA' })).toThrow(/bytes for shape/);
    c.dispose();
  });
});
