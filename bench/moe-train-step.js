// Multi-task MoE benchmarks of issue 6, ours against TensorFlow.js in one process and PyTorch CPU in a
// subprocess:
//  - training step (batch 256, input 64, 8 experts 64→128→64 ReLU, 2 tasks with per-example
//    softmax gates and 64→1 towers, Σ MSE, Adam): ours on 1 thread and with the kernels on 2
//    threads (worker_threads), TF.js cpu and wasm (the faster of two ways to write it in TF.js);
//    the same model with DSelect-k gates (k = 2; per example and static) in ours;
//  - inference of the same models, DSelect-k gates set binary (as after training), so only the
//    selected experts run, against the dense softmax model;
//  - PyTorch CPU (Debian's python3-torch at /usr/bin/python3, run by bench/moe-train-step.py with the
//    OpenBLAS tuning variables unset for it alone) on the softmax MMoE training step, on 1 thread and
//    on as many threads as ours; skipped with a notice when torch is missing.
// Every number is checked before it is timed: one TF.js training step must give our loss, gradients
// and updated weights within float32 tolerance, PyTorch's first-step loss and loss after one Adam
// step must equal ours (relative 1e-4), sparse DSelect-k inference must equal its dense evaluation,
// and TF.js inference must give our outputs.
//
//   npm run build && node bench/moe-train-step.js [--max-time s] [--suites train,inference] [--threads 1,2]
//       [--torch-steps 200] [--python /usr/bin/python3 | --no-torch] [--out file]
//
// `runMoeBenchmarks(options)` is the entry the general bench runner calls; it returns the rows and
// the run conditions (load average, threads) and, unless `out: null`, writes bench/results-moe.json.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Benchmark from 'benchmark';
import * as core from '../dist/index.js';
import * as advanced from '../dist/advanced.js';

const dk = { ...core, ...advanced };
import { loadTorch, torchEnv } from './lib/torch.js';
import {
  ADAM,
  buildOurModel,
  buildTfModel,
  compareNamed,
  loadTf,
  makeBatch,
  ourTrainer,
  ourValuesInTfLayout,
  useTfBackend,
  WORKLOAD,
} from './moe-workload.js';

const { noGrad, tensor, tidy } = dk;
const DEFAULT_OUT = fileURLToPath(new URL('./results-moe.json', import.meta.url));
const SOFTMAX = { type: 'softmax', perExample: true };
const DSELECT_PER_EXAMPLE = { type: 'dselect-k', k: 2, perExample: true };
const DSELECT_STATIC = { type: 'dselect-k', k: 2 };

/** Sets how many threads our matmuls use, if this build has the knob (else null: 1 thread only). */
async function matmulThreadsControl() {
  (await import('../dist/node/worker-threads.js')).useWorkerThreads();
  if (typeof dk.configureMatmul === 'function') return dk.configureMatmul;
  try {
    const m = await import('../dist/kernels/cpu/matmul-config.js');
    return typeof m.configureMatmul === 'function' ? m.configureMatmul : null;
  } catch {
    return null;
  }
}

/** Median of benchmark.js's per-op sample times, in ms. */
function medianMs(stats) {
  const s = [...stats.sample].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return (s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2) * 1000;
}

/** Times `fn` with benchmark.js; also records the process CPU time per call (all threads). */
function time(name, fn, { maxTime, minSamples }) {
  let calls = 0;
  let cpuMicros = 0;
  const timed = () => {
    const c = process.cpuUsage();
    fn();
    const d = process.cpuUsage(c);
    cpuMicros += d.user + d.system;
    calls++;
  };
  return new Promise((resolve, reject) => {
    const bench = new Benchmark(name, timed, { maxTime, minSamples, initCount: 1 });
    bench.on('complete', () => {
      if (bench.error) reject(bench.error);
      else
        resolve({
          medianMs: medianMs(bench.stats),
          meanMs: bench.stats.mean * 1000,
          opsPerSec: bench.hz,
          rmePct: bench.stats.rme,
          samples: bench.stats.sample.length,
          cpuMsPerOp: cpuMicros / 1000 / Math.max(1, calls),
        });
    });
    bench.run({ async: false });
  });
}

function check(condition, message) {
  if (!condition) throw new Error(`moe benchmark check failed: ${message}`);
}

/** One TF.js step against one of ours, from the same initial weights: loss, gradients, updated weights. */
function checkTrainingAgreement(tf, backendName, experts) {
  const model = buildOurModel(SOFTMAX);
  const batch = makeBatch();
  const ours = ourTrainer(model, batch);
  const theirs = buildTfModel(tf, model, batch, { experts });
  try {
    const ourLoss = ours.gradients();
    const { loss: tfLoss, grads } = theirs.gradients();
    check(Math.abs(ourLoss - tfLoss) <= 1e-5 * Math.abs(tfLoss), `${backendName}/${experts}: loss ${ourLoss} vs TF.js ${tfLoss}`);
    const g = compareNamed(ourValuesInTfLayout(model, 'grad'), grads);
    check(g.rel <= 1e-4, `${backendName}/${experts}: gradient of ${g.name} differs by ${g.abs} (${g.rel} of its largest element)`);
    ours.step();
    theirs.step();
    const after = Object.fromEntries(Object.entries(theirs.vars).map(([n, v]) => [n, v.dataSync()]));
    const w = compareNamed(ourValuesInTfLayout(model), after);
    // Adam's first step moves every weight by ≈ lr; agreeing to 1% of lr is float32 agreement.
    check(w.abs <= 1e-2 * ADAM.lr, `${backendName}/${experts}: weights after one Adam step differ by ${w.abs} (${w.name})`);
    return { loss: ourLoss, tfLoss, gradRelDiff: g.rel, weightAbsDiff: w.abs };
  } finally {
    theirs.dispose();
  }
}

/** Sets every DSelect-k selector to a one-hot code (|z| = 1 > γ/2), as after training with the entropy regulariser. */
function saturateGates(model, perExample) {
  // Static: task 0 selects experts {1, 5}, task 1 {5, 6}: 3 distinct experts of 8 run.
  // Per example: selector 0 is fixed (task 0 → 1, task 1 → 5); selector 1 picks 2 or 6 by the sign of
  // a direction in x, so rows split between two experts (gather/scatter of row subsets).
  const codes = [
    [1, 5],
    [5, 6],
  ];
  const bitsOf = (e) => [2, 1, 0].map((bit) => ((e >> bit) & 1 ? 1 : -1));
  model.gates.items.forEach((gate, t) => {
    const params = new Map(gate.namedParameters());
    if (!perExample) {
      const z = params.get('z');
      z.setStorage(tensor(codes[t].flatMap(bitsOf), { shape: z.shape }).storage);
      return;
    }
    const first = t === 0 ? 1 : 5;
    const bias = [...bitsOf(first), ...bitsOf(2)];
    const weight = new Float32Array(6 * WORKLOAD.inputDim);
    // Row 3 of the z map is selector 1's most significant bit: 2 = 010 ↔ 6 = 110.
    for (let j = 0; j < WORKLOAD.inputDim; j++) weight[3 * WORKLOAD.inputDim + j] = j % 2 === 0 ? 50 : -50;
    params.get('zMap.bias').setStorage(tensor(bias, { shape: [6] }).storage);
    params.get('zMap.weight').setStorage(tensor(weight, { shape: [6, WORKLOAD.inputDim] }).storage);
  });
}

/** Losses must agree to this relative difference (float32 sums in other orders). */
const TORCH_LOSS_TOL = 1e-4;

/** Our initial weights and the batch as manifest.json + data.bin (float32) in a temporary directory. */
function exportForTorch(model, batch) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'moe-train-step-'));
  const chunks = [];
  let offset = 0;
  const put = (name, t) => {
    const data = Float32Array.from(t.toArray());
    chunks.push(data);
    const entry = { name, shape: [...t.shape], offset };
    offset += data.length;
    return entry;
  };
  const params = model.namedParameters().map(([name, t]) => put(name, t));
  const x = put('x', batch.x);
  const targets = batch.targets.map((t, i) => put(`y${i}`, t));
  const all = new Float32Array(offset);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  writeFileSync(path.join(dir, 'data.bin'), Buffer.from(all.buffer));
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ workload: WORKLOAD, params, x, targets, adam: ADAM }));
  return dir;
}

/**
 * PyTorch rows of the softmax MMoE training step: checked against our first-step loss and loss
 * after one Adam step, then timed by the script itself (`steps` steps). Returns rows and checks.
 */
function torchTrainRows(torch, threadCounts, steps, log) {
  const rows = [];
  const checks = {};
  const model = buildOurModel(SOFTMAX);
  const batch = makeBatch();
  const dir = exportForTorch(model, batch);
  const trainer = ourTrainer(model, batch);
  const ours = { first: trainer.step(), second: trainer.loss() };
  const script = fileURLToPath(new URL('./moe-train-step.py', import.meta.url));
  try {
    for (const threads of threadCounts) {
      const run = spawnSync(torch.python, [script, dir, String(steps), String(threads)], { env: torchEnv(), encoding: 'utf8', maxBuffer: 1 << 24 });
      if (run.status !== 0) throw new Error(`moe benchmark: moe-train-step.py failed: ${(run.stderr || '').trim().split('\n').pop()}`);
      const r = JSON.parse(run.stdout.trim().split('\n').pop());
      for (const [k, theirs] of [['first', r.firstLoss], ['second', r.lossAfterOneStep]]) {
        check(Math.abs(theirs - ours[k]) <= TORCH_LOSS_TOL * Math.max(1, Math.abs(ours[k])), `PyTorch ${threads} thread(s): ${k === 'first' ? 'first-step loss' : 'loss after one Adam step'} ${theirs} vs ours ${ours[k]}`);
      }
      checks[`train/pytorch-${threads}`] = { loss: r.firstLoss, ourLoss: ours.first, lossAfterOneStep: r.lossAfterOneStep, ourLossAfterOneStep: ours.second };
      const sorted = [...r.timesMs].sort((a, b) => a - b);
      const sem = Math.sqrt(r.timesMs.reduce((p, t) => p + (t - r.meanMs) ** 2, 0) / Math.max(1, r.timesMs.length - 1) / r.timesMs.length);
      rows.push({
        suite: 'train',
        name: `PyTorch ${r.torch} CPU: softmax MMoE train step, ${r.threads} thread${r.threads > 1 ? 's' : ''}`,
        engine: 'pytorch',
        threads: r.threads,
        threadsNote: `torch.set_num_threads(${r.threads})`,
        medianMs: r.medianMs,
        meanMs: r.meanMs,
        opsPerSec: 1000 / r.medianMs,
        rmePct: (100 * 1.96 * sem) / r.meanMs,
        samples: sorted.length,
        cpuMsPerOp: r.cpuMs,
      });
      log(`  PyTorch ${r.torch} (${r.threads} thread${r.threads > 1 ? 's' : ''}): losses agree with ours; median ${r.medianMs.toFixed(2)} ms (cpu ${r.cpuMs.toFixed(1)} ms/step)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows, checks };
}

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function ourPredict(model, x) {
  return tidy(() => noGrad(() => model.forward(x).outputs.map((o) => o.toArray())));
}

/** Conditions of the run, printed with the table and stored with the rows. */
function conditions(threadsUsed) {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    loadAverage1m: Number(os.loadavg()[0].toFixed(2)),
    ourMatmulThreads: threadsUsed,
    workload: WORKLOAD,
  };
}

/**
 * Runs the MoE training-step and inference benchmarks and returns { rows, conditions, checks }.
 * Options: maxTime (s per row, default 3), minSamples (default 5), suites (['train', 'inference']),
 * threads (our thread counts to run, default [1, 2]; PyTorch runs with the same counts), torch
 * (from lib/torch.js's loadTorch; null: no PyTorch rows; default: probe `python`), torchSteps
 * (default 200), out (JSON path, null to skip writing), log (default console.log).
 */
export async function runMoeBenchmarks(options = {}) {
  const maxTime = options.maxTime ?? 3;
  const minSamples = options.minSamples ?? 5;
  const suites = options.suites ?? ['train', 'inference'];
  const log = options.log ?? console.log;
  const configureMatmul = await matmulThreadsControl();
  const threadCounts = (options.threads ?? [1, 2]).filter((n) => n === 1 || configureMatmul !== null);
  const timing = { maxTime, minSamples };
  const rows = [];
  const checks = {};
  const tf = await loadTf();
  const tfBackends = ['cpu', 'wasm'];
  const tfDetails = {};

  const setThreads = (n) => configureMatmul?.({ threads: n });
  const ourRow = async (suite, name, fn, extra) => {
    const r = await time(name, fn, timing);
    const row = { suite, name, engine: 'dselect-k', ...extra, ...r };
    rows.push(row);
    log(`  ${name}: median ${r.medianMs.toFixed(2)} ms (±${r.rmePct.toFixed(1)}%, cpu ${r.cpuMsPerOp.toFixed(1)} ms/op)`);
    return row;
  };

  if (suites.includes('train')) {
    log('MoE training step (batch 256, 8 experts 64→128→64, 2 tasks, Adam)');
    // TF.js: check agreement, then time both ways of writing it; the faster one is the reference.
    for (const backendName of tfBackends) {
      tfDetails[backendName] = await useTfBackend(tf, backendName);
      for (const experts of ['loop', 'batched']) {
        checks[`train/tfjs-${backendName}/${experts}`] = checkTrainingAgreement(tf, backendName, experts);
        const tfModel = buildTfModel(tf, buildOurModel(SOFTMAX), makeBatch(), { experts });
        const r = await time(`tfjs-${backendName} ${experts}`, () => tfModel.step(), timing);
        tfModel.dispose();
        rows.push({
          suite: 'train',
          name: `TF.js ${backendName}: softmax MMoE train step (experts ${experts === 'loop' ? 'one by one' : 'as batched matmuls'})`,
          engine: `tfjs-${backendName}`,
          variant: experts,
          threads: 1,
          threadsNote: tfDetails[backendName],
          ...r,
        });
        log(`  TF.js ${backendName} (${experts}): median ${r.medianMs.toFixed(2)} ms (±${r.rmePct.toFixed(1)}%, cpu ${r.cpuMsPerOp.toFixed(1)} ms/op)`);
      }
    }
    const gates = [
      ['softmax MMoE', SOFTMAX],
      ['DSelect-k MMoE (k = 2, per-example gates)', DSELECT_PER_EXAMPLE],
      ['DSelect-k MMoE (k = 2, static gates)', DSELECT_STATIC],
    ];
    for (const threads of threadCounts) {
      setThreads(threads);
      for (const [label, gate] of gates) {
        const model = buildOurModel(gate);
        const trainer = ourTrainer(model, makeBatch());
        const threadsNote = threads === 1 ? '1 thread' : `${threads} threads (main + ${threads - 1} worker_threads)`;
        await ourRow('train', `ours: ${label} train step, ${threadsNote}`, () => trainer.step(), { gate: gate.type, perExample: gate.perExample ?? false, threads, threadsNote });
      }
    }
    setThreads(1);
    const torch = options.torch === undefined ? loadTorch(log, options.python) : options.torch;
    if (torch) {
      const t = torchTrainRows(torch, threadCounts, options.torchSteps ?? 200, log);
      rows.push(...t.rows);
      Object.assign(checks, t.checks);
    }
  }

  if (suites.includes('inference')) {
    log('MoE inference (batch 256), DSelect-k gates binary');
    const batch = makeBatch();
    const softmaxModel = buildOurModel(SOFTMAX).eval();
    const ourSoftmaxOut = ourPredict(softmaxModel, batch.x);
    for (const backendName of tfBackends) {
      tfDetails[backendName] = await useTfBackend(tf, backendName);
      const tfModel = buildTfModel(tf, softmaxModel, batch);
      const tfOut = tfModel.predict();
      const diff = Math.max(...tfOut.map((o, t) => maxAbsDiff(ourSoftmaxOut[t], o)));
      check(diff <= 1e-4, `inference: TF.js ${backendName} outputs differ from ours by ${diff}`);
      checks[`inference/tfjs-${backendName}`] = { maxAbsDiff: diff };
      const r = await time(`tfjs-${backendName} inference`, () => tfModel.predict(), timing);
      tfModel.dispose();
      rows.push({ suite: 'inference', name: `TF.js ${backendName}: softmax MMoE inference`, engine: `tfjs-${backendName}`, threads: 1, threadsNote: tfDetails[backendName], ...r });
      log(`  TF.js ${backendName}: median ${r.medianMs.toFixed(2)} ms (±${r.rmePct.toFixed(1)}%)`);
    }
    const variants = [];
    for (const perExample of [false, true]) {
      const gate = perExample ? DSELECT_PER_EXAMPLE : DSELECT_STATIC;
      const sparse = buildOurModel(gate).eval();
      saturateGates(sparse, perExample);
      const dense = buildOurModel(gate).eval();
      dense.sparse = false;
      dense.loadStateDict(sparse.stateDict());
      const a = ourPredict(sparse, batch.x);
      const b = ourPredict(dense, batch.x);
      const diff = Math.max(...a.map((o, t) => maxAbsDiff(o, b[t])));
      check(diff <= 1e-5, `inference: sparse and dense evaluation of the DSelect-k model disagree by ${diff}`);
      const diag = sparse.diagnostics(batch.x);
      const binary = Math.min(...diag.map((d) => d.binarySelectorFraction ?? 0));
      const used = new Set(diag.flatMap((d) => d.selectedExperts)).size;
      checks[`inference/dselect-${perExample ? 'per-example' : 'static'}`] = { sparseVsDense: diff, binarySelectorFraction: binary, expertsUsed: used };
      variants.push({ perExample, sparse, dense, binary, used });
    }
    const inferenceRow = (name, model, extra) => ourRow('inference', name, () => ourPredict(model, batch.x), { threads: 1, threadsNote: '1 thread', ...extra });
    const softmaxRow = await inferenceRow('ours: softmax MMoE inference (all 8 experts run)', softmaxModel, { gate: 'softmax' });
    for (const v of variants) {
      const kind = v.perExample ? 'per-example' : 'static';
      const note = `${v.used} of 8 experts selected${v.perExample ? ' (per row: ≤ 2 per task)' : ''}, ${(100 * v.binary).toFixed(0)}% of selectors binary`;
      const s = await inferenceRow(`ours: DSelect-k MMoE inference, ${kind} gates, sparse (${note})`, v.sparse, { gate: 'dselect-k', perExample: v.perExample });
      s.vsSoftmaxInference = softmaxRow.medianMs / s.medianMs;
      const d = await inferenceRow(`ours: DSelect-k MMoE inference, ${kind} gates, sparse evaluation off (all 8 run)`, v.dense, { gate: 'dselect-k', perExample: v.perExample });
      d.vsSoftmaxInference = softmaxRow.medianMs / d.medianMs;
    }
  }

  // Ratios: how many times faster than each TF.js backend's fastest row of the same suite (> 1 = faster).
  for (const suite of ['train', 'inference']) {
    const reference = {};
    for (const b of tfBackends) {
      const tfRows = rows.filter((r) => r.suite === suite && r.engine === `tfjs-${b}`);
      if (tfRows.length > 0) reference[b] = Math.min(...tfRows.map((r) => r.medianMs));
    }
    for (const r of rows.filter((row) => row.suite === suite)) {
      if (reference.cpu) r.vsTfjsCpu = reference.cpu / r.medianMs;
      if (reference.wasm) r.vsTfjsWasm = reference.wasm / r.medianMs;
    }
  }
  // Against PyTorch with the same number of threads (softmax MMoE rows only: the model it runs).
  for (const r of rows.filter((row) => row.engine === 'dselect-k' && row.suite === 'train' && row.gate === 'softmax')) {
    const torchRow = rows.find((t) => t.engine === 'pytorch' && t.threads === r.threads);
    if (torchRow) r.vsPytorch = torchRow.medianMs / r.medianMs;
  }
  const result = { conditions: conditions(threadCounts), tfjs: tfDetails, checks, rows };
  printTable(rows, result.conditions, log);
  const out = options.out === undefined ? DEFAULT_OUT : options.out;
  if (out) {
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    log(`wrote ${out}`);
  }
  return result;
}

function printTable(rows, cond, log) {
  log(`\n${cond.date}, node ${cond.node}, ${cond.cpus} × ${cond.cpuModel}, 1-min load average ${cond.loadAverage1m}`);
  log('suite | name | median ms | ops/s | ±% | cpu ms/op | × vs TF.js cpu | × vs TF.js wasm | × vs PyTorch (same threads) | × vs softmax inference');
  const f = (v, d = 2) => (v === undefined ? '' : v.toFixed(d));
  for (const r of rows) {
    log(
      `${r.suite} | ${r.name} | ${f(r.medianMs)} | ${f(r.opsPerSec, 1)} | ${f(r.rmePct, 1)} | ${f(r.cpuMsPerOp, 1)} | ${f(r.vsTfjsCpu)} | ${f(r.vsTfjsWasm)} | ${f(r.vsPytorch)} | ${f(r.vsSoftmaxInference)}`,
    );
  }
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([\w-]+)$/.exec(argv[i]);
    if (!m) continue;
    const next = argv[i + 1];
    out[m[1]] = next === undefined || next.startsWith('--') ? true : argv[++i];
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = parseArgs(process.argv.slice(2));
  await runMoeBenchmarks({
    maxTime: args['max-time'] !== undefined ? Number(args['max-time']) : undefined,
    suites: args.suites?.split(','),
    threads: args.threads?.split(',').map(Number),
    torchSteps: args['torch-steps'] !== undefined ? Number(args['torch-steps']) : undefined,
    python: args.python,
    torch: args['no-torch'] !== undefined ? null : undefined,
    out: args.out,
  });
}
