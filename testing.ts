/**
 * `somax/testing`: fast-check arbitraries of parameter trees and law checkers for gradient
 * transformations — the kit somax runs on every transform it exports, for your own transforms.
 *
 * Every checker throws an `Error` describing the first violation, and disposes what it creates.
 *
 * @example
 * import fc from 'fast-check';
 * import { checkTransformLaws } from 'somax/testing';
 * checkTransformLaws(myTransform, { numRuns: 20 });
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { checkOptionKeys } from './lib/options';
import { chain, identity } from './lib/combine';
import { foldIn } from './lib/random';
import { fetchScalar, runAsync, withReads } from './lib/reads';
import * as tree from './lib/tree';
import type { Objective } from './lib/objective';
import type { Extra, GradientTransformation, Reads, StateTree, Tree } from './lib/types';

/**
 * Float64 reference products for checking curvature on small models (P ≤ 4096): the dense
 * Hessian (P Hessian-vector products) and the dense GGN (from the Jacobian rows), row-major P×P.
 */
export { denseGgn, denseHessian } from './lib/autodiff';

/** An objective whose forward passes are counted (see {@link countForwardPasses}). */
export interface CountedObjective<X> {
  /** The objective, with the same model, loss and hooks. */
  readonly objective: Objective<X>;
  /** Forward passes of the model run so far: calls of `predict`, `linearize` and `rowGram`. */
  readonly count: number;
  /** Sets the count back to 0. */
  reset(): void;
}

/**
 * The objective with its forward passes counted: each call of `predict` (a plain forward pass, or
 * one inside a tape-based product), `linearize` (one forward pass kept) and `rowGram` (one forward
 * pass recorded) counts one. To check how many times a step runs the model on its batches.
 *
 * @example
 * const counted = countForwardPasses(mlpObjective({ loss: 'softmaxCrossEntropy' }));
 * makeStep(egn(counted.objective), counted.objective)(params, state, batch);
 * counted.count;   // 1: the step context's linearization
 */
export function countForwardPasses<X>(objective: Objective<X>): CountedObjective<X> {
  let count = 0;
  const counted =
    <A extends unknown[], R>(fn: (...args: A) => R) =>
    (...args: A): R => {
      count++;
      return fn.apply(objective, args);
    };
  const wrapped: Objective<X> = {
    ...objective,
    predict: counted(objective.predict),
    ...(objective.linearize && { linearize: counted(objective.linearize) }),
    ...(objective.rowGram && { rowGram: counted(objective.rowGram) }),
  };
  return {
    objective: wrapped,
    get count() {
      return count;
    },
    reset: () => void (count = 0),
  };
}

/** The structure of a parameter tree, as plain data (shapes only). */
export type TreeSpec =
  | {
      /** A tensor leaf. */
      readonly kind: 'leaf';
      /** Its shape. */
      readonly shape: readonly number[];
    }
  | {
      /** An array node. */
      readonly kind: 'array';
      /** Its elements. */
      readonly children: readonly TreeSpec[];
    }
  | {
      /** An object node. */
      readonly kind: 'object';
      /** Its entries by key. */
      readonly children: Readonly<Record<string, TreeSpec>>;
    };

/**
 * A random shape of rank 0..`maxRank` with dimensions 1..`maxDim`.
 *
 * @example
 * fc.assert(fc.property(arbShape({ maxRank: 2 }), (shape) => tf.zeros(shape).rank <= 2));
 */
export function arbShape({ maxRank = 3, maxDim = 4 }: { maxRank?: number; maxDim?: number } = {}): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: 0, maxLength: maxRank });
}

/**
 * A random tree structure: an object of 1–3 entries, each a tensor or an array of 1–2 tensors.
 *
 * @example
 * fc.assert(fc.property(arbTreeSpec(), fc.nat(), (spec, seed) => { const t = buildTree(spec, seed); tree.dispose(t); }));
 */
export function arbTreeSpec(options: { maxRank?: number; maxDim?: number } = {}): fc.Arbitrary<TreeSpec> {
  const leaf = arbShape(options).map((shape): TreeSpec => ({ kind: 'leaf', shape }));
  const arr = fc.array(leaf, { minLength: 1, maxLength: 2 }).map((children): TreeSpec => ({ kind: 'array', children }));
  return fc
    .dictionary(fc.constantFrom('w', 'b', 'kernel', 'bias', 'scale'), fc.oneof(leaf, arr), { minKeys: 1, maxKeys: 3 })
    .map((children): TreeSpec => ({ kind: 'object', children }));
}

/**
 * Builds a tree of standard-normal tensors (times `scale`) of structure `spec`, from `seed`.
 *
 * @example
 * const params = buildTree({ kind: 'object', children: { w: { kind: 'leaf', shape: [2, 3] } } }, 1);
 */
export function buildTree(spec: TreeSpec, seed: number, scale = 1): Tree {
  let i = 0;
  const build = (s: TreeSpec): Tree => {
    if (s.kind === 'leaf') return tf.tidy(() => tf.mul(tf.randomNormal(s.shape as number[], 0, 1, 'float32', foldIn(seed, i++)), scale));
    if (s.kind === 'array') return s.children.map(build);
    return Object.fromEntries(Object.entries(s.children).map(([k, c]) => [k, build(c)]));
  };
  return build(spec);
}

/**
 * A random tree structure with seeds for params and gradients (build them with {@link buildTree}).
 *
 * @example
 * fc.assert(fc.property(arbParamsAndGrads(), ({ spec, paramSeed, gradSeed }) => {
 *   const params = buildTree(spec, paramSeed);
 *   const grads = buildTree(spec, gradSeed);
 *   try { checkStructure(myTransform, params, grads); } finally { tree.dispose([params, grads]); }
 * }));
 */
export function arbParamsAndGrads(options: { maxRank?: number; maxDim?: number } = {}): fc.Arbitrary<{
  /** The tree's structure and shapes. */
  spec: TreeSpec;
  /** Seed of the params' values. */
  paramSeed: number;
  /** Seed of the gradients' values. */
  gradSeed: number;
}> {
  return fc.record({
    spec: arbTreeSpec(options),
    paramSeed: fc.integer({ min: 0, max: 2 ** 30 }),
    gradSeed: fc.integer({ min: 0, max: 2 ** 30 }),
  });
}

function fail(what: string): never {
  throw new Error(`transform law violated: ${what}`);
}

/** A value inside a plain structure (a tree, a state, an extra), with its path (`state[1].mu.w1`). */
interface Node {
  /** Where it is, from the structure's root name. */
  readonly path: string;
  /** The value there: a tensor, a plain object or array, a primitive, or an opaque object. */
  readonly value: unknown;
}

/** True for the plain arrays and objects the kit walks into (tensors and class instances are leaves). */
function isPlain(v: unknown): v is Record<string, unknown> | unknown[] {
  if (v === null || typeof v !== 'object' || tree.isTensor(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return Array.isArray(v) || proto === Object.prototype || proto === null;
}

/** Every value of `x` with its path, parents first, object keys sorted (a shared or cyclic object is entered once). */
function nodes(x: unknown, root: string): Node[] {
  const out: Node[] = [];
  const seen = new Set<unknown>();
  const walk = (value: unknown, path: string): void => {
    out.push({ path, value });
    if (!isPlain(value) || seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) value.forEach((c, i) => walk(c, `${path}[${i}]`));
    else for (const k of Object.keys(value).sort()) walk((value as Record<string, unknown>)[k], `${path}.${k}`);
  };
  walk(x, root);
  return out;
}

/** The tensors inside plain objects / arrays of `x` (class instances other than tensors skipped). */
function reachableTensors(x: unknown): tf.Tensor[] {
  return nodes(x, '')
    .map((n) => n.value)
    .filter((v): v is tf.Tensor => tree.isTensor(v));
}

/**
 * Disposes every tensor of `outputs` except the caller's inputs (`params`, `grads`, `extra`): a
 * transform that breaks the contract by returning an input must not make the checker dispose the
 * user's tensors.
 */
function disposeOutputs(outputs: unknown, ...inputs: unknown[]): void {
  const keep = new Set(inputs.flatMap(reachableTensors));
  for (const t of reachableTensors(outputs)) if (!keep.has(t) && !t.isDisposed) t.dispose();
}

/**
 * Runs `body` with a list into which it pushes what the kit creates (states, outputs, scaled
 * gradients); disposes all of it afterwards, also when a law fails, never the caller's `inputs`.
 */
function withOwned<T>(inputs: readonly unknown[], body: (owned: unknown[]) => T): T {
  const owned: unknown[] = [];
  try {
    return body(owned);
  } finally {
    disposeOutputs(owned, ...inputs);
  }
}

/** Runs `steps` updates from a fresh state; returns the updates of each step (the caller disposes them). */
function run(tx: GradientTransformation<any>, params: Tree, grads: Tree, steps: number, extra?: Extra): Tree[] {
  const outs: Tree[] = [];
  let state: unknown;
  try {
    state = tx.init(params);
    for (let i = 0; i < steps; i++) {
      const [u, next] = tx.update(grads, state, params, extra);
      outs.push(u);
      disposeOutputs(state, params, grads, extra, next, outs);
      state = next;
    }
  } catch (e) {
    disposeOutputs(outs, params, grads, extra);
    throw e;
  } finally {
    disposeOutputs(state, params, grads, extra, outs);
  }
  return outs;
}

/** Throws a law violation (prefixed by `what`) when `b` does not have the structure and shapes of `a`. */
function sameStructure(a: Tree, b: Tree, what: string): void {
  try {
    tree.assertSameStructure(a, b, { root: 'updates' });
  } catch (e) {
    fail(`${what}: ${(e as Error).message}`);
  }
}

function assertClose(a: Tree, b: Tree, what: string, tol: number): void {
  sameStructure(b, a, what);
  const la = tree.leaves(a);
  const lb = tree.leaves(b);
  const ps = tree.paths(a, 'updates');
  la.forEach((t, i) => {
    const x = t.dataSync();
    const y = lb[i].dataSync();
    x.forEach((v, k) => {
      const same = Object.is(v, y[k]) || Math.abs(v - y[k]) <= tol * Math.max(1, Math.abs(y[k]));
      if (!same) fail(`${what}: ${ps[i]}[${k}] is ${v} vs ${y[k]}`);
    });
  });
}

/**
 * Updates and state match the params' structure and shapes, step after step.
 *
 * @example
 * checkStructure(scaleByAdam(), params, grads, { steps: 3 });
 */
export function checkStructure(
  tx: GradientTransformation<any>,
  params: Tree,
  grads: Tree,
  options: { steps?: number; extra?: Extra } = {},
): void {
  checkOptionKeys('checkStructure', options, ['steps', 'extra']);
  const { steps = 2, extra } = options;
  let state: unknown;
  let pending: unknown = [];
  try {
    state = tx.init(params);
    const stateShape = JSON.stringify(describeState(state));
    for (let i = 0; i < steps; i++) {
      const [u, next] = tx.update(grads, state, params, extra);
      pending = [u, next];
      sameStructure(params, u, `the updates of step ${i + 1} are not shaped like the params`);
      const now = JSON.stringify(describeState(next));
      if (now !== stateShape) fail(`the state changed structure at step ${i + 1}: ${stateShape} became ${now}`);
      disposeOutputs([u, state], params, grads, extra, next);
      state = next;
      pending = [];
    }
  } finally {
    disposeOutputs([state, pending], params, grads, extra);
  }
}

/** The structure of a state with tensor shapes (numbers, booleans, strings only typed). */
function describeState(s: unknown): unknown {
  if (tree.isTensor(s)) return `tensor[${s.shape.join(',')}]:${s.dtype}`;
  if (Array.isArray(s)) return s.map(describeState);
  if (s !== null && typeof s === 'object')
    return Object.fromEntries(
      Object.keys(s)
        .sort()
        .map((k) => [k, describeState((s as Record<string, unknown>)[k])]),
    );
  return s === null ? null : typeof s;
}

/**
 * What `update` must leave unchanged at one path: a value (primitive, tensor or opaque object, by
 * identity), an array's length, an object's keys.
 */
interface Snap {
  /** What is there. */
  readonly kind: 'value' | 'tensor' | 'array' | 'object';
  /** The value itself, the array's length, or the object's sorted keys. */
  readonly value: unknown;
}

function snap(v: unknown): Snap {
  if (tree.isTensor(v)) return { kind: 'tensor', value: v };
  if (Array.isArray(v)) return { kind: 'array', value: v.length };
  if (isPlain(v)) return { kind: 'object', value: Object.keys(v).sort().join(', ') };
  return { kind: 'value', value: v };
}

function showSnap(s: Snap): string {
  if (s.kind === 'tensor') return `a tensor of shape [${(s.value as tf.Tensor).shape.join(', ')}]`;
  if (s.kind === 'array') return `an array of length ${String(s.value)}`;
  if (s.kind === 'object') return `an object with keys {${String(s.value)}}`;
  if (typeof s.value === 'string') return JSON.stringify(s.value);
  return typeof s.value === 'object' && s.value !== null ? 'an object' : String(s.value);
}

/** The non-tensor structure and values of `x`, path by path, parents first (tensors by identity: their values are checked apart). */
function snapshot(x: unknown, root: string): Map<string, Snap> {
  return new Map(nodes(x, root).map((n) => [n.path, snap(n.value)]));
}

/** The first path where `after` differs from `before`, with a description of the change. */
function firstChange(before: Map<string, Snap>, after: Map<string, Snap>): { path: string; what: string } | undefined {
  for (const [path, a] of before) {
    const b = after.get(path);
    if (b && a.kind === b.kind && Object.is(a.value, b.value)) continue;
    if (a.kind === 'tensor' && b?.kind === 'tensor') return { path, what: `${path} was replaced in place by another tensor` };
    return { path, what: `${path} was mutated in place (${showSnap(a)} → ${b ? showSnap(b) : 'nothing'})` };
  }
  return undefined;
}

/** The inputs of one update, by name: `params`, `updates`, `state`, `extra`. */
type Inputs = readonly (readonly [string, unknown])[];

/** What {@link assertUntouched} compares against: each input tensor's first path and values, each input's plain structure. */
interface InputSnapshot {
  /** Every input tensor, with the path it is first found at. */
  readonly paths: Map<tf.Tensor, string>;
  /** Every input tensor's values. */
  readonly values: Map<tf.Tensor, unknown[]>;
  /** Each input's non-tensor structure and values. */
  readonly shapes: Map<string, Snap>[];
}

function snapshotInputs(inputs: Inputs): InputSnapshot {
  const paths = new Map<tf.Tensor, string>();
  for (const [root, x] of inputs) {
    for (const n of nodes(x, root)) if (tree.isTensor(n.value) && !paths.has(n.value)) paths.set(n.value, n.path);
  }
  const values = new Map([...paths.keys()].map((t) => [t, Array.from(t.dataSync() as ArrayLike<unknown>)]));
  return { paths, values, shapes: inputs.map(([root, x]) => snapshot(x, root)) };
}

/** `; update returned … itself as …` when an output holds the plain object (or an ancestor of it) at `path` of the inputs. */
function returnedAgain(path: string, inputs: Inputs, outputs: readonly Node[]): string {
  const containers = new Map<unknown, string>();
  for (const [root, x] of inputs) {
    for (const n of nodes(x, root)) if (isPlain(n.value) && !containers.has(n.value)) containers.set(n.value, n.path);
  }
  const within = (p: string, q: string): boolean => p === q || p.startsWith(`${q}.`) || p.startsWith(`${q}[`);
  const hit = outputs.find((n) => containers.has(n.value) && within(path, containers.get(n.value) as string));
  return hit ? `; update returned ${containers.get(hit.value)} itself as the output ${hit.path} instead of a fresh object` : '';
}

/** Throws when `update` disposed, changed or re-arranged an input, or returned an input tensor in `outputs`. */
function assertUntouched(inputs: Inputs, before: InputSnapshot, [u, next]: readonly unknown[], at: string): void {
  for (const [t, path] of before.paths) {
    if (t.isDisposed) fail(`${path} was disposed by update${at}`);
    const was = before.values.get(t) as unknown[];
    const now = t.dataSync() as ArrayLike<unknown>;
    const k = was.findIndex((v, j) => !Object.is(v, now[j]));
    if (k >= 0) fail(`${path} was mutated in place (its values changed: [${k}] ${String(was[k])} → ${String(now[k])})${at}`);
  }
  const outputs = [...nodes(u, 'updates'), ...nodes(next, 'state')];
  inputs.forEach(([root, x], i) => {
    const change = firstChange(before.shapes[i], snapshot(x, root));
    if (change) fail(`${change.what}${returnedAgain(change.path, inputs, outputs)}${at}`);
  });
  for (const n of outputs) {
    const path = tree.isTensor(n.value) ? before.paths.get(n.value) : undefined;
    if (path) fail(`${path} is aliased by the output ${n.path} (update returned one of its input tensors instead of a fresh one)${at}`);
  }
}

/**
 * `update` neither mutates nor disposes its inputs — the tensors of params, updates, state and
 * `extra`, and the plain JS values of the state and `extra` (numbers, booleans, strings, nested
 * objects and arrays: `s.count++` is caught) — and its outputs (updates and new state) are fresh
 * tensors, none of them an input. Checked over `steps` steps from `init`; a message names the tree
 * and path: `state.count was mutated in place (0 → 1)`, `state.mu.w was disposed by update`,
 * `updates.b[0] is aliased by the output updates.b[0] (...)`.
 *
 * @example
 * checkNoMutationOrDisposal(scaleByAdam(), params, grads, { extra: { key: 1 } });
 */
export function checkNoMutationOrDisposal(
  tx: GradientTransformation<any>,
  params: Tree,
  grads: Tree,
  options: { steps?: number; extra?: Extra } = {},
): void {
  checkOptionKeys('checkNoMutationOrDisposal', options, ['steps', 'extra']);
  const { steps = 2, extra } = options;
  let state: unknown;
  let pending: unknown = [];
  try {
    state = tx.init(params);
    for (let step = 1; step <= steps; step++) {
      const inputs: Inputs = [
        ['params', params],
        ['updates', grads],
        ['state', state],
        ['extra', extra],
      ];
      const before = snapshotInputs(inputs);
      const out = tx.update(grads, state, params, extra);
      pending = out;
      assertUntouched(inputs, before, out, step > 1 ? ` (at step ${step})` : '');
      disposeOutputs([state, out[0]], params, grads, extra, out[1]);
      state = out[1];
      pending = [];
    }
  } finally {
    disposeOutputs([state, pending], params, grads, extra);
  }
}

/**
 * `tf.memory().numTensors` is flat over `steps` steps (old state and updates disposed each step).
 *
 * @example
 * checkNoLeaks(scaleByAdam(), params, grads, { steps: 50 });
 */
export function checkNoLeaks(
  tx: GradientTransformation<any>,
  params: Tree,
  grads: Tree,
  options: { steps?: number; extra?: Extra } = {},
): void {
  checkOptionKeys('checkNoLeaks', options, ['steps', 'extra']);
  const { steps = 100, extra } = options;
  let state: unknown;
  let reference = -1;
  let end = -1;
  try {
    state = tx.init(params);
    for (let i = 0; i < steps; i++) {
      const [u, next] = tx.update(grads, state, params, extra);
      disposeOutputs([u, state], params, grads, extra, next);
      state = next;
      if (i === 1) reference = tf.memory().numTensors;
    }
    end = tf.memory().numTensors;
  } finally {
    disposeOutputs(state, params, grads, extra);
  }
  if (steps > 2 && end !== reference) fail(`${end - reference} tensors leaked over ${steps - 2} steps`);
}

/**
 * Two runs from fresh states on the same inputs (and `extra.key`) give the same updates.
 *
 * @example
 * checkDeterminism(addNoise(0.01, 0.55, 3), params, grads, { extra: { key: 7 } });
 */
export function checkDeterminism(
  tx: GradientTransformation<any>,
  params: Tree,
  grads: Tree,
  options: { steps?: number; extra?: Extra } = {},
): void {
  checkOptionKeys('checkDeterminism', options, ['steps', 'extra']);
  const { steps = 2, extra } = options;
  withOwned([params, grads, extra], (owned) => {
    const a = run(tx, params, grads, steps, extra);
    owned.push(a);
    const b = run(tx, params, grads, steps, extra);
    owned.push(b);
    a.forEach((u, i) => assertClose(u, b[i], `step ${i + 1} differs between two identical runs`, 0));
  });
}

/**
 * `chain(identity(), t) ≡ t ≡ chain(t, identity())`.
 *
 * @example
 * checkChainIdentity(scaleByAdam(), params, grads, { tol: 1e-6 });
 */
export function checkChainIdentity(
  tx: GradientTransformation<any>,
  params: Tree,
  grads: Tree,
  options: { steps?: number; extra?: Extra; tol?: number } = {},
): void {
  checkOptionKeys('checkChainIdentity', options, ['steps', 'extra', 'tol']);
  const { steps = 2, extra, tol = 1e-6 } = options;
  withOwned([params, grads, extra], (owned) => {
    const [plain, left, right] = [tx, chain(identity(), tx), chain(tx, identity())].map((t) => {
      const outs = run(t, params, grads, steps, extra);
      owned.push(outs);
      return outs;
    });
    plain.forEach((u, i) => {
      assertClose(left[i], u, `chain(identity(), t) differs from t at step ${i + 1}`, tol);
      assertClose(right[i], u, `chain(t, identity()) differs from t at step ${i + 1}`, tol);
    });
  });
}

/**
 * `chain(chain(a, b), c) ≡ chain(a, chain(b, c))`.
 *
 * @example
 * checkChainAssociativity(clip(1), scaleByAdam(), scale(-1e-3), params, grads);
 */
export function checkChainAssociativity(
  a: GradientTransformation<any>,
  b: GradientTransformation<any>,
  c: GradientTransformation<any>,
  params: Tree,
  grads: Tree,
  options: { steps?: number; extra?: Extra; tol?: number } = {},
): void {
  checkOptionKeys('checkChainAssociativity', options, ['steps', 'extra', 'tol']);
  const { steps = 2, extra, tol = 1e-6 } = options;
  withOwned([params, grads, extra], (owned) => {
    const l = run(chain(chain(a, b), c), params, grads, steps, extra);
    owned.push(l);
    const r = run(chain(a, chain(b, c)), params, grads, steps, extra);
    owned.push(r);
    l.forEach((u, i) => assertClose(u, r[i], `chain is not associative at step ${i + 1}`, tol));
  });
}

/** Each leaf of `actual` is `factor ×` that of `base`, within `tol` times the leaf's largest |entry| (times max(1, factor)). */
function assertScaled(actual: Tree, base: Tree, factor: number, tol: number): void {
  sameStructure(base, actual, `the updates for ${factor}·g are not shaped like those for g`);
  const la = tree.leaves(actual);
  const ps = tree.paths(base, 'updates');
  tree.leaves(base).forEach((leaf, i) => {
    const y = leaf.dataSync();
    const x = la[i].dataSync();
    const bound = tol * Math.max(1, factor) * Array.from(y).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    x.forEach((v, k) => {
      const want = factor * y[k];
      if (Object.is(v, want) || Math.abs(v - want) <= bound) return;
      const why = `${factor} × ${y[k]}, its value for g`;
      fail(`${ps[i]}[${k}] is ${v} for ${factor}·g, expected ${want} (${why}): the step is not linear in the updates (tol ${tol})`);
    });
  });
}

/**
 * The step is linear in the updates at a fixed state: from one initial state, `update` on `0·g`
 * gives 0 and on `2·g` gives twice its output on `g` (within `tol`, relative to each leaf's
 * largest entry). This is the chain contract "a method's step is a function of the updates it
 * receives" for the methods linear in `g` (scale, momentum from a zero state, preconditioners that
 * do not depend on `g`); normalizing methods (Adam, sign, clipping) are not linear and fail it.
 * The message names the path and the factor.
 *
 * @example
 * checkLinearInUpdates(chain(trace(0.9), scale(-0.1)), params, grads, { tol: 1e-5 });
 */
export function checkLinearInUpdates(
  tx: GradientTransformation<any>,
  params: Tree,
  grads: Tree,
  options: { extra?: Extra; tol?: number } = {},
): void {
  checkOptionKeys('checkLinearInUpdates', options, ['extra', 'tol']);
  const { extra, tol = 1e-5 } = options;
  withOwned([params, grads, extra], (owned) => {
    const state = tx.init(params);
    owned.push(state);
    const step = (factor: number): Tree => {
      const g = factor === 1 ? grads : tree.scale(grads, factor);
      owned.push(g);
      const [u, next] = tx.update(g, state, params, extra);
      owned.push(u, next);
      return u;
    };
    const base = step(1);
    assertScaled(step(0), base, 0, tol);
    assertScaled(step(2), base, 2, tol);
  });
}

/** Passes the computation `reads` through unchanged, recording every tensor it yields in `seen`. */
function* recording<T>(reads: Reads<T>, seen: tf.Tensor[]): Reads<T> {
  let r = reads.next();
  while (!r.done) {
    seen.push(r.value);
    try {
      yield r.value;
    } catch (e) {
      r = reads.throw(e);
      continue;
    }
    r = reads.next();
  }
  return r.value;
}

/** State of {@link readingTransform}. */
interface ReadingState {
  /** Updates so far. */
  readonly count: number;
  /** The last norm read. */
  readonly norm: tf.Scalar;
}

/** Scales the updates by 1 / (1 + ‖u‖), reading ‖u‖ from the device; records every tensor it yields in `yielded`. */
function readingTransform(yielded: tf.Tensor[]): GradientTransformation<ReadingState> {
  return withReads<ReadingState>(
    () => ({ count: 0, norm: tf.scalar(0) }),
    function* (updates, state) {
      const n = yield* recording(
        fetchScalar(() => tree.l2Norm(updates)),
        yielded,
      );
      return [tree.scale(updates, 1 / (1 + n)), { count: state.count + 1, norm: tf.scalar(n) }];
    },
  );
}

/** The values of `x` path by path: tensors by shape and values, plain objects and arrays by keys, others by value. */
function valuesOf(x: unknown, root: string): string[] {
  const show = (v: unknown): string =>
    tree.isTensor(v) ? `[${Array.from(v.dataSync() as ArrayLike<unknown>).join(', ')}]` : showSnap(snap(v));
  return nodes(x, root).map(({ path, value }) => `${path} = ${show(value)}`);
}

/** Throws a law violation (prefixed by `what`) at the first path where `a` and `b` differ. */
function assertSameValues(a: readonly (readonly [string, unknown])[], b: readonly (readonly [string, unknown])[], what: string): void {
  const va = a.flatMap(([root, x]) => valuesOf(x, root));
  const vb = b.flatMap(([root, x]) => valuesOf(x, root));
  const i = va.findIndex((v, k) => v !== vb[k]);
  if (i >= 0 || va.length !== vb.length) fail(`${what}: ${va[i] ?? '(nothing)'} vs ${vb[i] ?? vb[va.length]}`);
}

/** A name for the wrapper `wrap` in messages: `name`, its function name, or the start of its source. */
function wrapperName(wrap: (inner: GradientTransformation<any>) => GradientTransformation<any>, name?: string): string {
  return name ?? (wrap.name || String(wrap).replace(/\s+/g, ' ').slice(0, 80));
}

/** Options of {@link checkCarriesReads}. */
export interface CarriesReadsOptions {
  /** The params. */
  params: Tree;
  /** The gradients. */
  grads: Tree;
  /** What `update` receives besides updates, state and params. */
  extra?: Extra;
  /** Steps to run (enough for the wrapper to call its inner transform at least once; default 3). */
  steps?: number;
  /** The wrapper's name in messages (default: the function's name or source). */
  name?: string;
}

/**
 * A wrapper carries its inner transform's device reads: for `wrap` (a function `inner → transform`
 * such as `masked`, `injectHyperparams`, `multiSteps`), with an inner transform that reads a value
 * from the device through `updateReads` (yielding the tensor first), `wrap(inner)` exposes
 * `updateReads` too; running it with `runAsync` surfaces the inner's yields (so `makeStepAsync`
 * awaits them on WebGPU instead of reading synchronously), and gives the same updates and state as
 * `update`, step after step. Asynchronous (it awaits the reads), so not part of
 * {@link checkTransformLaws}. The message names the wrapper.
 *
 * @example
 * await checkCarriesReads((inner) => chain(clip(1), inner), { params, grads });
 * await checkCarriesReads((inner) => multiSteps(inner, 2), { params, grads, steps: 4 });
 */
export async function checkCarriesReads(
  wrap: (inner: GradientTransformation<any>) => GradientTransformation<any>,
  options: CarriesReadsOptions,
): Promise<void> {
  checkOptionKeys('checkCarriesReads', options, ['params', 'grads', 'extra', 'steps', 'name']);
  const { params, grads, extra, steps = 3, name } = options;
  const label = wrapperName(wrap, name);
  const yielded: tf.Tensor[] = [];
  const tx = wrap(readingTransform(yielded));
  if (typeof tx.updateReads !== 'function') {
    fail(
      `wrapper ${label} drops updateReads: the device reads of the transform it wraps cannot be awaited ` +
        '(makeStepAsync reads synchronously)',
    );
  }
  const updateReads = tx.updateReads.bind(tx);
  let states: unknown[] = [];
  let pending: unknown[] = [];
  let innerReads = 0;
  let surfacedReads = 0;
  try {
    states.push(tx.init(params));
    states.push(tx.init(params));
    for (let step = 1; step <= steps; step++) {
      const sync = tx.update(grads, states[0], params, extra);
      pending = [sync];
      const first = yielded.length;
      const surfaced: tf.Tensor[] = [];
      const async = await runAsync(recording(updateReads(grads, states[1], params, extra), surfaced));
      pending = [sync, async];
      const inner = yielded.slice(first);
      innerReads += inner.length;
      surfacedReads += inner.filter((t) => surfaced.includes(t)).length;
      assertSameValues(
        [
          ['updates', sync[0]],
          ['state', sync[1]],
        ],
        [
          ['updates', async[0]],
          ['state', async[1]],
        ],
        `wrapper ${label}: updateReads differs from update at step ${step}`,
      );
      disposeOutputs([states, sync[0], async[0]], params, grads, extra, sync[1], async[1]);
      states = [sync[1], async[1]];
      pending = [];
    }
  } finally {
    disposeOutputs([states, pending], params, grads, extra);
  }
  if (innerReads === 0) fail(`wrapper ${label} never ran the transform it wraps in ${steps} steps (raise steps)`);
  if (surfacedReads === 0) {
    fail(
      `wrapper ${label} hides the device reads of the transform it wraps: runAsync surfaced none of its ${innerReads} read(s) ` +
        `over ${steps} steps (updateReads must delegate with yield* updateReadsOf(inner, ...))`,
    );
  }
}

/** Options of {@link checkTransformLaws}. */
export interface LawOptions {
  /** fast-check runs (random trees). */
  numRuns?: number;
  /** Steps of the leak check. */
  leakSteps?: number;
  /** What `update` receives besides updates, state and params (a function of the params allowed). */
  extra?: Extra | ((params: Tree) => Extra);
  /** Scale of the random gradients. */
  gradScale?: number;
  /** fast-check seed, for reproducible runs. */
  seed?: number;
  /**
   * Also check {@link checkLinearInUpdates} (for transforms linear in the updates at a fixed state:
   * scale, momentum, fixed preconditioners); `{ tol }` sets its tolerance. Default false.
   */
  linearInUpdates?:
    | boolean
    | {
        /** Relative tolerance of the linearity check (default 1e-5). */
        tol?: number;
      };
}

/**
 * Runs every law above as a fast-check property over random parameter trees: no mutation or
 * disposal (tensors and plain JS state) and fresh outputs, structure, no leaks, determinism, chain
 * identity, and, when asked with `linearInUpdates`, linearity in the updates. On a violation it
 * throws an `Error` whose message is the law's (shrunk by fast-check to a small tree) followed by
 * the counterexample and the seed to replay it with. ({@link checkCarriesReads} is asynchronous
 * and takes a wrapper, not a transform: call it apart.)
 *
 * @example
 * checkTransformLaws(scaleByAdam(), { numRuns: 10, seed: 1 });
 * checkTransformLaws(chain(trace(0.9), scale(-0.1)), { linearInUpdates: true });
 */
export function checkTransformLaws(tx: GradientTransformation<any>, options: LawOptions = {}): void {
  checkOptionKeys('checkTransformLaws', options, ['numRuns', 'leakSteps', 'extra', 'gradScale', 'seed', 'linearInUpdates']);
  const { numRuns = 20, leakSteps = 20, extra, gradScale = 1, seed, linearInUpdates = false } = options;
  const details = fc.check(
    fc.property(arbParamsAndGrads(), ({ spec, paramSeed, gradSeed }) => {
      const params = buildTree(spec, paramSeed);
      const grads = buildTree(spec, gradSeed, gradScale);
      const ex = typeof extra === 'function' ? extra(params) : extra;
      try {
        checkNoMutationOrDisposal(tx, params, grads, { extra: ex });
        checkStructure(tx, params, grads, { extra: ex });
        checkNoLeaks(tx, params, grads, { steps: leakSteps, extra: ex });
        checkDeterminism(tx, params, grads, { extra: ex });
        checkChainIdentity(tx, params, grads, { extra: ex });
        if (linearInUpdates) {
          checkLinearInUpdates(tx, params, grads, { extra: ex, tol: linearInUpdates === true ? undefined : linearInUpdates.tol });
        }
      } finally {
        tree.dispose([params, grads] as StateTree);
      }
    }),
    { numRuns, seed },
  );
  if (details.failed) {
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    const error = new Error(
      `${cause}\n  on params/grads built from ${JSON.stringify(details.counterexample?.[0])}` +
        ` (fast-check seed ${details.seed}, path "${details.counterexamplePath}", after ${details.numRuns} run(s))`,
    );
    (error as Error & { cause?: unknown }).cause = details.errorInstance;
    throw error;
  }
}
