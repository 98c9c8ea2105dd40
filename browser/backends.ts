/**
 * tfjs for a browser page: the ESM core with its gradients, and the `cpu`, `wasm` and `webgpu`
 * backends. The wasm binaries are served from the repository's `node_modules` by the suite's
 * static server. Shared by the test page and the demo.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

/** The backends the suite and the demo offer. */
export const BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
/** One of {@link BACKENDS}. */
export type BackendName = (typeof BACKENDS)[number];

/** Where the static server exposes tfjs-backend-wasm's `.wasm` files. */
export const WASM_PATH = '/node_modules/@tensorflow/tfjs-backend-wasm/dist/';

/**
 * Switches tfjs to `name` and checks it took: tfjs silently falls back to another backend when
 * one fails to start (WebGPU without an adapter falls back to wasm), so a check that did not
 * assert the backend would prove nothing. Returns WebGPU's adapter description when there is one.
 */
export async function useBackend(name: BackendName): Promise<string> {
  setWasmPaths(new URL(WASM_PATH, location.href).href);
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`backend '${name}' did not start (setBackend → ${ok}, getBackend() = '${tf.getBackend()}')`);
  }
  if (name !== 'webgpu') return name;
  const adapter = await (navigator as any).gpu?.requestAdapter();
  const info = adapter?.info ?? {};
  return `webgpu (${info.vendor ?? '?'} / ${info.architecture ?? '?'})`;
}
