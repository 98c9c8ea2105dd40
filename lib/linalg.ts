/**
 * Small dense linear algebra in float64, in plain TypeScript (tfjs has no float64, no Cholesky and
 * no linear solve): the row-space systems of Gauss-Newton solvers (B·C × B·C), direct solves on
 * tiny models, L-BFGS scalars. Matrices are row-major `Float64Array`s.
 * @module
 */
import { InputError } from './errors';

/** `½(A + Aᵀ)` of an n×n matrix (a new array). */
export function symmetrize(a: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
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
 * `jitter` added to the diagonal. Throws an InputError naming the pivot when A is not SPD.
 */
export function cholesky(a: Float64Array, n: number, { jitter = 0 }: { jitter?: number } = {}): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j] + jitter;
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (!(d > 0)) throw new InputError(`cholesky: the matrix is not positive definite (pivot ${j} is ${d})`);
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/**
 * `A⁻¹ = L⁻ᵀ L⁻¹` of a symmetric positive-definite matrix from its Cholesky factor L (n×n): about
 * 2n³/3 flops, a third of n column solves.
 */
export function choleskyInverse(l: Float64Array, n: number): Float64Array {
  const w = new Float64Array(n * n); // L⁻¹, lower triangular
  for (let j = 0; j < n; j++) {
    w[j * n + j] = 1 / l[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s += l[i * n + k] * w[k * n + j];
      w[i * n + j] = -s / l[i * n + i];
    }
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += w[k * n + i] * w[k * n + j];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  return out;
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
