/**
 * Label and mask trees over the params (Optax's mask / label pytrees, which may be tree
 * prefixes): one label per leaf, for {@link masked}, {@link multiTransform} and weight decay.
 * @module
 */
import { TreeMismatchError } from '../errors';
import * as tree from '../tree';
import type { Tree } from '../types';

/** A tree of labels with the params' structure; a label over a subtree applies to all its leaves. */
export type LabelTree<L> = L | readonly LabelTree<L>[] | { readonly [key: string]: LabelTree<L> };

/** A tree of booleans over the params (or a function of the params giving one): `true` where applied. */
export type Mask = LabelTree<boolean> | ((params: Tree) => LabelTree<boolean>);

/**
 * One label per leaf of `params` (in `tree.leaves` order) from a label tree or a function of the
 * params. A label (string or boolean) may stand for a whole subtree (Optax's tree prefix); any
 * other mismatch throws a {@link TreeMismatchError} naming the path. A hole left by an enclosing
 * {@link masked} (an empty object `{}`, Optax's `MaskedNode`) has no leaves, so its label selects
 * nothing: a mask given over the FULL params also applies inside an outer mask (optax#271).
 *
 * @example
 * leafLabels({ enc: 'slow', head: { w: 'fast', b: 'slow' } }, params)   // ['slow', 'slow', 'fast', ...]
 */
export function leafLabels<L extends string | boolean>(
  labels: LabelTree<L> | ((params: Tree) => LabelTree<L>),
  params: Tree,
  name = 'labels',
): L[] {
  const lt = typeof labels === 'function' ? (labels as (p: Tree) => LabelTree<L>)(params) : labels;
  const out: L[] = [];
  const show = (l: unknown) => JSON.stringify(l) ?? String(l);
  const walk = (p: Tree, l: LabelTree<L>, path: string): void => {
    if (typeof l === 'string' || typeof l === 'boolean') {
      tree.leaves(p).forEach(() => out.push(l as L));
      return;
    }
    if (tree.isTensor(p)) throw new TreeMismatchError(`${path}: expected a label for a parameter tensor, got ${show(l)}`);
    if (Array.isArray(p)) {
      if (!Array.isArray(l) || l.length !== p.length)
        throw new TreeMismatchError(`${path}: expected an array of ${p.length} labels, got ${show(l)}`);
      p.forEach((c, i) => walk(c, (l as readonly LabelTree<L>[])[i], `${path}[${i}]`));
      return;
    }
    if (l === null || typeof l !== 'object' || Array.isArray(l)) {
      throw new TreeMismatchError(`${path}: expected labels for an object, got ${show(l)}`);
    }
    const po = p as { readonly [key: string]: Tree };
    const lo = l as { readonly [key: string]: LabelTree<L> };
    const extraKey = Object.keys(lo).find((k) => !(k in po));
    if (extraKey !== undefined) throw new TreeMismatchError(`${path}.${extraKey}: a label for a parameter that does not exist`);
    for (const k of Object.keys(po).sort()) {
      if (!(k in lo)) throw new TreeMismatchError(`${path}.${k}: missing`);
      walk(po[k], lo[k], `${path}.${k}`);
    }
  };
  walk(params, lt, name);
  return out;
}

/**
 * The mask as one boolean per leaf of `params` (see {@link leafLabels}).
 *
 * @example
 * maskLeaves({ w: true, b: false }, { w, b })   // [false, true]  (leaves in sorted key order: b, w)
 */
export function maskLeaves(mask: Mask, params: Tree): boolean[] {
  const out = leafLabels<boolean>(mask, params, 'mask');
  out.forEach((m) => {
    if (typeof m !== 'boolean') throw new TreeMismatchError(`mask: expected booleans, got ${JSON.stringify(m)}`);
  });
  return out;
}

/**
 * `t` with every leaf `i` where `!keep[i]` replaced by an empty object, a hole with no leaves
 * (Optax's `MaskedNode`): the tree keeps its structure, so a label tree over the full params still
 * applies to it, and tree maps pass the holes through. The kept leaves are `t`'s own tensors.
 *
 * @example
 * withHoles({ w, b }, [false, true])   // { b: {}, w }   (leaves in sorted key order: b, w)
 */
export function withHoles(t: Tree, keep: readonly boolean[]): Tree {
  let i = 0;
  const walk = (x: Tree): Tree => {
    if (tree.isTensor(x)) return keep[i++] ? x : {};
    if (Array.isArray(x)) return x.map(walk);
    const o = x as { readonly [key: string]: Tree };
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, walk(o[k])]),
    );
  };
  return walk(t);
}
