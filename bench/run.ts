/**
 * `npm run bench`: ratios measured in one run on an MLP 784-128-10 (batch 128), on the wasm and
 * cpu backends — our adam step vs tf.train.adam, and the curvature products relative to one
 * gradient. Writes bench/results/latest.json and bench/results/README.md.
 *
 * Also: per-method step cost (`methods`), jax-js as a peer (`peer`), and races against
 * tf.train.adam to a target MNIST accuracy (`macro`) and a target sine-wave RMSE (`regression`),
 * on wasm only.
 *
 * `npm run bench -- adam products` runs only the named suites (see bench/suites.ts) and merges
 * their rows into the existing results; `--backends wasm` picks the backends. Opt-in suites (the
 * long races against a tuned Adam, `race-mlp`, `race-cnn`, `race-sine` and `race-cars`) run only
 * when named.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { writeResults } from './harness';
import type { Row } from './harness';
import { SUITES } from './suites';
import { peerVersions } from './peer';

function parseArgs(argv: string[]): { suites: string[]; backends: string[] } {
  const suites: string[] = [];
  let backends = ['wasm', 'cpu'];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--backends') backends = argv[++i].split(',');
    else suites.push(argv[i]);
  }
  const known = SUITES.map((s) => s.name);
  const unknown = suites.filter((s) => !known.includes(s));
  if (unknown.length > 0) throw new Error(`unknown suite(s) ${unknown.join(', ')}; known: ${known.join(', ')}`);
  return { suites, backends };
}

async function main(): Promise<void> {
  const { suites, backends } = parseArgs(process.argv.slice(2));
  const chosen = suites.length === 0 ? SUITES.filter((s) => !s.optIn) : SUITES.filter((s) => suites.includes(s.name));
  const warn = console.warn;
  const rows: Row[] = [];
  const durations: string[] = [];
  const started = performance.now();
  for (const backend of backends) {
    console.warn = () => undefined; // tfjs's "install tfjs-node" notice, printed when the cpu backend starts
    await tf.setBackend(backend);
    await tf.ready();
    console.warn = warn;
    if (tf.getBackend() !== backend) throw new Error(`asked for ${backend}, got ${tf.getBackend()}`);
    for (const suite of chosen.filter((s) => s.backends === undefined || s.backends.includes(backend))) {
      const started = performance.now();
      const before = tf.memory().numTensors;
      rows.push(...(await suite.run(backend)).map((r) => ({ ...r, suite: suite.name })));
      const leaked = tf.memory().numTensors - before;
      if (leaked !== 0) console.error(`warning: suite ${suite.name} on ${backend} left ${leaked} tensors`);
      durations.push(`${suite.name}/${backend} ${((performance.now() - started) / 1000).toFixed(0)} s`);
      console.log(`suite ${suite.name} on ${backend}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  }
  console.table(
    rows.map((r) => ({
      backend: r.backend,
      measurement: r.name,
      ms: +r.ms.toFixed(2),
      ratio: r.ratio === undefined ? '' : `${r.ratio.toFixed(2)} ${r.ratioOf}`,
      goal: r.goal ?? '',
    })),
  );
  const notes = SUITES.filter((s) => s.notes !== undefined).map((s) => `**${s.name}**: ${s.notes}`);
  const total = `${((performance.now() - started) / 1000).toFixed(0)} s (${durations.join(', ')})`;
  console.log(`bench wall-clock: ${total}`);
  writeResults(
    rows,
    { backends: backends.join(', '), 'bench wall-clock': total, ...peerVersions() },
    // Always merged: a full run replaces every default suite's rows and keeps the opt-in races' (each runs only when named).
    {
      merge: true,
      notes,
      ...(suites.length > 0 || backends.length < 2
        ? {}
        : { note: 'every default suite re-run; the opt-in races keep the rows of their own last run' }),
    },
  );
  console.log('wrote bench/results/latest.json and bench/results/README.md');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
