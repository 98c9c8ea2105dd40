// Identity, Slice, SplitV and Transpose on tfjs-backend-wasm (somax's sharing, heap-view and matrix
// transpose kernels) equal the cpu backend's, for contiguous and strided slices of ranks 1–4, empty
// slices, transposes of every permutation of ranks 2–4, int32 and bool; a clone shares its input's
// data and outlives it; and they are installed.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import fc from 'fast-check';
import { ensureWasmKernels } from '../../lib/wasmKernels';

/** Runs `fn` on `backend` and returns the values and shapes of what it made (disposed after). */
async function on(backend: string, fn: () => tf.Tensor[]): Promise<{ shape: number[]; values: number[] }[]> {
  await tf.setBackend(backend);
  await tf.ready();
  return tf.tidy(() => fn().map((t) => ({ shape: t.shape, values: Array.from(t.dataSync()) })));
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  ensureWasmKernels();
});
afterAll(async () => {
  await tf.setBackend('cpu');
});

test("somax's Identity, Slice, SplitV and Transpose are the wasm backend's kernels", () => {
  for (const name of ['Identity', 'Slice', 'SplitV', 'Transpose']) {
    expect((tf.getKernel(name, 'wasm')?.kernelFunc as unknown as Record<string, unknown>).__somaxWasmKernel).toBe(true);
  }
});

test('slices of every rank 1–4 (contiguous, strided, empty) and splits along every axis equal cpu', async () => {
  const shapeArb = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 });
  const caseArb = shapeArb.chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      begin: fc.tuple(...shape.map((n) => fc.integer({ min: 0, max: n - 1 }))),
      take: fc.tuple(...shape.map((n) => fc.integer({ min: 0, max: n }))),
      axis: fc.integer({ min: 0, max: shape.length - 1 }),
      dtype: fc.constantFrom<'float32' | 'int32' | 'bool'>('float32', 'int32', 'bool'),
    }),
  );
  await fc.assert(
    fc.asyncProperty(caseArb, async ({ shape, begin, take, axis, dtype }) => {
      const size = shape.map((n, i) => Math.min(take[i], n - begin[i]));
      const n = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: n }, (_, i) =>
        dtype === 'bool' ? Number((i * 7) % 3 === 0) : dtype === 'int32' ? i * 3 - 7 : i * 0.5 - 3,
      );
      const run = () => {
        const x = tf.tensor(values, shape, dtype);
        const half = Math.floor(shape[axis] / 2);
        const pieces = half === 0 ? [shape[axis]] : [half, shape[axis] - half];
        return [tf.slice(x, begin, size), ...tf.split(x, pieces, axis)];
      };
      expect(await on('wasm', run)).toEqual(await on('cpu', run));
    }),
    { numRuns: 60, seed: 7 },
  );
});

test('transposes of every permutation of ranks 2–4 (matrix swaps by somax, the others by stock) equal cpu', async () => {
  const permutations = (n: number): number[][] =>
    n === 0 ? [[]] : permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
  const caseArb = fc.array(fc.integer({ min: 1, max: 19 }), { minLength: 2, maxLength: 4 }).chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      perm: fc.constantFrom(...permutations(shape.length)),
      dtype: fc.constantFrom<'float32' | 'int32' | 'bool'>('float32', 'int32', 'bool'),
    }),
  );
  await fc.assert(
    fc.asyncProperty(caseArb, async ({ shape, perm, dtype }) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: n }, (_, i) =>
        dtype === 'bool' ? Number(i % 3 === 0) : dtype === 'int32' ? i - 7 : i * 0.25 - 3,
      );
      const run = () => {
        const x = tf.tensor(values, shape, dtype);
        return [tf.transpose(x, perm), x];
      };
      expect(await on('wasm', run)).toEqual(await on('cpu', run));
    }),
    { numRuns: 80, seed: 11 },
  );
});

test('the transpose of a matrix with rows not a multiple of eight, and of a batch of them, entry by entry', () => {
  const x = tf.tensor3d(
    Float32Array.from({ length: 2 * 13 * 5 }, (_, i) => i),
    [2, 13, 5],
  );
  const t = tf.transpose(x, [0, 2, 1]);
  expect(t.shape).toEqual([2, 5, 13]);
  const [xs, ts] = [x.arraySync(), t.arraySync()];
  for (let b = 0; b < 2; b++) for (let i = 0; i < 13; i++) for (let j = 0; j < 5; j++) expect(ts[b][j][i]).toBe(xs[b][i][j]);
  tf.dispose([x, t]);
});

test('a batch cut from a large tensor: the same rows as cpu, and the input stays intact', async () => {
  const make = () =>
    tf.tensor2d(
      Float32Array.from({ length: 2000 * 30 }, (_, i) => Math.sin(i)),
      [2000, 30],
    );
  const run = () => {
    const x = make();
    return [tf.slice(x, 1234, 128), tf.slice(x, [5, 3], [7, 11]), x];
  };
  expect(await on('wasm', run)).toEqual(await on('cpu', run));
});

test('a clone on wasm shares its data (no new buffer), outlives its input, and frees the data with the last handle', () => {
  const before = tf.memory();
  const x = tf.tensor([1.5, -2, 3], [3]);
  const y = tf.clone(x);
  expect(tf.memory().numTensors).toBe(before.numTensors + 2);
  expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers + 1); // stock wasm: + 2 (a heap copy)
  x.dispose();
  expect(Array.from(y.dataSync())).toEqual([1.5, -2, 3]);
  const z = tf.add(y, 1); // kernels read the shared data
  expect(Array.from(z.dataSync())).toEqual([2.5, -1, 4]);
  tf.dispose([y, z]);
  expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers);
  expect(tf.memory().numBytes).toBe(before.numBytes);
  const s = tf.tensor(['a', 'b']);
  const t = tf.clone(s); // strings keep stock's copy
  s.dispose();
  expect(t.dataSync()).toEqual(['a', 'b']);
  t.dispose();
});
