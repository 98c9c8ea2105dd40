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
const UNDEFINED = '__somaxUndefined';
const MARKERS = [TENSOR, NUMBER, UNDEFINED];

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

/** Bytes per entry of each saved dtype. */
const BYTES: Partial<Record<tf.DataType, number>> = { float32: 4, int32: 4, bool: 1 };

function isPlainObject(x: object): boolean {
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * The state as a JSON-able object with the same structure: every tensor becomes
 * `{ __somaxTensor: true, dtype, shape, data }` (data: base64 of the raw little-endian bytes of a
 * float32, int32 or bool tensor), non-finite numbers and −0 become `{ __somaxNumber: 'NaN' | ... }`,
 * `undefined` becomes `{ __somaxUndefined: true }`; other numbers, booleans, strings and null are
 * kept. Reads every tensor from the device (one sync per tensor); disposes nothing.
 *
 * @example
 * localStorage.setItem('opt', JSON.stringify(saveState(state)));
 * const restored = loadState(JSON.parse(localStorage.getItem('opt')!));
 */
export function saveState(state: unknown): Json {
  const save = (s: unknown, path: string): Json => {
    if (tree.isTensor(s)) {
      if (BYTES[s.dtype] === undefined)
        throw new InputError(`saveState: ${path} is a ${s.dtype} tensor; only float32, int32 and bool are supported`);
      const data = s.dataSync() as Float32Array | Int32Array | Uint8Array;
      return {
        [TENSOR]: true,
        dtype: s.dtype,
        shape: [...s.shape],
        data: toBase64(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
      };
    }
    if (typeof s === 'number') return Number.isFinite(s) && !Object.is(s, -0) ? s : { [NUMBER]: Object.is(s, -0) ? '-0' : String(s) };
    if (s === undefined) return { [UNDEFINED]: true };
    if (s === null || typeof s === 'boolean' || typeof s === 'string') return s;
    if (Array.isArray(s)) return s.map((c, i) => save(c, `${path}[${i}]`));
    if (typeof s === 'object' && isPlainObject(s)) {
      const keys = Object.keys(s);
      const clash = keys.find((k) => MARKERS.includes(k));
      if (clash !== undefined) throw new InputError(`saveState: ${path} has the reserved key '${clash}'`);
      return Object.fromEntries(keys.map((k) => [k, save((s as Record<string, unknown>)[k], `${path}.${k}`)]));
    }
    throw new InputError(
      `saveState: ${path} is a ${typeof s === 'object' ? ((s as object).constructor?.name ?? 'object') : typeof s}, which state ` +
        `may not hold`,
    );
  };
  return save(state, 'state');
}

/**
 * Rebuilds a state saved by {@link saveState} (after a JSON round trip or not), with fresh
 * tensors owned by the caller; the result equals the saved state bit for bit.
 *
 * @example
 * const state = loadState<typeof saved>(JSON.parse(text));
 */
export function loadState<S = unknown>(json: Json): S {
  const load = (j: Json, path: string): unknown => {
    if (Array.isArray(j)) return j.map((c, i) => load(c, `${path}[${i}]`));
    if (j !== null && typeof j === 'object') {
      if (j[TENSOR] === true) {
        const dtype = j.dtype as tf.DataType;
        const shape = j.shape as number[];
        const width = BYTES[dtype];
        if (width === undefined || !Array.isArray(shape) || typeof j.data !== 'string')
          throw new InputError(`loadState: ${path} is not a saved tensor`);
        const bytes = fromBase64(j.data);
        const size = shape.reduce((a, b) => a * b, 1);
        if (bytes.length !== size * width)
          throw new InputError(`loadState: ${path} has ${bytes.length} bytes for shape [${shape.join(', ')}] of ${dtype}`);
        const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
        const values = dtype === 'float32' ? new Float32Array(buffer) : dtype === 'int32' ? new Int32Array(buffer) : new Uint8Array(buffer);
        return tf.tensor(values, shape, dtype);
      }
      if (typeof j[NUMBER] === 'string') return j[NUMBER] === '-0' ? -0 : Number(j[NUMBER]);
      if (j[UNDEFINED] === true) return undefined;
      return Object.fromEntries(Object.entries(j).map(([k, v]) => [k, load(v, `${path}.${k}`)]));
    }
    return j;
  };
  return load(json, 'state') as S;
}
