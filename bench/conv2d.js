// conv2d forward + backward for the two conv layers of the Multi-MNIST CNN expert (issue 7), on the
// im2col + matmul path of the cpu backend, at batch 64 and 256. With --profile, also one training
// step of the whole CNN MMoE (8 experts, 2 tasks, Adam) with the time split by kernel.
//
//   npm run build && node bench/conv2d.js
//   node bench/conv2d.js --batches 64,256 --max-time 3 --profile --experts 8 --gate softmax --json out.json
import { writeFileSync } from 'node:fs';
import Benchmark from 'benchmark';
import { add, Adam, buildMMoE, CnnExpert, conv2d, getBackend, mul, rand, randn, Rng, softmaxCrossEntropy, sum, tidy } from '../dist/index.js';
import { backend } from '../dist/advanced.js';

const args = parseArgs(process.argv.slice(2));
const batches = (args.batches ?? '64,256').split(',').map(Number);
const maxTime = Number(args['max-time'] ?? 3);

// conv 5×5×10 on the 36×36 canvas, then (after a 2×2 pool) conv 5×5×20 on 10×16×16.
const LAYERS = [
  { name: 'conv1 1→10, 5×5, 36×36', c: 1, h: 36, f: 10, k: 5, inputGrad: false },
  { name: 'conv2 10→20, 5×5, 16×16', c: 10, h: 16, f: 20, k: 5, inputGrad: true },
];

function bench(label, fn) {
  return new Promise((resolve) => {
    fn();
    const b = new Benchmark(label, fn, { maxTime, minSamples: 5 });
    b.on('complete', () => resolve({ mean: b.stats.mean, rme: b.stats.rme, samples: b.stats.sample.length })).run();
  });
}

const rows = [];
for (const layer of LAYERS) {
  for (const batch of batches) {
    const rng = new Rng(1);
    const x = rand([batch, layer.c, layer.h, layer.h], { rng });
    x.requiresGrad = layer.inputGrad; // conv1 sees the data: no input gradient (no col2im)
    const w = randn([layer.f, layer.c, layer.k, layer.k], { rng, std: 0.1 });
    const b = randn([layer.f], { rng, std: 0.1 });
    w.requiresGrad = true;
    b.requiresGrad = true;
    const out = layer.h - layer.k + 1;
    const upstream = randn([batch, layer.f, out, out], { rng });
    const forward = () => tidy(() => void conv2d(x, w, b));
    const step = () =>
      tidy(() => {
        sum(mul(conv2d(x, w, b), upstream)).backward();
        w.zeroGrad();
        b.zeroGrad();
        x.zeroGrad();
      });
    const macs = batch * layer.f * out * out * layer.c * layer.k * layer.k;
    const fwd = await bench(`${layer.name} forward, batch ${batch}`, forward);
    const both = await bench(`${layer.name} forward+backward, batch ${batch}`, step);
    // backward = dW (one matmul) + dX (one matmul + col2im) when the input needs a gradient
    const flops = 2 * macs * (layer.inputGrad ? 3 : 2);
    rows.push({
      layer: layer.name,
      batch,
      forwardMs: fwd.mean * 1e3,
      forwardBackwardMs: both.mean * 1e3,
      forwardGflops: (2 * macs) / fwd.mean / 1e9,
      forwardBackwardGflops: flops / both.mean / 1e9,
      rme: both.rme,
    });
  }
}

console.log(`backend: ${JSON.stringify(getBackend())}`);
console.log('layer                           batch  fwd ms  fwd GFLOP/s  fwd+bwd ms  fwd+bwd GFLOP/s   ±%');
for (const r of rows) {
  console.log(
    `${r.layer.padEnd(30)} ${String(r.batch).padStart(6)} ${r.forwardMs.toFixed(2).padStart(7)} ${r.forwardGflops.toFixed(2).padStart(12)} ${r.forwardBackwardMs.toFixed(2).padStart(11)} ${r.forwardBackwardGflops.toFixed(2).padStart(16)} ${r.rme.toFixed(1).padStart(5)}`,
  );
}

let profile = null;
if (args.profile) profile = profileTrainingStep(Number(args['profile-batch'] ?? 64), Number(args.experts ?? 8), args.gate ?? 'softmax', Number(args.steps ?? 3));
if (args.json) writeFileSync(args.json, JSON.stringify({ backend: getBackend(), rows, profile }, null, 2) + '\n');

/** One training step of the Multi-MNIST CNN MMoE, with the time of every backend kernel summed by kind. */
function profileTrainingStep(batch, experts, gateKind, steps) {
  const gates = {
    softmax: { type: 'softmax', perExample: true },
    'dselect-k': { type: 'dselect-k', k: 2, perExample: false, entropyWeight: 1e-3 },
    'top-k': { type: 'top-k', k: 2 },
  };
  const model = buildMMoE({
    inputDim: 36 * 36,
    numTasks: 2,
    numExperts: experts,
    gate: gates[gateKind],
    expertOutputDim: 50,
    towerHidden: [50],
    taskOutputDims: 10,
    expertFactory: (_i, rng) => new CnnExpert({ rng }),
    seed: 0,
  });
  const optimizer = new Adam(model, { lr: 1e-3 });
  const rng = new Rng(3);
  const x = rand([batch, 1, 36, 36], { rng });
  const labels = [0, 1].map((t) => Array.from({ length: batch }, (_, i) => (i * (t + 3)) % 10));
  const run = () =>
    tidy(() => {
      optimizer.zeroGrad();
      const { outputs } = model.forward(x);
      add(softmaxCrossEntropy(outputs[0], labels[0]), softmaxCrossEntropy(outputs[1], labels[1])).backward();
      optimizer.step();
    });
  run(); // warm up (and let kernels compile)

  const be = backend();
  const totals = new Map();
  const originals = [];
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(be))) {
    const fn = be[name];
    if (name === 'constructor' || typeof fn !== 'function') continue;
    originals.push([name, Object.prototype.hasOwnProperty.call(be, name) ? fn : undefined]);
    be[name] = function (...a) {
      const t0 = performance.now();
      const result = fn.apply(this, a);
      const key = kernelKey(name, a);
      const entry = totals.get(key) ?? { ms: 0, calls: 0 };
      entry.ms += performance.now() - t0;
      entry.calls++;
      totals.set(key, entry);
      return result;
    };
  }
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) run();
  const stepMs = (performance.now() - t0) / steps;
  for (const [name, own] of originals) {
    if (own === undefined) delete be[name];
    else be[name] = own;
  }
  const kernels = [...totals].map(([kernel, v]) => ({ kernel, ms: v.ms / steps, calls: v.calls / steps })).sort((a, b) => b.ms - a.ms);
  const kernelMs = kernels.reduce((a, k) => a + k.ms, 0);
  const groups = {};
  for (const k of kernels) groups[k.kernel.split(' ')[0]] = (groups[k.kernel.split(' ')[0]] ?? 0) + k.ms;
  console.log(`\ntraining step, batch ${batch}, ${experts} CNN experts, ${gateKind} gates, 2 tasks, Adam: ${stepMs.toFixed(1)} ms/step (kernels ${kernelMs.toFixed(1)} ms, graph/JS ${(stepMs - kernelMs).toFixed(1)} ms)`);
  for (const [group, ms] of Object.entries(groups).sort((a, b) => b[1] - a[1])) console.log(`  ${group.padEnd(20)} ${ms.toFixed(1).padStart(8)} ms  ${((100 * ms) / stepMs).toFixed(1).padStart(5)}%`);
  console.log('  top kernels:');
  for (const k of kernels.slice(0, 12)) console.log(`    ${k.ms.toFixed(1).padStart(8)} ms ${String(k.calls).padStart(5)}×  ${k.kernel}`);
  return { batch, experts, gate: gateKind, stepMs, kernelMs, groups, kernels };
}

function kernelKey(name, a) {
  if (name === 'matmul') {
    const m = a[2];
    return `matmul ${JSON.stringify(m.aShape)}${m.transA ? 'ᵀ' : ''}@${JSON.stringify(m.bShape)}${m.transB ? 'ᵀ' : ''}`;
  }
  if (name === 'unary' || name === 'binary') return `elementwise ${a[0]}`;
  if (name === 'reduce') return `reduce ${a[0]}`;
  return name;
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[key] = true;
    else {
      out[key] = next;
      i++;
    }
  }
  return out;
}
