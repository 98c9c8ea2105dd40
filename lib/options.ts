/**
 * Option checking for every factory: an options object is resolved against its defaults, the one
 * home of the defaults of a transform or method. A key the factory does not know is an error that
 * names it and suggests the nearest known key, so that a misspelt option never runs silently with
 * the default.
 * @module
 */
import { HyperparameterError } from './errors';

/**
 * The defaults of an options interface `O`: every key of `O`, with its default value or
 * `undefined` where the option has none. Declared with `satisfies Defaults<O>`, the compiler checks
 * that the runtime list of known keys is exactly the interface's.
 */
export type Defaults<O> = { readonly [K in keyof Required<O>]: O[K] | undefined };

/** Options after {@link resolveOptions}: a key with a default is never undefined. */
export type Resolved<O, D> = {
  readonly [K in keyof Required<O>]: K extends keyof D ? (D[K] extends undefined ? O[K] : Exclude<O[K], undefined>) : O[K];
};

/**
 * The edit distance between `a` and `b` (insertions, deletions, substitutions and transpositions of
 * adjacent letters: the optimal-string-alignment distance), case-insensitive.
 */
function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d = Array.from({ length: s.length + 1 }, (_, i) => Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[s.length][t.length];
}

/**
 * The candidate closest to `word` by edit distance (case-insensitive), if it is close enough to be
 * a likely misspelling (at most half the word's length away), else `undefined`.
 *
 * @example
 * nearestName('maxIter', ['maxIterations', 'tol'])   // 'maxIterations'
 */
export function nearestName(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase().startsWith(word.toLowerCase()) || word.toLowerCase().startsWith(c.toLowerCase()) ? 1 : editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.ceil(word.length / 2)) ? best : undefined;
}

/**
 * Rejects an options value that is not a plain object, or that has a key not in `known`:
 * `unknown option 'maxIter' for cgSolver; did you mean 'maxIterations'?`.
 */
export function checkOptionKeys(owner: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new HyperparameterError(
      `${owner}: options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = nearestName(key, known);
    const hint = near === undefined ? `known options: ${known.join(', ')}` : `did you mean '${near}'?`;
    throw new HyperparameterError(`unknown option '${key}' for ${owner}; ${hint}`);
  }
}

/**
 * The options of a factory with its defaults filled in, after {@link checkOptionKeys} against the
 * keys of `defaults`. A key given as `undefined` takes its default, as in a destructuring default.
 *
 * @example
 * const DEFAULTS = { tol: 1e-5, maxIterations: 20 } satisfies Defaults<CgOptions>;
 * const { tol, maxIterations } = resolveOptions('cgSolver', options, DEFAULTS);
 */
export function resolveOptions<O extends object, D extends Defaults<O>>(owner: string, given: O | undefined, defaults: D): Resolved<O, D> {
  checkOptionKeys(owner, given, Object.keys(defaults));
  const out: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(given ?? {})) if (value !== undefined) out[key] = value;
  return out as Resolved<O, D>;
}
