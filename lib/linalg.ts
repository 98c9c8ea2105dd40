/**
 * Small dense linear algebra in float64, in plain TypeScript (tfjs has no float64, no Cholesky and
 * no linear solve): the row-space systems of Gauss-Newton solvers (B·C × B·C), direct solves on
 * tiny models, L-BFGS scalars. Matrices are row-major `Float64Array`s.
 * @module
 */
import { InputError } from './errors';

/** `½(A + Aᵀ)` of an n×n matrix (a new array). */
export function symmetrize(a: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
  return out;
}

/**
 * `c · x` as a new float64 array: a native typed-array conversion, then one loop (V8's
 * `Float64Array.from(x, fn)` calls `fn` per entry through the iterator protocol, which took 50–90 ms
 * for the 180 K entries of an MLP's K-FAC factors).
 *
 * @example
 * scaledCopy(values.subarray(0, k * k), 1 / correction) // a bias-corrected block, float64
 */
export function scaledCopy(x: ArrayLike<number>, c: number): Float64Array {
  const out = new Float64Array(x as ArrayLike<number> & Iterable<number>);
  for (let i = 0; i < out.length; i++) out[i] *= c;
  return out;
}

/** `A x` for an r×c matrix. */
export function matVec(a: Float64Array, x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += a[i * cols + j] * x[j];
    out[i] = s;
  }
  return out;
}

/**
 * Cholesky factor L (lower triangular, A = L Lᵀ) of a symmetric positive-definite n×n matrix, with
 * `jitter` added to the diagonal (only the lower triangle of A is read). Throws an InputError naming
 * the pivot when A is not SPD. See {@link choleskyInPlace}.
 *
 * @example
 * const l = cholesky(a, n); // a = l lᵀ, l[i * n + j] = 0 for j > i
 */
export function cholesky(a: Float64Array, n: number, { jitter = 0 }: { jitter?: number } = {}): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) l.set(a.subarray(i * n, i * n + i + 1), i * n);
  return choleskyInPlace(l, n, { jitter });
}

/**
 * The Cholesky factor in place: overwrites the lower triangle of the symmetric positive-definite
 * n×n `a` (only that triangle is read) with L, A + jitter·I = L Lᵀ, and returns `a`; the strict upper
 * triangle is left as it was (the triangular solves here read only the lower one). Row by row
 * (Cholesky–Banachiewicz), Lᵢⱼ = (Aᵢⱼ − Σₖ₍ₖ<ⱼ₎ LᵢₖLⱼₖ) / Lⱼⱼ: inner products of contiguous rows,
 * two rows against two at a time (four products for four loads; about twice as fast as one at a
 * time at n = 320), n³/6 multiply-adds. Throws an InputError naming the pivot when A is not SPD.
 *
 * @example
 * choleskySolve(choleskyInPlace(a, n), b, n); // A⁻¹ b, a overwritten
 * @see Golub & Van Loan, "Matrix Computations" (4th ed.), §4.2.
 */
export function choleskyInPlace(a: Float64Array, n: number, { jitter = 0 }: { jitter?: number } = {}): Float64Array {
  let i = 0;
  for (; i + 1 < n; i += 2) {
    let j = 0;
    for (; j + 1 < i; j += 2) choleskyBlock2x2(a, n, i, j);
    if (j < i) {
      choleskyEntry(a, n, i, j);
      choleskyEntry(a, n, i + 1, j);
    }
    choleskyPivot(a, n, i, jitter);
    choleskyEntry(a, n, i + 1, i);
    choleskyPivot(a, n, i + 1, jitter);
  }
  if (i < n) {
    for (let j = 0; j < i; j++) choleskyEntry(a, n, i, j);
    choleskyPivot(a, n, i, jitter);
  }
  return a;
}

/** Lᵢⱼ (j < i) in place, from rows i and j of L left of column j. */
function choleskyEntry(a: Float64Array, n: number, i: number, j: number): void {
  const ri = i * n;
  const rj = j * n;
  let s = a[ri + j];
  for (let k = 0; k < j; k++) s -= a[ri + k] * a[rj + k];
  a[ri + j] = s / a[rj + j];
}

/** Lᵢᵢ = √(Aᵢᵢ + jitter − Σₖ₍ₖ<ᵢ₎ Lᵢₖ²) in place; throws when the pivot is not positive. */
function choleskyPivot(a: Float64Array, n: number, i: number, jitter: number): void {
  const ri = i * n;
  let d = a[ri + i] + jitter;
  for (let k = 0; k < i; k++) d -= a[ri + k] * a[ri + k];
  if (!(d > 0)) throw new InputError(`cholesky: the matrix is not positive definite (pivot ${i} is ${d})`);
  a[ri + i] = Math.sqrt(d);
}

/**
 * The 2×2 block of L at rows i, i+1 and columns j, j+1 (j + 1 < i) in place: the four inner
 * products over k < j in one pass, then the k = j term of column j + 1 once Lᵢⱼ is known.
 */
function choleskyBlock2x2(a: Float64Array, n: number, i: number, j: number): void {
  // Plain scalars (no destructuring: this loop is the n³/6 of the factorization).
  const r0 = i * n;
  const r1 = r0 + n;
  const c0 = j * n;
  const c1 = c0 + n;
  let s00 = 0;
  let s01 = 0;
  let s10 = 0;
  let s11 = 0;
  for (let k = 0; k < j; k++) {
    const x0 = a[r0 + k];
    const x1 = a[r1 + k];
    const y0 = a[c0 + k];
    const y1 = a[c1 + k];
    s00 += x0 * y0;
    s01 += x0 * y1;
    s10 += x1 * y0;
    s11 += x1 * y1;
  }
  const l00 = (a[r0 + j] - s00) / a[c0 + j];
  const l10 = (a[r1 + j] - s10) / a[c0 + j];
  a[r0 + j] = l00;
  a[r1 + j] = l10;
  a[r0 + j + 1] = (a[r0 + j + 1] - s01 - l00 * a[c1 + j]) / a[c1 + j + 1];
  a[r1 + j + 1] = (a[r1 + j + 1] - s11 - l10 * a[c1 + j]) / a[c1 + j + 1];
}

/**
 * `A⁻¹ = L⁻ᵀ L⁻¹` of a symmetric positive-definite matrix from its Cholesky factor L (n×n):
 * W = L⁻¹ by rows, then WᵀW by rank-2 updates of its lower triangle, n³/3 multiply-adds, every
 * inner loop over contiguous rows and two rows at a time (as {@link choleskyInPlace}).
 *
 * @example
 * const inverse = choleskyInverse(cholesky(a, n), n); // a · inverse = I
 */
export function choleskyInverse(l: Float64Array, n: number): Float64Array {
  return lowerGram(lowerInverse(l, n), n);
}

/** Adds `c ·` row k of `w` (its first k + 1 entries) to row i. */
function addRow(w: Float64Array, n: number, i: number, k: number, c: number): void {
  const ri = i * n;
  const rk = k * n;
  for (let j = 0; j <= k; j++) w[ri + j] += c * w[rk + j];
}

/** Finishes row i of L⁻¹ once Σₖ Lᵢₖ (L⁻¹)ₖ is in it: (eᵢ − Σ) / Lᵢᵢ. */
function closeRow(w: Float64Array, l: Float64Array, n: number, i: number): void {
  const ri = i * n;
  const d = 1 / l[ri + i];
  for (let j = 0; j < i; j++) w[ri + j] *= -d;
  w[ri + i] = d;
}

/**
 * L⁻¹ (lower triangular, row-major; plain scalars in the loops, which are the n³/6):
 * row i is (eᵢ − Σₖ₍ₖ<ᵢ₎ Lᵢₖ · row k) / Lᵢᵢ; rows i, i+1 share each row k.
 *
 * @example
 * const w = lowerInverse(cholesky(a, n), n); // L · w = I
 */
export function lowerInverse(l: Float64Array, n: number): Float64Array {
  const w = new Float64Array(n * n);
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const r0 = i * n;
    const r1 = r0 + n;
    for (let k = 0; k < i; k++) {
      const c0 = l[r0 + k];
      const c1 = l[r1 + k];
      const rk = k * n;
      for (let j = 0; j <= k; j++) {
        const x = w[rk + j];
        w[r0 + j] += c0 * x;
        w[r1 + j] += c1 * x;
      }
    }
    closeRow(w, l, n, i);
    addRow(w, n, i + 1, i, l[r1 + i]);
    closeRow(w, l, n, i + 1);
  }
  if (i < n) {
    for (let k = 0; k < i; k++) addRow(w, n, i, k, l[i * n + k]);
    closeRow(w, l, n, i);
  }
  return w;
}

/** WᵀW of a lower-triangular W (symmetric, full): Σₖ (row k)ᵀ(row k), rows k, k+1 at a time. */
function lowerGram(w: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  let k = 0;
  for (; k + 1 < n; k += 2) {
    const a = k * n;
    const b = a + n;
    for (let i = 0; i <= k + 1; i++) {
      const ca = i <= k ? w[a + i] : 0;
      const cb = w[b + i];
      const ri = i * n;
      for (let j = 0; j <= i; j++) out[ri + j] += ca * w[a + j] + cb * w[b + j];
    }
  }
  if (k < n) for (let i = 0; i <= k; i++) addRowTo(out, w, n, i, k);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) out[j * n + i] = out[i * n + j];
  return out;
}

/** Adds Wₖᵢ · row k of `w` (its first i + 1 entries) to row i of `out`. */
function addRowTo(out: Float64Array, w: Float64Array, n: number, i: number, k: number): void {
  const ri = i * n;
  const rk = k * n;
  const c = w[rk + i];
  for (let j = 0; j <= i; j++) out[ri + j] += c * w[rk + j];
}

/** Solves `L x = b` for lower-triangular L (forward substitution). */
export function solveLowerTriangular(l: Float64Array, b: ArrayLike<number>, n: number): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * x[k];
    x[i] = s / l[i * n + i];
  }
  return x;
}

/** Solves `Lᵀ x = b` for lower-triangular L (back substitution on the transpose). */
export function solveUpperTriangularT(l: Float64Array, b: ArrayLike<number>, n: number): Float64Array {
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * x[k];
    x[i] = s / l[i * n + i];
  }
  return x;
}

/** Solves `L Lᵀ x = b` given the Cholesky factor L. */
export function choleskySolve(l: Float64Array, b: ArrayLike<number>, n: number): Float64Array {
  return solveUpperTriangularT(l, solveLowerTriangular(l, b, n), n);
}

/** Solves `A x = b` by Gaussian elimination with partial pivoting (any nonsingular A). */
export function luSolve(a: Float64Array, b: ArrayLike<number>, n: number): Float64Array {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b as ArrayLike<number>);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    if (m[p * n + c] === 0) throw new InputError(`luSolve: the matrix is singular (column ${c})`);
    if (p !== c) {
      for (let k = 0; k < n; k++) [m[c * n + k], m[p * n + k]] = [m[p * n + k], m[c * n + k]];
      [x[c], x[p]] = [x[p], x[c]];
    }
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c] / m[c * n + c];
      if (f === 0) continue;
      for (let k = c; k < n; k++) m[r * n + k] -= f * m[c * n + k];
      x[r] -= f * x[c];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let k = r + 1; k < n; k++) s -= m[r * n + k] * x[k];
    x[r] = s / m[r * n + r];
  }
  return x;
}

/**
 * Solves a symmetric system `A x = b`: Cholesky when A is positive definite, else Gaussian
 * elimination with partial pivoting (an indefinite Hessian in a direct Newton step).
 */
export function solveSymmetric(a: Float64Array, b: ArrayLike<number>, n: number): Float64Array {
  const s = symmetrize(a, n);
  try {
    return choleskySolve(cholesky(s, n), b, n);
  } catch {
    return luSolve(s, b, n);
  }
}

/**
 * Eigendecomposition `A = Q diag(λ) Qᵀ` of a symmetric n×n matrix by cyclic Jacobi rotations
 * (accurate to a few ulps of ‖A‖; O(n³) per sweep, about 6–10 sweeps): `vectors` holds the
 * eigenvectors as columns (row-major n×n), `values` the eigenvalues, unsorted.
 *
 * @see Golub & Van Loan, "Matrix Computations", §8.5 (the cyclic Jacobi method).
 */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const m = symmetrize(a, n);
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  const offNorm = () => {
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) s += m[i * n + j] ** 2;
    return Math.sqrt(s);
  };
  let total = 0;
  for (let i = 0; i < n * n; i++) total += m[i] ** 2;
  const tolerance = 1e-15 * Math.sqrt(total);
  for (let sweep = 0; sweep < 60 && offNorm() > tolerance; sweep++) {
    for (let p = 0; p < n - 1; p++) {
      for (let r = p + 1; r < n; r++) {
        const apr = m[p * n + r];
        if (Math.abs(apr) <= 1e-300) continue;
        // The rotation (c, s) that zeroes m[p][r] (Golub & Van Loan, Algorithm 8.5.1).
        const tau = (m[r * n + r] - m[p * n + p]) / (2 * apr);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const [mkp, mkr] = [m[k * n + p], m[k * n + r]];
          m[k * n + p] = c * mkp - s * mkr;
          m[k * n + r] = s * mkp + c * mkr;
        }
        for (let k = 0; k < n; k++) {
          const [mpk, mrk] = [m[p * n + k], m[r * n + k]];
          m[p * n + k] = c * mpk - s * mrk;
          m[r * n + k] = s * mpk + c * mrk;
        }
        for (let k = 0; k < n; k++) {
          const [qkp, qkr] = [q[k * n + p], q[k * n + r]];
          q[k * n + p] = c * qkp - s * qkr;
          q[k * n + r] = s * qkp + c * qkr;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => m[i * n + i]), vectors: q };
}

/**
 * `A^t` of a symmetric positive semi-definite n×n matrix through its eigendecomposition, with the
 * eigenvalues first raised to at least `floor` (a ridge for the negative powers of inverse roots).
 */
export function symmetricPower(a: Float64Array, n: number, t: number, { floor = 0 }: { floor?: number } = {}): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  const powered = values.map((v) => Math.max(v, floor) ** t);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vectors[i * n + k] * powered[k] * vectors[j * n + k];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  return out;
}
