/** Types of rollup.browser.config.mjs, for the TypeScript that imports it (browser/serve.ts). */
import type { RollupOptions } from 'rollup';

/** Where the browser pages are built, relative to the repository root. */
export declare const BROWSER_BUILD_DIR: string;
declare const config: RollupOptions;
export default config;
