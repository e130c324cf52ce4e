// "CNN MMoE train step" (issue 12): batch 64, 8 experts of the paper's CNN (conv 5×5×10 → max-pool 2 →
// conv 5×5×20 → max-pool 2 → dense 50 → dense 50, ReLU), 2 tasks with per-example softmax gates over
// the flat 36×36 input, 50→50→10 towers, softmax cross-entropy, Adam (lr 1e-3).
//
// Rows: ours on 1 thread and on 2 threads (worker_threads), TensorFlow.js cpu (very slow: timed for
// --tfjs-steps steps only; --skip-tfjs-cpu leaves it out), PyTorch CPU on 1 thread as a subprocess
// (Debian's python3-torch at /usr/bin/python3; the row is skipped with a notice when torch is missing).
// Every engine starts from our model's initial weights and the same batch, and must agree with ours on
// the first step's loss and on the loss after one Adam step (relative tolerance LOSS_TOL) before
// anything is timed; a disagreement marks the row WRONG and the run exits with status 1.
//
//   npm run build && node bench/cnn-train-step.js [--steps 20] [--torch-steps 10] [--tfjs-steps 1]
//       [--skip-tfjs-cpu] [--python /usr/bin/python3] [--json out.json]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { add, Adam, buildMMoE, CnnExpert, rand, Rng, softmaxCrossEntropy, tidy } from '../dist/index.js';
import { configureMatmul } from '../dist/kernels/cpu/matmul-config.js';
import { useWorkerThreads } from '../dist/node/worker-threads.js';

const BATCH = 64;
const EXPERTS = 8;
const TASKS = 2;
const ADAM = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
/** Losses must agree to this relative difference (float32 sums in other orders, Winograd's rounding). */
const LOSS_TOL = 1e-4;

const args = parseArgs(process.argv.slice(2));
const steps = Number(args.steps ?? 20);
const torchSteps = Number(args['torch-steps'] ?? 10);
const tfjsSteps = Number(args['tfjs-steps'] ?? 1);
const python = args.python ?? '/usr/bin/python3';
const log = (s) => console.log(s);

const batch = makeBatch();
const rows = [];
let failed = false;

// ---- ours ----
useWorkerThreads();
const reference = ourCheck(1);
log(`ours: first-step loss ${reference.first.toFixed(6)}, after one Adam step ${reference.second.toFixed(6)}`);
for (const threads of [1, 2]) {
  const check = threads === 1 ? reference : ourCheck(threads);
  if (!agrees(check, reference, `ours ${threads} threads`)) continue;
  configureMatmul({ threads });
  const { step } = ourTrainer();
  for (let i = 0; i < 3; i++) step();
  const times = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000 / steps;
  rows.push({ engine: `dselect-k, ${threads} thread${threads > 1 ? 's' : ''}`, threads, medianMs: median(times), cpuMs, steps, load: os.loadavg()[0] });
}
configureMatmul({ threads: 1 });

// ---- PyTorch (subprocess) ----
const torchRow = runTorch();
if (torchRow) rows.push(torchRow);

// ---- TensorFlow.js cpu ----
if (args['skip-tfjs-cpu']) log('TensorFlow.js cpu: skipped (--skip-tfjs-cpu)');
else {
  const tfRow = await runTfjsCpu();
  if (tfRow) rows.push(tfRow);
}

printTable();
if (args.json) writeFileSync(args.json, JSON.stringify({ workload: { batch: BATCH, experts: EXPERTS, tasks: TASKS, adam: ADAM }, reference, rows, machine: machine() }, null, 2) + '\n');
process.exit(failed ? 1 : 0);

// ---------------------------------------------------------------------------------------------------

function makeModel() {
  return buildMMoE({
    inputDim: 36 * 36,
    numTasks: TASKS,
    numExperts: EXPERTS,
    gate: { type: 'softmax', perExample: true },
    expertOutputDim: 50,
    towerHidden: [50],
    taskOutputDims: 10,
    expertFactory: (_i, rng) => new CnnExpert({ rng }),
    seed: 0,
  });
}

function makeBatch() {
  const rng = new Rng(3);
  const x = rand([BATCH, 1, 36, 36], { rng });
  const labels = Array.from({ length: TASKS }, () => Array.from({ length: BATCH }, () => Math.floor(rng.uniform() * 10)));
  return { x, labels };
}

/** A fresh model (same seed: same weights every time) with its Adam step; step() returns the loss before the update. */
function ourTrainer() {
  const model = makeModel();
  const optimizer = new Adam(model, { lr: ADAM.lr, betas: [ADAM.beta1, ADAM.beta2], eps: ADAM.eps });
  const lossOf = () => {
    const { outputs } = model.forward(batch.x);
    return outputs.map((o, t) => softmaxCrossEntropy(o, batch.labels[t])).reduce((a, b) => add(a, b));
  };
  return {
    model,
    step: () =>
      tidy(() => {
        optimizer.zeroGrad();
        const loss = lossOf();
        loss.backward();
        optimizer.step();
        return loss.item();
      }),
    loss: () => tidy(() => lossOf().item()),
  };
}

function ourCheck(threads) {
  configureMatmul({ threads });
  const t = ourTrainer();
  const first = t.step();
  return { first, second: t.loss() };
}

function agrees(check, ref, engine) {
  const bad = ['first', 'second'].filter((k) => !(Math.abs(check[k] - ref[k]) <= LOSS_TOL * Math.max(1, Math.abs(ref[k]))));
  if (bad.length === 0) {
    log(`${engine}: losses ${check.first.toFixed(6)} / ${check.second.toFixed(6)} agree with ours (relative tolerance ${LOSS_TOL})`);
    return true;
  }
  log(`${engine}: WRONG — losses ${check.first} / ${check.second}, ours ${ref.first} / ${ref.second}; not timed`);
  rows.push({ engine, wrong: true });
  failed = true;
  return false;
}

/** Our initial weights and the batch, as manifest.json + data.bin (float32) in a temporary directory. */
function exportWorkload() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cnn-train-step-'));
  const chunks = [];
  let offset = 0;
  const put = (name, t) => {
    const data = Float32Array.from(t.toArray());
    chunks.push(data);
    const entry = { name, shape: [...t.shape], offset };
    offset += data.length;
    return entry;
  };
  const params = makeModel()
    .namedParameters()
    .map(([name, t]) => put(name, t));
  const x = put('x', batch.x);
  const all = new Float32Array(offset);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  writeFileSync(path.join(dir, 'data.bin'), Buffer.from(all.buffer));
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ experts: EXPERTS, params, x, labels: batch.labels, adam: ADAM }));
  return { dir, params, x, all };
}

function runTorch() {
  const script = fileURLToPath(new URL('./cnn-train-step.py', import.meta.url));
  const env = { ...process.env };
  // Debian's OpenBLAS tuning variables of this environment are for other programs: not for this one.
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { env, encoding: 'utf8' });
  if (probe.status !== 0) {
    log(`PyTorch: skipped (${python} cannot import torch${probe.error ? `: ${probe.error.message}` : ''})`);
    return null;
  }
  const { dir } = exportWorkload();
  try {
    const run = spawnSync(python, [script, dir, String(torchSteps)], { env, encoding: 'utf8', maxBuffer: 1 << 24 });
    if (run.status !== 0) {
      log(`PyTorch: failed (${run.stderr.trim().split('\n').pop()})`);
      failed = true;
      return { engine: 'PyTorch CPU, 1 thread', wrong: true };
    }
    const r = JSON.parse(run.stdout.trim().split('\n').pop());
    const engine = `PyTorch ${r.torch} CPU, ${r.threads} thread`;
    if (!agrees({ first: r.firstLoss, second: r.lossAfterOneStep }, reference, engine)) return null;
    return { engine, threads: r.threads, medianMs: r.medianMs, cpuMs: r.cpuMs, steps: r.timesMs.length, load: os.loadavg()[0] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runTfjsCpu() {
  let tf;
  try {
    const { loadTf, useTfBackend } = await import('./moe-workload.js');
    tf = await loadTf();
    await useTfBackend(tf, 'cpu');
  } catch (err) {
    log(`TensorFlow.js cpu: skipped (${err?.message ?? err})`);
    return null;
  }
  const { params, x, all } = exportWorkload();
  const value = (e) => all.subarray(e.offset, e.offset + e.shape.reduce((p, d) => p * d, 1));
  const byName = new Map(params.map((e) => [e.name, e]));
  const vars = new Map();
  for (const e of params) {
    const v = value(e);
    let t;
    if (e.shape.length === 4) t = tf.transpose(tf.tensor(v, e.shape), [2, 3, 1, 0]); // [F,C,kh,kw] → [kh,kw,C,F]
    else if (e.shape.length === 2) t = tf.transpose(tf.tensor(v, e.shape)); // [out,in] → [in,out]
    else t = tf.tensor(v, e.shape);
    vars.set(e.name, tf.variable(t, true, `cnn/${e.name}`));
    t.dispose();
  }
  if (vars.size !== byName.size) throw new Error('TF.js model: parameter count mismatch');
  const xNchw = tf.tensor(value(x), x.shape);
  const xNhwc = tf.transpose(xNchw, [0, 2, 3, 1]);
  const flat = tf.reshape(xNchw, [BATCH, 36 * 36]);
  const onehot = batch.labels.map((l) => tf.cast(tf.oneHot(tf.tensor1d(l, 'int32'), 10), 'float32'));
  const v = (name) => vars.get(name);
  const dense = (h, prefix) => tf.add(tf.matMul(h, v(`${prefix}.weight`)), v(`${prefix}.bias`));
  const lossFn = () => {
    const f = [];
    for (let e = 0; e < EXPERTS; e++) {
      let h = xNhwc;
      for (let l = 0; l < 2; l++) h = tf.relu(tf.maxPool(tf.add(tf.conv2d(h, v(`experts.${e}.convs.${l}.weight`), 1, 'valid'), v(`experts.${e}.convs.${l}.bias`)), 2, 2, 'valid'));
      h = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [BATCH, 720]); // flatten in (c, h, w) order, as ours
      for (let l = 0; l < 2; l++) h = tf.relu(dense(h, `experts.${e}.dense.${l}`));
      f.push(h);
    }
    const stacked = tf.stack(f, 1); // [B, E, 50]
    let loss = null;
    for (let t = 0; t < TASKS; t++) {
      const g = tf.softmax(dense(flat, `gates.${t}.logits`));
      const mixed = tf.sum(tf.mul(tf.expandDims(g, 2), stacked), 1);
      const out = dense(tf.relu(dense(mixed, `towers.${t}.layers.0`)), `towers.${t}.layers.1`);
      const l = tf.losses.softmaxCrossEntropy(onehot[t], out);
      loss = loss ? tf.add(loss, l) : l;
    }
    return loss;
  };
  const optimizer = tf.train.adam(ADAM.lr, ADAM.beta1, ADAM.beta2, ADAM.eps);
  const varList = [...vars.values()];
  const step = () => {
    const cost = optimizer.minimize(lossFn, true, varList);
    const loss = cost.dataSync()[0];
    cost.dispose();
    return loss;
  };
  const engine = `TensorFlow.js ${tf.version_core} cpu`;
  log(`${engine}: checking one step (slow: about a minute and a half per step here)…`);
  const first = step();
  const second = tf.tidy(() => lossFn().dataSync()[0]);
  if (!agrees({ first, second }, reference, engine)) return null;
  const times = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < tfjsSteps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  const used = process.cpuUsage(cpu);
  return { engine, threads: 1, medianMs: median(times), cpuMs: (used.user + used.system) / 1000 / tfjsSteps, steps: tfjsSteps, load: os.loadavg()[0] };
}

function printTable() {
  const torch = rows.find((r) => r.engine.startsWith('PyTorch') && !r.wrong);
  log('\nCNN MMoE train step (batch 64, 8 CNN experts, 2 tasks, softmax gates, Adam)');
  log('engine                                   ms/step   × PyTorch 1 thread   cpu ms/step   steps   load');
  for (const r of rows) {
    if (r.wrong) {
      log(`${r.engine.padEnd(40)} WRONG`);
      continue;
    }
    const ratio = torch ? (torch.medianMs / r.medianMs).toFixed(2) : '—';
    log(`${r.engine.padEnd(40)} ${r.medianMs.toFixed(1).padStart(8)}   ${ratio.padStart(18)}   ${r.cpuMs.toFixed(1).padStart(11)}   ${String(r.steps).padStart(5)}   ${r.load.toFixed(2)}`);
  }
  log('(ms/step: median wall time over the timed steps; × PyTorch > 1: faster than PyTorch. cpu ms/step: process');
  log(' CPU time per step, all threads — steadier than wall time when other work shares the cores)');
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function machine() {
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, loadAvg: os.loadavg() };
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
