/**
 * Automatic differentiation over parameter trees: the second-order-safe kernel gradients
 * (`kernels.ts`), their installer (`install.ts`), the tape check (`tapeCheck.ts`), the products
 * (`products.ts`: vjp, jvp, hvp, ...), linearized models (`linearize.ts`), per-sample rows
 * (`rows.ts`) and dense matrices of small operators (`dense.ts`).
 * @module
 */
export { ensureSecondOrderGradients, installSecondOrderGradients, withSecondOrder } from './install';
export { assertSecondOrderSafe, explainSecondOrderFailure } from './tapeCheck';
export { REPLACED_KERNELS, SECOND_ORDER_KERNELS } from './kernels';
export { assertScalarLoss, fisherDiag, hvp, jacobianRows, jvp, perSampleGradients, valueAndGrad, vjp } from './products';
export { gaussNewtonProduct, ggnvp, linearization } from './linearize';
export { denseGgn, denseHessian, denseMatrixReads, hessianDiag } from './dense';
export {
  diagonalBlocks,
  gradientSampleRows,
  implicitRows,
  jacobianSampleRows,
  materializedRows,
  rowGram,
  transposeTimesValues,
} from './rows';
export type { SampleRows } from './rows';
