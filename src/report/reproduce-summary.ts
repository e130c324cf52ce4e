import type { Cell, EpochRecord, LedgerRecord, ProtocolRecord, ResultRecord, SessionRecord } from './reproduce-records.js';
import { confidenceInterval, holmAdjust, summarise, welchTTest, type ConfidenceInterval, type Summary, type WelchResult } from './stats.js';

/**
 * A reproduce ledger folded into what the report shows: per cell the tuning trials, the chosen setting
 * and the final seeds' test results; every gate tested against Top-k of the same regime (and k) with
 * Welch's test, Holm-corrected over every test of the same dataset and regime. Rebuilt from the ledger alone.
 */

export interface CellSummary {
  cell: Cell;
  trials: ResultRecord[];
  /** The trial whose setting the final seeds use (lowest validation loss); null when the cell is untuned or its tuning is unfinished. */
  chosen: ResultRecord | null;
  finals: ResultRecord[];
  test: ConfidenceInterval;
  perTask: ConfidenceInterval[];
  nmi: ConfidenceInterval | null;
  overlapScore: Summary | null;
  activeExperts: Summary;
  binarySelectorFraction: Summary | null;
  epochs: Summary;
  seconds: Summary;
  inference: { denseSeconds: Summary; sparseSeconds: Summary; speedup: Summary; expertsEvaluated: Summary; numExperts: number; examples: number } | null;
  /** Epoch lines of runs that have not finished (latest per run). */
  unfinished: EpochRecord[];
}

export interface GateTest {
  /** The cell tested and its baseline (Top-k of the same regime and k). */
  cell: string;
  baseline: string;
  metric: 'test' | 'nmi';
  lowerIsBetter: boolean;
  welch: WelchResult | null;
  pHolm: number | null;
}

export interface ReproduceSummary {
  protocol: ProtocolRecord | null;
  sessions: SessionRecord[];
  cells: CellSummary[];
  tests: GateTest[];
  /** Σ of every finished run's training seconds. */
  trainSeconds: number;
  loadAverage: Summary;
  testMetric: 'mse' | 'accuracy' | null;
}

const meanOf = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

export function summariseLedger(records: readonly LedgerRecord[], cellOrder: readonly Cell[] = []): ReproduceSummary {
  const protocol = records.find((r): r is ProtocolRecord => r.kind === 'protocol') ?? null;
  const sessions = records.filter((r): r is SessionRecord => r.kind === 'session');
  const results = new Map<string, ResultRecord>();
  for (const r of records) if (r.kind === 'result') results.set(r.id, r);
  const latestEpoch = new Map<string, EpochRecord>();
  for (const r of records) if (r.kind === 'epoch') latestEpoch.set(r.id, r);

  const cells = new Map<string, Cell>();
  for (const c of cellOrder) cells.set(c.key, c);
  for (const r of results.values()) if (!cells.has(r.cell.key)) cells.set(r.cell.key, r.cell);

  const summaries: CellSummary[] = [...cells.values()].map((cell) => {
    const mine = [...results.values()].filter((r) => r.cell.key === cell.key);
    const trials = mine.filter((r) => r.phase === 'trial').sort((a, b) => a.index - b.index);
    const finals = mine.filter((r) => r.phase === 'final').sort((a, b) => a.index - b.index);
    const chosen = trials.length > 0 ? trials.reduce((best, t) => (t.validation.loss < best.validation.loss ? t : best)) : null;
    const T = finals[0]?.test.perTask.length ?? 0;
    const nmis = finals.map((f) => f.selection.nmi).filter((v): v is number => v !== null);
    const overlaps = finals.map((f) => f.selection.overlapScore).filter((v): v is number => v !== null);
    const binaries = finals.map((f) => f.binarySelectorFraction).filter((v): v is number => v !== null);
    const inferences = finals.map((f) => f.inference).filter((i): i is NonNullable<ResultRecord['inference']> => i !== null);
    const prefix = `${cell.key}/`;
    const unfinished = [...latestEpoch.values()].filter((e) => e.id.startsWith(prefix) && !results.has(e.id));
    return {
      cell,
      trials,
      chosen,
      finals,
      test: confidenceInterval(finals.map((f) => f.test.mean)),
      perTask: Array.from({ length: T }, (_, t) => confidenceInterval(finals.map((f) => f.test.perTask[t]!))),
      nmi: nmis.length > 0 ? confidenceInterval(nmis) : null,
      overlapScore: overlaps.length > 0 ? summarise(overlaps) : null,
      activeExperts: summarise(finals.map((f) => f.activeExperts)),
      binarySelectorFraction: binaries.length > 0 ? summarise(binaries) : null,
      epochs: summarise(finals.map((f) => f.epochs)),
      seconds: summarise(finals.map((f) => f.seconds)),
      inference:
        inferences.length > 0
          ? {
              denseSeconds: summarise(inferences.map((i) => i.denseSeconds)),
              sparseSeconds: summarise(inferences.map((i) => i.sparseSeconds)),
              speedup: summarise(inferences.map((i) => i.denseSeconds / i.sparseSeconds)),
              expertsEvaluated: summarise(inferences.map((i) => i.expertsEvaluated)),
              numExperts: inferences[0]!.numExperts,
              examples: inferences[0]!.examples,
            }
          : null,
      unfinished,
    };
  });

  const testMetric = [...results.values()].find((r) => r.phase === 'final')?.test.metric ?? null;
  const tests = gateTests(summaries, testMetric !== 'accuracy');
  const finished = [...results.values()];
  return {
    protocol,
    sessions,
    cells: summaries,
    tests,
    trainSeconds: finished.reduce((a, r) => a + r.seconds, 0),
    loadAverage: summarise(finished.map((r) => r.loadAverage[0] ?? Number.NaN).filter(Number.isFinite)),
    testMetric,
  };
}

/** The Top-k cell of the same dataset, task count, regime and k (softmax: every k). */
function baselinesOf(cell: Cell, cells: readonly CellSummary[]): CellSummary[] {
  if (cell.gate === 'top-k') return [];
  return cells.filter(
    (c) => c.cell.gate === 'top-k' && c.cell.dataset === cell.dataset && c.cell.tasks === cell.tasks && c.cell.regime === cell.regime && (cell.k === null || c.cell.k === cell.k),
  );
}

function gateTests(cells: readonly CellSummary[], lowerIsBetter: boolean): GateTest[] {
  const raw: Omit<GateTest, 'pHolm'>[] = [];
  for (const c of cells) {
    for (const b of baselinesOf(c.cell, cells)) {
      raw.push({ cell: c.cell.key, baseline: b.cell.key, metric: 'test', lowerIsBetter, welch: welchTTest(c.finals.map((f) => f.test.mean), b.finals.map((f) => f.test.mean)) });
      const nmiA = c.finals.map((f) => f.selection.nmi).filter((v): v is number => v !== null);
      const nmiB = b.finals.map((f) => f.selection.nmi).filter((v): v is number => v !== null);
      if (nmiA.length > 0 && nmiB.length > 0) raw.push({ cell: c.cell.key, baseline: b.cell.key, metric: 'nmi', lowerIsBetter: false, welch: welchTTest(nmiA, nmiB) });
    }
  }
  // One family per (dataset, regime): the static and the per-example study are separate experiments, and
  // adding one to a ledger leaves the other's corrected p-values as they were.
  const family = (key: string): string => {
    const c = cells.find((x) => x.cell.key === key)!.cell;
    return `${c.dataset}|${c.regime}`;
  };
  const pHolm = new Array<number | null>(raw.length).fill(null);
  for (const f of new Set(raw.map((t) => family(t.cell)))) {
    const members = raw.map((t, i) => ({ t, i })).filter(({ t }) => family(t.cell) === f);
    const adjusted = holmAdjust(members.map(({ t }) => t.welch?.p ?? null));
    members.forEach(({ i }, j) => (pHolm[i] = adjusted[j] ?? null));
  }
  return raw.map((t, i) => ({ ...t, pHolm: pHolm[i] ?? null }));
}

/** 'better' / 'worse' at family-wise level α after Holm, else 'no significant difference'. */
export function verdict(test: GateTest, alpha = 0.05): 'better' | 'worse' | 'no significant difference' | 'not testable' {
  if (!test.welch || test.pHolm === null) return 'not testable';
  if (test.pHolm >= alpha) return 'no significant difference';
  const lower = test.welch.meanDifference < 0;
  return lower === test.lowerIsBetter ? 'better' : 'worse';
}

export { meanOf };
