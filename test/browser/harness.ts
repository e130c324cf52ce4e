import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Runs a test entry in headless Chromium with WebGPU: the entry is bundled by esbuild together with
 * GPU.js's browser build (one script: GPU.js's global `GPU`, then the entry as an IIFE), served from
 * `http://localhost` (a secure context; `about:blank` has no navigator.gpu) and launched with
 * `--enable-unsafe-webgpu`. Without a GPU Chromium's WebGPU adapter is SwiftShader (a CPU
 * implementation, reported as a fallback adapter), enough to check the WGSL kernels for correctness.
 */
/** The Chromium binary (DSELECT_K_CHROMIUM overrides; Debian's package by default). */
export const CHROMIUM = process.env['DSELECT_K_CHROMIUM'] || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-webgpu',
];

const nodeRequire = createRequire(import.meta.url);

/** The entry file bundled with GPU.js's browser build, as one classic script. */
export async function bundleWithGpuJs(entry: string): Promise<string> {
  const out = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'iife', write: false, logLevel: 'silent', target: 'es2022' });
  if (out.errors.length > 0) throw new Error(`esbuild: ${out.errors.map((e) => e.text).join('; ')}`);
  const gpuJs = readFileSync(nodeRequire.resolve('gpu.js/dist/gpu-browser.js'), 'utf8');
  return `${gpuJs}\n;\n${out.outputFiles[0]!.text}`;
}

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export interface BrowserPage {
  page: Page;
  errors: string[];
  logs: string[];
  close(): Promise<void>;
}

/** Serves `script` on a localhost page and opens it in headless Chromium with WebGPU enabled. */
export async function openPage(script: string): Promise<BrowserPage> {
  const server: Server = createServer((req, res) => {
    if (req.url === '/bundle.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(script);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><meta charset="utf-8"><script src="/bundle.js"></script>');
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const errors: string[] = [];
    const logs: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => logs.push(m.text()));
    await page.goto(`http://localhost:${port}/`);
    const b = browser;
    return {
      page,
      errors,
      logs,
      close: async () => {
        await b.close();
        server.close();
      },
    };
  } catch (e) {
    await browser?.close();
    server.close();
    throw e;
  }
}

/** Waits for `window[name]` to be set by the page and returns it. */
export async function waitForResult<T>(p: BrowserPage, name: string, timeoutMs: number): Promise<T> {
  await p.page.waitForFunction((n) => (globalThis as Record<string, unknown>)[n] !== undefined, name, { timeout: timeoutMs, polling: 100 });
  return (await p.page.evaluate((n) => (globalThis as Record<string, unknown>)[n], name)) as T;
}
