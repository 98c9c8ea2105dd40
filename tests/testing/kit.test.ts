import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import { addDecayedWeights, chain, guardNonFinite, identity, scale, scaleByAdam, scaleBySign, trace, tree, withReads } from '../../index';
import type { GradientTransformation, Tree } from '../../index';
import {
  arbParamsAndGrads,
  arbTreeSpec,
  buildTree,
  checkCarriesReads,
  checkChainAssociativity,
  checkChainIdentity,
  checkDeterminism,
  checkLinearInUpdates,
  checkNoLeaks,
  checkNoMutationOrDisposal,
  checkStructure,
  checkTransformLaws,
} from '../../testing';

const spec = {
  kind: 'object',
  children: { w: { kind: 'leaf', shape: [2, 3] }, b: { kind: 'array', children: [{ kind: 'leaf', shape: [3] }] } },
} as const;

function withTrees(fn: (params: any, grads: any) => void) {
  const params = buildTree(spec, 1);
  const grads = buildTree(spec, 2);
  try {
    fn(params, grads);
  } finally {
    tree.dispose([params, grads] as any);
  }
}

describe('somax/testing catches broken transforms', () => {
  test('well-behaved transforms pass every law', () => {
    checkTransformLaws(identity(), { numRuns: 5 });
    checkTransformLaws(chain(scale(2), scale(-0.5)), { numRuns: 5 });
    withTrees((p, g) => checkChainAssociativity(scale(2), identity(), scale(3), p, g));
  });

  test('a transform that disposes its input is caught', () => {
    const bad: GradientTransformation<{}> = {
      init: () => ({}),
      update: (u) => {
        const out = tree.clone(u);
        tree.dispose(u);
        return [out, {}];
      },
    };
    withTrees((p, g) => expect(() => checkNoMutationOrDisposal(bad, p, g)).toThrow(/updates\.b\[0\] was disposed by update/));
  });

  test('a transform that returns its input uncloned is caught', () => {
    const bad: GradientTransformation<{}> = { init: () => ({}), update: (u) => [u, {}] };
    withTrees((p, g) =>
      expect(() => checkNoMutationOrDisposal(bad, p, g)).toThrow(
        /updates\.b\[0\] is aliased by the output updates\.b\[0\] \(update returned one of its input tensors/,
      ),
    );
  });

  test('a transform that leaks is caught', () => {
    const bad: GradientTransformation<{}> = {
      init: () => ({}),
      update: (u) => {
        tf.zeros([2]);
        return [tree.clone(u), {}];
      },
    };
    withTrees((p, g) => expect(() => checkNoLeaks(bad, p, g, { steps: 10 })).toThrow(/8 tensors leaked/));
  });

  test('a transform whose updates lose the structure, or that is not deterministic, is caught', () => {
    const flat: GradientTransformation<{}> = { init: () => ({}), update: (u) => [tree.leaves(u).map((t) => tf.clone(t)), {}] };
    withTrees((p, g) => expect(() => checkStructure(flat, p, g)).toThrow(/transform law violated/));
    let calls = 0;
    const noisy: GradientTransformation<{}> = { init: () => ({}), update: (u) => [tree.scale(u, ++calls), {}] };
    withTrees((p, g) => expect(() => checkDeterminism(noisy, p, g)).toThrow(/differs between two identical runs/));
    const skipsFirst: GradientTransformation<{ n: number }> = {
      init: () => ({ n: 0 }),
      update: (u, s) => [tree.scale(u, s.n), { n: s.n + 1 }],
    };
    withTrees((p, g) => checkChainIdentity(skipsFirst, p, g));
  });

  test("checkTransformLaws reports a transform returning its input, and never disposes the caller's tensors", () => {
    const bad: GradientTransformation<{}> = { init: () => ({}), update: (u) => [u, {}] };
    const before = tf.memory().numTensors;
    expect(() => checkTransformLaws(bad, { numRuns: 3, seed: 1 })).toThrow(/returned one of its input tensors/);
    expect(tf.memory().numTensors).toBe(before);
    withTrees((p, g) => {
      expect(() => checkStructure(bad, p, g)).not.toThrow();
      expect(tree.leaves(g).some((t) => t.isDisposed)).toBe(false);
    });
  });

  test('mutating a tf.Variable param, a growing state, and a non-associative chain are caught', () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    const g = tf.tensor1d([0.5, 0.5]);
    const mutates: GradientTransformation<{}> = {
      init: () => ({}),
      update: (u, _s, p) => {
        (p as tf.Variable).assign(tf.zerosLike(p as tf.Tensor));
        return [tree.clone(u), {}];
      },
    };
    expect(() => checkNoMutationOrDisposal(mutates, v, g)).toThrow(/params was mutated in place \(its values changed: \[0\] 1 → 0\)/);
    const grows: GradientTransformation<{ hist: tf.Tensor[] }> = {
      init: () => ({ hist: [] }),
      update: (u, s) => [tree.clone(u), { hist: [...s.hist.map((t) => tf.clone(t)), tf.clone(u as tf.Tensor)] }],
    };
    expect(() => checkStructure(grows, v, g)).toThrow(/state changed structure at step 1/);
    let calls = 0;
    const counting: GradientTransformation<{}> = { init: () => ({}), update: (u) => [tree.scale(u, ++calls), {}] };
    expect(() => checkChainAssociativity(counting, identity(), scale(2), v, g)).toThrow(/not associative/);
    tf.dispose([v, g]);
  });

  test('a transform that disposes a tensor of extra is caught', () => {
    const bad: GradientTransformation<{}> = {
      init: () => ({}),
      update: (u, _s, _p, extra) => {
        (extra?.value as tf.Tensor).dispose();
        return [tree.clone(u), {}];
      },
    };
    withTrees((p, g) => {
      const value = tf.scalar(1.5);
      expect(() => checkNoMutationOrDisposal(bad, p, g, { extra: { value } })).toThrow(/extra\.value was disposed by update/);
    });
  });

  test('arbitraries: specs are plain data, buildTree builds matching tensors deterministically', () => {
    fc.assert(
      fc.property(arbParamsAndGrads(), ({ spec: s, paramSeed }) => {
        expect(JSON.parse(JSON.stringify(s))).toEqual(s);
        const a = buildTree(s, paramSeed);
        const b = buildTree(s, paramSeed);
        const shapes = (sp: any): number[][] =>
          sp.kind === 'leaf'
            ? [sp.shape]
            : Object.keys(sp.children)
                .sort((x, y) => (sp.kind === 'array' ? +x - +y : x < y ? -1 : 1))
                .flatMap((k) => shapes(sp.children[k]));
        expect(tree.leaves(a).map((t) => t.shape)).toEqual(shapes(s));
        tree.leaves(a).forEach((t, i) => expect(Array.from(t.dataSync())).toEqual(Array.from(tree.leaves(b)[i].dataSync())));
        tree.dispose([a, b] as any);
      }),
      { numRuns: 20, seed: 3 },
    );
    fc.assert(
      fc.property(arbTreeSpec({ maxRank: 1, maxDim: 2 }), (s) => {
        const a = buildTree(s, 0);
        expect(tree.leaves(a).every((t) => t.rank <= 1 && t.shape.every((d) => d <= 2))).toBe(true);
        tree.dispose(a as any);
      }),
      { numRuns: 10, seed: 4 },
    );
  });
});

// Transforms that break the contract on their plain JS state (numbers, booleans, strings, nested objects and arrays).
type Counting = { count: number; hist: number[]; inner: { flag: boolean; name: string }[] };
const jsState = (): Counting => ({ count: 0, hist: [], inner: [{ flag: false, name: 'a' }] });
const fresh = (s: Counting): Counting => ({ count: s.count + 1, hist: [...s.hist], inner: s.inner.map((o) => ({ ...o })) });
function jsMutator(mutate: (s: Counting) => void, returnSame = false): GradientTransformation<Counting> {
  return {
    init: jsState,
    update: (u, s) => {
      const next = returnSame ? s : fresh(s);
      mutate(s);
      return [tree.clone(u), next];
    },
  };
}

describe('somax/testing catches in-place mutation of JS state, and names the tree and path', () => {
  test('s.count++ returning the same state, and nested booleans, strings, array pushes, are caught with their path', () => {
    withTrees((p, g) => {
      expect(() =>
        checkNoMutationOrDisposal(
          jsMutator((s) => s.count++, true),
          p,
          g,
        ),
      ).toThrow(/state\.count was mutated in place \(0 → 1\); update returned state itself as the output state instead of a fresh/);
      expect(() =>
        checkNoMutationOrDisposal(
          jsMutator((s) => (s.inner[0].flag = true)),
          p,
          g,
        ),
      ).toThrow(/state\.inner\[0\]\.flag was mutated in place \(false → true\)$/);
      expect(() =>
        checkNoMutationOrDisposal(
          jsMutator((s) => (s.inner[0].name = 'b')),
          p,
          g,
        ),
      ).toThrow(/state\.inner\[0\]\.name was mutated in place \("a" → "b"\)/);
      expect(() =>
        checkNoMutationOrDisposal(
          jsMutator((s) => s.hist.push(1)),
          p,
          g,
        ),
      ).toThrow(/state\.hist was mutated in place \(an array of length 0 → an array of length 1\)/);
      expect(() =>
        checkNoMutationOrDisposal(
          jsMutator((s) => ((s as any).extraKey = 1)),
          p,
          g,
        ),
      ).toThrow(/state was mutated in place \(an object with keys \{count, hist, inner\} → an object with keys \{count, extraKey, hist/);
    });
  });

  test('a mutation that only happens from step 2 on, of a sub-object returned as the new state, is caught at step 2', () => {
    const lazy: GradientTransformation<{ count: number; hist: number[] }> = {
      init: () => ({ count: 0, hist: [] }),
      update: (u, s) => {
        if (s.count > 0) s.hist.push(s.count);
        return [tree.clone(u), { count: s.count + 1, hist: s.hist }];
      },
    };
    withTrees((p, g) => {
      expect(() => checkNoMutationOrDisposal(lazy, p, g, { steps: 1 })).not.toThrow();
      expect(() => checkNoMutationOrDisposal(lazy, p, g)).toThrow(
        /state\.hist was mutated in place \(an array of length 0 → .*length 1\); *update returned state\.hist itself.*step 2/,
      );
    });
  });

  test('mutating extra, or replacing a state tensor in place, is caught; an unchanged state returned as is passes', () => {
    const bumpsExtra: GradientTransformation<{}> = {
      init: () => ({}),
      update: (u, _s, _p, e) => {
        (e as any).calls.n++;
        return [tree.clone(u), {}];
      },
    };
    const swaps: GradientTransformation<{ mu: tf.Tensor }> = {
      init: () => ({ mu: tf.zeros([1]) }),
      update: (u, s) => {
        const old = s.mu;
        (s as any).mu = tf.add(old, 1);
        old.dispose();
        return [tree.clone(u), { mu: tf.clone(s.mu) }];
      },
    };
    const keeps: GradientTransformation<{ n: number; label: string }> = {
      init: () => ({ n: 1, label: 'x' }),
      update: (u, s) => [tree.clone(u), s],
    };
    withTrees((p, g) => {
      expect(() => checkNoMutationOrDisposal(bumpsExtra, p, g, { extra: { calls: { n: 0 } } })).toThrow(
        /extra\.calls\.n was mutated in place \(0 → 1\)/,
      );
      expect(() => checkNoMutationOrDisposal(swaps, p, g)).toThrow(/state\.mu was disposed by update/);
      checkNoMutationOrDisposal(keeps, p, g);
      checkNoMutationOrDisposal(chain(scale(2), trace(0.9), identity()), p, g);
    });
    const replaces: GradientTransformation<{ mu: tf.Tensor }> = {
      init: () => ({ mu: tf.zeros([1]) }),
      update: (u, s) => {
        (s as any).mu = tf.ones([1]);
        return [tree.clone(u), { mu: tf.clone(s.mu) }];
      },
    };
    tf.tidy(() =>
      withTrees((p, g) => {
        expect(() => checkNoMutationOrDisposal(replaces, p, g)).toThrow(/state\.mu was replaced in place by another tensor/);
      }),
    );
  });

  test('checkTransformLaws catches s.count++ on random trees', () => {
    expect(() =>
      checkTransformLaws(
        jsMutator((s) => s.count++, true),
        { numRuns: 3, seed: 1 },
      ),
    ).toThrow(/state\.count was mutated in place \(0 → 1\)/);
  });

  test('disposal and aliasing messages name the tree and the path', () => {
    const disposesState: GradientTransformation<{ mu: Tree }> = {
      init: (p) => ({ mu: tree.zerosLike(p) }),
      update: (u, s) => {
        const mu = tree.add(s.mu, u);
        tree.dispose(s.mu);
        return [tree.clone(u), { mu }];
      },
    };
    const keepsGrads: GradientTransformation<{ last: Tree }> = {
      init: (p) => ({ last: tree.zerosLike(p) }),
      update: (u) => [tree.clone(u), { last: u }],
    };
    const returnsState: GradientTransformation<{ mu: Tree }> = {
      init: (p) => ({ mu: tree.zerosLike(p) }),
      update: (u, s) => [tree.clone(u), s],
    };
    withTrees((p, g) => {
      expect(() => checkNoMutationOrDisposal(disposesState, p, g)).toThrow(
        /^transform law violated: state\.mu\.b\[0\] was disposed by update$/,
      );
      expect(() => checkNoMutationOrDisposal(keepsGrads, p, g)).toThrow(/updates\.b\[0\] is aliased by the output state\.last\.b\[0\]/);
      expect(() => checkNoMutationOrDisposal(returnsState, p, g)).toThrow(/state\.mu\.b\[0\] is aliased by the output state\.mu\.b\[0\]/);
    });
  });
});

describe('somax/testing never leaks its own tensors when a law fails', () => {
  // Each transform holds a tensor state (so a kit that drops it on the failure path leaks) and breaks one law.
  type S = { mu: Tree; count: number };
  const withState = (update: GradientTransformation<S>['update']): GradientTransformation<S> => ({
    init: (p) => ({ mu: tree.zerosLike(p), count: 0 }),
    update,
  });
  const throwsAtStep2 = withState((u, s) => {
    if (s.count > 0) throw new Error('boom at step 2');
    return [tree.clone(u), { mu: tree.clone(s.mu), count: s.count + 1 }];
  });
  let calls = 0;
  const noisy = withState((u, s) => [tree.scale(u, ++calls), { mu: tree.clone(s.mu), count: 0 }]);
  const bumps = withState((u, s) => {
    (s as any).count++;
    return [tree.clone(u), { mu: tree.clone(s.mu), count: s.count }];
  });
  const grows = withState((u, s) => [tree.clone(u), { mu: [tree.clone(s.mu)], count: 0 } as any]);
  const disposes = withState((u, s) => {
    const mu = tree.clone(s.mu);
    tree.dispose(s.mu);
    return [tree.clone(u), { mu, count: 0 }];
  });
  const cases: [string, (p: Tree, g: Tree) => void, RegExp][] = [
    ['checkNoMutationOrDisposal (disposes)', (p, g) => checkNoMutationOrDisposal(disposes, p, g), /state\.mu\.b\[0\] was disposed/],
    ['checkNoMutationOrDisposal (s.count++)', (p, g) => checkNoMutationOrDisposal(bumps, p, g), /state\.count was mutated in place/],
    ['checkNoMutationOrDisposal (throws)', (p, g) => checkNoMutationOrDisposal(throwsAtStep2, p, g), /boom at step 2/],
    ['checkStructure (grows)', (p, g) => checkStructure(grows, p, g), /state changed structure/],
    ['checkStructure (throws)', (p, g) => checkStructure(throwsAtStep2, p, g), /boom at step 2/],
    ['checkNoLeaks (throws)', (p, g) => checkNoLeaks(throwsAtStep2, p, g), /boom at step 2/],
    ['checkDeterminism (noisy)', (p, g) => checkDeterminism(noisy, p, g), /differs between two identical runs/],
    ['checkDeterminism (throws)', (p, g) => checkDeterminism(throwsAtStep2, p, g), /boom at step 2/],
    ['checkChainIdentity (throws)', (p, g) => checkChainIdentity(throwsAtStep2, p, g), /boom at step 2/],
    ['checkChainAssociativity (throws)', (p, g) => checkChainAssociativity(throwsAtStep2, scale(2), scale(3), p, g), /boom at step 2/],
    ['checkLinearInUpdates (scaleByAdam)', (p, g) => checkLinearInUpdates(scaleByAdam(), p, g), /not linear/],
    ['checkTransformLaws (s.count++)', () => checkTransformLaws(bumps, { numRuns: 3, seed: 2 }), /state\.count was mutated in place/],
  ];
  test.each(cases)('%s', (_name, check, message) => {
    withTrees((p, g) => {
      const before = tf.memory().numTensors;
      expect(() => check(p, g)).toThrow(message);
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});

describe('checkLinearInUpdates', () => {
  test('passes transforms linear in the updates at a fixed state', () => {
    withTrees((p, g) => {
      for (const tx of [identity(), scale(3), chain(scale(2), scale(-0.5)), chain(trace(0.9), scale(-0.1))]) checkLinearInUpdates(tx, p, g);
    });
    checkTransformLaws(chain(trace(0.9, { nesterov: true }), scale(-0.1)), { numRuns: 5, seed: 3, linearInUpdates: true });
  });

  test('catches Adam (not homogeneous), sign, and decayed weights (affine: nonzero at 0·g), naming the path and the factor', () => {
    withTrees((p, g) => {
      expect(() => checkLinearInUpdates(scaleByAdam(), p, g)).toThrow(
        /updates\.b\[0\]\[0\] is \S+ for 2·g, expected \S+ \(2 × \S+, its value for g\): the step is not linear/,
      );
      expect(() => checkLinearInUpdates(scaleBySign(), p, g)).toThrow(/updates\.b\[0\]\[0\] is \S+ for 2·g/);
      expect(() => checkLinearInUpdates(addDecayedWeights(0.1), p, g)).toThrow(/updates\.b\[0\]\[0\] is \S+ for 0·g, expected 0 \(0 × /);
    });
    expect(() => checkTransformLaws(scaleByAdam(), { numRuns: 3, seed: 3, linearInUpdates: { tol: 1e-3 } })).toThrow(
      /for 2·g.*not linear in the updates \(tol 0\.001\)/,
    );
    checkTransformLaws(scaleByAdam(), { numRuns: 3, seed: 3 });
  });

  test('tol is relative to the leaf: a slightly non-linear step passes a loose tol only', () => {
    const cubic: GradientTransformation<{}> = {
      init: () => ({}),
      update: (u) => [tree.map((x: tf.Tensor) => tf.tidy(() => tf.add(x, tf.mul(1e-3, tf.pow(x, 3)))), u), {}],
    };
    withTrees((p, g) => {
      expect(() => checkLinearInUpdates(cubic, p, g)).toThrow(/not linear/);
      checkLinearInUpdates(cubic, p, g, { tol: 0.1 });
    });
  });
});

describe('checkCarriesReads', () => {
  async function withTreesAsync(fn: (params: Tree, grads: Tree) => Promise<void>) {
    const params = buildTree(spec, 1);
    const grads = buildTree(spec, 2);
    try {
      await fn(params, grads);
    } finally {
      tree.dispose([params, grads] as any);
    }
  }
  type Wrap = (inner: GradientTransformation<any>) => GradientTransformation<any>;
  const dropsReads: Wrap = (inner) => ({ init: inner.init, update: inner.update });
  const syncInside: Wrap = (inner) =>
    withReads(inner.init, function* (u, s, p, e) {
      yield* [];
      return inner.update(u, s, p, e);
    });
  const doubles: Wrap = (inner) => ({
    init: inner.init,
    update: inner.update,
    *updateReads(u, s, p, e) {
      const [out, next] = yield* inner.updateReads!(u, s, p, e);
      const twice = tree.scale(out, 2);
      tree.dispose(out);
      return [twice, next] as [Tree, unknown];
    },
  });
  const neverCalls: Wrap = () =>
    withReads(
      () => ({}),
      function* (u) {
        yield* [];
        return [tree.clone(u), {}] as [Tree, {}];
      },
    );

  test('passes wrappers that delegate their reads (chain, guardNonFinite, the identity wrapper)', async () => {
    await withTreesAsync(async (params, grads) => {
      const before = tf.memory().numTensors;
      await checkCarriesReads((inner) => chain(inner, scale(2)), { params, grads });
      await checkCarriesReads((inner) => chain(scale(-1), inner, identity()), { params, grads, steps: 2 });
      await checkCarriesReads((inner) => guardNonFinite(inner), { params, grads });
      await checkCarriesReads((inner) => inner, { params, grads, steps: 1 });
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  test('catches a wrapper that drops updateReads, runs its inner synchronously, changes the result, never runs it; no leak', async () => {
    await withTreesAsync(async (params, grads) => {
      const before = tf.memory().numTensors;
      await expect(checkCarriesReads(dropsReads, { params, grads })).rejects.toThrow(/wrapper dropsReads drops updateReads/);
      await expect(checkCarriesReads(syncInside, { params, grads })).rejects.toThrow(
        /wrapper syncInside hides the device reads of the transform it wraps: runAsync surfaced none of its 3 read\(s\) over 3/,
      );
      await expect(checkCarriesReads(doubles, { params, grads })).rejects.toThrow(
        /wrapper doubles: updateReads differs from update at step 1: updates\.b\[0\] = \[/,
      );
      await expect(checkCarriesReads(neverCalls, { params, grads, steps: 2 })).rejects.toThrow(
        /wrapper neverCalls never ran the transform it wraps in 2 steps/,
      );
      await expect(
        checkCarriesReads((inner) => ({ ...inner, updateReads: undefined }), { params, grads, name: 'masked-like' }),
      ).rejects.toThrow(/wrapper masked-like drops updateReads/);
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});
