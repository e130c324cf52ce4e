// The workloads of the gpu benchmark (bench/gpu-bench.js), written once for Node (Dawn) and for a
// browser page: no Node built-in here. Each workload is run on the cpu backend and on every started
// gpu mode from the same inputs; the gpu result is checked against the cpu backend BEFORE anything is
// timed (a mismatch is reported and that row is not timed). Every gpu timing ends in a readback that
// waits for the device: `await t.data()` / `await t.itemAsync()` (the only form webgpu has).
//
// Workloads: matmul n×n (GFLOP/s; with readback of C, and pipelined: 4 products then one scalar read),
// a chain of 7 elementwise kernels (bench/gpu-vs-cpu.js's), the MLP MoE training step (moe-workload.js's
// model: 8 experts 64→128→64, 2 tasks, softmax gates, Adam) and the CNN MMoE training step (8 of the
// paper's CNN experts on 36×36 images, 2 tasks with 10 classes, softmax gates, Adam).

/** Full sizes for a machine with a GPU; `quick` for a smoke run on a software adapter. */
export const PRESETS = {
  full: { sizes: [256, 512, 1024, 2048, 4096], chain: 262144, moeBatches: [256, 4096], cnnBatches: [64, 256], maxSeconds: 3, maxReps: 50 },
  quick: { sizes: [64, 128], chain: 4096, moeBatches: [16], cnnBatches: [2], maxSeconds: 1, maxReps: 3 },
};

const MOE = { inputDim: 64, numExperts: 8, expertHidden: 128, expertOutputDim: 64, numTasks: 2 };

/**
 * Runs every workload. `dk` is the package namespace (dselect-k), `targets` the backends to run
 * ([{ label, activate() → BackendInfo }], the first one the cpu backend), `log` prints a line.
 * Returns { rows, failures } — failures are check mismatches (nothing of that row was timed).
 */
export async function runGpuBench(dk, targets, preset, log, advanced = null) {
  const rows = [];
  const failures = [];
  const reference = new Map();
  const cpuTarget = targets[0];

  /** The cpu backend's result for `key`, computed once. */
  async function ref(key, compute) {
    if (!reference.has(key)) {
      cpuTarget.activate();
      reference.set(key, await compute());
    }
    return reference.get(key);
  }

  async function row(workload, size, target, run) {
    const info = target.activate();
    const base = { workload, size, target: target.label, backend: info.name, mode: info.mode, device: info.device ?? 'typed-array kernels, 1 thread' };
    let r;
    try {
      r = await run(info);
    } catch (e) {
      r = { check: `threw: ${e && e.message ? e.message : String(e)}` };
    }
    const out = { ...base, ...r };
    if (out.check !== 'ok') failures.push(`${workload} ${size} on ${target.label}: ${out.check}`);
    rows.push(out);
    log(formatRow(out));
    await dk.ready();
  }

  // ---- matmul
  for (const n of preset.sizes) {
    const rng = new dk.Rng(n);
    const aHost = dk.randn([n, n], { rng }).toArray();
    const bHost = dk.randn([n, n], { rng }).toArray();
    const checkRows = Math.min(n, 64);
    const want = await ref(`matmul ${n}`, async () => {
      const a = dk.tensor(aHost.subarray(0, checkRows * n), { shape: [checkRows, n] });
      const b = dk.tensor(bHost, { shape: [n, n] });
      const out = { c: dk.matmul(a, b).toArray(), scale: dk.matmul(a.abs(), b.abs()).toArray() };
      return out;
    });
    for (const target of targets) {
      await row('matmul', n, target, async (info) => {
        const a = dk.tensor(aHost, { shape: [n, n] });
        const b = dk.tensor(bHost, { shape: [n, n] });
        const t0 = now();
        const before = info.name === 'gpu' ? dk.getBackend().stats.launches : 0;
        const c = dk.matmul(a, b);
        const launchesPerProduct = info.name === 'gpu' ? dk.getBackend().stats.launches + dk.getBackend().stats.queued - before : undefined;
        const got = await c.data();
        const firstMs = now() - t0;
        c.dispose();
        const bad = worst(got.subarray(0, checkRows * n), want.c, { atol: 1e-5, rtol: 2e-5, scale: want.scale });
        if (bad) return { check: `first ${checkRows} rows of C: ${bad}` };
        const withRead = await timeIt(async () => {
          const c2 = dk.matmul(a, b);
          await c2.data();
          c2.dispose();
        }, preset);
        // The cpu backend runs synchronously: only the gpu has a queue to keep full.
        const pipelined =
          info.name === 'gpu'
            ? await timeIt(async () => {
                let last = null;
                for (let r = 0; r < 4; r++) {
                  last?.dispose();
                  last = dk.matmul(a, b);
                }
                const s = last.sum();
                await s.itemAsync();
                s.dispose();
                last.dispose();
              }, preset)
            : null;
        a.dispose();
        b.dispose();
        const flop = 2 * n ** 3;
        return {
          check: 'ok',
          firstMs,
          ...withRead,
          gflops: flop / (withRead.medianMs * 1e6),
          ...(pipelined ? { pipelinedMsPerProduct: pipelined.medianMs / 4, pipelinedGflops: flop / ((pipelined.medianMs / 4) * 1e6) } : {}),
          launchesPerProduct,
        };
      });
    }
  }

  // ---- elementwise chain
  {
    const n = preset.chain;
    const xHost = dk.randn([n], { rng: new dk.Rng(5) }).toArray();
    const chain = (x) => x.mul(1.5).add(0.5).tanh().mul(x).sigmoid().sub(0.25).relu();
    const want = await ref('chain', async () => chain(dk.tensor(xHost)).toArray());
    for (const target of targets) {
      await row('elementwise chain (7 kernels)', n, target, async () => {
        const x = dk.tensor(xHost);
        const t0 = now();
        const got = await dk.tidy(() => chain(x)).data();
        const firstMs = now() - t0;
        const bad = worst(got, want, { atol: 1e-6, rtol: 2e-5 });
        if (bad) return { check: bad };
        const t = await timeIt(async () => {
          const y = dk.tidy(() => chain(x));
          await y.data();
          y.dispose();
        }, preset);
        x.dispose();
        return { check: 'ok', firstMs, ...t, melemsPerS: (7 * n) / (t.medianMs * 1e3) };
      });
    }
  }

  // ---- training steps
  const moeModel = (batch) => {
    const model = dk.buildMMoE({ inputDim: MOE.inputDim, numTasks: MOE.numTasks, numExperts: MOE.numExperts, expertHidden: [MOE.expertHidden], expertOutputDim: MOE.expertOutputDim, gate: { type: 'softmax', perExample: true }, seed: 1 });
    const rng = new dk.Rng(2);
    const x = dk.randn([batch, MOE.inputDim], { rng });
    const ys = [dk.randn([batch, 1], { rng }), dk.randn([batch, 1], { rng })];
    return {
      model,
      lossOf: () => {
        const { outputs } = model.forward(x);
        return dk.add(dk.mseLoss(outputs[0], ys[0]), dk.mseLoss(outputs[1], ys[1]));
      },
    };
  };
  const cnnModel = (batch) => {
    const model = dk.buildMMoE({
      inputDim: 36 * 36,
      numTasks: 2,
      numExperts: 8,
      gate: { type: 'softmax', perExample: true },
      expertOutputDim: 50,
      towerHidden: [50],
      taskOutputDims: 10,
      expertFactory: (_i, rng) => new dk.CnnExpert({ rng }),
      seed: 0,
    });
    const rng = new dk.Rng(3);
    const x = dk.rand([batch, 1, 36, 36], { rng });
    const labels = [0, 1].map((t) => Array.from({ length: batch }, (_, i) => (i * (t + 3)) % 10));
    return {
      model,
      lossOf: () => {
        const { outputs } = model.forward(x);
        return dk.add(dk.softmaxCrossEntropy(outputs[0], labels[0]), dk.softmaxCrossEntropy(outputs[1], labels[1]));
      },
    };
  };
  for (const [name, build, batches] of [
    ['MLP MoE training step', moeModel, preset.moeBatches],
    ['CNN MMoE training step', cnnModel, preset.cnnBatches],
  ]) {
    for (const batch of batches) {
      const want = await ref(`${name} ${batch}`, async () => firstSteps(dk, build(batch)));
      for (const target of targets) {
        await row(name, batch, target, async (info) => {
          const setup = build(batch);
          const t0 = now();
          const got = await firstSteps(dk, setup);
          const firstMs = now() - t0;
          for (const [key, values] of want) {
            const bad = worstRelativeToMax(got.get(key), values, 1e-3, 1e-6);
            if (bad) return { check: `${key}: ${bad}` };
          }
          const optimizer = setup.optimizer;
          const step = () =>
            dk.tidy(() => {
              optimizer.zeroGrad();
              const loss = setup.lossOf();
              loss.backward();
              optimizer.step();
              return loss;
            });
          const byKernel = info.name === 'gpu' && advanced ? countLaunches(advanced.backend()) : null;
          const one = step();
          await one.itemAsync();
          one.dispose();
          const launchesByKernel = byKernel ? byKernel.stop() : undefined;
          const launchesPerStep = launchesByKernel ? Object.values(launchesByKernel).reduce((a, b) => a + b, 0) : undefined;
          const withRead = await timeIt(async () => {
            const loss = step();
            await loss.itemAsync();
            loss.dispose();
          }, preset);
          const pipelined =
            info.name === 'gpu'
              ? await timeIt(async () => {
                  let loss = null;
                  for (let s = 0; s < 4; s++) {
                    loss?.dispose();
                    loss = step();
                  }
                  await loss.itemAsync();
                  loss.dispose();
                }, { ...preset, maxReps: Math.max(2, Math.floor(preset.maxReps / 4)) })
              : null;
          return { check: 'ok', firstMs, ...withRead, ...(pipelined ? { pipelinedMsPerStep: pipelined.medianMs / 4 } : {}), launchesPerStep, launchesByKernel };
        });
      }
    }
  }
  return { rows, failures };
}

/**
 * Loss and every gradient of one step, then the loss after one Adam step: what the check compares.
 * Leaves the optimiser on `setup` for the timing that follows.
 */
async function firstSteps(dk, setup) {
  const { model } = setup;
  setup.optimizer = new dk.Adam(model, { lr: 1e-3 });
  const out = new Map();
  const loss = setup.lossOf();
  loss.backward();
  out.set('loss', await loss.data());
  for (const [name, p] of model.namedParameters()) out.set(`grad ${name}`, await p.grad.data());
  setup.optimizer.step();
  setup.optimizer.zeroGrad();
  const after = setup.lossOf();
  out.set('loss after one Adam step', await after.data());
  loss.dispose();
  after.dispose();
  return out;
}

/** Counts the kernel launches of `gpuBackend` by kernel (the part of the key before ':') until `stop()`. */
function countLaunches(gpuBackend) {
  const device = gpuBackend.device;
  const counts = {};
  const run = device.run;
  device.run = function (spec, size, inputs) {
    const kind = spec.key.split(':')[0];
    counts[kind] = (counts[kind] ?? 0) + 1;
    return run.call(this, spec, size, inputs);
  };
  return {
    stop() {
      device.run = run;
      return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]));
    },
  };
}

/** Median, p10/p90 and count of `fn`'s wall time, repeated until maxSeconds or maxReps (at least 2). */
async function timeIt(fn, preset) {
  const ms = [];
  const start = now();
  while (ms.length < 2 || (ms.length < preset.maxReps && now() - start < preset.maxSeconds * 1000)) {
    const t0 = now();
    await fn();
    ms.push(now() - t0);
  }
  ms.sort((a, b) => a - b);
  const q = (p) => ms[Math.min(ms.length - 1, Math.round(p * (ms.length - 1)))];
  const medianMs = ms.length % 2 ? ms[ms.length >> 1] : (ms[ms.length / 2 - 1] + ms[ms.length / 2]) / 2;
  return { medianMs, p10Ms: q(0.1), p90Ms: q(0.9), reps: ms.length };
}

function now() {
  return performance.now();
}

/** The worst |gpu − cpu| > atol + rtol·scale (scale: |cpu| by default), or null. */
export function worst(g, c, tol) {
  if (g.length !== c.length) return `length ${g.length} vs ${c.length}`;
  let out = null;
  let excess = -1;
  for (let i = 0; i < c.length; i++) {
    const bound = tol.atol + tol.rtol * Math.abs(tol.scale ? tol.scale[i] : c[i]);
    const err = Math.abs(g[i] - c[i]);
    if (!(err <= bound) && (Number.isNaN(err) || err - bound > excess)) {
      excess = Number.isNaN(err) ? Infinity : err - bound;
      out = `element ${i}: gpu ${g[i]} vs cpu ${c[i]} (|diff| ${err.toExponential(2)} > ${bound.toExponential(2)})`;
    }
  }
  return out;
}

function worstRelativeToMax(g, c, rtol, atol) {
  let scale = 0;
  for (let i = 0; i < c.length; i++) scale = Math.max(scale, Math.abs(c[i]));
  return worst(g, c, { atol: atol + rtol * scale, rtol: 0 });
}

export function formatRow(r) {
  const head = `${r.workload.padEnd(30)} ${String(r.size).padStart(7)}  ${r.target.padEnd(14)}`;
  if (r.check !== 'ok') return `${head}  CHECK FAILED, not timed: ${r.check}`;
  const piped = r.pipelinedGflops !== undefined ? ` (pipelined ${r.pipelinedGflops.toFixed(2)})` : r.pipelinedMsPerStep !== undefined ? `pipelined ${r.pipelinedMsPerStep.toFixed(2)} ms/step` : '';
  const rate = r.gflops !== undefined ? `${r.gflops.toFixed(2)} GFLOP/s${piped}` : r.melemsPerS !== undefined ? `${r.melemsPerS.toFixed(1)} M elem/s` : piped;
  const launches = r.launchesPerStep !== undefined ? `, ${r.launchesPerStep} launches/step` : '';
  return `${head}  median ${r.medianMs.toFixed(2).padStart(9)} ms (p10 ${r.p10Ms.toFixed(2)}, p90 ${r.p90Ms.toFixed(2)}, ${r.reps} reps; first ${r.firstMs.toFixed(0)} ms)  ${rate}${launches}`;
}

/** gpu vs cpu per workload and size, as markdown. */
export function summaryTable(rows) {
  const lines = ['| workload | size | cpu backend | gpu | gpu mode | speed-up |', '|---|---|---|---|---|---|'];
  const keys = [...new Set(rows.map((r) => `${r.workload}|${r.size}`))];
  for (const key of keys) {
    const [workload, size] = key.split('|');
    const same = rows.filter((r) => `${r.workload}|${r.size}` === key);
    const cpu = same.find((r) => r.backend === 'cpu');
    for (const g of same.filter((r) => r.backend === 'gpu')) {
      const fmt = (r) => (!r ? '—' : r.check !== 'ok' ? 'check failed' : r.gflops !== undefined ? `${r.gflops.toFixed(1)} GFLOP/s` : `${r.medianMs.toFixed(2)} ms`);
      const speed = cpu && cpu.check === 'ok' && g.check === 'ok' ? `${(cpu.medianMs / g.medianMs).toFixed(2)}×` : '—';
      lines.push(`| ${workload} | ${size} | ${fmt(cpu)} | ${fmt(g)} | ${g.mode} | ${speed} |`);
    }
  }
  return lines.join('\n');
}
