#!/usr/bin/env node
// `npm run bench` (builds dist/ first): dselect-k against a naive loop and TensorFlow.js, side by
// side in one process. Prints a table and writes bench/results.json.
//
//   node bench/run.js [--suite matmul,elementwise,math,softmax,moe] [--sizes 64,128] [--quick | --smoke]
//                     [--only logsumexp,cross-entropy] [--threads 1,2] [--no-tfjs] [--no-torch]
//                     [--python /usr/bin/python3] [--out bench/results.json]
//
// --only keeps the workloads whose name contains one of the words (not the moe suite, which has its
// own runner); --smoke checks every row and times it for a moment only (numbers meaningless).
//
// PyTorch CPU rows come from Debian's python3-torch run as a subprocess (bench/lib/torch.js); they are
// skipped with a notice when torch is missing.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineNote, load1 } from './lib/machine.js';
import { FULL, QUICK, SMOKE } from './lib/measure.js';
import { loadOurs } from './lib/ours.js';
import { formatTable } from './lib/table.js';
import { loadTfjs } from './lib/tfjs.js';
import { loadTorch } from './lib/torch.js';
import { runWorkload } from './lib/workload.js';
import { elementwiseWorkloads } from './suites/elementwise.js';
import { DEFAULT_SIZES, matmulWorkloads } from './suites/matmul.js';
import { mathWorkloads } from './suites/math.js';
import { runMoeSuite } from './suites/moe.js';
import { softmaxWorkloads } from './suites/softmax.js';

/** Runs workloads one by one (check, then time); returns { rows }. */
async function runWorkloads(workloads, ctx) {
  const rows = [];
  const wanted = (w) => !ctx.only || ctx.only.some((word) => w.name.toLowerCase().includes(word));
  for (const w of workloads.filter(wanted)) rows.push(...(await runWorkload(w, ctx)));
  return { rows };
}

// Each suite: async (ctx, args) → { rows, extra? } (extra lands in results.json under the suite name).
const SUITES = {
  matmul: (ctx, args) => runWorkloads(matmulWorkloads(ctx, args.sizes), ctx),
  elementwise: (ctx) => runWorkloads(elementwiseWorkloads(ctx), ctx),
  math: (ctx) => runWorkloads(mathWorkloads(ctx), ctx),
  softmax: (ctx) => runWorkloads(softmaxWorkloads(ctx), ctx),
  moe: (ctx) => runMoeSuite(ctx),
};

function parseArgs(argv) {
  const args = { suites: Object.keys(SUITES), sizes: DEFAULT_SIZES, quick: false, smoke: false, only: null, tfjs: true, torch: true, python: '/usr/bin/python3', threads: null, out: fileURLToPath(new URL('./results.json', import.meta.url)) };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--suite') args.suites = value().split(',');
    else if (flag === '--sizes') args.sizes = value().split(',').map(Number);
    else if (flag === '--quick') args.quick = true;
    else if (flag === '--smoke') args.smoke = true;
    else if (flag === '--only') args.only = value().toLowerCase().split(',');
    else if (flag === '--no-tfjs') args.tfjs = false;
    else if (flag === '--no-torch') args.torch = false;
    else if (flag === '--python') args.python = value();
    else if (flag === '--threads') args.threads = value().split(',').map(Number);
    else if (flag === '--out') args.out = value();
    else if (flag === '--help' || flag === '-h') {
      console.log('node bench/run.js [--suite matmul,elementwise,math,softmax,moe] [--sizes 64,128] [--quick | --smoke] [--only word,word] [--threads 1,2] [--no-tfjs] [--no-torch] [--python path] [--out file]');
      process.exit(0);
    } else throw new Error(`bench: unknown argument ${argv[i]}`);
  }
  for (const s of args.suites) if (!SUITES[s]) throw new Error(`bench: unknown suite '${s}' (known: ${Object.keys(SUITES).join(', ')})`);
  if (args.sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`bench: --sizes needs positive integers, got ${args.sizes}`);
  if (args.threads && args.threads.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`bench: --threads needs positive integers, got ${args.threads}`);
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const log = (msg) => process.stderr.write(`${msg}\n`);
  const machine = machineNote();
  if (machine.loadAvg1 > machine.cpus * 0.5) {
    log(`note: load average ${machine.loadAvg1} on ${machine.cpus} cpus — other work is running; timings will be noisy`);
  }
  const ours = await loadOurs();
  const tfjs = args.tfjs ? await loadTfjs(log) : null;
  const torch = args.torch ? loadTorch(log, args.python) : null;
  // Our thread counts: 1 and every core, unless --threads says otherwise.
  const threads = args.threads ?? (machine.cpus > 1 ? [1, machine.cpus] : [1]);
  const ctx = { ours, tfjs, torch, threads, machine, log, measureOpts: args.smoke ? SMOKE : args.quick ? QUICK : FULL, only: args.only };
  const rows = [];
  const extras = {};
  for (const suite of args.suites) {
    log(`suite ${suite}`);
    try {
      const { rows: suiteRows, extra } = await SUITES[suite](ctx, args);
      rows.push(...suiteRows);
      if (extra) extras[suite] = extra;
    } catch (err) {
      // A suite that throws (e.g. a failed agreement check) becomes one error row, and exit status 1.
      const message = String(err?.message ?? err).split('\n')[0];
      log(`  ! suite ${suite} failed: ${message}`);
      rows.push({ suite, workload: `suite ${suite}`, impl: '(whole suite)', kind: 'error', threads: 1, status: 'error', check: message });
    }
  }
  ours.shutdownWorkers();

  console.log(formatTable(rows));
  console.log(`\nratio = peer median / our median (> 1: dselect-k is faster). ops/s = 1 / median.`);
  console.log(`machine: ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, ${machine.date}, load ${machine.loadAvg1} → ${load1()}`);

  const result = {
    machine: { ...machine, loadAvg1End: load1() },
    options: { suites: args.suites, sizes: args.sizes, quick: args.quick, smoke: args.smoke, only: args.only, measure: ctx.measureOpts },
    matmul: ours.config.matmulInfo(),
    tfjs: tfjs ? { version: tfjs.version, backends: tfjs.available, wasm: tfjs.wasmFeatures } : null,
    pytorch: torch ? { version: torch.version, python: torch.python } : null,
    ...extras,
    rows,
  };
  writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${args.out}`);
  const bad = rows.filter((r) => r.status !== 'ok');
  if (bad.length > 0) {
    console.error(`${bad.length} row(s) failed their check or errored: ${bad.map((r) => `${r.workload} · ${r.impl} (${r.status})`).join('; ')}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
