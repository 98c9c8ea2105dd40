/** Benchmark helpers: timing with a device sync, medians, interleaved comparisons, result files. */
import * as tf from '@tensorflow/tfjs';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';
import { tree, valueAndGrad } from '../index';
import type { Tree } from '../index';

/** A timed call: returns the tensors to read back (a device sync), or syncs itself and returns nothing. */
export type Timed = () => tf.Tensor | tf.Tensor[] | void;

/** Milliseconds of one call of `fn`, including reading its result back (a device sync). */
export function timeOnce(fn: Timed): number {
  const start = performance.now();
  const out = fn();
  const ts = out === undefined ? [] : Array.isArray(out) ? out : [out];
  ts.forEach((t) => t.dataSync());
  const ms = performance.now() - start;
  tf.dispose(ts);
  return ms;
}

/** The median of `xs`. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times several functions interleaved (a, b, c, a, b, c, ...) after `warmup` rounds, so that slow
 * drifts of the machine hit all of them alike; returns the median ms of each.
 */
export function interleaved(fns: Record<string, Timed>, { reps = 15, warmup = 3 } = {}): Record<string, number> {
  const names = Object.keys(fns);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < warmup + reps; r++) {
    for (const n of names) {
      const ms = timeOnce(fns[n]);
      if (r >= warmup) samples[n].push(ms);
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(samples[n])]));
}

/** Median ms of `reps` successive calls of `fn` after `warmup` calls (for stateful steps). */
export function medianMs(fn: Timed, { reps = 5, warmup = 2 } = {}): number {
  return interleaved({ fn }, { reps, warmup }).fn;
}

/** A timed call of one gradient (value and grad) of `loss` at `params` on `batch`. */
export function gradientOf<B>(loss: (p: Tree, b: B) => tf.Scalar, params: Tree, batch: B): () => tf.Tensor[] {
  const vg = valueAndGrad(loss);
  return () => {
    const { value, grads } = vg(params, batch);
    return [value, ...tree.leaves(grads)];
  };
}

/** A ratio figure beyond a row's main one. */
export interface Figure {
  value: number;
  of: string;
  goal?: string;
}

/** One benchmark figure. */
export interface Row {
  backend: string;
  name: string;
  ms: number;
  /** The figure the goal is about, e.g. HVP time / gradient time. */
  ratio?: number;
  ratioOf?: string;
  goal?: string;
  /** More ratios of the same measurement (e.g. steps and wall-clock relative to a baseline). */
  more?: Figure[];
  /** The suite that measured it (bench/run.ts sets it): a merged run replaces all of that suite's earlier rows. */
  suite?: string;
}

/** One entry of {@link timeRatio}: the row's name, the timed call and the goal of its ratio. */
export interface Contender {
  name: string;
  fn: Timed;
  goal?: string;
}

/**
 * Times a reference and its contenders interleaved (see {@link interleaved}) and returns the rows:
 * the reference's time, then each contender's time as a ratio to it (`ratioOf`, e.g. '/ gradient').
 */
export function timeRatio(
  backend: string,
  reference: Contender,
  contenders: Contender[],
  ratioOf: string,
  options: { reps?: number; warmup?: number } = {},
): Row[] {
  const all = [reference, ...contenders];
  const t = interleaved(Object.fromEntries(all.map((c, i) => [String(i), c.fn])), options);
  const ref = t['0'];
  return [
    { backend, name: reference.name, ms: ref },
    ...contenders.map((c, i): Row => ({
      backend,
      name: c.name,
      ms: t[String(i + 1)],
      ratio: t[String(i + 1)] / ref,
      ratioOf,
      ...(c.goal ? { goal: c.goal } : {}),
    })),
  ];
}

/** The largest |a − b| / max(|b|) over the leaves of two trees of flat arrays (relative to each leaf's scale). */
export function maxRelDiff(a: Record<string, ArrayLike<number>>, b: Record<string, ArrayLike<number>>): number {
  let worst = 0;
  for (const k of Object.keys(b)) {
    const [x, y] = [a[k], b[k]];
    if (x === undefined || x.length !== y.length) return Infinity;
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < y.length; i++) {
      scale = Math.max(scale, Math.abs(y[i]));
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
    }
    worst = Math.max(worst, diff / Math.max(scale, 1e-30));
  }
  return worst;
}

const figures = (r: Row): Figure[] => [
  ...(r.ratio === undefined ? [] : [{ value: r.ratio, of: r.ratioOf ?? '', goal: r.goal }]),
  ...(r.more ?? []),
];

/** The bundle-size record another script writes next to the results, as markdown lines (none if absent). */
function bundleSizeLines(dir: string): string[] {
  const file = path.join(dir, 'bundle-size.json');
  if (!fs.existsSync(file)) return [];
  const b = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    entry: string;
    minified: number;
    gzipped: number;
    goalGzipped?: number;
    tool?: string;
    measuredAt?: string;
  };
  return [
    '## Bundle size',
    '',
    '| entry | minified KB | gzipped KB | goal | tool | measured |',
    '|---|---|---|---|---|---|',
    `| ${b.entry} | ${(b.minified / 1000).toFixed(1)} | ${(b.gzipped / 1000).toFixed(1)} | ` +
      `${b.goalGzipped === undefined ? '' : `≤ ${(b.goalGzipped / 1000).toFixed(0)}`} | ${b.tool ?? ''} | ${b.measuredAt ?? ''} |`,
    '',
    '(from bench/results/bundle-size.json)',
    '',
  ];
}

/**
 * The bench notes on lib/ops.ts: why each backend-aware primitive exists, with the measurements
 * that motivated it (kept here, not in doc comments). Written into bench/results/README.md.
 */
const PRIMITIVE_NOTES: readonly string[] = [
  '## Backend-aware primitives (lib/ops.ts)',
  '',
  'Why each primitive of lib/ops.ts exists, as measured on tfjs-backend-wasm 4.22 when it was written (figures moved here from ' +
    'the doc comments; on the other backends the primitives take the plain tfjs path or cost the same):',
  '',
  "- `matMulFast` (explicit transposes instead of matMul\'s `transposeA` / `transposeB`, on wasm): BatchMatMul is 10–20× slower " +
    'with a transposed operand; xᵀδ for x 128×784 took 34 ms, an explicit transpose then a plain matMul 2.8 ms. The backward pass ' +
    'of every dense layer has one. The closed-form MLP linearization (models/mlp.ts) makes its transposes once, explicitly, for ' +
    'the same reason.',
  "- `outerGram` (a aᵀ through `matMulFast`): wasm\'s matMul with `transposeB` is several times slower than an explicit " +
    'transpose and a plain matMul.',
  "- `broadcastTo` (a broadcasting Add instead of `tf.broadcastTo`\'s Tile kernel): Tile is about 14× slower than the Add, " +
    "8.5 vs 0.6 ms for [784, 1] → [784, 128]. Used by the gradients of Sum and Mean and by AdaHessian\'s spatial averaging.",
  '- `selectIf` (`tf.where` with a full-shape condition): `tf.where` broadcasts a scalar condition with Tile, about 9× slower, ' +
    '9.6 vs 1.1 ms for a [784, 128] select. Used by applyIfFinite and guardNonFinite.',
  '- `repeatRows` (concatenation instead of `tf.tile`): about 60× faster on wasm. Used by the delta-trick row Gram of dense ' +
    'models (the batch repeated K times).',
  '',
];

/**
 * Writes bench/results/latest.json and bench/results/README.md (a markdown table). With `merge`,
 * rows of a partial run replace the rows of the same backend and name in the existing results and
 * the others are kept (their machine line says when the file was last written in full); `note`
 * replaces the machine line's default note of a merged run.
 */
export function writeResults(
  rows: Row[],
  extraInfo: Record<string, string> = {},
  { merge = false, notes = [], note }: { merge?: boolean; notes?: string[]; note?: string } = {},
): void {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'latest.json');
  let all = rows;
  if (merge && fs.existsSync(file)) {
    const old = JSON.parse(fs.readFileSync(file, 'utf8')) as { rows: Row[] };
    const key = (r: Row) => `${r.backend}\u0000${r.name}`;
    const fresh = new Map(rows.map((r) => [key(r), r]));
    // Rows of a re-run suite that it no longer measures (a changed target, a dropped method) go.
    const rerun = new Set(rows.map((r) => `${r.backend}\u0000${r.suite}`));
    const kept = old.rows.filter((r) => fresh.has(key(r)) || r.suite === undefined || !rerun.has(`${r.backend}\u0000${r.suite}`));
    all = kept.map((r) => fresh.get(key(r)) ?? r);
    const seen = new Set(kept.map(key));
    all.push(...rows.filter((r) => !seen.has(key(r))));
  }
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: String(os.cpus().length),
    node: process.version,
    tfjs: tf.version.tfjs,
    'tfjs-backend-wasm': version_wasm,
    date: new Date().toISOString(),
    ...(merge ? { note: note ?? `partial run merged into earlier results (${rows.length} rows updated)` } : {}),
    ...extraInfo,
  };
  fs.writeFileSync(file, JSON.stringify({ machine, rows: all }, null, 2) + '\n');
  const lines = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (bench/run.ts, suites in bench/suites.ts); every ratio is measured within one run, ' +
      'medians of interleaved repetitions.',
    '',
    Object.entries(machine)
      .map(([k, v]) => `- ${k}: ${v}`)
      .join('\n'),
    '',
    '| backend | measurement | median ms | ratio | goal |',
    '|---|---|---|---|---|',
    ...all.map((r) => {
      const f = figures(r);
      return (
        `| ${r.backend} | ${r.name} | ${Number.isFinite(r.ms) ? r.ms.toFixed(2) : '—'} | ` +
        `${f.map((x) => `${x.value.toFixed(2)} (${x.of})`).join('; ')} | ${f
          .map((x) => x.goal ?? '')
          .filter(Boolean)
          .join('; ')} |`
      );
    }),
    '',
    ...bundleSizeLines(dir),
    ...(notes.length > 0 ? ['## Notes', '', ...notes.flatMap((n) => [n, '']), ''] : []),
    ...PRIMITIVE_NOTES,
    'The machine is shared (2 cores): ratios of a few percent either way are within run-to-run noise.',
    '',
  ];
  fs.writeFileSync(path.join(dir, 'README.md'), lines.join('\n'));
}

/** A benchmark suite: rows measured on the current backend. */
export interface Suite {
  readonly name: string;
  readonly description: string;
  /** What the numbers mean (printed under the table in bench/results/README.md). */
  readonly notes?: string;
  /** The backends it runs on (default: every backend of the run). */
  readonly backends?: readonly string[];
  /** Left out of `npm run bench` without suite names: it runs only when named (long races). */
  readonly optIn?: boolean;
  run(backend: string): Row[] | Promise<Row[]>;
}
