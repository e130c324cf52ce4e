import { formatProvenance } from './provenance.js';
import type { Cell, ResultRecord, Setting } from './reproduce-records.js';
import { verdict, type CellSummary, type GateTest, type ReproduceSummary } from './reproduce-summary.js';
import type { Summary } from './stats.js';
import { formatMeanCi, formatPValue, markdownTable } from './table.js';

/** report.md of a reproduce run, written from its ledger alone. */

export interface ReproduceFigures {
  /** [caption, file] pairs, or why there are none. */
  files: { caption: string; file: string }[];
  unavailable: string | null;
}

/** A published number and whether it was obtained under our protocol. */
export interface PublishedNumber {
  source: string;
  what: string;
  value: string;
  /** 'same protocol', or why it is not comparable. */
  comparability: string;
}

export interface ReproduceReportContext {
  title: string;
  /** Markdown paragraphs describing the protocol (data, model, training, tuning, metrics). */
  protocolText: string[];
  /** Planned runs: cells × (trials + seeds). */
  plannedRuns: number;
  /** How to continue the run or rebuild this report. */
  commands: string[];
  published: PublishedNumber[];
}

export const GATE_LABELS: Record<string, string> = { 'dselect-k': 'DSelect-k', 'top-k': 'Top-k', 'noisy-top-k': 'Noisy Top-k', softmax: 'Softmax' };

/** 'DSelect-k (k = 2)' in the synthetic tables (one regime per table); with the regime elsewhere. */
export function cellLabel(cell: Cell): string {
  const name = GATE_LABELS[cell.gate] ?? cell.gate;
  if (cell.dataset !== 'synthetic') {
    const mmoe = cell.gate === 'softmax' && cell.regime === 'per-example' ? ', MMoE' : '';
    return `${name} (${cell.regime}${cell.k === null ? '' : `, k = ${cell.k}`}${mmoe})`;
  }
  return `${name}${cell.k === null ? (cell.gate === 'softmax' ? ' (dense)' : '') : ` (k = ${cell.k})`}`;
}

const num = (x: number, digits = 4): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : 'n/a');
const meanStd = (s: Summary | null, digits = 2): string => (s && s.n > 0 ? `${num(s.mean, digits)}${s.n > 1 ? ` ± ${num(s.std, digits)}` : ''}` : 'n/a');

export function formatSetting(s: Setting): string {
  const parts = [`lr ${s.lr}`];
  if (s.entropyWeight !== undefined) parts.push(`λ ${s.entropyWeight}`);
  if (s.gamma !== undefined) parts.push(`γ ${s.gamma}`);
  if (s.balanceWeight !== undefined) parts.push(`balance ${s.balanceWeight}`);
  return parts.join(', ');
}

/** ', 1 h 22 min wall' from a session's start to its last finished run (before the next session started). */
function sessionWall(summary: ReproduceSummary, i: number): string {
  const start = Date.parse(summary.sessions[i]!.startedAt);
  const next = i + 1 < summary.sessions.length ? Date.parse(summary.sessions[i + 1]!.startedAt) : Infinity;
  const ends = summary.cells.flatMap((c) => [...c.trials, ...c.finals]).map((r) => Date.parse(r.finishedAt)).filter((t) => t >= start && t < next);
  return ends.length > 0 ? `: ${ends.length} runs, ${hours((Math.max(...ends) - start) / 1000)} wall` : '';
}

function hours(seconds: number): string {
  return seconds >= 3600 ? `${(seconds / 3600).toFixed(2)} h` : seconds >= 60 ? `${(seconds / 60).toFixed(1)} min` : `${seconds.toFixed(1)} s`;
}

function testFor(tests: readonly GateTest[], cell: string, metric: GateTest['metric'], baseline?: string): GateTest | undefined {
  return tests.find((t) => t.cell === cell && t.metric === metric && (baseline === undefined || t.baseline === baseline));
}

function pCell(t: GateTest | undefined): string {
  if (!t) return '';
  if (!t.welch) return 'n/a';
  return `${formatPValue(t.welch.p)} / ${formatPValue(t.pHolm)}`;
}

/** Results table of one group of cells (e.g. T = 128, static regime, k = 2, plus the dense softmax). */
function resultsTable(cells: readonly CellSummary[], tests: readonly GateTest[], metric: 'mse' | 'accuracy', baselineKey: string | undefined): string {
  const regression = metric === 'mse';
  const headers = [
    'gate',
    'seeds',
    `test ${regression ? 'MSE' : 'accuracy'} (mean ± 95% CI)`,
    ...(regression ? ['selection NMI (mean ± 95% CI)', 'selection quality (ours)'] : []),
    'active experts',
    'binary selectors',
    'epochs',
    'chosen setting',
    `p vs Top-k: ${regression ? 'MSE' : 'accuracy'} (raw / Holm)`,
    ...(regression ? ['p vs Top-k: NMI (raw / Holm)'] : []),
  ];
  const rows = cells.map((c) => {
    const setting = c.finals[0]?.setting ?? c.chosen?.setting;
    const isBaseline = c.cell.key === baselineKey;
    return [
      cellLabel(c.cell),
      String(c.finals.length),
      regression ? formatMeanCi(c.test, 4) : formatMeanCi({ ...c.test, mean: 100 * c.test.mean, halfWidth: 100 * c.test.halfWidth }, 2),
      ...(regression ? [c.nmi ? formatMeanCi(c.nmi, 3) : 'n/a', meanStd(c.overlapScore, 3)] : []),
      meanStd(c.activeExperts),
      c.binarySelectorFraction ? meanStd(c.binarySelectorFraction) : '—',
      meanStd(c.epochs, 1),
      setting ? formatSetting(setting) : '(tuning unfinished)',
      isBaseline ? '(baseline)' : baselineKey !== undefined && c.cell.regime !== cells.find((b) => b.cell.key === baselineKey)?.cell.regime ? 'n/a (no Top-k in its regime)' : pCell(testFor(tests, c.cell.key, 'test', baselineKey)),
      ...(regression ? [isBaseline ? '(baseline)' : pCell(testFor(tests, c.cell.key, 'nmi', baselineKey))] : []),
    ];
  });
  return markdownTable(headers, rows);
}

/** Sentences derived from the tests, so the report's claims are the ledger's. */
function verdictLines(summary: ReproduceSummary): string[] {
  const byKey = new Map(summary.cells.map((c) => [c.cell.key, c]));
  return summary.tests
    .filter((t) => byKey.get(t.cell)?.cell.gate === 'dselect-k')
    .map((t) => {
      const cell = byKey.get(t.cell)!.cell;
      const where = cell.dataset === 'synthetic' ? `${cell.tasks} tasks, ${cell.regime}, k = ${cell.k}` : `${cell.dataset}, ${cell.regime}, k = ${cell.k}`;
      const what = t.metric === 'nmi' ? 'selection NMI' : summary.testMetric === 'accuracy' ? 'test accuracy' : 'test MSE';
      const v = verdict(t);
      const diff = t.welch ? ` (difference ${t.welch.meanDifference >= 0 ? '+' : ''}${t.welch.meanDifference.toPrecision(3)}, Holm p ${formatPValue(t.pHolm)})` : '';
      return `- ${where}: DSelect-k vs Top-k on ${what}: **${v}**${diff}.${t.metric === 'test' ? sparsityCaveat(byKey.get(t.cell)!) : ''}`;
    });
}

/** A DSelect-k result whose gates use more than k experts is not (wholly) a sparse gate's result: say so. */
function sparsityCaveat(c: CellSummary): string {
  const binary = c.binarySelectorFraction;
  if (c.cell.k === null || !binary || binary.n === 0) return '';
  const active = c.activeExperts.mean;
  // Within 5% of k: a handful of selectors still blend two experts; the result is a sparse gate's.
  if (active <= c.cell.k * 1.05) return '';
  const detail = `${active.toFixed(2)} experts active per task for k = ${c.cell.k}, ${(100 * binary.mean).toFixed(0)}% of the selectors one-hot`;
  if (binary.mean >= 0.5) return ` Its gates were only partly sparse at the kept (best-validation) epoch: ${detail}.`;
  return ` Its gates were not sparse at the kept (best-validation) epoch: ${detail} — this is a dense gate's result.`;
}

/** Synthetic: one table group per (task count, regime); real data: one per dataset (the regime is in each row's label). */
function groupKey(c: Cell): string {
  return c.dataset === 'synthetic' ? `${c.dataset}|${c.tasks}|${c.regime}` : c.dataset;
}

export function renderReproduceMarkdown(summary: ReproduceSummary, ctx: ReproduceReportContext, figures: ReproduceFigures): string {
  const metric = summary.testMetric ?? 'mse';
  const finished = summary.cells.reduce((n, c) => n + c.trials.length + c.finals.length, 0);
  const last = summary.sessions[summary.sessions.length - 1];
  const out: string[] = [`# ${ctx.title}`, ''];
  out.push(`Rebuilt from \`ledger.jsonl\` (${finished} of ${ctx.plannedRuns} planned runs finished). Everything below comes from that file; rerunning the command continues it.`, '');
  if (last) out.push(`**Provenance** (latest session, ${last.startedAt}): ${formatProvenance(last.provenance)}.`, '');
  out.push('## Protocol (fixed before the runs)', '', ...ctx.protocolText.flatMap((p) => [p, '']));
  out.push('## Budget', '');
  out.push(
    `- Planned: ${ctx.plannedRuns} runs. Finished: ${finished}. Training time of the finished runs: ${hours(summary.trainSeconds)} (sum over runs, one process, wall clock).`,
    `- Load average (1 min) when runs finished: ${summary.loadAverage.n > 0 ? `${num(summary.loadAverage.mean, 1)} on average` : 'n/a'} on a machine whose cores other jobs shared: times are indicative only.`,
    `- Sessions: ${summary.sessions.length}${summary.sessions.length > 0 ? ` (${summary.sessions.map((s, i) => `\`${s.command}\`${sessionWall(summary, i)}`).join('; ')})` : ''}.`,
    '',
  );
  out.push('## Results', '');
  const groups = new Map<string, CellSummary[]>();
  for (const c of summary.cells) {
    const key = groupKey(c.cell);
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (const cells of groups.values()) {
    const first = cells[0]!.cell;
    const ks = [...new Set(cells.map((c) => c.cell.k).filter((k): k is number => k !== null))].sort();
    const heading = first.dataset === 'synthetic' ? `${first.tasks} tasks, ${first.regime} gates` : `${first.dataset}, ${first.tasks} tasks`;
    out.push(`### ${heading}`, '');
    if (first.dataset === 'synthetic') {
      for (const k of ks) {
        const group = cells.filter((c) => c.cell.k === k || c.cell.k === null);
        const baseline = group.find((c) => c.cell.gate === 'top-k' && c.cell.k === k)?.cell.key;
        out.push(`k = ${k}:`, '', resultsTable(group, summary.tests, metric, baseline), '');
      }
    } else {
      const baseline = cells.find((c) => c.cell.gate === 'top-k')?.cell.key;
      out.push(resultsTable(cells, summary.tests, metric, baseline), '');
      out.push(...perTaskLines(cells), '');
    }
  }
  out.push(
    'Columns: **seeds** — final runs finished (each a different model seed at the chosen setting); **test** — mean over tasks on the test split, mean over seeds ± the half-width of the 95% confidence interval (Student\'s t, n − 1 degrees of freedom); **selection NMI** — the selection metric of this protocol (defined above); **selection quality (ours)** — this project\'s own overlap score (same-group minus different-group overlap of the tasks\' expert-weight profiles), not a metric of the paper, mean ± std; **active experts** — experts with a non-zero weight per task (per example for per-example gates); **binary selectors** — DSelect-k: fraction of single-expert selectors that are exactly one-hot at the end; **p** — two-sided Welch test against Top-k of the same regime and k: raw, and after Holm\'s correction over all tests of the same regime in this report.',
    '',
  );
  const inference = summary.cells.filter((c) => c.inference);
  if (inference.length > 0) {
    out.push('## Sparse inference', '');
    out.push(
      markdownTable(
        ['gate', 'experts evaluated', 'dense s', 'sparse s', 'speed-up'],
        inference.map((c) => {
          const i = c.inference!;
          return [cellLabel(c.cell), `${meanStd(i.expertsEvaluated, 1)} of ${i.numExperts}`, meanStd(i.denseSeconds, 2), meanStd(i.sparseSeconds, 2), `${meanStd(i.speedup, 2)}×`];
        }),
      ),
      '',
      `Wall seconds to run the test model over the first ${inference[0]!.inference!.examples} test examples (batch 256; the fastest of 3 passes) with every expert evaluated (dense) and with the experts that no task's gate selects skipped (sparse; exact, the outputs are identical). A static gate whose selectors are binary uses at most k experts per task.`,
      '',
    );
  }
  const unfinished = summary.cells.flatMap((c) => c.unfinished.map((e) => ({ c, e })));
  if (unfinished.length > 0) {
    out.push('## Runs in progress', '');
    out.push(
      markdownTable(
        ['run', 'epochs done', 'validation loss', 'validation accuracy per task', 'binary selectors'],
        unfinished.map(({ e }) => [e.id, String(e.epoch), num(e.valLoss), e.valAccuracy.map((a) => (a === null ? 'n/a' : pct(a))).join(' / '), e.binarySelectorFraction === null ? '—' : num(e.binarySelectorFraction, 2)]),
      ),
      '',
      'Each continues from its last checkpoint (`runs/<id>/checkpoint.dsk`, kept locally, not in git) when the command is run again; without the checkpoint the run starts over.',
      '',
    );
  }
  const verdicts = verdictLines(summary);
  if (verdicts.length > 0) out.push('## What the ledger shows', '', 'DSelect-k against Top-k of the same regime and k, at family-wise α = 0.05 after Holm\'s correction (one family per regime):', '', ...verdicts, '');
  if (ctx.published.length > 0) {
    out.push('## Published numbers', '', markdownTable(['source', 'what', 'value', 'comparable with ours?'], ctx.published.map((p) => [p.source, p.what, p.value, p.comparability])), '');
  }
  if (figures.files.length > 0 || figures.unavailable) {
    out.push('## Figures', '');
    if (figures.unavailable) out.push(`(${figures.unavailable})`, '');
    for (const f of figures.files) out.push(`![${f.caption}](${f.file})`, '');
  }
  const tuned = summary.cells.filter((c) => c.trials.length > 0);
  if (tuned.length > 0) {
    out.push('## Tuning trials', '', 'Every trial of every cell with its validation loss (mean over tasks at the best epoch); the lowest one is the chosen setting (★).', '');
    out.push(
      markdownTable(
        ['cell', 'trial', 'setting', 'validation loss', 'epochs'],
        tuned.flatMap((c) => c.trials.map((t: ResultRecord) => [c.cell.key, `${t.index}${c.chosen?.id === t.id ? ' ★' : ''}`, formatSetting(t.setting), num(t.validation.loss, 5), String(t.epochs)])),
      ),
      '',
    );
  }
  out.push('## Continue or rebuild', '', ...ctx.commands.map((c) => `    ${c}`), '');
  return out.join('\n');
}

function perTaskLines(cells: readonly CellSummary[]): string[] {
  const withFinals = cells.filter((c) => c.finals.length > 0);
  if (withFinals.length === 0) return [];
  const T = withFinals[0]!.perTask.length;
  return [
    markdownTable(
      ['gate', ...Array.from({ length: T }, (_, t) => `task ${t + 1} test accuracy`)],
      withFinals.map((c) => [cellLabel(c.cell), ...c.perTask.map((ci) => formatMeanCi({ ...ci, mean: 100 * ci.mean, halfWidth: 100 * ci.halfWidth }, 2))]),
    ),
  ];
}
