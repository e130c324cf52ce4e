import { resolve } from 'node:path';
import { UserError } from '../experiments/user-error.js';
import { PLOTS_UNAVAILABLE } from '../report/plots.js';
import { createProgress, progressEnabled } from './progress.js';
import { guardReportRun } from './run-guard.js';
import { testBatchDelay } from './train.js';

/** What `balance` and `damex` do between their option parsing and their report. */
export interface ReportRun<D, R> {
  /** 'balance' or 'damex'. */
  command: string;
  /** The `tool` field of the results.json a previous report of this command holds. */
  tool: string;
  load(): D;
  /** The first line printed (unless --quiet). */
  describe(data: D): string;
  train(data: D, onBatch: (label: string, fraction: number, loss: number) => void, signal: AbortSignal): Promise<R>;
  table(results: R): string;
  write(dir: string, results: R): Promise<string[]>;
}

/**
 * As `compare` does: one run per --out (a lock), the report staged and swapped in whole, and Ctrl-C /
 * SIGTERM stopping at the next batch boundary with the previous report left as it was (exit 130 / 143).
 */
export async function runReportCommand<D, R>(opts: Record<string, unknown>, print: (line: string) => void, run: ReportRun<D, R>): Promise<number> {
  const quiet = opts['quiet'] === true;
  const outDir = resolve(String(opts['out']));
  const progress = createProgress(progressEnabled(quiet));
  const delay = testBatchDelay();
  return guardReportRun(run.command, run.tool, outDir, progress, async (guard) => {
    let data: D;
    try {
      data = run.load();
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    if (!quiet) print(run.describe(data));
    progress.start(1000, run.command);
    const results = await run.train(
      data,
      (label, fraction, loss) => {
        progress.update(Math.round(1000 * fraction), { label, loss });
        delay();
      },
      guard.interrupt.signal,
    );
    progress.stop();
    print(run.table(results));
    // written into a staging folder and swapped in whole: an interruption before this leaves the old report
    const files = await run.write(outDir, results);
    print(`report: ${files.length} files in ${outDir} (results.json, utilization.svg, routing-*.svg)`);
    if (!files.some((f) => f.endsWith('.svg'))) print(PLOTS_UNAVAILABLE);
    return 0;
  });
}
