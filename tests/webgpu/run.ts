/**
 * `npm run test:webgpu`: the browser suite's product checks (HVP, GGN-vp, JVP against float64
 * references) in node, on tfjs's WebGPU backend over the `webgpu` package (Dawn) with the
 * SwiftShader Vulkan driver that Debian's chromium package ships, so WebGPU failures show without
 * a browser. Dawn reads its driver settings at start, so the script re-runs itself with
 * `LD_LIBRARY_PATH` and `VK_ICD_FILENAMES` set when they are missing. Not a jest test (jest's
 * default run has no GPU); exits non-zero on failure.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where Debian's chromium keeps `libvulkan.so.1` and the SwiftShader ICD. */
const CHROMIUM_LIB = process.env.CHROMIUM_LIB ?? '/usr/lib/chromium';
const ICD = `${CHROMIUM_LIB}/vk_swiftshader_icd.json`;
/** Max relative error of a float32 product against its float64 reference. */
const TOL = 1e-4;

function relaunchWithDriver(): never {
  if (!existsSync(ICD)) {
    console.error(`no SwiftShader Vulkan driver at ${ICD}: apt-get install chromium (or set CHROMIUM_LIB)`);
    process.exit(1);
  }
  const env = {
    ...process.env,
    VK_ICD_FILENAMES: ICD,
    LD_LIBRARY_PATH: [CHROMIUM_LIB, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
  };
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { env, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

async function main(): Promise<void> {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  (globalThis as any).navigator = { gpu: create([]) };
  await import('@tensorflow/tfjs'); // tfjs's stock gradients
  await import('@tensorflow/tfjs-backend-webgpu');
  const tf = await import('@tensorflow/tfjs-core');
  const { products } = await import('../../browser/suite');
  const { productErrors, productReferences, table } = await import('../../browser/reference');

  const ok = await tf.setBackend('webgpu');
  if (!ok || tf.getBackend() !== 'webgpu')
    throw new Error(`webgpu backend did not start (setBackend → ${ok}, getBackend() = ${tf.getBackend()})`);
  const adapter = await (globalThis as any).navigator.gpu.requestAdapter();
  console.log(`tfjs backend: ${tf.getBackend()} on ${adapter?.info?.vendor} / ${adapter?.info?.architecture}`);

  // hessianDiag reads each entry synchronously: tfjs-webgpu's readSync needs an OffscreenCanvas,
  // which node lacks, so it is not checked here (the browser suite lists it as an expected failure).
  const errors = productErrors(await products(['hvp', 'ggnvp', 'ggnvpLinearized', 'jvp']), productReferences());
  console.log(table('max rel. error vs float64', Object.keys(errors), { 'webgpu (node)': errors as Record<string, number> }));
  const bad = Object.entries(errors).filter(([, e]) => !(e! <= TOL));
  if (bad.length > 0) {
    console.error(`failed: ${bad.map(([k, e]) => `${k} ${e}`).join(', ')} (tolerance ${TOL})`);
    process.exit(1);
  }
  console.log('webgpu products: all within tolerance');
  process.exit(0);
}

if (process.env.VK_ICD_FILENAMES === undefined) relaunchWithDriver();
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
