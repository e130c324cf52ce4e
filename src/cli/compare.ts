import { resolve } from 'node:path';
import { DEPRECATED_VARIANT_IDS, runCompare, VARIANT_IDS } from '../experiments/compare.js';
import { selectBackend } from '../experiments/experiment.js';
import { PLOTS_UNAVAILABLE } from '../report/plots.js';
import { renderText } from '../report/render.js';
import { COMPARE_TOOL, mean } from '../report/results.js';
import { writeReport } from '../report/write.js';
import { createProgress, progressEnabled } from './progress.js';
import { guardReportRun } from './run-guard.js';
import { configFromOptions, testBatchDelay } from './train.js';

export { DEPRECATED_VARIANT_IDS, VARIANT_IDS };

export async function runCompareCommand(opts: Record<string, unknown>, print: (line: string) => void): Promise<number> {
  const quiet = opts['quiet'] === true;
  const seeds = Number(opts['seeds']);
  const base = configFromOptions({ ...opts, gate: 'dselect-k' });
  const backend = String(opts['backend'] ?? 'cpu');
  selectBackend(backend);
  const outDir = resolve(String(opts['out']));
  const progress = createProgress(progressEnabled(quiet));
  const lines = !quiet && !progressEnabled(quiet);
  const delay = testBatchDelay();
  let T = 1;
  return guardReportRun('compare', COMPARE_TOOL, outDir, progress, async (guard) => {
    const results = await runCompare({
      signal: guard.interrupt.signal,
      base,
      variants: opts['gates'] as string[],
      seeds,
      backend,
      command: ['dselect-k', 'compare', ...process.argv.slice(3)].join(' '),
      ...(typeof opts['dataDir'] === 'string' ? { dataDir: opts['dataDir'] } : {}),
      hooks: {
        onStart: ({ data, runs, batchesPerRun }) => {
          T = data.tasks.length;
          if (!quiet) {
            print(`dselect-k compare: ${data.description}; ${data.train.size}/${data.val.size}/${data.test.size} train/val/test examples`);
            print(`  ${runs / seeds} gate(s) × ${seeds} seed(s), ${base.model.experts} experts, k = ${base.model.k}, ${base.optim.epochs} epochs, batch ${base.optim.batchSize}, lr ${base.optim.lr}`);
          }
          progress.start(runs * batchesPerRun, 'compare');
        },
        onBatch: ({ done, label, batch }) => {
          progress.update(done, { label, loss: batch.loss / T, epoch: `${batch.epoch + 1}/${base.optim.epochs}` });
          delay();
        },
        onRun: ({ index, total, label, seed, metricKind, run }) => {
          if (!lines) return;
          const q = run.selection ? `, selection quality ${run.selection.quality.toFixed(3)}` : '';
          print(`  [${index}/${total}] ${label}, seed ${seed}: test ${metricKind} ${mean(run.taskMetrics).toFixed(4)}${q}, ${run.activeExperts.toFixed(2)} active experts, ${run.trainSeconds.toFixed(1)} s`);
        },
      },
    });
    print('');
    print(renderText(results));
    // written into a staging folder and swapped in whole: an interruption before this leaves the old report
    const files = await writeReport(outDir, results);
    print('');
    print(`report: ${files.find((f) => f.endsWith('report.md'))} (+ results.json and ${files.filter((f) => f.endsWith('.svg')).length} SVG plots in ${outDir})`);
    if (!files.some((f) => f.endsWith('.svg'))) print(PLOTS_UNAVAILABLE);
    return 0;
  });
}
