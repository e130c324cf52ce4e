// Regenerates the README's screenshot of the demo: builds it, serves the build, trains in Debian's
// Chromium (WebGPU enabled: its SwiftShader adapter where there is no GPU) and saves the page.
//   node examples/browser/screenshot.mjs [out.png] [settings query]
// Defaults: docs/browser-demo.png, and the README's run: the gpu backend's WebGPU mode, 1024 rows, 15 epochs, λ = 0.3
// (small enough for SwiftShader, a CPU implementation of WebGPU: about a minute on a shared 2-core machine).
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build, preview } from 'vite';

const configFile = fileURLToPath(new URL('./vite.config.ts', import.meta.url));
const out = process.argv[2] ?? fileURLToPath(new URL('../../docs/browser-demo.png', import.meta.url));
const query = process.argv[3] ?? 'backend=gpu:webgpu&trainSize=1024&epochs=15&entropyWeight=0.3';
const outDir = fileURLToPath(new URL('../../test-artifacts/browser-demo/screenshot-site', import.meta.url));
const inline = { configFile, logLevel: 'warn', build: { outDir, emptyOutDir: true } };
await build(inline);
const server = await preview({ ...inline, preview: { host: '127.0.0.1', port: 0 } });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(`${server.resolvedUrls.local[0]}?${query}`);
  await page.waitForFunction(() => globalThis.dselectkDemo?.runs.length > 0 && globalThis.dselectkDemo.probe, null, { timeout: 300_000 });
  const run = await page.evaluate(() => globalThis.dselectkDemo.runs[0]);
  if (run.status !== 'done') throw new Error(`the demo run ended '${run.status}': ${run.error}`);
  await page.mouse.move(0, 0);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`${out}: ${run.settings.epochs} epochs on ${run.backend.name} (${run.backend.mode}, ${run.backend.device ?? 'host CPU'}) in ${run.seconds.toFixed(1)} s`);
} finally {
  await browser.close();
  await server.close();
}
