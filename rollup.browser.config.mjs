// Rollup config for the browser pages (the test page of `browser/` and the demo of
// `examples/browser/`): ES modules with tfjs (core, gradients, cpu/wasm/webgpu backends) and somax's
// built ESM (`dist/index.mjs`) bundled in, one shared chunk for both pages. The library's own build
// is `rollup.config.mjs`; this one only packages pages for a browser.
import { nodeResolve } from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';
import { transform } from 'esbuild';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));

/** Where the pages' bundles go (inside node_modules, so never committed). */
export const BROWSER_BUILD_DIR = 'node_modules/.cache/somax-browser';

/** TypeScript page code → JavaScript, by esbuild (types are checked by `npm run lint`, not here). */
function typescriptByEsbuild() {
  return {
    name: 'typescript-by-esbuild',
    async transform(code, id) {
      if (!id.endsWith('.ts')) return null;
      const out = await transform(code, { loader: 'ts', format: 'esm', target: 'es2020', sourcemap: true, sourcefile: id });
      return { code: out.code, map: out.map };
    },
  };
}

/**
 * The pages import the library as `../index` (so that node runs the same code from the sources);
 * in the browser that import is the built ESM, `dist/index.mjs`, exactly as users get it.
 */
function libraryFromDist() {
  const source = resolve(root, 'index');
  return {
    name: 'somax-from-dist',
    resolveId(id, importer) {
      if (importer === undefined || !id.startsWith('.')) return null;
      const target = resolve(dirname(importer), id).replace(/\.ts$/, '');
      return target === source ? resolve(root, 'dist/index.mjs') : null;
    },
  };
}

// Module namespaces stay frozen, as every ESM bundler emits them: somax must import cleanly there
// (its `tf.fused.matMul` patch in lib/autodiff/install.ts steps aside on a frozen namespace).
export default {
  input: { page: 'browser/page.ts', demo: 'examples/browser/demo.ts' },
  plugins: [
    libraryFromDist(),
    typescriptByEsbuild(),
    nodeResolve({ browser: true, preferBuiltins: false, extensions: ['.mjs', '.js', '.ts', '.json'] }),
    commonjs(),
  ],
  // tfjs's seedrandom and long carry `this`-at-top-level and optional node requires: harmless in a browser.
  onwarn(warning, warn) {
    if (['THIS_IS_UNDEFINED', 'CIRCULAR_DEPENDENCY', 'EVAL'].includes(warning.code)) return;
    warn(warning);
  },
  output: {
    freeze: true,
    dir: BROWSER_BUILD_DIR,
    format: 'es',
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
    sourcemap: true,
  },
};
