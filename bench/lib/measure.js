// Timing with the `benchmark` package: median and mean per call, relative margin of error.
import Benchmark from 'benchmark';

/** Defaults for a full run; --quick shortens them (numbers get noisier). */
export const FULL = { maxTime: 2, minSamples: 6 };
export const QUICK = { maxTime: 0.6, minSamples: 4 };
/** --smoke: every check, and timing for a moment only (a test that the rows run, not a measurement). */
export const SMOKE = { maxTime: 0.01, minSamples: 1 };

/**
 * Times `fn` (synchronous). Returns median/mean milliseconds per call, ops/s (1 / median), the
 * relative margin of error (%) of the mean at 95% confidence as benchmark.js computes it, and the
 * process CPU time per call.
 */
export function measure(name, fn, opts) {
  let calls = 0;
  const counted = () => {
    calls++;
    fn();
  };
  const bench = new Benchmark(name, counted, { maxTime: opts.maxTime, minSamples: opts.minSamples, initCount: 1 });
  const cpu0 = process.cpuUsage();
  bench.run();
  const cpu = process.cpuUsage(cpu0);
  if (bench.error) throw bench.error;
  const sample = [...bench.stats.sample].sort((x, y) => x - y);
  const mid = sample.length >> 1;
  const medianSec = sample.length % 2 ? sample[mid] : (sample[mid - 1] + sample[mid]) / 2;
  return {
    medianMs: medianSec * 1e3,
    meanMs: bench.stats.mean * 1e3,
    opsPerSec: 1 / medianSec,
    rmePct: bench.stats.rme,
    samples: sample.length,
    // CPU time of this process (all its threads) per call: unlike wall time, it does not grow
    // while other processes hold the cores, so it is the steadier number on a shared machine.
    cpuMsPerCall: (cpu.user + cpu.system) / 1e3 / calls,
  };
}
