/**
 * The demo page: trains the MNIST MLP of `train.ts` in the browser with a method from somax's
 * registry next to Adam, on the backend chosen in the menu, with a live loss / accuracy chart
 * (vega-lite compiled to a vega view, rendered as SVG). URL parameters preset the controls
 * (`?method=sophiaG&backend=wasm&steps=300&batch=64`); `autorun=1` starts at once. When a run ends,
 * `window.demoResult` holds its summary (or `{ error }`), which the browser suite reads.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { BACKENDS, useBackend } from '../../browser/backends';
import type { BackendName } from '../../browser/backends';
import { describe, listMethods } from '../../index';
import { decodeDigits } from './digits';
import { createRun, toTensors } from './train';
import type { Data, Run } from './train';

/** Steps between two loss points, and between two test-accuracy points. */
const LOSS_EVERY = 5;
const ACCURACY_EVERY = 25;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** One panel of the chart: a metric against steps, one line per method. */
function panel(metric: string, title: string) {
  return {
    width: 380,
    height: 260,
    title,
    transform: [{ filter: `datum.metric === '${metric}'` }],
    mark: { type: 'line' as const, clip: true },
    encoding: {
      x: { field: 'step', type: 'quantitative' as const, title: 'step' },
      y: { field: 'value', type: 'quantitative' as const, title: null, scale: { zero: false } },
      color: { field: 'method', type: 'nominal' as const, title: 'method' },
    },
  };
}

/** The chart: train loss and test accuracy against steps, side by side. */
const SPEC: TopLevelSpec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  data: { name: 'points' },
  hconcat: [panel('train loss', 'train loss (minibatch)'), panel('test accuracy', 'test accuracy')],
};

function fillSelect(select: HTMLSelectElement, values: readonly string[], chosen: string, titles: (v: string) => string = () => ''): void {
  select.replaceChildren(
    ...values.map((v) =>
      Object.assign(document.createElement('option'), { value: v, textContent: v, title: titles(v), selected: v === chosen }),
    ),
  );
}

function setupControls(params: URLSearchParams): void {
  fillSelect($('method'), [...listMethods(), 'adam'], params.get('method') ?? 'sophiaG', (m) =>
    m === 'adam' ? 'adam (first order)' : describe(m),
  );
  fillSelect($('backend'), BACKENDS, params.get('backend') ?? 'webgpu');
  for (const k of ['steps', 'batch']) if (params.has(k)) $<HTMLInputElement>(k).value = params.get(k)!;
}

async function loadData(): Promise<Data> {
  const res = await fetch('/build/mnist.bin');
  if (!res.ok) throw new Error(`mnist.bin: HTTP ${res.status}`);
  const { train, test } = decodeDigits(new Uint8Array(await res.arrayBuffer()));
  return toTensors(train, test);
}

async function newChart(): Promise<vega.View> {
  const view = new vega.View(vega.parse(compile(SPEC).spec), { renderer: 'svg', container: '#chart', hover: true });
  await view.runAsync();
  return view;
}

/** Trains each run `steps` steps, interleaved, feeding the chart; returns each run's test accuracy. */
async function train(runs: Run[], steps: number, view: vega.View, status: (s: string) => void): Promise<Record<string, number>> {
  const accuracy: Record<string, number> = {};
  for (let i = 0; i < steps; i++) {
    const points: object[] = [];
    for (const run of runs) {
      const loss = await run.step(i);
      if (i % LOSS_EVERY === 0 || i === steps - 1)
        points.push({ step: i + 1, method: run.method, metric: 'train loss', value: (await loss.data())[0] });
      loss.dispose();
      if ((i + 1) % ACCURACY_EVERY === 0 || i === steps - 1) {
        accuracy[run.method] = await run.accuracy();
        points.push({ step: i + 1, method: run.method, metric: 'test accuracy', value: accuracy[run.method] });
      }
    }
    if (points.length > 0) {
      await view.insert('points', points).resize().runAsync();
      status(
        `step ${i + 1}/${steps} · ` +
          runs
            .map((r) => `${r.method}: ${accuracy[r.method] === undefined ? '…' : (100 * accuracy[r.method]).toFixed(1) + '%'}`)
            .join(' · '),
      );
      await tf.nextFrame();
    }
  }
  return accuracy;
}

let data: Data | undefined;

/** One session: backend, digits, two runs (the chosen method and Adam), the chart, the summary. */
async function session(): Promise<void> {
  const method = $<HTMLSelectElement>('method').value;
  const backend = $<HTMLSelectElement>('backend').value as BackendName;
  const steps = Number($<HTMLInputElement>('steps').value);
  const batchSize = Number($<HTMLInputElement>('batch').value);
  const status = (s: string) => ($('status').textContent = s);
  (globalThis as any).demoResult = undefined;
  $<HTMLButtonElement>('train').disabled = true;
  const started = performance.now();
  try {
    status(`starting ${backend}…`);
    const used = await useBackend(backend);
    data ??= await loadData(); // tfjs moves the tensors when the backend changes
    $('chart').replaceChildren();
    const view = await newChart();
    const methods = method === 'adam' ? ['adam'] : [method, 'adam'];
    const runs = methods.map((m) => createRun(m, data!, batchSize));
    const accuracy = await train(runs, steps, view, (s) => status(`${used} · ${s}`));
    runs.forEach((r) => r.dispose());
    const seconds = (performance.now() - started) / 1000;
    status(
      `${used} · ${steps} steps of batch ${batchSize} in ${seconds.toFixed(1)} s · test accuracy on ${data.testLabels.size} digits: ` +
        methods.map((m) => `${m} ${(100 * accuracy[m]).toFixed(1)}%`).join(' · '),
    );
    (globalThis as any).demoResult = { backend: used, method, steps, batchSize, accuracy, seconds };
  } catch (e) {
    status(`error: ${(e as Error).message}`);
    (globalThis as any).demoResult = { error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) };
  } finally {
    $<HTMLButtonElement>('train').disabled = false;
  }
}

const params = new URLSearchParams(location.search);
setupControls(params);
$('controls').addEventListener('submit', (e) => {
  e.preventDefault();
  void session();
});
$('status').textContent = 'choose a method and a backend, then Train';
if (params.get('autorun') === '1') void session();
