// The MoE rows of issue 6 — training step (ours on 1 and 2 threads, TF.js cpu and wasm, DSelect-k)
// and DSelect-k inference vs the dense softmax model — come from bench/moe-train-step.js (written
// with the MoE model; it checks agreement with TF.js before timing). This adapter runs it inside
// `npm run bench` and turns its rows into the table's rows; its checks and run conditions go into
// results.json under `moe`.
const WORKLOADS = {
  train: 'MoE train step (batch 256, 8 experts 64→128→64, 2 tasks, Adam)',
  inference: 'MoE inference (batch 256; DSelect-k gates binary)',
};

export async function runMoeSuite(ctx) {
  const { runMoeBenchmarks } = await import('../moe-train-step.js');
  const result = await runMoeBenchmarks({ ...ctx.measureOpts, threads: ctx.threads, torch: ctx.torch, out: null, log: ctx.log });
  const { cpus, node, date } = ctx.machine;
  const rows = result.rows.map((r) => {
    const ours = r.engine === 'dselect-k';
    const ratios = {};
    if (ours && r.vsTfjsCpu !== undefined) ratios['tfjs-cpu'] = r.vsTfjsCpu;
    if (ours && r.vsTfjsWasm !== undefined) ratios['tfjs-wasm'] = r.vsTfjsWasm;
    const vsDense = r.vsSoftmaxInference === undefined ? '' : `; ${r.vsSoftmaxInference.toFixed(2)}× the dense softmax model`;
    return {
      suite: 'moe',
      workload: WORKLOADS[r.suite] ?? `MoE ${r.suite}`,
      impl: r.name,
      kind: ours ? 'ours' : r.engine,
      threads: r.threads,
      note: `${r.threadsNote ?? ''}${vsDense}`,
      status: 'ok',
      check: 'checked by bench/moe-train-step.js before timing',
      machine: { cpus, node, date },
      medianMs: r.medianMs,
      meanMs: r.meanMs,
      opsPerSec: 1000 / r.medianMs,
      rmePct: r.rmePct,
      samples: r.samples,
      cpuMsPerCall: r.cpuMsPerOp,
      load1: result.conditions.loadAverage1m,
      ...(ours ? { ratios } : {}),
    };
  });
  return { rows, extra: { checks: result.checks, conditions: result.conditions, tfjs: result.tfjs } };
}
