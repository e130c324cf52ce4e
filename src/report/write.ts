import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ensureDirectory } from '../node/ensure-dir.js';
import { replaceDirectory } from '../node/replace-dir.js';
import { heatmapSpec, lossCurveSpec, PLOTS_UNAVAILABLE, renderSvg, type LossPoint } from './plots.js';
import { renderMarkdown, type ReportFigures } from './render.js';
import type { CompareResults } from './results.js';
import { summarise } from './stats.js';

/** Mean ± std over seeds of the per-epoch losses of every variant. */
export function lossPoints(r: CompareResults): LossPoint[] {
  const points: LossPoint[] = [];
  for (const v of r.variants) {
    const epochs = Math.min(...v.runs.map((run) => run.history.length));
    for (let e = 0; e < epochs; e++) {
      const at = v.runs.map((run) => run.history[e]!);
      const train = summarise(at.map((h) => h.trainLoss));
      const val = summarise(at.map((h) => h.valLoss));
      points.push({ variant: v.label, epoch: at[0]!.epoch, split: 'train', mean: train.mean, std: train.std });
      points.push({ variant: v.label, epoch: at[0]!.epoch, split: 'validation', mean: val.mean, std: val.std });
    }
  }
  return points;
}

export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/**
 * Creates `dir`; `put` writes a file into it and records its path in `written`. A null text (a figure
 * that could not be drawn, see PLOTS_UNAVAILABLE) writes nothing and is counted in `skipped`.
 */
export function reportFolder(dir: string): { put: (name: string, text: string | null) => void; written: string[]; skipped: string[] } {
  ensureDirectory(dir, 'report');
  const written: string[] = [];
  const skipped: string[] = [];
  const put = (name: string, text: string | null): void => {
    if (text === null) {
      skipped.push(name);
      return;
    }
    writeFileSync(join(dir, name), text);
    written.push(join(dir, name));
  };
  return { put, written, skipped };
}

/**
 * Writes results.json, report.md and the SVG figures as the new folder `dir`, replacing the previous
 * report as a whole only once every file is written (a failure leaves the previous report intact);
 * returns the files written.
 */
export async function writeReport(dir: string, r: CompareResults): Promise<string[]> {
  return stageReport(dir, (staging) => writeReportFiles(staging, r));
}

/**
 * Builds a report as the new folder `dir`: `fill` writes it into a staging folder and returns the files
 * written; only then does it replace `dir` as a whole (see replaceDirectory). Returns the files' final paths.
 */
export async function stageReport(dir: string, fill: (staging: string) => Promise<string[]>): Promise<string[]> {
  const target = resolve(dir);
  const names = await replaceDirectory(target, async (staging) => (await fill(staging)).map((path) => relative(staging, path)));
  return names.map((name) => join(target, name));
}

async function writeReportFiles(dir: string, r: CompareResults): Promise<string[]> {
  const { put, written, skipped } = reportFolder(dir);
  put('results.json', JSON.stringify(r, null, 2) + '\n');
  const figures: ReportFigures = { lossCurves: 'loss-curves.svg', heatmaps: [], unavailable: null };
  put(figures.lossCurves, await renderSvg(lossCurveSpec(lossPoints(r), `Loss per epoch — ${r.dataset.name}`)));
  const groups = r.dataset.tasks.some((t) => t.group !== null) ? r.dataset.tasks.map((t) => t.group ?? -1) : undefined;
  for (const v of r.variants) {
    const run = v.runs[0];
    if (!run) continue;
    const file = `heatmap-${slug(v.id)}.svg`;
    const title = `Expert weights per task — ${v.label} (seed ${run.seed})`;
    put(file, await renderSvg(heatmapSpec({ title, weights: run.gateWeights, ...(groups ? { groups } : {}) })));
    figures.heatmaps.push({ variant: v.label, file });
  }
  if (skipped.length > 0) figures.unavailable = PLOTS_UNAVAILABLE;
  put('report.md', renderMarkdown(r, figures));
  return written;
}

/**
 * Whether `dir` may be replaced by a report of `tool` (e.g. 'dselect-k compare'): it does not exist, is
 * empty, or holds a previous report of that tool (its results.json says so). Anything else might be a
 * user's files.
 */
export function isReplaceableReportFolder(dir: string, tool: string): boolean {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
  if (entries.length === 0) return true;
  try {
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { tool?: unknown } | null;
    return results?.tool === tool;
  } catch {
    return false;
  }
}
