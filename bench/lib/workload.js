// Runs one workload: every implementation is cross-checked against the reference, then timed.
import { compare } from './check.js';
import { load1, machineNote } from './machine.js';
import { measure } from './measure.js';

/** Peers every row of ours is compared with (ratio = peer median / our median; > 1 = we are faster). */
export const PEERS = ['naive', 'tfjs-cpu', 'tfjs-wasm', 'pytorch'];
const SLOW_MIN_SAMPLES = 3;

/**
 * workload: { suite, name, flop?, reference(): { values: Float64Array, tol(i) }, impls: Impl[] }
 * Impl: { name, kind: 'ours' | 'naive' | 'tfjs-cpu' | 'tfjs-wasm', threads, note?,
 *         activate?: async () => void,             // e.g. switch the TF.js backend
 *         prepare(): { run(), result(): ArrayLike<number>, dispose?() } }
 *   or, for a peer in another process (PyTorch), external(measureOpts): { result, medianMs, meanMs,
 *   rmePct, samples, cpuMsPerCall }: it computes the result once and times itself; the result is
 *   checked here and a wrong one discards the timing.
 */
export async function runWorkload(workload, ctx) {
  const ref = workload.reference();
  const { cpus, node, date } = machineNote();
  const rows = [];
  for (const impl of workload.impls) {
    const row = {
      suite: workload.suite,
      workload: workload.name,
      impl: impl.name,
      kind: impl.kind,
      threads: impl.threads,
      note: impl.note ?? '',
      status: 'ok',
      check: '',
      machine: { cpus, node, date },
    };
    rows.push(row);
    let prepared = null;
    try {
      if (impl.external) {
        const r = impl.external(ctx.measureOpts);
        const verdict = compare(r.result, ref.values, ref.tol);
        row.check = verdict.detail;
        if (!verdict.ok) {
          row.status = 'wrong';
          ctx.log(`  ✗ ${workload.name} · ${impl.name}: WRONG RESULT, timing discarded (${verdict.detail})`);
          continue;
        }
        const { medianMs, meanMs, rmePct, samples, cpuMsPerCall } = r;
        Object.assign(row, { medianMs, meanMs, opsPerSec: 1000 / medianMs, rmePct, samples, cpuMsPerCall, load1: load1() });
        if (workload.flop) row.gflops = workload.flop / (medianMs * 1e6);
        ctx.log(`  ${workload.name} · ${impl.name}: ${medianMs.toFixed(3)} ms ±${rmePct.toFixed(1)}%${row.gflops ? ` · ${row.gflops.toFixed(2)} GFLOP/s` : ''}`);
        continue;
      }
      if (impl.activate) await impl.activate();
      prepared = impl.prepare();
      const t0 = performance.now();
      prepared.run();
      const firstMs = performance.now() - t0;
      const verdict = compare(prepared.result(), ref.values, ref.tol);
      row.check = verdict.detail;
      if (!verdict.ok) {
        row.status = 'wrong';
        ctx.log(`  ✗ ${workload.name} · ${impl.name}: WRONG RESULT, not timed (${verdict.detail})`);
        continue;
      }
      // Calls of over half a second (naive and TF.js cpu at n = 1024) get the minimum of samples.
      const opts = firstMs > 500 ? { ...ctx.measureOpts, minSamples: SLOW_MIN_SAMPLES } : ctx.measureOpts;
      const t = measure(`${workload.name} ${impl.name}`, prepared.run, opts);
      Object.assign(row, t, { load1: load1() });
      if (workload.flop) row.gflops = workload.flop / (t.medianMs * 1e6);
      ctx.log(`  ${workload.name} · ${impl.name}: ${t.medianMs.toFixed(3)} ms ±${t.rmePct.toFixed(1)}%${row.gflops ? ` · ${row.gflops.toFixed(2)} GFLOP/s` : ''}`);
    } catch (err) {
      row.status = 'error';
      row.check = String(err?.message ?? err).split('\n')[0];
      ctx.log(`  ! ${workload.name} · ${impl.name}: ${row.check}`);
    } finally {
      prepared?.dispose?.();
    }
  }
  for (const row of rows) {
    if (row.kind !== 'ours' || row.status !== 'ok') continue;
    row.ratios = {};
    for (const peer of PEERS) {
      const other = rows.find((r) => r.kind === peer && r.status === 'ok');
      if (other) row.ratios[peer] = other.medianMs / row.medianMs;
    }
  }
  return rows;
}
