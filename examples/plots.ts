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

/**
 * Writes a line chart (one line per method) of `points` to `file` as SVG.
 * @example
 * await lineChartSvg('docs/img/loss.svg', points, { title: 'loss', x: 'step', y: 'loss', logY: true });
 */
export async function lineChartSvg(
  file: string,
  points: readonly Point[],
  { title, x, y, logY = false }: { title: string; x: string; y: string; logY?: boolean },
): Promise<void> {
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const spec = vl.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 520,
    height: 300,
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: 'line', interpolate: 'monotone' },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: x },
      y: { field: 'y', type: 'quantitative', title: y, scale: logY ? { type: 'log' } : { zero: false } },
      color: { field: 'method', type: 'nominal', title: 'method' },
    },
  } as any).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, svg);
}
