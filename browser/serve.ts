/**
 * Node side of the browser pages: builds their bundles with `rollup.browser.config.mjs` (after the
 * library's own build when `dist/` is missing), writes the demo's MNIST asset, and serves it all
 * from a static server on 127.0.0.1 (a free port).
 * @module
 */
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { rollup } from 'rollup';
import config, { BROWSER_BUILD_DIR } from '../rollup.browser.config.mjs';
import { loadMnist } from '../examples/data/mnist';
import { encodeDigits } from '../examples/browser/digits';
import type { DigitSet } from '../examples/data/mnist';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '..');
const BUILD = join(ROOT, BROWSER_BUILD_DIR);

/** The demo's digits: how many train and test digits it ships (from `loadMnist`, seed 0). */
export const DEMO_DIGITS = { train: 3000, test: 1000 };

/** `npm run build` when the library's ESM build is missing. */
export function ensureLibraryBuild(): void {
  if (existsSync(join(ROOT, 'dist/index.mjs'))) return;
  console.log('dist/index.mjs missing: npm run build');
  execSync('npm run build', { cwd: ROOT, stdio: 'inherit' });
}

function subset(d: DigitSet, n: number): DigitSet {
  return { n, x: d.x.subarray(0, n * 784), y: d.y.subarray(0, n * 10), labels: d.labels.subarray(0, n) };
}

/** Writes the demo's digits (from the project's MNIST loader) as a binary asset next to the bundles. */
function writeDigits(): void {
  const file = join(BUILD, 'mnist.bin');
  if (existsSync(file)) return;
  const { train, test } = loadMnist({ testSize: DEMO_DIGITS.test, seed: 0 });
  writeFileSync(file, encodeDigits(subset(train, DEMO_DIGITS.train), test));
}

/** Builds the pages' bundles and assets; returns the build time in ms. */
export async function buildPages(): Promise<number> {
  const start = Date.now();
  ensureLibraryBuild();
  mkdirSync(BUILD, { recursive: true });
  writeDigits();
  const bundle = await rollup({ ...config, cache: false } as any);
  await bundle.write((config as any).output);
  await bundle.close();
  return Date.now() - start;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.css': 'text/css',
  '.json': 'application/json',
};

/** URL prefixes the server exposes, and the folders they map to (nothing else is served). */
const ROUTES: readonly [string, string][] = [
  ['/build/', BUILD],
  ['/browser/', join(ROOT, 'browser')],
  ['/examples/browser/', join(ROOT, 'examples/browser')],
  ['/node_modules/@tensorflow/tfjs-backend-wasm/dist/', join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist')],
];

function fileFor(urlPath: string): string | null {
  for (const [prefix, dir] of ROUTES) {
    if (!urlPath.startsWith(prefix)) continue;
    const file = normalize(join(dir, decodeURIComponent(urlPath.slice(prefix.length)) || 'index.html'));
    if (!file.startsWith(dir)) return null;
    const path = existsSync(file) && statSync(file).isDirectory() ? join(file, 'index.html') : file;
    return existsSync(path) ? path : null;
  }
  return null;
}

/** A running static server. */
export interface Server {
  readonly origin: string;
  close(): Promise<void>;
}

/** Serves the pages on 127.0.0.1 at a free port (`port` 0) or the given one. */
export function serve(port = 0): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = path === '/' ? join(ROOT, 'examples/browser/index.html') : fileFor(path);
    if (file === null) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  return new Promise((done) => {
    server.listen(port, '127.0.0.1', () => {
      const { port: p } = server.address() as AddressInfo;
      done({ origin: `http://127.0.0.1:${p}`, close: () => new Promise((ok) => server.close(() => ok())) });
    });
  });
}
