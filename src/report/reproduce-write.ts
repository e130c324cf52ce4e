import { join } from 'node:path';
import { contiguousGroupOf, reproduceGroupCount } from '../data/synthetic.js';
import { heatmapSpec, intervalLinesSpec, PLOTS_UNAVAILABLE, renderSvg, type IntervalPoint } from './plots.js';
import type { Cell, LedgerRecord } from './reproduce-records.js';
import { cellLabel, renderReproduceMarkdown, type ReproduceFigures, type ReproduceReportContext } from './reproduce-render.js';
import { summariseLedger, type ReproduceSummary } from './reproduce-summary.js';
import { reportFolder, slug } from './write.js';

/** Writes report.md, summary.json and the figures of a reproduce run into `dir`, from its ledger records. */
export async function writeReproduceReport(dir: string, records: readonly LedgerRecord[], ctx: ReproduceReportContext, cellOrder: readonly Cell[] = []): Promise<{ files: string[]; summary: ReproduceSummary }> {
  const summary = summariseLedger(records, cellOrder);
  const { put, written, skipped } = reportFolder(dir);
  const figures: ReproduceFigures = { files: [], unavailable: null };
  const figure = async (file: string, caption: string, spec: Parameters<typeof renderSvg>[0]): Promise<void> => {
    put(file, await renderSvg(spec));
    if (!skipped.includes(file)) figures.files.push({ caption, file });
  };
  const series = (c: Cell): string => `${cellLabel(c)}${c.dataset === 'synthetic' ? `, ${c.regime}` : ''}`;
  const synthetic = summary.cells.filter((c) => c.cell.dataset === 'synthetic' && c.finals.length > 0);
  if (synthetic.length > 0) {
    const points = (pick: (c: (typeof synthetic)[number]) => { mean: number; halfWidth: number } | null): IntervalPoint[] =>
      synthetic.flatMap((c) => {
        const v = pick(c);
        if (!v) return [];
        const half = Number.isFinite(v.halfWidth) ? v.halfWidth : 0;
        return [{ series: series(c.cell), x: c.cell.tasks, y: v.mean, low: v.mean - half, high: v.mean + half }];
      });
    await figure('test-mse-over-tasks.svg', 'Test MSE over the number of tasks', intervalLinesSpec(points((c) => c.test), { title: 'Test MSE (mean ± 95% CI over seeds)', xTitle: 'tasks', yTitle: 'test MSE (mean over tasks)', logX: true }));
    await figure('selection-nmi-over-tasks.svg', 'Selection NMI over the number of tasks', intervalLinesSpec(points((c) => c.nmi), { title: 'Selection NMI (mean ± 95% CI over seeds)', xTitle: 'tasks', yTitle: 'NMI(selected expert; task group)', logX: true }));
    const largest = Math.max(...synthetic.map((c) => c.cell.tasks));
    for (const c of synthetic.filter((s) => s.cell.tasks === largest && s.finals[0]?.gateWeights)) {
      const groups = Array.from({ length: c.cell.tasks }, (_, t) => contiguousGroupOf(t, c.cell.tasks, reproduceGroupCount(c.cell.tasks)));
      await figure(`heatmap-${slug(c.cell.key)}.svg`, `Expert weights per task, ${c.cell.key}, seed 0`, heatmapSpec({ title: `Expert weights per task — ${cellLabel(c.cell)}, ${c.cell.regime}, ${c.cell.tasks} tasks (seed 0)`, weights: c.finals[0]!.gateWeights!, groups }));
    }
  }
  const epochs = records.filter((r) => r.kind === 'epoch');
  if (epochs.length > 0) {
    const latest = new Map<string, (typeof epochs)[number]>();
    for (const e of epochs) latest.set(`${e.id}#${e.epoch}`, e);
    const rows = [...latest.values()];
    const accuracy: IntervalPoint[] = rows.map((e) => {
      const accs = e.valAccuracy.filter((a): a is number => a !== null);
      const y = accs.length > 0 ? (100 * accs.reduce((a, b) => a + b, 0)) / accs.length : Number.NaN;
      return { series: e.id, x: e.epoch, y, low: y, high: y };
    });
    await figure('validation-accuracy.svg', 'Validation accuracy per epoch', intervalLinesSpec(accuracy.filter((p) => Number.isFinite(p.y)), { title: 'Validation accuracy (mean over tasks) per epoch', xTitle: 'epoch', yTitle: 'accuracy, %' }));
    const binary: IntervalPoint[] = rows.filter((e) => e.binarySelectorFraction !== null).map((e) => ({ series: e.id, x: e.epoch, y: e.binarySelectorFraction!, low: e.binarySelectorFraction!, high: e.binarySelectorFraction! }));
    if (binary.length > 0) await figure('binary-selectors.svg', 'DSelect-k: fraction of binary selectors per epoch', intervalLinesSpec(binary, { title: 'DSelect-k selectors that are exactly one-hot', xTitle: 'epoch', yTitle: 'fraction binary' }));
  }
  if (skipped.length > 0) figures.unavailable = PLOTS_UNAVAILABLE;
  put('summary.json', JSON.stringify(summary, null, 1) + '\n');
  put('report.md', renderReproduceMarkdown(summary, ctx, figures));
  return { files: written.map((f) => (f.startsWith(dir) ? f : join(dir, f))), summary };
}
