/**
 * The `cars` table of `vega-datasets` as a regression problem: miles per gallon from 5 numeric
 * columns, fitted by a tanh MLP 5-16-1 with squared error (`npm run example:regression`, bench
 * `race-cars`). `vega-datasets` is a dev dependency: no tabular data set ships with this
 * repository's dependencies.
 * @module
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { seededPermutation } from './mnist';
import type { Problem } from './sine';

/**
 * The `cars` table of `vega-datasets` (if installed): miles per gallon from cylinders,
 * displacement, horsepower, weight and acceleration, standardized, rows with a missing value
 * dropped, 20 % held out (the rows shuffled by `seed`); `undefined` when the package is not installed.
 */
export function carsProblem(seed = 3): Problem | undefined {
  const require = createRequire(import.meta.url);
  let rows: Record<string, number | null>[];
  try {
    // The package's exports map hides data/: read the file next to its entry point.
    const entry = require.resolve('vega-datasets');
    rows = JSON.parse(readFileSync(join(dirname(entry), '..', 'data', 'cars.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const cols = ['Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration'];
  const clean = rows.filter((row) => [...cols, 'Miles_per_Gallon'].every((c) => typeof row[c] === 'number'));
  const standardize = (v: number[]) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    const s = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length);
    return v.map((u) => (u - m) / s);
  };
  const feats = cols.map((c) => standardize(clean.map((row) => row[c] as number)));
  const target = standardize(clean.map((row) => row.Miles_per_Gallon as number));
  const order = seededPermutation(clean.length, seed);
  const cut = Math.round(0.8 * clean.length);
  const pick = (idx: Int32Array) => ({
    x: Float32Array.from(Array.from(idx).flatMap((i) => feats.map((f) => f[i]))),
    y: Float32Array.from(Array.from(idx).map((i) => target[i])),
    n: idx.length,
  });
  return {
    name: 'cars',
    title: `cars (vega-datasets, ${clean.length} rows): standardized mpg from 5 columns, MLP 5-16-1`,
    train: pick(order.subarray(0, cut)),
    test: pick(order.subarray(cut)),
    features: cols.length,
    hidden: 16,
    batch: 64,
  };
}
