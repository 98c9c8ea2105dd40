/**
 * Sequences of transformations (Optax's `combine.py`): {@link identity}, {@link chain},
 * {@link namedChain}. Every member is called through `updateReadsOf`, so the device reads of a
 * member reach `makeStepAsync`.
 * @module
 */
import { HyperparameterError, InputError } from '../errors';
import * as tree from '../tree';
import { updateReadsOf, withReads } from '../reads';
import type { Extra, GradientTransformation, StateTree, Tree } from '../types';

/** The state of a transformation that keeps none. */
export type EmptyState = Readonly<Record<string, never>>;

/**
 * The identity transformation: updates pass through unchanged (as fresh tensors). Optax:
 * `optax.identity`.
 *
 * @example
 * const tx = identity();
 */
export function identity(): GradientTransformation<EmptyState> {
  return {
    init: () => ({}),
    update: (updates) => [tree.clone(updates), {}],
  };
}

/**
 * Applies transformations in sequence: `chain(a, b).update = b.update ∘ a.update`. The state is the
 * array of the members' states; `extra` and `params` reach every member (Optax's `chain`).
 *
 * @example
 * const tx = chain(clipByGlobalNorm(1), scaleByAdam(), scaleByLearningRate(1e-3));
 */
export function chain<S extends readonly unknown[]>(
  ...transforms: { [K in keyof S]: GradientTransformation<S[K]> }
): GradientTransformation<S> {
  const txs = transforms as readonly GradientTransformation<unknown>[];
  return withReads(
    (params) => txs.map((t) => t.init(params)) as unknown as S,
    function* (updates, state, params?, extra?: Extra) {
      const states = state as readonly unknown[];
      let current: Tree = updates;
      const newStates: unknown[] = [];
      try {
        for (let i = 0; i < txs.length; i++) {
          const [next, s] = yield* updateReadsOf(txs[i], current, states[i], params, extra);
          if (current !== updates) tree.dispose(current);
          current = next;
          newStates.push(s);
        }
      } catch (e) {
        // A member failed: what the earlier members made is nobody's (the old state is kept as is).
        const old = new Set(tree.tensors(state as StateTree));
        for (const t of tree.tensors(newStates as StateTree)) if (!old.has(t)) t.dispose();
        if (current !== updates) tree.dispose(current);
        throw e;
      }
      return [current === updates ? tree.clone(updates) : current, newStates as unknown as S];
    },
  );
}

/** State of {@link namedChain}: each member's state under its name. */
export type NamedChainState = Readonly<Record<string, unknown>>;

/**
 * Like {@link chain}, with each member named: `namedChain([n₁, a], [n₂, b]).update = b.update ∘
 * a.update`, and the state is an object keyed by the names (`state.adam.mu`, ...), which is easier
 * to inspect than {@link chain}'s array (Optax's `named_chain`).
 *
 * @param named `[name, transform]` pairs; names must be distinct.
 * @example
 * const tx = namedChain(['clip', clipByGlobalNorm(1)], ['adam', scaleByAdam()], ['lr', scaleByLearningRate(1e-3)]);
 * const state = tx.init(params);   // { clip: {...}, adam: {...}, lr: {...} }
 */
export function namedChain(
  ...named: readonly (readonly [string, GradientTransformation<unknown>])[]
): GradientTransformation<NamedChainState> {
  named.forEach((entry, i) => {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1]?.update !== 'function') {
      throw new HyperparameterError(`namedChain: argument ${i} must be a [name, transform] pair`);
    }
  });
  const names = named.map(([n]) => n);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new HyperparameterError(`namedChain: duplicate name '${duplicate}' in ${names.join(', ')}`);
  const inner = chain(...named.map(([, t]) => t));
  const byName = (states: readonly unknown[]): NamedChainState => Object.fromEntries(states.map((s, i) => [names[i], s]));
  return withReads<NamedChainState>(
    (params) => byName(inner.init(params) as unknown[]),
    function* (updates, state, params, extra) {
      for (const n of names) {
        if (state === null || typeof state !== 'object' || !(n in state)) {
          throw new InputError(`namedChain: the state has no entry '${n}' (expected keys: ${names.join(', ')})`);
        }
      }
      const [out, states] = yield* updateReadsOf(
        inner,
        updates,
        names.map((n) => state[n]),
        params,
        extra,
      );
      return [out, byName(states as unknown[])];
    },
  );
}

/**
 * Disposes every tensor in a state (or any tree); a convenience for the caller's side of ownership.
 *
 * @example
 * disposeState(oldState);
 */
export function disposeState(state: unknown): void {
  tree.dispose(state as StateTree);
}
