/**
 * `npm run test:browser`: somax in headless Chromium (Debian's `/usr/bin/chromium`, driven by
 * playwright-core) on the `cpu`, `wasm` and `webgpu` backends (WebGPU on SwiftShader):
 *
 * 1. the bundle size of the main entry (`bench/results/bundle-size.json`, no node built-ins);
 * 2. per backend, in the page: the products against float64 references, one step of every
 *    registry method against the same step in node on cpu, and 200-step training runs with a flat
 *    tensor count; each page asserts `tf.getBackend()` is the backend asked for;
 * 3. the demo page: a short training run against Adam, its chart and a screenshot
 *    (`docs/img/browser-demo.png`).
 *
 * `npm run test:browser -- wasm webgpu` runs only those backends; `--no-demo` skips the demo.
 * Exits non-zero on any failure.
 * @module
 */
import '@tensorflow/tfjs'; // node: tfjs's stock gradients for the cpu reference steps
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './chromium';
import { measureBundle } from './bundleSize';
import { LAYERS_METHODS, PRODUCTS, TRAINING_METHODS, methodStep, stepChecks } from './suite';
import type { StepOutcome, TrainingOutcome } from './suite';
import { productErrors, productReferences, stepDiff, table } from './reference';
import { ROOT, buildPages, serve } from './serve';
import type { Outcome, SomaxSuite } from './page';

const BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
/** Max relative error of a float32 product against its float64 reference. */
const PRODUCT_TOL = 1e-4;
/** Max relative difference of a step's update between a backend and node's cpu. */
const STEP_TOL = 1e-3;
const TRAINING_STEPS = 200;
/** Steps of the tfjs-layers CNN runs (newtonCg and egn, built with make(name, { model })). */
const LAYERS_STEPS = 10;
/** Longest wait for one page call before it counts as failed. */
const CALL_TIMEOUT_MS = 240_000;

const failures: string[] = [];
function check(ok: boolean, what: string): void {
  if (!ok) failures.push(what);
}

/** A fresh page with the console's errors and the page's uncaught errors forwarded. */
async function openPage(browser: Browser, url: string, label: string): Promise<{ page: Page; errors: string[] }> {
  const page = await (await browser.newContext()).newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.log(`  [${label} console.${m.type()}] ${m.text()}`);
  });
  page.on('pageerror', (e) => {
    errors.push(e.message);
    console.log(`  [${label} pageerror] ${e.message}`);
  });
  await page.goto(url);
  return { page, errors };
}

/** Calls `somaxSuite[fn](...args)` in the page; page errors and timeouts become `{ error }`. */
async function call<T>(page: Page, errors: string[], fn: keyof SomaxSuite, ...args: unknown[]): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome<T>>((done) => {
    timer = setTimeout(
      () => done({ error: `timed out after ${CALL_TIMEOUT_MS} ms; page errors: ${errors.join(' | ') || 'none'}` }),
      CALL_TIMEOUT_MS,
    );
  });
  const run = page
    .waitForFunction(() => (globalThis as any).somaxSuite !== undefined, undefined, { timeout: 30_000 })
    .then(() => page.evaluate(([f, a]) => (globalThis as any).somaxSuite[f as string](...(a as unknown[])), [fn, args] as const))
    .catch((e: Error) => ({ error: `${e.message}; page errors: ${errors.join(' | ') || 'none'}` }));
  try {
    return (await Promise.race([run, timeout])) as Outcome<T>;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs one page call on `backend` in a fresh page (so that a call that breaks the page, e.g. a
 * lost WebGPU device, cannot fail the next one); the page first asserts the backend it got.
 */
async function inFreshPage<T>(
  browser: Browser,
  origin: string,
  backend: string,
  fn: keyof SomaxSuite,
  ...args: unknown[]
): Promise<Outcome<T>> {
  const { page, errors } = await openPage(browser, `${origin}/browser/index.html`, `${backend} ${fn} ${args.join(' ')}`.trim());
  try {
    const used = await call<string>(page, errors, 'useBackend', backend);
    if (used.error !== undefined) return { error: `backend '${backend}' did not start: ${used.error}` };
    const out = await call<T>(page, errors, fn, ...args);
    if (out.error === undefined && errors.length > 0) return { error: `uncaught page errors: ${errors.join(' | ')}` };
    return out;
  } finally {
    await page.context().close();
  }
}

/** Runs every check on one backend; returns its rows for the summary tables. */
async function runBackend(
  browser: Browser,
  origin: string,
  backend: string,
  ref: ReturnType<typeof productReferences>,
  nodeSteps: Record<string, StepOutcome>,
) {
  const started = Date.now();
  const products: Record<string, number | string> = {};
  const steps: Record<string, number | string> = {};
  const training: Record<string, Record<string, number | string>> = {};
  const prod = await inFreshPage<Partial<Record<(typeof PRODUCTS)[number], number[]>>>(browser, origin, backend, 'products');
  if (prod.error !== undefined) check(false, `${backend}: products failed: ${prod.error}`);
  else {
    for (const [k, e] of Object.entries(productErrors(prod.value, ref)) as [string, number][]) {
      products[k] = e;
      check(e <= PRODUCT_TOL, `${backend}: ${k} relative error ${e.toExponential(2)} > ${PRODUCT_TOL}`);
    }
  }

  for (const method of Object.keys(nodeSteps)) {
    const out = await inFreshPage<StepOutcome>(browser, origin, backend, 'methodStep', method);
    if (out.error !== undefined) {
      steps[method] = 'error';
      check(false, `${backend}: ${method} step failed: ${out.error}`);
      continue;
    }
    const d = stepDiff(out.value, nodeSteps[method]);
    steps[method] = d;
    check(d <= STEP_TOL, `${backend}: ${method} step differs from node cpu by ${d.toExponential(2)} > ${STEP_TOL}`);
  }

  for (const method of TRAINING_METHODS) {
    const out = await inFreshPage<TrainingOutcome>(browser, origin, backend, 'trainingRun', method, TRAINING_STEPS);
    if (out.error !== undefined) {
      training[`${backend}/${method}`] = { 'first loss': 'error' };
      check(false, `${backend}: ${method} training failed: ${out.error}`);
      continue;
    }
    const r = out.value;
    training[`${backend}/${method}`] = {
      'first loss': r.firstLoss,
      'last loss': r.lastLoss,
      'tensors@2': String(r.tensorsAfterSecondStep),
      'tensors@end': String(r.tensorsAtEnd),
      ms: String(r.ms),
    };
    check(
      r.tensorsAtEnd === r.tensorsAfterSecondStep && r.lastLoss < r.firstLoss,
      `${backend}: ${method} training: tensors ${r.tensorsAfterSecondStep} → ${r.tensorsAtEnd}, loss ${r.firstLoss} → ${r.lastLoss}`,
    );
  }
  for (const method of LAYERS_METHODS) {
    const out = await inFreshPage<TrainingOutcome>(browser, origin, backend, 'layersRun', method, LAYERS_STEPS);
    const key = `${backend}/${method} (tfjs-layers CNN)`;
    if (out.error !== undefined) {
      training[key] = { 'first loss': 'error' };
      check(false, `${backend}: ${method} on the tfjs-layers CNN failed: ${out.error}`);
      continue;
    }
    const r = out.value;
    training[key] = {
      'first loss': r.firstLoss,
      'last loss': r.lastLoss,
      'tensors@2': String(r.tensorsAfterSecondStep),
      'tensors@end': String(r.tensorsAtEnd),
      ms: String(r.ms),
    };
    check(
      r.tensorsAtEnd === r.tensorsAfterSecondStep && r.lastLoss < 0.9 * r.firstLoss,
      `${backend}: ${method} on the tfjs-layers CNN: tensors ${r.tensorsAfterSecondStep} → ${r.tensorsAtEnd}, ` +
        `loss ${r.firstLoss} → ${r.lastLoss}`,
    );
  }
  console.log(`[${backend}] done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { products, steps, training };
}

/** A run of the demo page: a method against Adam on a backend, and the accuracy both must pass. */
interface DemoRun {
  readonly method: string;
  readonly backend: (typeof BACKENDS)[number];
  readonly steps: number;
  readonly minAccuracy: number;
  /** Whether this run's screenshot goes into the docs. */
  readonly screenshot: boolean;
}

/** The demo runs: the documented one (wasm), and a second-order method that reads on WebGPU. */
const DEMO_RUNS: readonly DemoRun[] = [
  { method: 'sgn', backend: 'wasm', steps: 300, minAccuracy: 0.8, screenshot: true },
  { method: 'sgn', backend: 'webgpu', steps: 30, minAccuracy: 0.75, screenshot: false },
];

/** Opens the demo, trains a method against Adam, checks the backend, the chart and the result; screenshots it. */
async function runDemo(browser: Browser, origin: string, { method, backend, steps, minAccuracy, screenshot }: DemoRun): Promise<void> {
  const started = Date.now();
  const { page, errors } = await openPage(
    browser,
    `${origin}/examples/browser/index.html?method=${method}&backend=${backend}&steps=${steps}&autorun=1`,
    'demo',
  );
  await page.setViewportSize({ width: 1100, height: 760 });
  try {
    await page.waitForFunction(() => (globalThis as any).demoResult !== undefined, undefined, { timeout: CALL_TIMEOUT_MS });
    const result = await page.evaluate(() => (globalThis as any).demoResult);
    if (result.error !== undefined) {
      check(false, `demo failed: ${result.error}`);
      return;
    }
    const marks = await page.evaluate(() => document.querySelectorAll('#chart svg path').length);
    const box = await page.evaluate(
      () => document.querySelector('#chart svg')?.getBoundingClientRect().toJSON() ?? { width: 0, height: 0 },
    );
    if (screenshot) {
      mkdirSync(join(ROOT, 'docs/img'), { recursive: true });
      await page.screenshot({ path: join(ROOT, 'docs/img/browser-demo.png'), fullPage: true });
    }
    console.log(
      `\ndemo (${result.backend}, ${result.steps} steps, batch ${result.batchSize}): ` +
        Object.entries(result.accuracy as Record<string, number>)
          .map(([m, a]) => `${m} test accuracy ${(100 * a).toFixed(1)}%`)
          .join(', ') +
        `; chart ${Math.round(box.width)}×${Math.round(box.height)} px, ${marks} paths; ${((Date.now() - started) / 1000).toFixed(1)} s` +
        (screenshot ? '; screenshot docs/img/browser-demo.png' : ''),
    );
    check(String(result.backend).split(' ')[0] === backend, `demo: asked for ${backend}, ran on ${result.backend}`);
    check(marks > 0 && box.width > 600 && box.height > 200, `demo: the chart is not drawn (${marks} paths, ${box.width}×${box.height} px)`);
    for (const [m, a] of Object.entries(result.accuracy as Record<string, number>))
      check(a > minAccuracy, `demo (${backend}): ${m} test accuracy ${a} ≤ ${minAccuracy}`);
    check(errors.length === 0, `demo: uncaught page errors: ${errors.join(' | ')}`);
  } catch (e) {
    check(false, `demo did not finish: ${(e as Error).message}; page errors: ${errors.join(' | ') || 'none'}`);
  } finally {
    await page.context().close();
  }
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const args = process.argv.slice(2);
  const backends = BACKENDS.filter((b) => args.length === 0 || args.includes(b) || args.every((a) => a.startsWith('--')));
  console.log(`pages built in ${((await buildPages()) / 1000).toFixed(1)} s`);

  const size = await measureBundle();
  check(size.nodeBuiltins.length === 0, `the main entry pulls node built-ins: ${size.nodeBuiltins.join(', ')}`);
  check(size.gzipped < size.goalGzipped, `the main entry is ${size.gzipped} B min+gzip, over the ${size.goalGzipped} B goal`);

  await tf.setBackend('cpu');
  const ref = productReferences();
  const nodeSteps: Record<string, StepOutcome> = {};
  for (const m of stepChecks()) nodeSteps[m] = await methodStep(m);

  const server = await serve();
  const browser = await launchChromium();
  const products: Record<string, Record<string, number | string>> = {};
  const steps: Record<string, Record<string, number | string>> = {};
  const training: Record<string, Record<string, number | string>> = {};
  try {
    for (const b of backends) {
      const r = await runBackend(browser, server.origin, b, ref, nodeSteps);
      products[b] = r.products;
      for (const [m, d] of Object.entries(r.steps)) (steps[m] ??= {})[b] = d;
      Object.assign(training, r.training);
    }
    if (!args.includes('--no-demo')) for (const run of DEMO_RUNS) await runDemo(browser, server.origin, run);
  } finally {
    await browser.close();
    await server.close();
  }

  console.log(`\n${table('max rel. error vs float64', PRODUCTS, products)}`);
  console.log(`\n${table('step vs node cpu (rel. diff)', backends, steps)}`);
  console.log(`\n${table(`${TRAINING_STEPS}-step training`, ['first loss', 'last loss', 'tensors@2', 'tensors@end', 'ms'], training)}`);
  console.log(
    `\nbundle: ${size.minified} B minified, ${size.gzipped} B gzipped (goal < ${size.goalGzipped / 1000} kB); ` +
      `total ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  if (failures.length > 0) {
    console.error(`\n${failures.length} failure(s):\n- ${failures.join('\n- ')}`);
    process.exit(1);
  }
  console.log('\nbrowser suite: all checks passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
