/**
 * Tree utilities: parameters, gradients and state are nested plain objects / arrays of tensors.
 * Mirrors `optax.tree` (`tree.add`, `tree.vdot`, `tree.norm`, ...) and JAX's
 * `tree_flatten` / `ravel_pytree`.
 *
 * Every function that returns tensors returns fresh ones (never its inputs) and never disposes its
 * inputs. Object keys are visited in sorted order.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError, TreeMismatchError } from './errors';
import { nonFiniteProbe } from './ops';
import { foldIn } from './random';
import type { PRNGKey, StateTree, Tree } from './types';

/** The structure of a tree without its tensors: reusable to rebuild trees from leaves. */
export type TreeDef =
  | {
      /** A tensor leaf. */
      readonly kind: 'leaf';
      /** Its shape. */
      readonly shape: readonly number[];
      /** Its dtype. */
      readonly dtype: tf.DataType;
    }
  | {
      /** An array node. */
      readonly kind: 'array';
      /** Its elements' structures. */
      readonly children: readonly TreeDef[];
    }
  | {
      /** An object node. */
      readonly kind: 'object';
      /** Its keys, sorted. */
      readonly keys: readonly string[];
      /** Its values' structures, in key order. */
      readonly children: readonly TreeDef[];
    };

/** True when `x` is a tfjs tensor (duck-typed, so tensors from any tfjs-core copy qualify). */
export function isTensor(x: unknown): x is tf.Tensor {
  return typeof x === 'object' && x !== null && 'dataId' in x && 'shape' in x && 'dtype' in x;
}

function sortedKeys(obj: object): string[] {
  return Object.keys(obj).sort();
}

function childPath(path: string, k: string | number): string {
  return typeof k === 'number' ? `${path}[${k}]` : `${path}.${k}`;
}

/**
 * Flattens a tree into its leaves (depth first, sorted keys) and its structure. A disposed leaf is
 * refused with an {@link InputError} naming its path under `root` (`params.w is disposed`) rather
 * than tfjs's `Cannot read properties of undefined (reading 'backend')` later on; the check reads
 * one property per leaf and the path is built only on failure.
 */
export function flatten(
  tree: Tree,
  root = 'tree',
): {
  /** The leaves, depth first with sorted keys (the tree's own tensors, not copies). */
  leaves: tf.Tensor[];
  /** The structure, for {@link unflatten}. */
  def: TreeDef;
} {
  const leaves: tf.Tensor[] = [];
  const walk = (t: Tree): TreeDef => {
    if (isTensor(t)) {
      leaves.push(t);
      return { kind: 'leaf', shape: t.shape, dtype: t.dtype };
    }
    if (Array.isArray(t)) return { kind: 'array', children: t.map(walk) };
    if (typeof t === 'object' && t !== null) {
      const obj = t as { readonly [key: string]: Tree };
      const keys = sortedKeys(obj);
      return { kind: 'object', keys, children: keys.map((k) => walk(obj[k])) };
    }
    throw new TreeMismatchError(`not a tree of tensors: found ${String(t)}`);
  };
  const def = walk(tree);
  const dead = leaves.findIndex(isDisposedTensor);
  if (dead >= 0) throw new InputError(`${paths(tree, root)[dead]} is disposed`);
  return { leaves, def };
}

/** True when `t` is a tensor that has been disposed (a property read, no device work). */
function isDisposedTensor(t: tf.Tensor): boolean {
  return (t as { isDisposed?: boolean }).isDisposed === true;
}

/**
 * Throws an {@link InputError} naming the path of the first disposed tensor found in `value` (a
 * tree, a state, a batch: tensors inside arrays and plain objects; other values are skipped, and so
 * are arrays whose first entry is not an object, such as arrays of numbers). `root` names `value`
 * in the message: `state.mu.w1 is disposed`. One property read per tensor, no device work.
 *
 * @example
 * tree.assertLive(state, 'state');   // before a step that would read it
 */
export function assertLive(value: unknown, root = 'tree'): void {
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): void => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    if (isTensor(v)) {
      if (isDisposedTensor(v)) throw new InputError(`${path} is disposed`);
      return;
    }
    if (Array.isArray(v)) {
      if (v.length > 0 && typeof v[0] === 'object') v.forEach((c, i) => walk(c, childPath(path, i)));
      return;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return;
    for (const k of Object.keys(v)) walk((v as Record<string, unknown>)[k], childPath(path, k));
  };
  walk(value, root);
}

/**
 * Throws an {@link InputError} when `a` has no tensor leaf: `params is an empty tree: nothing to
 * optimize` (tfjs would otherwise fail deep inside its gradient code).
 */
export function assertNonEmpty(a: Tree, root = 'params'): void {
  if (!hasLeaf(a)) throw new InputError(`${root} is an empty tree: nothing to optimize`);
}

/** True when a tree holds at least one tensor (stops at the first). */
function hasLeaf(t: Tree): boolean {
  if (isTensor(t)) return true;
  if (Array.isArray(t)) return t.some(hasLeaf);
  if (typeof t === 'object' && t !== null) return Object.values(t).some(hasLeaf);
  return false;
}

/** Rebuilds a tree of structure `def` from its leaves, in `flatten` order. */
export function unflatten(def: TreeDef, leaves: readonly tf.Tensor[]): Tree {
  let i = 0;
  const build = (d: TreeDef): Tree => {
    if (d.kind === 'leaf') {
      if (i >= leaves.length) throw new TreeMismatchError(`unflatten: too few leaves (${leaves.length})`);
      return leaves[i++];
    }
    if (d.kind === 'array') return d.children.map(build);
    const out: { [key: string]: Tree } = {};
    d.keys.forEach((k, j) => (out[k] = build(d.children[j])));
    return out;
  };
  const tree = build(def);
  if (i !== leaves.length) {
    throw new TreeMismatchError(`unflatten: structure has ${i} leaves, got ${leaves.length}`);
  }
  return tree;
}

/** The leaves of a tree, in `flatten` order (a disposed leaf is refused, named under `root`). */
export function leaves(tree: Tree, root = 'tree'): tf.Tensor[] {
  return flatten(tree, root).leaves;
}

/** The path of every leaf (`root.layer1.w`, `root[0]`), in `flatten` order. */
export function paths(tree: Tree, root = 'tree'): string[] {
  const out: string[] = [];
  const walk = (t: Tree, path: string): void => {
    if (isTensor(t)) out.push(path);
    else if (Array.isArray(t)) t.forEach((c, i) => walk(c, childPath(path, i)));
    else {
      const obj = t as { readonly [key: string]: Tree };
      for (const k of sortedKeys(obj)) walk(obj[k], childPath(path, k));
    }
  };
  walk(tree, root);
  return out;
}

function describe(t: Tree): string {
  if (isTensor(t)) return `a tensor of shape [${t.shape.join(', ')}]`;
  if (Array.isArray(t)) return `an array of length ${t.length}`;
  if (typeof t === 'object' && t !== null) return `an object with keys {${sortedKeys(t).join(', ')}}`;
  return String(t);
}

/**
 * Checks that `other` has the structure and leaf shapes of `reference`; throws a
 * {@link TreeMismatchError} naming the first differing path and both shapes.
 */
export function assertSameStructure(
  reference: Tree,
  other: Tree,
  {
    names = ['expected', 'got'],
    root = 'tree',
    checkDtype = false,
  }: {
    names?: readonly [string, string];
    root?: string;
    checkDtype?: boolean;
  } = {},
): void {
  const fail = (path: string, what: string): never => {
    throw new TreeMismatchError(`${path}: ${what}`);
  };
  const walk = (a: Tree, b: Tree, path: string): void => {
    if (isTensor(a) || isTensor(b)) {
      if (!isTensor(a) || !isTensor(b)) fail(path, `${names[0]} ${describe(a)}, ${names[1]} ${describe(b)}`);
      const ta = a as tf.Tensor;
      const tb = b as tf.Tensor;
      if (ta.shape.length !== tb.shape.length || ta.shape.some((s, i) => s !== tb.shape[i])) {
        fail(path, `${names[0]} shape [${ta.shape.join(', ')}], ${names[1]} [${tb.shape.join(', ')}]`);
      }
      if (checkDtype && ta.dtype !== tb.dtype) fail(path, `${names[0]} dtype ${ta.dtype}, ${names[1]} ${tb.dtype}`);
      return;
    }
    if (Array.isArray(a) !== Array.isArray(b)) fail(path, `${names[0]} ${describe(a)}, ${names[1]} ${describe(b)}`);
    if (Array.isArray(a)) {
      const bb = b as readonly Tree[];
      if (a.length !== bb.length) fail(path, `${names[0]} ${describe(a)}, ${names[1]} ${describe(b)}`);
      a.forEach((c, i) => walk(c, bb[i], childPath(path, i)));
      return;
    }
    const oa = a as { readonly [key: string]: Tree };
    const ob = b as { readonly [key: string]: Tree };
    const ka = sortedKeys(oa);
    const kb = sortedKeys(ob);
    if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) {
      fail(path, `${names[0]} ${describe(a)}, ${names[1]} ${describe(b)}`);
    }
    for (const k of ka) walk(oa[k], ob[k], childPath(path, k));
  };
  walk(reference, other, root);
}

/**
 * Maps `fn` over the leaves of one or more trees of the same structure and shapes (checked;
 * a mismatch names the path and both shapes; a disposed leaf names its path). `fn` gets the leaves
 * and the leaf's path.
 */
export function map(fn: (...leavesAndPath: any[]) => tf.Tensor, tree: Tree, ...rest: Tree[]): Tree {
  rest.forEach((other, i) => assertSameStructure(tree, other, { names: ['first tree has', `tree ${i + 2} has`] }));
  const flat = flatten(tree);
  const others = rest.map((other, i) => flatten(other, `tree ${i + 2}`).leaves);
  const ps = paths(tree);
  const out = flat.leaves.map((leaf, i) => fn(leaf, ...others.map((o) => o[i]), ps[i]));
  return unflatten(flat.def, out);
}

/** Number of scalar entries in a tree. */
export function numel(tree: Tree): number {
  return leaves(tree).reduce((n, t) => n + t.size, 0);
}

/**
 * Concatenates every leaf into one float32 vector and returns it with the inverse map.
 * `unravel(ravel(t).vector)` rebuilds `t` (as fresh tensors).
 */
export function ravel(tree: Tree): {
  /** All leaves flattened and concatenated: a fresh 1-D tensor. */
  vector: tf.Tensor1D;
  /** Splits a vector of that length back into a tree of the same structure. */
  unravel: (v: tf.Tensor) => Tree;
} {
  const { leaves: ls, def } = flatten(tree);
  const vector =
    ls.length === 0
      ? (tf.zeros([0]) as tf.Tensor1D)
      : tf.tidy(
          () =>
            tf.concat(
              ls.map((l) => tf.reshape(tf.cast(l, 'float32'), [-1])),
              0,
            ) as tf.Tensor1D,
        );
  return { vector, unravel: (v: tf.Tensor) => unravel(def, v) };
}

/** Splits a flat vector back into a tree of structure `def` (the inverse of {@link ravel}). */
export function unravel(def: TreeDef, vector: tf.Tensor): Tree {
  const shapes: (readonly number[])[] = [];
  const collect = (d: TreeDef): void => {
    if (d.kind === 'leaf') shapes.push(d.shape);
    else d.children.forEach(collect);
  };
  collect(def);
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (vector.size !== total) {
    throw new TreeMismatchError(`unravel: vector has ${vector.size} entries, the tree has ${total}`);
  }
  const parts = tf.tidy(() => {
    const flat = tf.reshape(vector, [-1]);
    let offset = 0;
    return shapes.map((shape, i) => {
      const part = tf.reshape(tf.slice(flat, [offset], [sizes[i]]), shape as number[]);
      offset += sizes[i];
      return part;
    });
  });
  return unflatten(def, parts);
}

/** Leafwise `a + b`. */
export function add(a: Tree, b: Tree): Tree {
  return map((x: tf.Tensor, y: tf.Tensor) => tf.add(x, y), a, b);
}

/** Leafwise `a − b`. */
export function sub(a: Tree, b: Tree): Tree {
  return map((x: tf.Tensor, y: tf.Tensor) => tf.sub(x, y), a, b);
}

/** Leafwise `a ⊙ b`. */
export function mul(a: Tree, b: Tree): Tree {
  return map((x: tf.Tensor, y: tf.Tensor) => tf.mul(x, y), a, b);
}

/** `s · a` for a number or scalar tensor `s` (a number becomes one scalar tensor for every leaf, not one per leaf). */
export function scale(a: Tree, s: number | tf.Scalar): Tree {
  if (typeof s !== 'number') return map((x: tf.Tensor) => tf.mul(x, s), a);
  return tidy(() => {
    const k = tf.scalar(s);
    return map((x: tf.Tensor) => tf.mul(x, k), a);
  });
}

/** `alpha · x + y` (BLAS axpy; Optax's `tree_add_scale(y, alpha, x)`; a number `alpha` becomes one scalar tensor, as in {@link scale}). */
export function axpy(alpha: number | tf.Scalar, x: Tree, y: Tree): Tree {
  return tidy(() => {
    const a = typeof alpha === 'number' ? tf.scalar(alpha) : alpha;
    return map((xi: tf.Tensor, yi: tf.Tensor) => tf.add(tf.mul(xi, a), yi), x, y);
  });
}

/** Inner product `Σ ⟨a_i, b_i⟩` over all leaves, as a scalar tensor. */
export function vdot(a: Tree, b: Tree): tf.Scalar {
  assertSameStructure(a, b);
  const la = leaves(a);
  const lb = leaves(b);
  return tf.tidy(() => la.reduce<tf.Scalar>((acc, x, i) => tf.add(acc, tf.sum(tf.mul(x, lb[i]))), tf.scalar(0)));
}

/** Squared Euclidean norm `Σ ‖a_i‖²`, as a scalar tensor. */
export function squaredNorm(a: Tree): tf.Scalar {
  return tf.tidy(() => leaves(a).reduce<tf.Scalar>((acc, x) => tf.add(acc, tf.sum(tf.square(x))), tf.scalar(0)));
}

/** Euclidean norm `sqrt(Σ ‖a_i‖²)`, as a scalar tensor. */
export function l2Norm(a: Tree): tf.Scalar {
  return tf.tidy(() => tf.sqrt(squaredNorm(a)));
}

/**
 * A tree of zeros shaped like `a`. The init helper of most transforms, so it refuses a non-float
 * leaf (naming its path under `root`): state built from int32 params would truncate every update.
 */
export function zerosLike(a: Tree, root = 'params'): Tree {
  assertFloat(a, root);
  return map((x: tf.Tensor) => tf.zerosLike(x), a);
}

/** A tree of ones shaped like `a`; refuses a non-float leaf like {@link zerosLike}. */
export function onesLike(a: Tree, root = 'params'): Tree {
  assertFloat(a, root);
  return map((x: tf.Tensor) => tf.onesLike(x), a);
}

/** A tree shaped like `a` filled with `value`; refuses a non-float leaf like {@link zerosLike}. */
export function fullLike(a: Tree, value: number, root = 'params'): Tree {
  assertFloat(a, root);
  return map((x: tf.Tensor) => tf.fill(x.shape, value, x.dtype), a);
}

/** Standard normal entries shaped like `a`, from `key` (leaf i uses `foldIn(key, i)`). */
export function randomNormalLike(a: Tree, k: PRNGKey): Tree {
  const { leaves: ls, def } = flatten(a);
  return unflatten(
    def,
    ls.map((x, i) => tf.randomNormal(x.shape, 0, 1, 'float32', foldIn(k, i))),
  );
}

/** Rademacher (±1 with equal probability) entries shaped like `a`, from `key`. */
export function rademacherLike(a: Tree, k: PRNGKey): Tree {
  const { leaves: ls, def } = flatten(a);
  return unflatten(
    def,
    ls.map((x, i) =>
      tf.tidy(() => {
        const u = tf.randomUniform(x.shape, 0, 1, 'float32', foldIn(k, i));
        return tf.sub(tf.mul(tf.cast(tf.greaterEqual(u, 0.5), 'float32'), 2), 1);
      }),
    ),
  );
}

/**
 * Fresh copies of every tensor in a tree or state (numbers and other values are kept). A disposed
 * tensor is refused with an {@link InputError} naming its path under `root`.
 */
export function clone<T extends StateTree>(a: T, root = 'state'): T {
  assertLive(a, root);
  return cloneLive(a);
}

function cloneLive<T extends StateTree>(a: T): T {
  if (isTensor(a)) return tf.clone(a) as unknown as T;
  if (Array.isArray(a)) return a.map((c) => cloneLive(c as StateTree)) as unknown as T;
  if (typeof a === 'object' && a !== null) {
    const out: { [key: string]: StateTree } = {};
    for (const k of Object.keys(a)) out[k] = cloneLive((a as { [key: string]: StateTree })[k]);
    return out as T;
  }
  return a;
}

/** Every tensor inside a tree or state. */
export function tensors(a: StateTree): tf.Tensor[] {
  if (isTensor(a)) return [a];
  if (Array.isArray(a)) return a.flatMap((c) => tensors(c as StateTree));
  if (typeof a === 'object' && a !== null) {
    return Object.values(a as { [key: string]: StateTree }).flatMap((c) => tensors(c));
  }
  return [];
}

/** Disposes every tensor inside a tree or state. */
export function dispose(a: StateTree): void {
  for (const t of tensors(a)) t.dispose();
}

/** A boolean scalar: true when every entry of every leaf is finite (see `nonFiniteProbe`). */
export function allFinite(a: Tree): tf.Scalar {
  return tf.tidy(() => tf.equal(nonFiniteProbe(leaves(a)), 0));
}

/**
 * `tf.tidy` for a function returning a tree: disposes every intermediate tensor and keeps the
 * returned tree's tensors.
 */
export function tidy<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}

/**
 * Throws an {@link InputError} naming the first leaf whose dtype is not float32
 * (`params.w: expected float32 values, got int32; somax optimizes float32 tensors`): params,
 * updates and state are float32, and an int32 leaf would silently truncate. Reads each leaf's
 * dtype only; the paths are built on failure.
 */
export function assertFloat(a: Tree, root = 'updates'): void {
  const ls = leaves(a, root);
  const bad = ls.findIndex((t) => t.dtype !== 'float32');
  if (bad >= 0) {
    throw new InputError(`${paths(a, root)[bad]}: expected float32 values, got ${ls[bad].dtype}; somax optimizes float32 tensors`);
  }
}

/** Runs `fn` in a tidy scope, reads the values of the tensor it returns, and disposes it. */
export function readValues(fn: () => tf.Tensor): tf.TypedArray {
  const t = tf.tidy(fn);
  try {
    return t.dataSync();
  } finally {
    t.dispose();
  }
}

/** Runs `fn` in a tidy scope and returns the first value of the tensor it returns, as a number. */
export function readScalar(fn: () => tf.Tensor): number {
  return readValues(fn)[0];
}
