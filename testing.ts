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
import { chain, identity } from './lib/combine';
import { foldIn } from './lib/random';
import * as tree from './lib/tree';
import type { Extra, GradientTransformation, StateTree, Tree } from './lib/types';

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

/** A random shape of rank 0..`maxRank` with dimensions 1..`maxDim`. */
export function arbShape({ maxRank = 3, maxDim = 4 }: { maxRank?: number; maxDim?: number } = {}): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: 0, maxLength: maxRank });
}

/** A random tree structure: an object of 1–3 entries, each a tensor or an array of 1–2 tensors. */
export function arbTreeSpec(options: { maxRank?: number; maxDim?: number } = {}): fc.Arbitrary<TreeSpec> {
  const leaf = arbShape(options).map((shape): TreeSpec => ({ kind: 'leaf', shape }));
  const arr = fc.array(leaf, { minLength: 1, maxLength: 2 }).map((children): TreeSpec => ({ kind: 'array', children }));
  return fc
    .dictionary(fc.constantFrom('w', 'b', 'kernel', 'bias', 'scale'), fc.oneof(leaf, arr), { minKeys: 1, maxKeys: 3 })
    .map((children): TreeSpec => ({ kind: 'object', children }));
}

/** Builds a tree of standard-normal tensors (times `scale`) of structure `spec`, from `seed`. */
export function buildTree(spec: TreeSpec, seed: number, scale = 1): Tree {
  let i = 0;
  const build = (s: TreeSpec): Tree => {
    if (s.kind === 'leaf') return tf.tidy(() => tf.mul(tf.randomNormal(s.shape as number[], 0, 1, 'float32', foldIn(seed, i++)), scale));
    if (s.kind === 'array') return s.children.map(build);
    return Object.fromEntries(Object.entries(s.children).map(([k, c]) => [k, build(c)]));
  };
  return build(spec);
}

/** A random tree structure with seeds for params and gradients (build them with {@link buildTree}). */
export function arbParamsAndGrads(options: { maxRank?: number; maxDim?: number } = {}): fc.Arbitrary<{
  /** The tree's structure and shapes. */
  spec: TreeSpec;
  /** Seed of the params' values. */
  paramSeed: number;
  /** Seed of the gradients' values. */
  gradSeed: number;
}> {
  return fc.record({ spec: arbTreeSpec(options), paramSeed: fc.integer({ min: 0, max: 2 ** 30 }), gradSeed: fc.integer({ min: 0, max: 2 ** 30 }) });
}

function fail(what: string): never {
  throw new Error(`transform law violated: ${what}`);
}

/**
 * Disposes every tensor of `outputs` except the caller's inputs (`params`, `grads`, `extra`): a
 * transform that breaks the contract by returning an input must not make the checker dispose the
 * user's tensors.
 */
function disposeOutputs(outputs: unknown, ...inputs: unknown[]): void {
  const keep = new Set(inputs.flatMap(reachableTensors));
  for (const t of tree.tensors(outputs as StateTree)) if (!keep.has(t) && !t.isDisposed) t.dispose();
}

/** The tensors inside plain objects / arrays of `x` (class instances other than tensors and cycles skipped). */
function reachableTensors(x: unknown): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (tree.isTensor(v)) out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) Object.values(v).forEach(walk);
  };
  walk(x);
  return out;
}

/** Runs `steps` updates from a fresh state; returns the updates of each step (the caller disposes). */
function run(tx: GradientTransformation<any>, params: Tree, grads: Tree, steps: number, extra?: Extra): Tree[] {
  let state = tx.init(params);
  const outs: Tree[] = [];
  for (let i = 0; i < steps; i++) {
    const [u, next] = tx.update(grads, state, params, extra);
    disposeOutputs(state, params, grads, extra, next);
    state = next;
    outs.push(u);
  }
  disposeOutputs(state, params, grads, extra);
  return outs;
}

function assertClose(a: Tree, b: Tree, what: string, tol: number): void {
  tree.assertSameStructure(a, b);
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

/** Updates and state match the params' structure and shapes, step after step. */
export function checkStructure(tx: GradientTransformation<any>, params: Tree, grads: Tree, { steps = 2, extra }: { steps?: number; extra?: Extra } = {}): void {
  let state = tx.init(params);
  const stateShape = JSON.stringify(describeState(state));
  for (let i = 0; i < steps; i++) {
    const [u, next] = tx.update(grads, state, params, extra);
    try {
      tree.assertSameStructure(params, u, { names: ['params have', 'updates have'], root: 'updates' });
    } catch (e) {
      disposeOutputs([u, next, state], params, grads, extra);
      fail((e as Error).message);
    }
    const now = JSON.stringify(describeState(next));
    if (now !== stateShape) {
      disposeOutputs([u, next, state], params, grads, extra);
      fail(`the state changed structure at step ${i + 1}: ${stateShape} became ${now}`);
    }
    disposeOutputs([u, state], params, grads, extra, next);
    state = next;
  }
  disposeOutputs(state, params, grads, extra);
}

/** The structure of a state with tensor shapes (numbers, booleans, strings only typed). */
function describeState(s: unknown): unknown {
  if (tree.isTensor(s)) return `tensor[${s.shape.join(',')}]:${s.dtype}`;
  if (Array.isArray(s)) return s.map(describeState);
  if (s !== null && typeof s === 'object') return Object.fromEntries(Object.keys(s).sort().map((k) => [k, describeState((s as Record<string, unknown>)[k])]));
  return s === null ? null : typeof s;
}

/**
 * `update` neither mutates nor disposes its inputs (params, updates, state, the tensors of `extra`),
 * and its outputs (updates and new state) are fresh tensors, none of them an input.
 */
export function checkNoMutationOrDisposal(tx: GradientTransformation<any>, params: Tree, grads: Tree, { extra }: { extra?: Extra } = {}): void {
  const state = tx.init(params);
  const inputs = [...new Set([...tree.leaves(params), ...tree.leaves(grads), ...tree.tensors(state as StateTree), ...reachableTensors(extra)])];
  const before = inputs.map((t) => Array.from(t.dataSync()));
  const [u, next] = tx.update(grads, state, params, extra);
  try {
    inputs.forEach((t, i) => {
      if (t.isDisposed) fail(`update disposed one of its inputs (shape [${t.shape.join(', ')}])`);
      const now = t.dataSync();
      if (now.some((v, k) => !Object.is(v, before[i][k]))) fail(`update mutated one of its inputs (shape [${t.shape.join(', ')}])`);
    });
    const inputSet = new Set(inputs);
    for (const t of [...tree.leaves(u), ...tree.tensors(next as StateTree)]) {
      if (inputSet.has(t)) fail(`update returned one of its input tensors (shape [${t.shape.join(', ')}]) instead of a fresh one`);
    }
  } finally {
    disposeOutputs([u, next, state], params, grads, extra);
  }
}

/** `tf.memory().numTensors` is flat over `steps` steps (old state and updates disposed each step). */
export function checkNoLeaks(tx: GradientTransformation<any>, params: Tree, grads: Tree, { steps = 100, extra }: { steps?: number; extra?: Extra } = {}): void {
  let state = tx.init(params);
  let reference = -1;
  for (let i = 0; i < steps; i++) {
    const [u, next] = tx.update(grads, state, params, extra);
    disposeOutputs([u, state], params, grads, extra, next);
    state = next;
    if (i === 1) reference = tf.memory().numTensors;
  }
  const end = tf.memory().numTensors;
  disposeOutputs(state, params, grads, extra);
  if (steps > 2 && end !== reference) fail(`${end - reference} tensors leaked over ${steps - 2} steps`);
}

/** Two runs from fresh states on the same inputs (and `extra.key`) give the same updates. */
export function checkDeterminism(tx: GradientTransformation<any>, params: Tree, grads: Tree, { steps = 2, extra }: { steps?: number; extra?: Extra } = {}): void {
  const a = run(tx, params, grads, steps, extra);
  const b = run(tx, params, grads, steps, extra);
  try {
    a.forEach((u, i) => assertClose(u, b[i], `step ${i + 1} differs between two identical runs`, 0));
  } finally {
    disposeOutputs([a, b], params, grads, extra);
  }
}

/** `chain(identity(), t) ≡ t ≡ chain(t, identity())`. */
export function checkChainIdentity(tx: GradientTransformation<any>, params: Tree, grads: Tree, { steps = 2, extra, tol = 1e-6 }: { steps?: number; extra?: Extra; tol?: number } = {}): void {
  const plain = run(tx, params, grads, steps, extra);
  const left = run(chain(identity(), tx), params, grads, steps, extra);
  const right = run(chain(tx, identity()), params, grads, steps, extra);
  try {
    plain.forEach((u, i) => {
      assertClose(left[i], u, `chain(identity(), t) differs from t at step ${i + 1}`, tol);
      assertClose(right[i], u, `chain(t, identity()) differs from t at step ${i + 1}`, tol);
    });
  } finally {
    disposeOutputs([plain, left, right], params, grads, extra);
  }
}

/** `chain(chain(a, b), c) ≡ chain(a, chain(b, c))`. */
export function checkChainAssociativity(
  a: GradientTransformation<any>,
  b: GradientTransformation<any>,
  c: GradientTransformation<any>,
  params: Tree,
  grads: Tree,
  { steps = 2, extra, tol = 1e-6 }: { steps?: number; extra?: Extra; tol?: number } = {},
): void {
  const l = run(chain(chain(a, b), c), params, grads, steps, extra);
  const r = run(chain(a, chain(b, c)), params, grads, steps, extra);
  try {
    l.forEach((u, i) => assertClose(u, r[i], `chain is not associative at step ${i + 1}`, tol));
  } finally {
    disposeOutputs([l, r], params, grads, extra);
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
}

/**
 * Runs every law above as a fast-check property over random parameter trees: no mutation or
 * disposal and fresh outputs, structure, no leaks, determinism, chain identity. On a violation it
 * throws an `Error` whose message is the law's (shrunk by fast-check to a small tree) followed by
 * the counterexample and the seed to replay it with.
 */
export function checkTransformLaws(tx: GradientTransformation<any>, { numRuns = 20, leakSteps = 20, extra, gradScale = 1, seed }: LawOptions = {}): void {
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
