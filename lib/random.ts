/**
 * Explicit pseudo-random keys, in the spirit of JAX's PRNG keys: a key is a uint32; `split` and
 * `foldIn` derive new keys deterministically, so the same key always gives the same numbers.
 * Tensors are drawn by tfjs's seeded random ops.
 * @module
 */
import type { PRNGKey } from './types';

/** Mixes 32 bits (the finalizer of MurmurHash3). */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Makes a key from an integer seed. */
export function key(seed: number): PRNGKey {
  return mix32((Math.floor(seed) ^ 0x9e3779b9) >>> 0);
}

/** Derives a new key from `k` and an integer `data` (JAX's `fold_in`). */
export function foldIn(k: PRNGKey, data: number): PRNGKey {
  return mix32((k ^ mix32((Math.floor(data) + 0x7f4a7c15) >>> 0)) >>> 0);
}

/** Splits a key into `n` independent keys (JAX's `split`). */
export function split(k: PRNGKey, n = 2): PRNGKey[] {
  return Array.from({ length: n }, (_, i) => foldIn(k, i + 1));
}
