import fc from 'fast-check';
import { InputError } from '../../index';
import * as linalg from '../../lib/linalg';
import { rand } from '../helpers/mlp64';

const maxAbs = (v: ArrayLike<number>) => Array.from(v).reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).map((x, i) => x - b[i]);

/** A = MᵀM + shift·I, with M an n×n matrix of uniform [-1, 1) entries. */
function randomSpd(n: number, seed: number, shift = 0.1): Float64Array {
  const m = rand(n * n, seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += m[k * n + i] * m[k * n + j];
      a[i * n + j] = s + (i === j ? shift : 0);
    }
  }
  return a;
}

/** L Lᵀ of a row-major lower-triangular L. */
function llt(l: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += l[i * n + k] * l[j * n + k];
      out[i * n + j] = s;
    }
  return out;
}

describe('linalg (float64)', () => {
  test('matVec and symmetrize on known matrices', () => {
    expect(Array.from(linalg.matVec(Float64Array.of(1, 2, 3, 4, 5, 6), [1, 0, -1], 2, 3))).toEqual([-2, -2]);
    expect(Array.from(linalg.symmetrize(Float64Array.of(1, 2, 0, 1), 2))).toEqual([1, 1, 1, 1]);
  });

  test('scaledCopy widens to float64, scales, and leaves its input alone', () => {
    const x = Float32Array.of(0.1, -2, 3);
    const y = linalg.scaledCopy(x.subarray(1), 0.5);
    expect(y).toBeInstanceOf(Float64Array);
    expect(Array.from(y)).toEqual([-1, 1.5]);
    expect(linalg.scaledCopy(x, 1)[0]).toBe(Math.fround(0.1)); // float32's value, widened exactly
    expect(Array.from(x)).toEqual([Math.fround(0.1), -2, 3]);
  });

  test('cholesky of known matrices is exact', () => {
    expect(Array.from(linalg.cholesky(Float64Array.of(4, 2, 2, 3), 2))).toEqual([2, 0, 1, Math.SQRT2]);
    // The textbook 3×3 example: L = [[5, 0, 0], [3, 3, 0], [-1, 1, 3]].
    const l = linalg.cholesky(Float64Array.of(25, 15, -5, 15, 18, 0, -5, 0, 11), 3);
    expect(maxAbs(diff(l, [5, 0, 0, 3, 3, 0, -1, 1, 3]))).toBeLessThan(1e-15);
    // Jitter is added to the diagonal: diag(1, 2) + 3I = diag(2, √5)².
    expect(maxAbs(diff(linalg.cholesky(Float64Array.of(1, 0, 0, 2), 2, { jitter: 3 }), [2, 0, 0, Math.sqrt(5)]))).toBeLessThan(1e-15);
  });

  test('cholesky rejects a matrix that is not SPD, naming the pivot; jitter can rescue it', () => {
    // [[1, 2], [2, 1]] has eigenvalues 3 and −1: pivot 1 is 1 − 4 = −3.
    const a = Float64Array.of(1, 2, 2, 1);
    expect(() => linalg.cholesky(a, 2)).toThrow(InputError);
    expect(() => linalg.cholesky(a, 2)).toThrow(/pivot 1 is -3/);
    expect(() => linalg.cholesky(Float64Array.of(0, 0, 0, 1), 2)).toThrow(/pivot 0 is 0/);
    expect(() => linalg.cholesky(Float64Array.of(NaN, 0, 0, 1), 2)).toThrow(/pivot 0/);
    expect(() => linalg.cholesky(a, 2, { jitter: 1.5 })).not.toThrow();
  });

  test('triangular solves and choleskySolve invert their factors', () => {
    const l = Float64Array.of(2, 0, 0, -1, 3, 0, 0.5, 1, 4);
    const b = [1, 2, 3];
    const x = linalg.solveLowerTriangular(l, b, 3);
    expect(maxAbs(diff(linalg.matVec(l, x, 3, 3), b))).toBeLessThan(1e-15);
    // Lᵀ x = b without forming Lᵀ.
    const lt = new Float64Array(9);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) lt[i * 3 + j] = l[j * 3 + i];
    const y = linalg.solveUpperTriangularT(l, b, 3);
    expect(maxAbs(diff(linalg.matVec(lt, y, 3, 3), b))).toBeLessThan(1e-15);
    const z = linalg.choleskySolve(l, b, 3);
    expect(maxAbs(diff(linalg.matVec(llt(l, 3), z, 3, 3), b))).toBeLessThan(1e-14);
  });

  test('random SPD systems (n ≤ 40) are solved to a residual ≤ 1e-10, and L Lᵀ reproduces A', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (n, seed) => {
        const a = randomSpd(n, seed);
        const b = rand(n, seed + 1);
        const l = linalg.cholesky(a, n);
        expect(maxAbs(diff(llt(l, n), a))).toBeLessThan(1e-12 * Math.max(1, maxAbs(a)));
        const x = linalg.choleskySolve(l, b, n);
        expect(maxAbs(diff(linalg.matVec(a, x, n, n), b))).toBeLessThan(1e-10);
        const xs = linalg.solveSymmetric(a, b, n);
        expect(maxAbs(diff(linalg.matVec(a, xs, n, n), b))).toBeLessThan(1e-10);
      }),
      { numRuns: 40 },
    );
  });

  test('choleskyInPlace equals the one-entry-at-a-time factor, reads only the lower triangle and keeps the upper one', () => {
    // The textbook loop (Lᵢⱼ = (Aᵢⱼ − ⟨Lᵢ,:ⱼ, Lⱼ,:ⱼ⟩) / Lⱼⱼ) as the reference, on odd and even n
    // (the 2×2 blocks and their one-row and one-column tails).
    const reference = (a: Float64Array, n: number) => {
      const l = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j <= i; j++) {
          let s = a[i * n + j];
          for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
          l[i * n + j] = i === j ? Math.sqrt(s) : s / l[j * n + j];
        }
      return l;
    };
    for (const n of [1, 2, 3, 4, 5, 8, 33, 64]) {
      const a = randomSpd(n, 100 + n);
      const want = reference(a, n);
      const work = Float64Array.from(a);
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) work[i * n + j] = NaN; // never read
      const l = linalg.choleskyInPlace(work, n);
      expect(l).toBe(work);
      let err = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j <= i; j++) err = Math.max(err, Math.abs(l[i * n + j] - want[i * n + j]));
        for (let j = i + 1; j < n; j++) expect(l[i * n + j]).toBeNaN();
      }
      expect(err).toBeLessThan(1e-12 * Math.max(1, maxAbs(want)));
      // cholesky: the same factor with zeros above the diagonal.
      expect(Array.from(linalg.cholesky(a, n))).toEqual(Array.from(l, (v, k) => (k % n > Math.floor(k / n) ? 0 : v)));
    }
    expect(() => linalg.choleskyInPlace(Float64Array.of(1, 2, 2, 1), 2)).toThrow(/pivot 1 is -3/);
  });

  test('choleskyInverse: A · A⁻¹ = I to 1e-10 and A⁻¹ symmetric, on odd and even n (the two-row loops and their tails)', () => {
    for (const n of [1, 2, 3, 4, 7, 8, 33, 64]) {
      const a = randomSpd(n, 200 + n, 0.5);
      const inverse = linalg.choleskyInverse(linalg.cholesky(a, n), n);
      let err = 0;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += a[i * n + k] * inverse[k * n + j];
          err = Math.max(err, Math.abs(s - (i === j ? 1 : 0)));
          expect(inverse[i * n + j]).toBe(inverse[j * n + i]);
        }
      expect(err).toBeLessThan(1e-10);
    }
  });

  test('luSolve handles nonsymmetric and indefinite matrices with pivoting, and rejects singular ones', () => {
    // A zero leading entry needs a row swap.
    expect(Array.from(linalg.luSolve(Float64Array.of(0, 1, 1, 0), [2, 3], 2))).toEqual([3, 2]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (n, seed) => {
        const a = rand(n * n, seed);
        for (let i = 0; i < n; i++) a[i * n + i] += 2 * ((i % 2) * 2 - 1); // keep it well away from singular, indefinite
        const b = rand(n, seed + 7);
        const x = linalg.luSolve(a, b, n);
        expect(maxAbs(diff(linalg.matVec(a, x, n, n), b))).toBeLessThan(1e-10 * Math.max(1, maxAbs(x)));
      }),
      { numRuns: 30 },
    );
    expect(() => linalg.luSolve(Float64Array.of(1, 2, 2, 4), [1, 1], 2)).toThrow(InputError);
  });

  test('solveSymmetric: Cholesky when SPD, pivoted elimination on an indefinite matrix, symmetrizes its input', () => {
    expect(Array.from(linalg.solveSymmetric(Float64Array.of(1, 0, 0, -1), [1, 1], 2))).toEqual([1, -1]);
    // An indefinite 3×3 (eigenvalues of both signs): the exact solution is recovered.
    const a = Float64Array.of(2, 1, 0, 1, -3, 1, 0, 1, 1);
    const want = [1, -2, 0.5];
    const b = linalg.matVec(a, want, 3, 3);
    expect(maxAbs(diff(linalg.solveSymmetric(a, b, 3), want))).toBeLessThan(1e-14);
    // Only ½(A + Aᵀ) matters.
    const skewed = Float64Array.of(4, 3, 1, 3); // ½(A + Aᵀ) = [[4, 2], [2, 3]]
    expect(maxAbs(diff(linalg.solveSymmetric(skewed, [2, 1], 2), [0.5, 0]))).toBeLessThan(1e-15);
  });
});
