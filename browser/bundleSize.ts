/**
 * The main entry's size as a browser app ships it: `dist/index.mjs` bundled for the browser with
 * tfjs external, minified by esbuild and gzipped by zlib (level 9). Also lists any node built-in
 * the browser path imports (there must be none). Writes `bench/results/bundle-size.json`.
 * Run alone: `npx tsx browser/bundleSize.ts`.
 * @module
 */
import { build, version } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(import.meta.dirname, '..');
/**
 * The size goal of the main entry without tfjs, in bytes (gzipped): 40 kB for the 13 methods of
 * somax; 45 kB since K-FAC and Shampoo (their solver, preconditioner, eigendecomposition and
 * methods add 3.3 kB gzipped); 46 kB since somax's wasm kernels (lib/wasmKernels.ts: Identity
 * sharing its input's data, Slice and SplitV copying only the slice; 0.6 kB gzipped), which make
 * every clone of a state free and cut a batch out of a dataset without copying the dataset; 47 kB
 * since K-FAC's adaptive learning rate and momentum (transforms/quadraticModel.ts, the GGN's Gram,
 * the options and their checks: 2.4 kB minified), the wasm matrix Transpose (0.7 kB) and softmax's
 * C − 1 rows in EGN (0.7 kB): 46.6 kB gzipped with all three.
 */
export const GOAL_BYTES = 47_000;

/** What {@link measureBundle} measured. */
export interface BundleSize {
  readonly entry: string;
  readonly minified: number;
  readonly gzipped: number;
  readonly goalGzipped: number;
  readonly nodeBuiltins: string[];
  readonly tool: string;
  readonly measuredAt: string;
}

/** Measures the main entry (building the library first when `dist/` is missing is the caller's job). */
export async function measureBundle(entry = 'dist/index.mjs'): Promise<BundleSize> {
  const builtins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
  const out = await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    external: ['@tensorflow/*', ...builtins],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const code = out.outputFiles[0].contents;
  const imported = Object.values(out.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
  const size: BundleSize = {
    entry,
    minified: code.byteLength,
    gzipped: gzipSync(code, { level: 9 }).byteLength,
    goalGzipped: GOAL_BYTES,
    nodeBuiltins: [...new Set(imported.filter((p) => builtins.includes(p)))],
    tool: `esbuild ${version} (bundle, minify, platform browser, @tensorflow/* external) + zlib gzip -9`,
    measuredAt: new Date().toISOString(),
  };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/bundle-size.json'), `${JSON.stringify(size, null, 2)}\n`);
  console.log(
    `bundle size of ${entry}: ${size.minified} B minified, ${size.gzipped} B min+gzip (goal < ${GOAL_BYTES} B); node built-ins: ` +
      `${size.nodeBuiltins.join(', ') || 'none'}`,
  );
  return size;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  measureBundle().then((s) => process.exit(s.nodeBuiltins.length === 0 ? 0 : 1));
}
