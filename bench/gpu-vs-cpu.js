// The gpu backend (GPU.js kernels) against the cpu backend (hand-written typed-array kernels):
// matmul n = 64..1024 and an elementwise chain, for every GPU.js mode that runs on this machine.
// Every gpu timing includes reading the result back (that is what forces a GL pipeline to finish),
// and every row names the mode that really ran and what executed it.
//
//   npm run build && node bench/gpu-vs-cpu.js                     # webasm (+ GPU.js cpu for small n)
//   npm run build && xvfb-run -a node bench/gpu-vs-cpu.js         # adds headlessgl (software GL here)
//   node bench/gpu-vs-cpu.js --modes headlessgl --sizes 256,1024  # on a machine with a real GPU
//   options: --modes a,b (auto|headlessgl|webasm|cpu)  --sizes 64,128,...  --chain N  --max-time s  --json file
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Benchmark from 'benchmark';
import { getBackend, matmul, randn, Rng, setBackend, tidy } from '../dist/index.js';
import { setBackendNotices } from '../dist/advanced.js';
import { registerGpuBackend } from '../dist/gpu/index.js';

registerGpuBackend();

const args = parseArgs(process.argv.slice(2));
const sizes = (args.sizes ?? '64,128,256,512,1024').split(',').map(Number);
const chainSize = Number(args.chain ?? 512 * 512);
const maxTime = Number(args['max-time'] ?? 2);
// GPU.js's own cpu mode transpiles kernels to plain JS (~0.4 GFLOP/s): only small sizes by default.
const GPUJS_CPU_MAX_N = Number(args['gpujs-cpu-max-n'] ?? 256);

const { GPU } = createRequire(import.meta.url)('gpu.js');
const modes = args.modes ? args.modes.split(',') : [...(GPU.isHeadlessGLSupported ? ['headlessgl'] : []), 'webasm', 'cpu'];
if (!GPU.isHeadlessGLSupported) console.log('headlessgl: not available here (needs the native gl package built and an X display, e.g. xvfb-run)');

setBackendNotices(false);
const rows = [];

function activate(target) {
  if (target === 'cpu-backend') {
    setBackend('cpu');
    return { backend: 'cpu', mode: 'cpu', device: 'typed-array kernels, 1 thread' };
  }
  const info = setBackend('gpu', { gpuMode: target });
  return { backend: 'gpu', mode: info.mode, device: info.device };
}

function bench(label, fn, extra) {
  return new Promise((resolve) => {
    fn(); // compile kernels (GPU.js: once per op and shape) and warm up outside the timing
    const b = new Benchmark(label, fn, { maxTime, minSamples: 5 });
    b.on('complete', () => resolve({ mean: b.stats.mean, rme: b.stats.rme, samples: b.stats.sample.length, ...extra })).run();
  });
}

function record(row) {
  // The mode that ran is re-read after the timing: a kernel GPU.js degraded shows up as e.g. 'headlessgl+cpu'.
  const info = getBackend();
  row.mode = row.backend === 'gpu' ? info.mode : 'cpu';
  rows.push(row);
  const rate = row.gflops !== undefined ? `${row.gflops.toFixed(2)} GFLOP/s` : `${row.melems.toFixed(1)} M elem/s`;
  console.log(
    `${row.workload.padEnd(22)} ${String(row.size).padStart(7)}  ${row.backend.padEnd(4)} ${row.mode.padEnd(11)} ` +
      `${(row.mean * 1000).toFixed(2).padStart(10)} ms ±${row.rme.toFixed(1).padStart(4)}%  ${rate.padStart(16)}  [${row.device}]`,
  );
}

console.log(`${'workload'.padEnd(22)} ${'size'.padStart(7)}  back mode        ${'mean'.padStart(13)}   ±rme   ${'rate'.padStart(16)}  [device]`);
const targets = ['cpu-backend', ...modes];
for (const target of targets) {
  let who;
  try {
    who = activate(target);
  } catch (e) {
    console.log(`${target}: cannot run here: ${e.message}`);
    continue;
  }
  const rng = new Rng(1);
  for (const n of sizes) {
    if (who.backend === 'gpu' && who.mode === 'cpu' && n > GPUJS_CPU_MAX_N) continue;
    const a = randn([n, n], { rng });
    const b = randn([n, n], { rng });
    const fn = () => tidy(() => void matmul(a, b).storage.readSync());
    const r = await bench(`matmul ${n}`, fn, {});
    record({ workload: 'matmul (with readback)', size: n, ...who, ...r, gflops: (2 * n ** 3) / r.mean / 1e9 });
    a.dispose();
    b.dispose();
  }
  // Six elementwise kernels chained on the device, one readback at the end.
  const x = randn([chainSize], { rng });
  const chain = () => tidy(() => void x.mul(1.5).add(0.5).tanh().mul(x).sigmoid().sub(0.25).relu().storage.readSync());
  const r = await bench('elementwise chain', chain, {});
  record({ workload: 'elementwise chain ×6', size: chainSize, ...who, ...r, melems: (6 * chainSize) / r.mean / 1e6 });
  x.dispose();
}

if (args.json) {
  writeFileSync(args.json, JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }, null, 2));
  console.log(`wrote ${args.json}`);
}
setBackend('cpu');

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([\w-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`gpu-vs-cpu: unexpected argument ${argv[i]}`);
    out[m[1]] = m[2] ?? argv[++i];
  }
  return out;
}
