// The public boundary: index.ts is a curated list (at most ~160 runtime names), internals stay
// internal, and one name has one meaning.
import * as somax from '../index';
import * as fs from 'fs';
import * as path from 'path';

describe('the public API', () => {
  const names = Object.keys(somax);

  test('is a curated list of at most 160 runtime names', () => {
    expect(names.length).toBeLessThanOrEqual(160);
    expect(names.length).toBeGreaterThan(100);
  });

  test.each([
    'assertInRange',
    'onInputs',
    'residualAt',
    'statelessSolver',
    'guarded',
    'postDirection',
    'secondOrderMethod',
    'dampingFrom',
    'diagonalBlocks',
    'transposeTimesValues',
    'implicitRows',
    'memoryOrder',
    'MAX_DENSE_PARAMS',
    'conjugateGradientReads',
    'denseMatrixReads',
    'pushPairReads',
    'rowSpaceDirectionReads',
    'denseSolveReads',
    'resolveOptions',
    'updateMoment',
    'linalg',
  ])('does not export the internal %s', (name) => {
    expect(names).not.toContain(name);
  });

  test('softmaxCrossEntropy means one thing: the loss function in `losses` (output losses are named by string)', () => {
    expect(names).not.toContain('softmaxCrossEntropy');
    expect(names).not.toContain('meanSquaredError');
    expect(typeof somax.losses.softmaxCrossEntropy).toBe('function');
  });

  test('every method of the registry, and its factory, is exported under its name', () => {
    for (const m of somax.listMethods()) expect(typeof (somax as Record<string, unknown>)[m]).toBe('function');
  });
});

test('every registry method has its page in docs/methods and its row in the method table', () => {
  const dir = path.join(__dirname, '..', 'docs', 'methods');
  const table = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  const missing = somax
    .listMethods()
    .filter((name) => !fs.existsSync(path.join(dir, `${name}.md`)) || !table.includes(`[${name}](${name}.md)`));
  expect(missing).toEqual([]);
});
