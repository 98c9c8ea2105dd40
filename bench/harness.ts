/** Benchmark helpers: timing with a device sync, medians, interleaved comparisons, result files. */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';

/** Milliseconds of one call of `fn`, including reading its result back (a device sync). */
export function timeOnce(fn: () => tf.Tensor | tf.Tensor[] | void): number {
  const start = performance.now();
  const out = fn();
  const ts = out === undefined ? [] : Array.isArray(out) ? out : [out];
  ts.forEach((t) => t.dataSync());
  const ms = performance.now() - start;
  tf.dispose(ts);
  return ms;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times several functions interleaved (a, b, c, a, b, c, ...) after `warmup` rounds, so that slow
 * drifts of the machine hit all of them alike; returns the median ms of each.
 */
export function interleaved(fns: Record<string, () => tf.Tensor | tf.Tensor[] | void>, { reps = 15, warmup = 3 } = {}): Record<string, number> {
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

/** One benchmark figure. */
export interface Row {
  backend: string;
  name: string;
  ms: number;
  /** The figure the goal is about, e.g. HVP time / gradient time. */
  ratio?: number;
  ratioOf?: string;
  goal?: string;
}

/**
 * Writes bench/results/latest.json and bench/results/README.md (a markdown table). With `merge`,
 * rows of a partial run replace the rows of the same backend and name in the existing results and
 * the others are kept (their machine line says when the file was last written in full).
 */
export function writeResults(rows: Row[], extraInfo: Record<string, string> = {}, { merge = false, notes = [] }: { merge?: boolean; notes?: string[] } = {}): void {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'latest.json');
  let all = rows;
  if (merge && fs.existsSync(file)) {
    const old = JSON.parse(fs.readFileSync(file, 'utf8')) as { rows: Row[] };
    const key = (r: Row) => `${r.backend}\u0000${r.name}`;
    const fresh = new Map(rows.map((r) => [key(r), r]));
    all = old.rows.map((r) => fresh.get(key(r)) ?? r);
    const seen = new Set(old.rows.map(key));
    all.push(...rows.filter((r) => !seen.has(key(r))));
  }
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: String(os.cpus().length),
    node: process.version,
    tfjs: tf.version.tfjs,
    date: new Date().toISOString(),
    ...(merge ? { note: `partial run merged into earlier results (${rows.length} rows updated)` } : {}),
    ...extraInfo,
  };
  fs.writeFileSync(file, JSON.stringify({ machine, rows: all }, null, 2) + '\n');
  const lines = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (bench/run.ts, suites in bench/suites.ts); every ratio is measured within one run, medians of interleaved repetitions.',
    '',
    Object.entries(machine).map(([k, v]) => `- ${k}: ${v}`).join('\n'),
    '',
    '| backend | measurement | median ms | ratio | goal |',
    '|---|---|---|---|---|',
    ...all.map((r) => `| ${r.backend} | ${r.name} | ${r.ms.toFixed(2)} | ${r.ratio === undefined ? '' : `${r.ratio.toFixed(2)} (${r.ratioOf})`} | ${r.goal ?? ''} |`),
    '',
    ...(notes.length > 0 ? ['## Notes', '', ...notes.flatMap((n) => [n, '']), ''] : []),
    'The machine is shared (2 cores): ratios of a few percent either way are within run-to-run noise.',
    '',
  ];
  fs.writeFileSync(path.join(dir, 'README.md'), lines.join('\n'));
}
