/**
 * What the examples print: live progress (a cli-progress MultiBar on a terminal, one line per
 * finished method otherwise), the command line, and the SVG plots of the runs' curves.
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import cliProgress from 'cli-progress';
import type { CurvePoint, Run } from './training';
import { lineChartSvg } from './plots';
import type { Point } from './plots';

/** The progress of one method: `update` after each evaluation, `done` at the end. */
export interface MethodProgress {
  update(point: CurvePoint, stepsPerSecond: number): void;
  done(run: Run): void;
}

/** Live progress of several methods, one bar each. */
export interface Progress {
  method(name: string): MethodProgress;
  stop(): void;
}

/** `metric` of a point, formatted by `format` (e.g. a percentage). */
export interface ShownMetric {
  readonly key: string;
  readonly label: string;
  readonly format: (v: number) => string;
}

/**
 * One progress bar per method (`names`, `steps` each): step, loss, the shown metric, steps/s. On
 * a terminal the bars update live; when stdout is not a terminal (a log, CI) each method prints
 * one line when it finishes instead.
 */
export function progress(names: readonly string[], steps: number, metric: ShownMetric): Progress {
  const width = Math.max(...names.map((n) => n.length));
  const fields = (p: CurvePoint | undefined, rate: number) => ({
    loss: p ? p.loss.toFixed(3) : '-',
    metric: p ? metric.format(p.metrics[metric.key]) : '-',
    rate: rate ? rate.toFixed(1) : '-',
  });
  if (!process.stdout.isTTY) {
    return {
      method: (name) => ({
        update: () => undefined,
        done: (run) => {
          const last = run.curve[run.curve.length - 1];
          const f = fields(last, 1000 / run.msPerStep);
          console.log(
            ` ${name.padEnd(width)}  ${run.steps}/${steps} steps | loss ${f.loss} | ${metric.label} ${f.metric} | ` +
              `${f.rate} steps/s${run.failure ? ` | stopped: ${run.failure}` : ''}`,
          );
        },
      }),
      stop: () => undefined,
    };
  }
  const bars = new cliProgress.MultiBar(
    {
      format: ` {name} {bar} {value}/{total} | loss {loss} | ${metric.label} {metric} | {rate} steps/s{note}`,
      hideCursor: true,
      clearOnComplete: false,
      barsize: 16,
    },
    cliProgress.Presets.shades_classic,
  );
  const created = new Map(names.map((n) => [n, bars.create(steps, 0, { name: n.padEnd(width), note: '', ...fields(undefined, 0) })]));
  return {
    method: (name) => {
      const bar = created.get(name)!;
      return {
        update: (p, rate) => bar.update(p.step, fields(p, rate)),
        done: (run) => {
          if (run.failure) bar.update(run.steps, { note: ` | stopped: ${run.failure}` });
          else if (run.steps < steps) bar.update(run.steps, { note: ' | budget' });
        },
      };
    },
    stop: () => bars.stop(),
  };
}

/** `--name value` from the command line, or `fallback`. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

/** Whether `--name` is on the command line. */
export function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

/** A chart of the runs: the file, its title, and which curve values go on x and y. */
export interface ChartSpec {
  readonly file: string;
  readonly title: string;
  readonly x: { readonly label: string; readonly value: (c: CurvePoint) => number; readonly log?: boolean };
  readonly y: { readonly label: string; readonly value: (c: CurvePoint) => number; readonly log?: boolean };
}

/** Writes each chart (one line per run, finite points only) as SVG; returns the files written. */
export async function writeCharts(runs: readonly Run[], charts: readonly ChartSpec[]): Promise<string[]> {
  for (const c of charts) {
    const points: Point[] = runs
      .flatMap((r) => r.curve.map((p) => ({ method: r.method, x: c.x.value(p), y: c.y.value(p) })))
      .filter((p) => Number.isFinite(p.y) && (!c.y.log || p.y > 0) && (!c.x.log || p.x > 0));
    await lineChartSvg(c.file, points, { title: c.title, x: c.x.label, y: c.y.label, logX: c.x.log ?? false, logY: c.y.log ?? false });
  }
  return charts.map((c) => c.file);
}

/**
 * Selects a tfjs backend (`cpu` or `wasm`, which must be imported) without tfjs's console banners
 * (printed on the first kernel of a backend), and waits until it is ready.
 */
export async function useBackend(name: string): Promise<void> {
  if (!['cpu', 'wasm'].includes(name)) throw new Error(`--backend must be cpu or wasm, got ${name}`);
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    await tf.setBackend(name);
    await tf.ready();
    tf.tidy(() => tf.add(1, 1)).dispose();
  } finally {
    console.warn = warn;
  }
}
