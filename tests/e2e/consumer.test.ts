// The built package (dist/, made by `npm run build`, which `npm test` runs first) installed into a
// separate consumer project: imported from ESM and required from CJS, both entries, type-checked.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '../..');

// An exact HVP after importing somax FIRST and @tensorflow/tfjs AFTER it (which silently
// re-registers tfjs's stock gradients over somax's): f = Σ tanh(x), Hv = −2 tanh(x)(1 − tanh²(x)) v.
// Then asTfOptimizer from the package inside tfjs-layers' model.fit (which checks
// `instanceof tf.Optimizer`: somax and the consumer must share one tfjs-core).
const body = [
  '',
  'const x = tf.tensor1d([0.3, -1.2, 2.0]);',
  'const v = tf.tensor1d([1, 2, -1]);',
  'const hv = somax.hvp((p) => tf.sum(tf.tanh(p)), x, v, null);',
  'const got = Array.from(hv.dataSync());',
  'const want = [0.3, -1.2, 2.0].map((a, i) => { const t = Math.tanh(a); return -2 * t * (1 - t * t) * [1, 2, -1][i]; });',
  'const err = Math.max(...got.map((g, i) => Math.abs(g - want[i]) / Math.abs(want[i])));',
  'const tx = somax.adam(0.1);',
  'const s = tx.init({ w: x });',
  'const [u] = tx.update({ w: v }, s, { w: x });',
  'const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });',
  "model.compile({ optimizer: somax.asTfOptimizer(somax.adam(0.1)), loss: 'meanSquaredError' });",
  'const xs = tf.tensor2d([[1, 2], [3, -1], [0, 1], [-2, 0.5]]);',
  'const ys = tf.tensor2d([[5], [1], [2], [-1.5]]);',
  'return model.fit(xs, ys, { epochs: 30, batchSize: 4, verbose: 0 }).then((h) => {',
  '  const loss = h.history.loss;',
  '  console.log(JSON.stringify({ hvpErr: err, adam: Array.from(u.w.dataSync()), kit: typeof testing.checkTransformLaws, tree: ' +
    'typeof somax.tree.vdot, fitRatio: loss[loss.length - 1] / loss[0] }));',
  '});',
  '',
].join('\n');

// tfjs-core + backend-cpu only (no gradients registered): the first-order path and the law kit.
const coreBody = [
  '',
  'const tx = somax.chain(somax.clipByGlobalNorm(1), somax.scaleByAdam(), somax.scaleByLearningRate(0.1));',
  'const params = { w: tf.tensor1d([1, 2]), b: [tf.scalar(3)] };',
  'const grads = { w: tf.tensor1d([0.5, -4]), b: [tf.scalar(1)] };',
  'const [u] = tx.update(grads, tx.init(params), params);',
  'testing.checkTransformLaws(somax.adam(0.1), { numRuns: 2, leakSteps: 5, seed: 1 });',
  'let caught = false;',
  'try { testing.checkNoMutationOrDisposal({ init: () => ({}), update: (g) => [g, {}] }, params, grads); } catch (e) { caught = ' +
    '/returned one of its input/.test(e.message); }',
  'console.log(JSON.stringify({ u: somax.tree.leaves(u).map((t) => Array.from(t.dataSync())), norm: ' +
    'somax.tree.l2Norm(grads).dataSync()[0], caught }));',
  '',
].join('\n');

describe('the built package in a consumer project', () => {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'somax-consumer-'));
    const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root, encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop() as string;
    const pkgDir = path.join(dir, 'node_modules', 'somax');
    fs.mkdirSync(pkgDir, { recursive: true });
    execFileSync('tar', ['-xzf', path.join(dir, packed), '-C', pkgDir, '--strip-components=1']);
    for (const dep of ['@tensorflow', 'fast-check', 'typescript', 'seedrandom', 'long', '@types']) {
      fs.symlinkSync(path.join(root, 'node_modules', dep), path.join(dir, 'node_modules', dep));
    }
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
    write(
      'esm.mjs',
      [
        "import * as somax from 'somax';",
        "import * as testing from 'somax/testing';",
        "import * as tf from '@tensorflow/tfjs';",
        "await tf.setBackend('cpu');",
        `await (async () => {${body}})();`,
        '',
      ].join('\n'),
    );
    write(
      'cjs.cjs',
      [
        "const somax = require('somax');",
        "const testing = require('somax/testing');",
        "const tf = require('@tensorflow/tfjs');",
        "tf.setBackend('cpu');",
        `(async () => {${body}})();`,
        '',
      ].join('\n'),
    );
    write(
      'core.mjs',
      [
        "import * as tf from '@tensorflow/tfjs-core';",
        "import '@tensorflow/tfjs-backend-cpu';",
        "import * as somax from 'somax';",
        "import * as testing from 'somax/testing';",
        "await tf.setBackend('cpu');",
        coreBody,
      ].join('\n'),
    );
    write(
      'core.cjs',
      [
        "const tf = require('@tensorflow/tfjs-core');",
        "require('@tensorflow/tfjs-backend-cpu');",
        "const somax = require('somax');",
        "const testing = require('somax/testing');",
        "tf.setBackend('cpu');",
        coreBody,
      ].join('\n'),
    );
    const typed = `import { adam, asTfOptimizer, tree, type GradientTransformation, type Tree } from 'somax';
import { checkTransformLaws, type TreeSpec } from 'somax/testing';
import * as tf from '@tensorflow/tfjs-core';
const tx: GradientTransformation<unknown> = adam(1e-3);
const opt: tf.Optimizer = asTfOptimizer(tx);
const spec: TreeSpec = { kind: 'leaf', shape: [2] };
const p: Tree = { w: tf.zeros([2]) };
const n: tf.Scalar = tree.l2Norm(p);
void opt; void spec; void n; void checkTransformLaws;
`;
    write('types.mts', typed);
    write('types.cts', typed);
    write('wrong.mts', `import { adam } from 'somax';\nconst n: number = adam(1e-3);\nvoid n;\n`);
  }, 60000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const runNode = (file: string) => {
    const out = execFileSync('node', [file], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out.trim().split('\n').pop() as string);
  };

  test.each(['esm.mjs', 'cjs.cjs'])('%s (with @tensorflow/tfjs): both entries, an exact hvp, asTfOptimizer in model.fit', (file) => {
    const result = runNode(file);
    expect(result.hvpErr).toBeLessThan(1e-5);
    expect(result.adam[0]).toBeCloseTo(-0.1, 5);
    expect(result.kit).toBe('function');
    expect(result.tree).toBe('function');
    expect(result.fitRatio).toBeLessThan(0.5);
  });

  test.each(['core.mjs', 'core.cjs'])('%s (tfjs-core + backend-cpu only): a clipped adam step and the law kit', (file) => {
    const result = runNode(file);
    // ‖g‖ = sqrt(0.25 + 16 + 1) > 1: clipped, then adam's first step is −lr·sign(g) (up to eps).
    expect(result.norm).toBeCloseTo(Math.sqrt(17.25), 5);
    expect(result.u[0][0]).toBeCloseTo(-0.1, 5);
    expect(result.u[1][0]).toBeCloseTo(-0.1, 5);
    expect(result.u[1][1]).toBeCloseTo(0.1, 5);
    expect(result.caught).toBe(true);
  });

  const tsc = (...files: string[]) =>
    execFileSync(
      'node',
      [
        path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
        '--noEmit',
        '--strict',
        '--skipLibCheck',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        ...files,
      ],
      { cwd: dir, encoding: 'utf8' },
    );

  test('the types check in a consumer (.mts and .cts, moduleResolution nodenext), and a type error is caught', () => {
    expect(() => tsc('types.mts', 'types.cts')).not.toThrow();
    let output = '';
    try {
      tsc('wrong.mts');
    } catch (e) {
      output = String((e as { stdout?: string }).stdout);
    }
    expect(output).toMatch(/wrong\.mts.*error TS2322.*not assignable to type 'number'/);
  });
});
