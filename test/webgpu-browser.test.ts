import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { asyncChecks } from './browser/webgpu-checks.js';
import type { WebGpuPageResults } from './browser/webgpu-entry.js';
import { bundleWithGpuJs, CHROMIUM, chromiumAvailable, openPage, waitForResult, type BrowserPage } from './browser/harness.js';
import { kernelCases } from './gpu-cases/kernel-cases.js';
import { modelCases } from './gpu-cases/model-cases.js';

/**
 * The gpu backend on WebGPU (GPU.js webgpu mode: WGSL compute shaders over storage buffers), in
 * headless Chromium — the adapter that exists without a GPU: SwiftShader, a CPU implementation that
 * Chromium reports as a fallback adapter. Every shared kernel case and model case is compared with the
 * cpu backend, and the asynchronous API is checked. Where Chromium or its WebGPU adapter is missing
 * the tests are skipped with the reason; in CI (CI=true), where .ci/run installs chromium, they must run.
 */
const required = process.env['CI'] === 'true';
const entry = fileURLToPath(new URL('./browser/webgpu-entry.ts', import.meta.url));

let results: WebGpuPageResults | null = null;
let skipReason: string | null = null;
let pageHandle: BrowserPage | null = null;
let skipLogged = false;

beforeAll(async () => {
  if (!chromiumAvailable()) {
    skipReason = `${CHROMIUM} not found (apt-get install chromium)`;
    return;
  }
  pageHandle = await openPage(await bundleWithGpuJs(entry));
  results = await waitForResult<WebGpuPageResults>(pageHandle, 'webgpuResults', 280_000);
  if (pageHandle.errors.length > 0) throw new Error(`page errors: ${pageHandle.errors.join('; ')}`);
  if (results.startError) skipReason = `no WebGPU adapter in Chromium: ${results.startError}`;
  else console.log(`[webgpu] ${results.info!.device}; ${results.kernels.length} kernel cases, ${results.models.length} model cases, ${results.checks.length} checks in ${results.seconds.toFixed(1)} s`);
}, 300_000);

afterAll(async () => {
  await pageHandle?.close();
});

/** The result for `name`, or a skip (with the reason) where WebGPU could not run here; recorded for the run's gpu mode summary. */
function outcome(ctx: TestContext, list: 'kernels' | 'models' | 'checks', name: string): string | null {
  ctx.task.meta.gpu = { needs: ['webgpu'], ran: skipReason ? [] : ['webgpu (Chromium)'], ...(skipReason ? { skipped: `needs webgpu: ${skipReason}` } : {}) };
  if (skipReason) {
    if (required) throw new Error(`[webgpu] required in CI but cannot run: ${skipReason}`);
    if (!skipLogged) console.log(`[webgpu] every webgpu test skipped: ${skipReason}`);
    skipLogged = true;
    ctx.skip(skipReason);
    return null;
  }
  const r = results![list].find((x) => x.name === name);
  if (!r) throw new Error(`the page did not run '${name}'`);
  return r.failure;
}

describe('[webgpu] the backend starts and names its adapter', () => {
  it('setBackendAsync(gpu, webgpu) reports the WebGPU mode and the adapter', (ctx) => {
    outcome(ctx, 'checks', asyncChecks[0]![0]); // skips (with the reason) where WebGPU cannot run
    const info = results!.info!;
    expect(info.mode).toBe('webgpu');
    expect(info.requestedMode).toBe('webgpu');
    expect(info.readsSync).toBe(false);
    expect(info.adapter).not.toBeNull();
    // Without a GPU Chromium's adapter is SwiftShader: it must be reported as software, never as a GPU.
    if (info.adapter!.architecture === 'swiftshader') {
      expect(info.adapter!.software).toBe(true);
      expect(info.device).toMatch(/software adapter.*no GPU/);
    }
  });
});

const kernels = kernelCases();
for (const group of [...new Set(kernels.map((c) => c.group))]) {
  describe(`[webgpu] kernels: ${group}`, () => {
    for (const c of kernels.filter((k) => k.group === group)) {
      it(c.name, (ctx) => {
        const failure = outcome(ctx, 'kernels', c.name);
        expect(failure).toBeNull();
      });
    }
  });
}

describe('[webgpu] training steps match the cpu backend', () => {
  for (const c of modelCases()) {
    it(c.name, (ctx) => {
      expect(outcome(ctx, 'models', c.name)).toBeNull();
    });
  }
});

describe('[webgpu] the asynchronous API', () => {
  for (const [name] of asyncChecks) {
    it(name, (ctx) => {
      expect(outcome(ctx, 'checks', name)).toBeNull();
    });
  }
});
