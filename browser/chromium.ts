/**
 * Headless Chromium for the browser suite: Debian's binary (`/usr/bin/chromium`, installed by
 * `apt-get install chromium`; never a browser downloaded at run time) driven by playwright-core,
 * with the flags that give it a SwiftShader WebGPU adapter on a machine without a GPU.
 * @module
 */
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';

/** The Chromium binary (`CHROMIUM_PATH` overrides). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Flags: WebGPU on SwiftShader, root-safe, no network chatter or first-run work. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches headless Chromium (a fresh temporary profile each time); `CHROMIUM_EXTRA_ARGS` adds flags. */
export function launchChromium(): Promise<Browser> {
  const extra = (process.env.CHROMIUM_EXTRA_ARGS ?? '').split(' ').filter(Boolean);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extra] });
}
