/**
 * The demo's digits asset: MNIST train and test digits from `examples/data/mnist.ts`, written by
 * node at build time and read by the page. Layout: two uint32 counts (train, test), then every
 * digit's 784 pixels as bytes (value × 255), then the labels as bytes.
 * @module
 */
import type { DigitSet } from '../data/mnist';

const FEATURES = 784;
const CLASSES = 10;

/** Encodes a train and a test set into the asset's bytes. */
export function encodeDigits(train: DigitSet, test: DigitSet): Uint8Array {
  const n = train.n + test.n;
  const out = new Uint8Array(8 + n * (FEATURES + 1));
  new DataView(out.buffer).setUint32(0, train.n, true);
  new DataView(out.buffer).setUint32(4, test.n, true);
  [train, test].forEach((set, k) => {
    const row0 = k === 0 ? 0 : train.n;
    set.x.forEach((v, i) => (out[8 + row0 * FEATURES + i] = Math.round(Math.min(Math.max(v, 0), 1) * 255)));
    set.labels.forEach((l, i) => (out[8 + n * FEATURES + row0 + i] = l));
  });
  return out;
}

function decodeSet(bytes: Uint8Array, n: number, row0: number, rows: number): DigitSet {
  const x = Float32Array.from(bytes.subarray(8 + row0 * FEATURES, 8 + (row0 + rows) * FEATURES), (v) => v / 255);
  const labels = Int32Array.from(bytes.subarray(8 + n * FEATURES + row0, 8 + n * FEATURES + row0 + rows));
  const y = new Float32Array(rows * CLASSES);
  labels.forEach((l, i) => (y[i * CLASSES + l] = 1));
  return { n: rows, x, y, labels };
}

/** Decodes the asset's bytes into the train and test sets. */
export function decodeDigits(bytes: Uint8Array): { train: DigitSet; test: DigitSet } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nTrain = view.getUint32(0, true);
  const nTest = view.getUint32(4, true);
  const n = nTrain + nTest;
  return { train: decodeSet(bytes, n, 0, nTrain), test: decodeSet(bytes, n, nTrain, nTest) };
}
