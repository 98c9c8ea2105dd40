/**
 * Combinators of gradient transformations (Optax's `combine.py` and `transforms/`).
 * @module
 */
import * as tree from './tree';
import type { Extra, GradientTransformation, StateTree, Tree } from './types';

/** The state of a transformation that keeps none. */
export type EmptyState = Readonly<Record<string, never>>;

/**
 * The identity transformation: updates pass through unchanged (as fresh tensors).
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
 * array of the members' states; `extra` and `params` reach every member.
 *
 * @example
 * const tx = chain(clipByGlobalNorm(1), scaleByAdam(), scaleByLearningRate(1e-3));
 */
export function chain<S extends readonly unknown[]>(
  ...transforms: { [K in keyof S]: GradientTransformation<S[K]> }
): GradientTransformation<S> {
  const txs = transforms as readonly GradientTransformation<unknown>[];
  return {
    init: (params) => txs.map((t) => t.init(params)) as unknown as S,
    update: (updates, state, params?, extra?: Extra) => {
      const states = state as readonly unknown[];
      let current: Tree = updates;
      const newStates = txs.map((t, i) => {
        const [next, s] = t.update(current, states[i], params, extra);
        if (current !== updates) tree.dispose(current);
        current = next;
        return s;
      });
      return [current === updates ? tree.clone(updates) : current, newStates as unknown as S];
    },
  };
}

/** Disposes every tensor in a state (or any tree); a convenience for the caller's side of ownership. */
export function disposeState(state: unknown): void {
  tree.dispose(state as StateTree);
}

