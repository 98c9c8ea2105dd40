/**
 * Node-side judges of the browser suite: float64 references of the products (from the brute-force
 * helpers of `tests/helpers/mlp64.ts`), relative errors, and the tables printed per backend.
 * @module
 */
import * as ref from '../tests/helpers/mlp64';
import { PRODUCT_PROBLEM, PRODUCTS, V_SEED } from './suite';
import type { ProductName, StepOutcome } from './suite';

/** Float64 values of every product of `suite.products()`. */
export function productReferences(): Record<ProductName, Float64Array> {
  const { act, loss, size } = PRODUCT_PROBLEM;
  const prob = ref.makeProblem(act, loss, size);
  const p = ref.numParams(prob.m);
  const v = ref.rand(p, V_SEED);
  const H = ref.hessian(prob.m, prob.theta);
  const ggnv = ref.matVec(ref.ggn(prob.m, prob.theta), v, p, p);
  return {
    hvp: ref.matVec(H, v, p, p),
    ggnvp: ggnv,
    ggnvpLinearized: ggnv,
    jvp: ref.matVec(ref.jacobian(prob.m, prob.theta), v, prob.m.b * prob.m.c, p),
    hessianDiag: Float64Array.from({ length: p }, (_, i) => H[i * p + i]),
  };
}

/** Relative error ‖a − b‖ / ‖b‖ of each product against its reference. */
export function productErrors(
  got: Partial<Record<ProductName, number[]>>,
  want: Record<ProductName, Float64Array>,
): Partial<Record<ProductName, number>> {
  const err = (g: number[], w: Float64Array) => (g.length === w.length ? ref.relErr(g, w) : Infinity);
  return Object.fromEntries(PRODUCTS.filter((k) => got[k] !== undefined).map((k) => [k, err(got[k]!, want[k])]));
}

/** Relative difference of two steps' updates (after − before), relative to the second's. */
export function stepDiff(got: StepOutcome, want: StepOutcome): number {
  const delta = (s: StepOutcome) => s.after.map((a, i) => a - s.before[i]);
  const b = ref.relErr(got.before, want.before);
  return Math.max(b, ref.relErr(delta(got), delta(want)));
}

/** A plain text table: one row per key of `rows`, one column per entry of `columns`. */
export function table(title: string, columns: readonly string[], rows: Record<string, Record<string, number | string>>): string {
  const fmt = (x: number | string | undefined) => (typeof x === 'number' ? x.toExponential(2) : (x ?? '-'));
  const head = [title, ...columns];
  const body = Object.entries(rows).map(([name, r]) => [name, ...columns.map((c) => fmt(r[c]))]);
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((line) => String(line[i]).length)));
  const line = (cells: readonly (string | number)[]) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
