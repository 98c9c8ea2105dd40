/**
 * The test page's code: exposes `window.somaxSuite`, whose calls run one part of the suite on the
 * page's backend and resolve to `{ value }` or `{ error }` (the error's text and stack), never a
 * rejection, so a failing page reports its error to the runner instead of timing out.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from './backends';
import type { BackendName } from './backends';
import { layersRun, methodStep, products, trainingRun } from './suite';
import { listMethods } from '../index';

/** A part's result, or the error it raised. */
export type Outcome<T> = { value: T; error?: undefined } | { value?: undefined; error: string };

async function guard<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { value: await fn() };
  } catch (e) {
    return { error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) };
  }
}

/** The page's API, called by `browser/run.ts` through playwright's `page.evaluate`. */
const somaxSuite = {
  useBackend: (name: BackendName) => guard(() => useBackend(name)),
  listMethods: () => guard(async () => listMethods()),
  products: () => guard(products),
  methodStep: (method: string) => guard(() => methodStep(method)),
  trainingRun: (method: string, steps: number) => guard(() => trainingRun(method, steps)),
  layersRun: (method: 'newtonCg' | 'egn', steps: number) => guard(() => layersRun(method, steps)),
};

/** The page API's type, for the runner. */
export type SomaxSuite = typeof somaxSuite;

(globalThis as any).somaxSuite = somaxSuite;
/** tfjs itself, for debugging in the page's console. */
(globalThis as any).tf = tf;
