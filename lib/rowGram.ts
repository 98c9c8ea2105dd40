/**
 * Transitional re-export: the per-sample row machinery lives in `lib/autodiff/rows.ts`. Kept only
 * until `transforms/naturalGradient.ts` imports from there; delete it then.
 * @module
 */
export { gradientSampleRows, jacobianSampleRows } from './autodiff/rows';
export type { SampleRows } from './autodiff/rows';
