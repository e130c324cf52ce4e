import { formatProvenance } from './provenance.js';
import type { CompareResults, VariantSummary } from './results.js';
import { formatMeanCi, formatMeanStd, formatPValue, formatTable, markdownTable } from './table.js';

/** The comparison as tables: one summary row per gate, one per-task row per task. */

const SUMMARY_HEADERS = (r: CompareResults): string[] => [
  'gate',
  'regime',
  `${r.overallMetric}, mean ± 95% CI`,
  'selection quality (ours)',
  'active experts',
  'train s',
  'p vs Top-k (same regime)',
  'p, Holm',
];

function labelOf(r: CompareResults, id: string): string {
  return r.variants.find((v) => v.id === id)?.label ?? id;
}

function summaryRows(r: CompareResults): string[][] {
  return r.variants.map((v) => [
    v.label,
    v.regime,
    formatMeanCi(v.overallCi, 4),
    v.selection.n > 0 ? formatMeanStd(v.selection.mean, v.selection.std, 3) : 'n/a',
    v.activeExperts.mean.toFixed(2),
    v.trainSeconds.mean.toFixed(1),
    v.versusBaseline ? formatPValue(v.versusBaseline.overall.welch?.p) : baselineCell(r, v),
    v.versusBaseline ? formatPValue(v.versusBaseline.overall.pHolm) : '',
  ]);
}

function baselineCell(r: CompareResults, v: VariantSummary): string {
  return r.baselines[v.regime] === v.id ? '(baseline)' : 'n/a (no Top-k in this regime)';
}

function perTaskHeaders(r: CompareResults): string[] {
  const hasGroups = r.dataset.tasks.some((t) => t.group !== null);
  return ['task', ...(hasGroups ? ['group'] : []), 'metric', ...r.variants.map((v) => v.label)];
}

function perTaskRows(r: CompareResults, withP: boolean): string[][] {
  const hasGroups = r.dataset.tasks.some((t) => t.group !== null);
  return r.dataset.tasks.map((task, t) => [
    task.name,
    ...(hasGroups ? [task.group === null ? '' : String(task.group)] : []),
    task.metric,
    ...r.variants.map((v: VariantSummary) => {
      const cell = formatMeanCi(v.perTaskCi[t]!, 4);
      const test = v.versusBaseline?.perTask[t];
      return withP && test ? `${cell} (p ${formatPValue(test.welch?.p)}, Holm ${formatPValue(test.pHolm)})` : cell;
    }),
  ]);
}

/** Terminal output; with many tasks only the first `maxTaskRows` per-task rows are printed. */
export function renderText(r: CompareResults, maxTaskRows = 16): string {
  const seeds = Math.max(...r.variants.map((v) => v.runs.length));
  const lines = [
    `${r.dataset.description}; ${seeds} seed(s) per gate; mean ± 95% confidence half-width over seeds (t distribution)`,
    '',
    formatTable(SUMMARY_HEADERS(r), summaryRows(r)),
    '',
    `p: two-sided Welch's t-test of the per-seed ${r.overallMetric} against Top-k of the same regime; Holm: corrected over the ${r.variants.filter((v) => v.versusBaseline).length} gate(s) tested.`,
    '',
    `Per-task ${r.dataset.tasks[0]?.metric ?? 'metric'} (test set):`,
    formatTable(perTaskHeaders(r), perTaskRows(r, false).slice(0, maxTaskRows)),
  ];
  if (r.dataset.tasks.length > maxTaskRows) lines.push(`… ${r.dataset.tasks.length - maxTaskRows} more tasks in report.md`);
  return lines.join('\n');
}

export interface ReportFigures {
  lossCurves: string;
  heatmaps: { variant: string; file: string }[];
  /** Why the figures are missing, when they could not be drawn. */
  unavailable: string | null;
}

export function renderMarkdown(r: CompareResults, figures: ReportFigures): string {
  const seeds = Math.max(...r.variants.map((v) => v.runs.length));
  const settings = Object.entries(r.settings).map(([k, v]) => `\`${k}\` = ${JSON.stringify(v)}`).join(', ');
  const tested = r.variants.filter((v) => v.versusBaseline);
  const perTaskTests = tested.reduce((n, v) => n + v.versusBaseline!.perTask.filter((t) => t.welch !== null).length, 0);
  const out: string[] = [
    '# DSelect-k comparison report',
    '',
    `Generated ${r.createdAt} by \`${r.command}\`.`,
    '',
    ...(r.provenance ? [`**Provenance**: ${formatProvenance(r.provenance)}.`, ''] : []),
    `**Data**: ${r.dataset.description} — ${r.dataset.sizes.train} training, ${r.dataset.sizes.val} validation and ${r.dataset.sizes.test} test examples.`,
    '',
    `**Settings**: ${settings}. Every gate gets these same settings; none was tuned for any gate (\`dselect-k reproduce\` runs the tuned, many-seed protocol).`,
    '',
    `Every gate is trained on the same data with ${seeds} seed(s); cells are the mean over seeds ± the half-width of its 95% confidence interval (Student's t with n − 1 degrees of freedom).`,
    '',
    '## Summary',
    '',
    markdownTable(SUMMARY_HEADERS(r), summaryRows(r)),
    '',
    `- **regime**: static gates learn one weight vector per task; per-example gates compute the weights from each input. Every gate is tested against Top-k of its own regime only.`,
    `- **${r.overallMetric}**: the test metric averaged over tasks (${r.lowerIsBetter ? 'lower' : 'higher'} is better).`,
    '- **selection quality (ours)**: a score of this project, not of the paper: mean overlap of the expert-weight profiles of two tasks of the same ground-truth group minus that of two tasks of different groups, ∈ [−1, 1] (1: each group has its own experts, shared by all its tasks; 0: selection ignores the groups); mean ± std over seeds. A profile is the task\'s gate weights normalised to sum 1 (per-example gates: averaged over the test set); overlap is Σ_e min(p_a,e, p_b,e).',
    '- **active experts**: experts with a non-zero weight, per task (per example for per-example gates), averaged over tasks and test examples.',
    '- **train s**: wall-clock training time per run.',
    `- **p**: two-sided Welch's t-test (unequal variances) of the per-seed ${r.overallMetric} of each gate against Top-k of the same regime; **p, Holm**: Holm's step-down correction over the ${tested.length} tests of this table.`,
    '',
    '## Significance against Top-k of the same regime',
    '',
    `Mean difference = gate − Top-k in ${r.overallMetric} (${r.lowerIsBetter ? 'negative' : 'positive'}: better than Top-k); Welch's t with Welch–Satterthwaite degrees of freedom, two-sided p from Student's t distribution, then Holm-corrected over this table.`,
    '',
    markdownTable(
      ['gate', 'baseline', 'mean difference', 't', 'df', 'p', 'p, Holm'],
      tested.map((v) => {
        const { baseline, overall } = v.versusBaseline!;
        const w = overall.welch;
        return w
          ? [v.label, labelOf(r, baseline), w.meanDifference.toFixed(5), w.t.toFixed(3), w.df.toFixed(2), formatPValue(w.p), formatPValue(overall.pHolm)]
          : [v.label, labelOf(r, baseline), 'n/a', 'n/a', 'n/a', 'n/a (needs ≥ 2 seeds and non-zero variance)', 'n/a'];
      }),
    ),
    '',
    '## Loss curves',
    '',
    figures.unavailable ? `(${figures.unavailable})` : `![loss curves](${figures.lossCurves})`,
    '',
    'Solid: validation loss, dashed: training loss (task losses only, without the gate regularisers, averaged over the epoch\'s batches); both are means over tasks. Band: ± one std over seeds.',
    '',
    '## Expert weights per task',
    '',
    'Rows are tasks (with their ground-truth group), columns experts; the colour is the gate weight (per-example gates: averaged over the test set). One model per gate (the first seed): expert identities are arbitrary, so weights are not averaged across seeds.',
    '',
    ...(figures.unavailable ? [`(${figures.unavailable})`, ''] : figures.heatmaps.flatMap((h) => [`### ${h.variant}`, '', `![${h.variant}](${h.file})`, ''])),
    '## Per-task results',
    '',
    `Mean ± 95% CI over seeds; p: Welch's test against Top-k of the same regime; Holm: corrected over all ${perTaskTests} per-task tests of this table.`,
    '',
    markdownTable(perTaskHeaders(r), perTaskRows(r, true)),
    '',
    `Raw numbers for every run (per-task metrics, loss history, gate weights) are in \`results.json\`.`,
    '',
  ];
  return out.join('\n');
}
