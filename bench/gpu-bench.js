// The gpu benchmark in one command, for a machine with a GPU:
//
//   npm run build && node bench/gpu-bench.js                       # webgpu (Dawn in Node) vs the cpu backend
//   node bench/gpu-bench.js --modes webgpu,headlessgl --json out.json   (headlessgl needs an X display)
//   node bench/gpu-bench.js --browser --quick                      # the same workloads in headless Chromium
//                                  (launched with --disable-gpu: its WebGPU adapter is SwiftShader, on the CPU —
//                                   a smoke run of the benchmark itself, not a GPU measurement)
//
// Workloads (bench/gpu-workloads.js): matmul 256…4096, a 7-kernel elementwise chain on 262,144 values,
// the MLP MoE training step at batch 256 and 4096, the CNN MMoE training step at batch 64 and 256 —
// each on the cpu backend (1 thread) and on every requested gpu mode, each gpu result checked against
// the cpu backend before it is timed, every timing ending in a readback. The adapter / driver that ran
// is printed and stored. Exit status: 0 all ran and matched; 2 a requested gpu mode could not start
// here (the reason is printed; no number is made up for it); 3 a result did not match the cpu backend.
//
// Options: --modes webgpu,headlessgl,webasm (default webgpu)  --quick (tiny sizes: a smoke run on a
// software adapter)  --sizes 256,1024  --moe-batches 256  --cnn-batches 64  --chain N  --max-seconds S
// (per row)  --json FILE  --browser (run in headless Chromium via playwright-core; --chromium PATH,
// --chromium-arg ARG repeatable, adds to the default flags).
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { PRESETS, runGpuBench, summaryTable } from './gpu-workloads.js';

const args = parseArgs(process.argv.slice(2));
const preset = { ...(args.quick ? PRESETS.quick : PRESETS.full) };
if (args.sizes) preset.sizes = list(args.sizes);
if (args['moe-batches']) preset.moeBatches = list(args['moe-batches']);
if (args['cnn-batches']) preset.cnnBatches = list(args['cnn-batches']);
if (args.chain) preset.chain = Number(args.chain);
if (args['max-seconds']) preset.maxSeconds = Number(args['max-seconds']);
const modes = (args.modes ?? 'webgpu').split(',');

const machine = {
  date: new Date().toISOString(),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  loadAverage1m: os.loadavg()[0],
  glibc: process.report?.getReport()?.header?.glibcVersionRuntime ?? null,
};
console.log(`[gpu-bench] ${machine.date} node ${machine.node}, ${machine.cpus}× ${machine.cpuModel}, load ${machine.loadAverage1m.toFixed(2)}, glibc ${machine.glibc}`);

const result = args.browser ? await inBrowser() : await inNode();
result.machine = machine;
result.preset = preset;
if (args.json) {
  writeFileSync(args.json, JSON.stringify(result, null, 2) + '\n');
  console.log(`[gpu-bench] wrote ${args.json}`);
}
if (result.rows.length > 0) console.log(`\n${summaryTable(result.rows)}\n`);
for (const [mode, why] of Object.entries(result.unavailable)) console.log(`[gpu-bench] gpu mode '${mode}' could not run here: ${why}`);
for (const f of result.failures) console.log(`[gpu-bench] CHECK FAILED: ${f}`);
process.exitCode = result.failures.length > 0 ? 3 : Object.keys(result.unavailable).length > 0 ? 2 : 0;

async function inNode() {
  const dk = await import('../dist/index.js');
  const advanced = await import('../dist/advanced.js');
  const { setBackendNotices } = advanced;
  const { registerGpuBackend } = await import('../dist/gpu/index.js');
  setBackendNotices(false);
  registerGpuBackend();
  const targets = [{ label: 'cpu', activate: () => dk.setBackend('cpu') }];
  const unavailable = {};
  const adapters = {};
  for (const mode of modes) {
    try {
      const info = await dk.setBackendAsync('gpu', { gpuMode: mode });
      if (info.mode !== mode) throw new Error(`GPU.js ran '${info.mode}' instead`);
      adapters[mode] = { device: info.device, adapter: info.adapter ?? null };
      console.log(`[gpu-bench] gpu mode '${mode}': ${info.device}`);
      targets.push({ label: `gpu ${mode}`, activate: () => dk.setBackend('gpu', { gpuMode: mode }) });
    } catch (e) {
      unavailable[mode] = e.message;
    }
  }
  dk.setBackend('cpu');
  if (targets.length === 1) return { rows: [], failures: [], unavailable, adapters };
  const { rows, failures } = await runGpuBench(dk, targets, preset, (line) => console.log(line), advanced);
  return { rows, failures, unavailable, adapters };
}

/** The same workloads in headless Chromium (its WebGPU adapter; SwiftShader where there is no GPU). */
async function inBrowser() {
  const { build } = await import('esbuild');
  const { chromium } = await import('playwright-core');
  const { createServer } = await import('node:http');
  const { readFileSync } = await import('node:fs');
  const { createRequire } = await import('node:module');
  const { fileURLToPath } = await import('node:url');
  const entry = `
    import * as dk from '../dist/index.js';
    import * as advanced from '../dist/advanced.js';
    import { registerGpuBackend } from '../dist/gpu/index.js';
    import { runGpuBench } from './gpu-workloads.js';
    const modes = ${JSON.stringify(modes)};
    const preset = ${JSON.stringify(preset)};
    (async () => {
      advanced.setBackendNotices(false);
      registerGpuBackend();
      const targets = [{ label: 'cpu', activate: () => dk.setBackend('cpu') }];
      const unavailable = {}, adapters = {};
      for (const mode of modes) {
        try {
          const info = await dk.setBackendAsync('gpu', { gpuMode: mode });
          if (info.mode !== mode) throw new Error("GPU.js ran '" + info.mode + "' instead");
          adapters[mode] = { device: info.device, adapter: info.adapter };
          console.log("[gpu-bench] gpu mode '" + mode + "': " + info.device);
          targets.push({ label: 'gpu ' + mode, activate: () => dk.setBackend('gpu', { gpuMode: mode }) });
        } catch (e) { unavailable[mode] = e.message; }
      }
      dk.setBackend('cpu');
      const r = targets.length > 1 ? await runGpuBench(dk, targets, preset, (l) => console.log(l), advanced) : { rows: [], failures: [] };
      window.benchResult = { ...r, unavailable, adapters, userAgent: navigator.userAgent };
    })().catch((e) => { window.benchResult = { rows: [], failures: ['page: ' + (e.stack || e)], unavailable: {}, adapters: {} }; });
  `;
  const here = fileURLToPath(new URL('.', import.meta.url));
  const out = await build({ stdin: { contents: entry, resolveDir: here, loader: 'js' }, bundle: true, platform: 'browser', format: 'iife', write: false, logLevel: 'silent' });
  const gpuJs = readFileSync(createRequire(import.meta.url).resolve('gpu.js/dist/gpu-browser.js'), 'utf8');
  const script = `${gpuJs}\n;\n${out.outputFiles[0].text}`;
  const server = createServer((req, res) => {
    const js = req.url === '/bundle.js';
    res.writeHead(200, { 'content-type': js ? 'text/javascript' : 'text/html' });
    res.end(js ? script : '<!doctype html><meta charset="utf-8"><script src="/bundle.js"></script>');
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const flags = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'];
  const extra = [args['chromium-arg'] ?? []].flat();
  const browser = await chromium.launch({ executablePath: args.chromium ?? '/usr/bin/chromium', args: [...flags, ...extra] });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => console.log(m.text()));
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
    await page.goto(`http://localhost:${server.address().port}/`);
    await page.waitForFunction(() => window.benchResult !== undefined, null, { timeout: 0, polling: 500 });
    const r = await page.evaluate(() => window.benchResult);
    console.log(`[gpu-bench] in ${r.userAgent}`);
    return r;
  } finally {
    await browser.close();
    server.close();
  }
}

function list(s) {
  return String(s).split(',').map(Number);
}

function parseArgs(argv) {
  const out = {};
  const flags = new Set(['quick', 'browser']);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([\w-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`gpu-bench: unexpected argument ${argv[i]}`);
    const value = flags.has(m[1]) ? true : (m[2] ?? argv[++i]);
    if (m[1] === 'chromium-arg') out[m[1]] = [...(out[m[1]] ?? []), value];
    else out[m[1]] = value;
  }
  return out;
}
