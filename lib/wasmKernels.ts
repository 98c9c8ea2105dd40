/**
 * Identity, Slice and SplitV for tfjs-backend-wasm that copy only what they must, and a faster
 * matrix Transpose.
 *
 * tfjs-backend-wasm 4.22's Identity (every `tf.clone`, and so every state a transform returns
 * without changing it) copies its input on the heap; tensors are immutable, so the output can share
 * the input's data with one more reference instead, as the cpu backend's Identity and wasm's own
 * Reshape do.
 *
 * tfjs-backend-wasm 4.22's Slice kernel first reads its whole input out of the wasm heap into a
 * fresh JavaScript array (`readSync`, a copy), then copies the slice from it; SplitV runs that
 * Slice once per piece. Cutting a batch of 128 rows from 8000 MNIST digits copies 25 MB; splitting
 * a raveled 784-128-10 MLP vector into its four leaves (CG's operator does it every iteration)
 * copies the 100 K-entry vector four times. For a contiguous slice (rows, pieces of a vector) these
 * kernels read the input through a view of the heap (no copy) and copy only the slice; strided
 * slices and strings keep the stock kernels.
 *
 * tfjs-backend-wasm 4.22's Transpose of a 128 × 784 float32 matrix takes ~370 µs; eight rows at a
 * time in JavaScript on the heap ~50 µs. Every gradient of a dense layer on wasm transposes its
 * input once (wasm's transposed matMul is slower still, so somax transposes explicitly).
 *
 * Installed over the stock ones when the wasm backend's kernels are registered (at import, and
 * again by {@link ensureWasmKernels}).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** What these kernels use of tfjs-backend-wasm's backend object (public methods of BackendWasm). */
interface WasmBackend {
  incRef(dataId: tf.DataId): void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): tf.TypedArray;
}

type KernelArgs = {
  inputs: { x: tf.TensorInfo };
  attrs: Record<string, unknown>;
  backend: WasmBackend;
};

/** Marks a kernel function as somax's (installing twice is a no-op). */
const MARK = '__somaxWasmKernel';

/**
 * `x[begin : begin + size]` for a contiguous slice, on the wasm heap: the output is allocated first
 * (allocating can grow the heap, which detaches earlier views), then both are viewed and the slice
 * copied at once.
 */
function sliceOnHeap(x: tf.TensorInfo, begin: number[], size: number[], backend: WasmBackend): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  const offset = tf.slice_util.computeFlatOffset(begin, tf.util.computeStrides(x.shape));
  const dst = backend.typedArrayFromHeap(out);
  dst.set(backend.typedArrayFromHeap(x).subarray(offset, offset + dst.length));
  return out;
}

/** Whether somax's kernels take this slice: a contiguous one of a numeric tensor. */
const viewable = (x: tf.TensorInfo, begin: number[], size: number[]) =>
  x.dtype !== 'string' && tf.slice_util.isSliceContinous(x.shape, begin, size);

/** The Slice kernel (same attrs and results as stock; strided slices and strings go to `stock`). */
function slice(args: KernelArgs, stock: tf.KernelFunc): tf.TensorInfo {
  const { x } = args.inputs;
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, args.attrs.begin as number[], args.attrs.size as number[]);
  return viewable(x, begin, size) ? sliceOnHeap(x, begin, size, args.backend) : (stock(args as never) as tf.TensorInfo);
}

/** The SplitV kernel: one heap slice per piece along `axis` (stock when the pieces are strided). */
function splitV(args: KernelArgs, stock: tf.KernelFunc): tf.TensorInfo[] {
  const { x } = args.inputs;
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, args.attrs.numOrSizeSplits as number[] | number, axis);
  const whole = x.shape.map((n, i) => (i === axis ? sizes[0] : n));
  if (!viewable(x, new Array<number>(x.shape.length).fill(0), whole)) return stock(args as never) as tf.TensorInfo[];
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.map((n, i) => (i === axis ? s : n));
    const piece = sliceOnHeap(x, [...begin], size, args.backend);
    begin[axis] += s;
    return piece;
  });
}

/**
 * `dst[b][j][i] = src[b][i][j]` for `batch` row-major `rows × cols` matrices: eight source rows at
 * a time, so that each pass over the columns writes eight consecutive entries of an output row.
 */
function transposeMatrices(src: tf.TypedArray, dst: tf.TypedArray, batch: number, rows: number, cols: number): void {
  const whole = rows - (rows % 8);
  for (let b = 0, base = 0; b < batch; b++, base += rows * cols) {
    for (let i = 0; i < whole; i += 8) {
      for (let j = 0; j < cols; j++) {
        const o = base + j * rows + i;
        let k = base + i * cols + j;
        dst[o] = src[k];
        dst[o + 1] = src[(k += cols)];
        dst[o + 2] = src[(k += cols)];
        dst[o + 3] = src[(k += cols)];
        dst[o + 4] = src[(k += cols)];
        dst[o + 5] = src[(k += cols)];
        dst[o + 6] = src[(k += cols)];
        dst[o + 7] = src[(k += cols)];
      }
    }
    for (let i = whole; i < rows; i++) {
      for (let j = 0; j < cols; j++) dst[base + j * rows + i] = src[base + i * cols + j];
    }
  }
}

/** Whether `perm` swaps the last two axes and keeps the others in place. */
const swapsLastTwo = (perm: readonly number[]) =>
  perm.length >= 2 && perm.every((p, i) => p === (i < perm.length - 2 ? i : i === perm.length - 2 ? i + 1 : i - 1));

/**
 * The Transpose kernel for a swap of the last two axes of a numeric tensor (every matrix
 * transpose), on the heap; other permutations and strings go to `stock`.
 */
function transpose(args: KernelArgs, stock: tf.KernelFunc): tf.TensorInfo {
  const { x } = args.inputs;
  const perm = args.attrs.perm as number[];
  if (x.dtype === 'string' || x.dtype === 'complex64' || !swapsLastTwo(perm)) return stock(args as never) as tf.TensorInfo;
  const shape = perm.map((p) => x.shape[p]);
  const out = args.backend.makeOutput(shape, x.dtype); // before the views: allocating can grow the heap
  const [rows, cols] = x.shape.slice(-2);
  transposeMatrices(
    args.backend.typedArrayFromHeap(x),
    args.backend.typedArrayFromHeap(out),
    tf.util.sizeFromShape(x.shape.slice(0, -2)),
    rows,
    cols,
  );
  return out;
}

/** The Identity kernel: the input's data with one more reference (strings keep stock's copy). */
function identity(args: KernelArgs, stock: tf.KernelFunc): tf.TensorInfo {
  const { x } = args.inputs;
  if (x.dtype === 'string') return stock(args as never) as tf.TensorInfo;
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

const KERNELS: [string, (args: KernelArgs, stock: tf.KernelFunc) => tf.TensorInfo | tf.TensorInfo[]][] = [
  ['Identity', identity],
  ['Slice', slice],
  ['SplitV', splitV],
  ['Transpose', transpose],
];

/**
 * Installs the sharing Identity, the heap-view Slice and SplitV and the matrix Transpose over
 * tfjs-backend-wasm's (idempotent; nothing when the wasm backend's kernels are not registered, or
 * when it lacks the methods they use).
 *
 * @example
 * import '@tensorflow/tfjs-backend-wasm';
 * ensureWasmKernels();   // somax calls it at import and when a step is made
 */
export function ensureWasmKernels(): void {
  for (const [name, kernel] of KERNELS) {
    const config = tf.getKernel(name, 'wasm');
    if (config == null || (config.kernelFunc as unknown as Record<string, unknown>)[MARK]) continue;
    const stock = config.kernelFunc;
    const kernelFunc: tf.KernelFunc = (args) => {
      const backend = (args as unknown as KernelArgs).backend;
      if (
        typeof backend?.typedArrayFromHeap !== 'function' ||
        typeof backend.makeOutput !== 'function' ||
        typeof backend.incRef !== 'function'
      )
        return stock(args);
      return kernel(args as unknown as KernelArgs, stock);
    };
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...config, kernelFunc: Object.assign(kernelFunc, { [MARK]: true }) });
  }
}

ensureWasmKernels();
