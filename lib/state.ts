/**
 * Saving and restoring optimizer state, bit-exact: tensors become `{ dtype, shape, data }` with the
 * raw bytes in base64, so the result survives `JSON.stringify` / `JSON.parse`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from './errors';
import * as tree from './tree';

/** A JSON-able value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const TENSOR = '__somaxTensor';
const NUMBER = '__somaxNumber';

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * The state as a JSON-able object: tensors as `{ __somaxTensor: true, dtype, shape, data }` (data:
 * base64 of the raw little-endian bytes), non-finite numbers as `{ __somaxNumber: 'NaN' | ... }`.
 * Reads every tensor from the device (one sync per tensor).
 */
export function saveState(state: unknown): Json {
  if (tree.isTensor(state)) {
    const data = state.dataSync();
    if (!(data instanceof Float32Array || data instanceof Int32Array || data instanceof Uint8Array)) {
      throw new InputError(`saveState: tensors of dtype ${state.dtype} are not supported`);
    }
    return { [TENSOR]: true, dtype: state.dtype, shape: state.shape, data: toBase64(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) };
  }
  if (typeof state === 'number') return Number.isFinite(state) ? state : { [NUMBER]: String(state) };
  if (state === null || state === undefined) return null;
  if (typeof state === 'boolean' || typeof state === 'string') return state;
  if (Array.isArray(state)) return state.map(saveState);
  if (typeof state === 'object') return Object.fromEntries(Object.entries(state).map(([k, v]) => [k, saveState(v)]));
  throw new InputError(`saveState: cannot save a value of type ${typeof state}`);
}

/** Rebuilds a state saved by {@link saveState}, with fresh tensors. */
export function loadState<S = unknown>(json: Json): S {
  const load = (j: Json): unknown => {
    if (Array.isArray(j)) return j.map(load);
    if (j !== null && typeof j === 'object') {
      if (j[TENSOR] === true) {
        const bytes = fromBase64(j.data as string);
        const dtype = j.dtype as tf.DataType;
        const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
        const values = dtype === 'float32' ? new Float32Array(buffer) : dtype === 'int32' ? new Int32Array(buffer) : new Uint8Array(buffer);
        return tf.tensor(values, j.shape as number[], dtype);
      }
      if (typeof j[NUMBER] === 'string') return Number(j[NUMBER]);
      return Object.fromEntries(Object.entries(j).map(([k, v]) => [k, load(v)]));
    }
    return j;
  };
  return load(json) as S;
}
