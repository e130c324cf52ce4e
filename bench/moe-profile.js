// Where the time of one MoE training step goes: runs the issue-6 workload (see moe-workload.js) under
// V8's sampling profiler (node:inspector, started after a warm-up so only the timed steps are
// sampled) and splits the samples into matmul kernels, other kernels, allocation (the output-array
// pool), graph/autograd overhead, model code, GC and the rest. Each sample is charged to the nearest
// frame of our own code (dist/...), so a WebAssembly function or a built-in such as
// TypedArray.prototype.set counts for the kernel that called it.
//
//   npm run build && node bench/moe-profile.js [--gate softmax|dselect-k|dselect-k-static] [--steps 300] [--threads 1]
//                                               [--simd on|off] [--pool on|off] [--top 15] [--save file.cpuprofile]
// --simd off runs the fused kernels' JS versions, --pool off turns the output-array pool off (ablations).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { fileURLToPath } from 'node:url';
import * as core from '../dist/index.js';
import * as advanced from '../dist/advanced.js';

const dk = { ...core, ...advanced };
import { buildOurModel, makeBatch, ourTrainer } from './moe-workload.js';

const GATES = {
  softmax: { type: 'softmax', perExample: true },
  'dselect-k': { type: 'dselect-k', k: 2, perExample: true },
  'dselect-k-static': { type: 'dselect-k', k: 2 },
};

/** The category of our source file `path` (relative to dist/). */
function categoryOf(path) {
  if (/^kernels\/cpu\/(matmul|gemm-|wasm\/gemm)/.test(path)) return 'matmul kernels';
  if (/^kernels\/cpu\/host\.js|^tensor\/dtype\.js/.test(path)) return 'allocation (output-array pool)';
  if (/^kernels\//.test(path)) return 'other kernels (elementwise, fused, layout, reduce)';
  if (/^(autograd|tensor)\//.test(path)) return 'graph / autograd / tensor bookkeeping';
  if (/^(nn|moe|optim)\//.test(path)) return 'model code (nn, moe, optim)';
  return 'other';
}

/** Self time per category, each node charged to its nearest ancestor frame in dist/. */
export function splitProfile(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ownFile = (n) => {
    const m = /\/dist\/(.+)$/.exec(n.callFrame.url);
    return m ? m[1] : null;
  };
  const memo = new Map();
  const categorize = (id) => {
    if (memo.has(id)) return memo.get(id);
    const n = byId.get(id);
    const name = n.callFrame.functionName;
    let c;
    if (name === '(garbage collector)') c = 'garbage collection';
    else if (name === '(program)' || name === '(idle)' || name === '(root)') c = 'other';
    else {
      const file = ownFile(n);
      if (file) c = categoryOf(file);
      else c = parent.has(id) ? categorize(parent.get(id)) : 'other';
    }
    memo.set(id, c);
    return c;
  };
  const categories = new Map();
  const functions = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const c = categorize(id);
    categories.set(c, (categories.get(c) ?? 0) + us);
    const f = byId.get(id).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/dist\//, '')}${f.url ? `:${f.lineNumber + 1}` : ''} [${c}]`;
    functions.set(key, (functions.get(key) ?? 0) + us);
    total += us;
  });
  return { total, categories, functions };
}

function post(session, method, params = {}) {
  return new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
}

export async function profileTrainingStep({ gate = 'softmax', steps = 300, threads = 1, simd = true, pool = true } = {}) {
  const spec = GATES[gate];
  if (!spec) throw new Error(`moe-profile: unknown gate '${gate}' (expected ${Object.keys(GATES).join(', ')})`);
  // Knobs of builds that have them (the ablations); older builds run as they are.
  if (typeof dk.configureFusedKernels === 'function') dk.configureFusedKernels({ simd });
  if (typeof dk.configureBufferPool === 'function' && !pool) dk.configureBufferPool({ limitBytes: 0 });
  if (threads !== 1) {
    const { configureMatmul } = await import('../dist/kernels/cpu/matmul-config.js');
    (await import('../dist/node/worker-threads.js')).useWorkerThreads();
    configureMatmul({ threads });
  }
  const trainer = ourTrainer(buildOurModel(spec), makeBatch());
  for (let i = 0; i < 30; i++) trainer.step();
  const session = new Session();
  session.connect();
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.setSamplingInterval', { interval: 100 });
  await post(session, 'Profiler.start');
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < steps; i++) trainer.step();
  const wallMs = (performance.now() - started) / steps;
  const used = process.cpuUsage(cpu);
  const { profile } = await post(session, 'Profiler.stop');
  session.disconnect();
  return { profile, wallMs, cpuMs: (used.user + used.system) / 1000 / steps, ...splitProfile(profile) };
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([\w-]+)$/.exec(argv[i]);
    if (m) out[m[1]] = argv[++i];
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = parseArgs(process.argv.slice(2));
  const gate = args.gate ?? 'softmax';
  const r = await profileTrainingStep({
    gate,
    steps: Number(args.steps ?? 300),
    threads: Number(args.threads ?? 1),
    simd: args.simd !== 'off',
    pool: args.pool !== 'off',
  });
  if (args.save) writeFileSync(args.save, JSON.stringify(r.profile));
  const knobs =
    typeof dk.configureFusedKernels === 'function'
      ? `fused SIMD ${args.simd === 'off' ? 'off' : 'on'}, pool ${args.pool === 'off' ? 'off' : 'on'}`
      : 'a build without the fused-kernel and pool knobs';
  console.log(`MoE training step, ${gate} gates (${knobs}): ${r.wallMs.toFixed(2)} ms wall, ${r.cpuMs.toFixed(2)} ms CPU per step (process CPU, all threads)`);
  console.log('share of samples | CPU ms per step | category');
  for (const [c, us] of [...r.categories].sort((a, b) => b[1] - a[1])) {
    console.log(`${((100 * us) / r.total).toFixed(1).padStart(5)}% | ${((us / r.total) * r.cpuMs).toFixed(2).padStart(6)} | ${c}`);
  }
  console.log('\nhottest functions (self time):');
  for (const [k, us] of [...r.functions].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top ?? 15))) {
    console.log(`${((100 * us) / r.total).toFixed(1).padStart(5)}%  ${k}`);
  }
}
