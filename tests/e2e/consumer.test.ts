// The built package (dist/, made by `npm run build`, which `npm test` runs first) installed into a
// separate consumer project: imported from ESM and required from CJS, both entries, type-checked.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '../..');

// An exact HVP after importing somax FIRST and @tensorflow/tfjs AFTER it (which silently
// re-registers tfjs's stock gradients over somax's): f = Σ tanh(x), Hv = −2 tanh(x)(1 − tanh²(x)) v.
const body = (somax: string, testing: string) => `
const x = tf.tensor1d([0.3, -1.2, 2.0]);
const v = tf.tensor1d([1, 2, -1]);
const hv = somax.hvp((p) => tf.sum(tf.tanh(p)), x, v, null);
const got = Array.from(hv.dataSync());
const want = [0.3, -1.2, 2.0].map((a, i) => { const t = Math.tanh(a); return -2 * t * (1 - t * t) * [1, 2, -1][i]; });
const err = Math.max(...got.map((g, i) => Math.abs(g - want[i]) / Math.abs(want[i])));
const tx = somax.adam(0.1);
const s = tx.init({ w: x });
const [u] = tx.update({ w: v }, s, { w: x });
console.log(JSON.stringify({ hvpErr: err, adam: Array.from(u.w.dataSync()), kit: typeof ${testing}.checkTransformLaws, tree: typeof ${somax}.tree.vdot }));
`;

describe('the built package in a consumer project', () => {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'somax-consumer-'));
    const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop() as string;
    const pkgDir = path.join(dir, 'node_modules', 'somax');
    fs.mkdirSync(pkgDir, { recursive: true });
    execFileSync('tar', ['-xzf', path.join(dir, packed), '-C', pkgDir, '--strip-components=1']);
    for (const dep of ['@tensorflow', 'fast-check', 'typescript', 'seedrandom', 'long', '@types']) {
      fs.symlinkSync(path.join(root, 'node_modules', dep), path.join(dir, 'node_modules', dep));
    }
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    fs.writeFileSync(path.join(dir, 'esm.mjs'), `import * as somax from 'somax';\nimport * as testing from 'somax/testing';\nimport * as tf from '@tensorflow/tfjs';\nawait tf.setBackend('cpu');\n${body('somax', 'testing')}`);
    fs.writeFileSync(path.join(dir, 'cjs.cjs'), `const somax = require('somax');\nconst testing = require('somax/testing');\nconst tf = require('@tensorflow/tfjs');\ntf.setBackend('cpu');\n${body('somax', 'testing')}`);
    fs.writeFileSync(path.join(dir, 'types.mts'), `import { adam, tree, type GradientTransformation } from 'somax';\nimport { checkTransformLaws } from 'somax/testing';\nconst tx: GradientTransformation<unknown> = adam(1e-3);\nvoid tx; void tree; void checkTransformLaws;\n`);
  }, 60000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each(['esm.mjs', 'cjs.cjs'])('%s imports both entries and gets an exact hvp after @tensorflow/tfjs loads', (file) => {
    const out = execFileSync('node', [file], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const result = JSON.parse(out.trim().split('\n').pop() as string);
    expect(result.hvpErr).toBeLessThan(1e-5);
    expect(result.adam[0]).toBeCloseTo(-0.1, 5);
    expect(result.kit).toBe('function');
    expect(result.tree).toBe('function');
  });

  test('the types check in a consumer (moduleResolution nodenext)', () => {
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    execFileSync('node', [tsc, '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', 'types.mts'], { cwd: dir, encoding: 'utf8' });
  });
});
