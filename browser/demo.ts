/**
 * `npm run demo:browser`: builds the pages and serves the MNIST demo (`examples/browser/`) on
 * 127.0.0.1; prints the URL. `npm run demo:browser -- 8080` picks the port.
 * @module
 */
import { buildPages, serve } from './serve';

async function main(): Promise<void> {
  await buildPages();
  const { origin } = await serve(Number(process.argv[2] ?? 0));
  console.log(`somax demo: ${origin}/examples/browser/index.html  (Ctrl-C to stop)`);
  console.log(`  presets: ${origin}/examples/browser/index.html?method=egn&backend=webgpu&steps=200`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
