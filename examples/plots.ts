/**
 * Line charts as SVG files, drawn by vega-lite and rendered by vega in node (no canvas needed).
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** One point of a curve: the method, an x value and a y value. */
export interface Point {
  readonly method: string;
  readonly x: number;
  readonly y: number;
}

/** Options of {@link lineChartSvg}. */
export interface ChartOptions {
  /** The chart's title. */
  readonly title: string;
  /** The x axis title. */
  readonly x: string;
  /** The y axis title. */
  readonly y: string;
  /** A log-scale y axis (default false). */
  readonly logY?: boolean;
  /** A log-scale x axis (default false), e.g. for wall-clock spanning decades. */
  readonly logX?: boolean;
}

/**
 * Writes a line chart (one line per method, in the order methods first appear, 10 or 20 distinct
 * colours) of `points` to `file` as SVG.
 * @example
 * await lineChartSvg('docs/img/loss.svg', points, { title: 'loss', x: 'step', y: 'loss', logY: true });
 */
export async function lineChartSvg(
  file: string,
  points: readonly Point[],
  { title, x, y, logY = false, logX = false }: ChartOptions,
): Promise<void> {
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const methods = [...new Set(points.map((p) => p.method))];
  const spec = vl.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 560,
    height: 320,
    background: 'white',
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: 'line', strokeWidth: 1.6 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: x, scale: logX ? { type: 'log', nice: false } : {} },
      y: { field: 'y', type: 'quantitative', title: y, scale: logY ? { type: 'log', nice: false } : { zero: false } },
      color: {
        field: 'method',
        type: 'nominal',
        title: 'method',
        sort: methods,
        scale: { domain: methods, scheme: methods.length <= 10 ? 'category10' : 'tableau20' },
      },
    },
  } as never).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, svg);
}
