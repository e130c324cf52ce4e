import type { Provenance } from './provenance.js';
import { expertSelectionQuality, type SelectionQuality } from './selection.js';
import { confidenceInterval, holmAdjust, summarise, welchTTest, type ConfidenceInterval, type Summary, type WelchResult } from './stats.js';

/** Static gates learn one weight vector per task; per-example gates compute weights from each input. */
export type Regime = 'static' | 'per-example';

/** One trained model of a comparison: one gate variant, one seed. */
export interface RunResult {
  variant: string;
  seed: number;
  /** Test metric per task (MSE for regression tasks, accuracy for classification tasks). */
  taskMetrics: number[];
  /** Per completed epoch: training loss (mean over the epoch's batches) and validation loss, both averaged over tasks. */
  history: EpochLoss[];
  /** Task × expert gate weights (per-example gates: averaged over the test set). */
  gateWeights: number[][];
  /** Mean number of experts with a non-zero weight per task (per example, for per-example gates). */
  activeExperts: number;
  selection: SelectionQuality | null;
  trainSeconds: number;
}

export interface EpochLoss {
  epoch: number;
  trainLoss: number;
  valLoss: number;
}

export interface TaskInfo {
  name: string;
  /** 'mse' (lower is better) or 'accuracy' (higher is better). */
  metric: 'mse' | 'accuracy';
  group: number | null;
}

/** A Welch test against the baseline of the same regime, with its Holm-adjusted p-value. */
export interface BaselineTest {
  welch: WelchResult | null;
  /** p after Holm's correction over the report's family of tests (null when the test could not be run). */
  pHolm: number | null;
}

export interface VariantSummary {
  id: string;
  label: string;
  regime: Regime;
  runs: RunResult[];
  perTask: Summary[];
  perTaskCi: ConfidenceInterval[];
  /** Mean over tasks of the test metric, summarised over seeds. */
  overall: Summary;
  overallCi: ConfidenceInterval;
  selection: Summary;
  withinGroupOverlap: Summary;
  acrossGroupOverlap: Summary;
  activeExperts: Summary;
  trainSeconds: Summary;
  /** Tests against the Top-k variant of the same regime (null for that variant itself, or when the regime has none in the comparison). */
  versusBaseline: { baseline: string; overall: BaselineTest; perTask: BaselineTest[] } | null;
}

/** What a compare report's results.json says it is (how a previous report is recognised). */
export const COMPARE_TOOL = 'dselect-k compare';

export interface CompareResults {
  tool: typeof COMPARE_TOOL;
  createdAt: string;
  command: string;
  provenance: Provenance | null;
  dataset: {
    name: string;
    description: string;
    tasks: TaskInfo[];
    sizes: { train: number; val: number; test: number };
    details: Record<string, unknown>;
  };
  settings: Record<string, unknown>;
  /** Metric of the overall column, e.g. 'test MSE (mean over tasks)'. */
  overallMetric: string;
  lowerIsBetter: boolean;
  /** The baseline variant of each regime present in the comparison. */
  baselines: Partial<Record<Regime, string>>;
  variants: VariantSummary[];
}

export interface VariantRuns {
  id: string;
  label: string;
  regime: Regime;
  runs: RunResult[];
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Summaries over seeds per variant (mean, std, 95% CI) and each variant's Welch test against the
 * baseline of its regime. Two families get Holm's correction: the overall tests of all variants, and
 * the per-task tests of all (variant, task) pairs.
 */
export function summariseVariants(variants: readonly VariantRuns[], numTasks: number, baselines: Partial<Record<Regime, string>>): VariantSummary[] {
  const overallOf = (r: RunResult): number => mean(r.taskMetrics);
  const byId = new Map(variants.map((v) => [v.id, v]));
  const raw = variants.map((v) => {
    const baselineId = baselines[v.regime];
    const baseline = baselineId !== undefined ? byId.get(baselineId) : undefined;
    if (!baseline || baseline.id === v.id) return null;
    return {
      baseline: baseline.id,
      overall: welchTTest(v.runs.map(overallOf), baseline.runs.map(overallOf)),
      perTask: Array.from({ length: numTasks }, (_, t) =>
        welchTTest(
          v.runs.map((r) => r.taskMetrics[t]!),
          baseline.runs.map((r) => r.taskMetrics[t]!),
        ),
      ),
    };
  });
  const overallHolm = holmAdjust(raw.map((r) => (r ? (r.overall?.p ?? null) : null)));
  const perTaskHolm = holmAdjust(raw.flatMap((r) => (r ? r.perTask.map((w) => w?.p ?? null) : [])));
  let cursor = 0;
  return variants.map((v, i) => {
    const perTask = Array.from({ length: numTasks }, (_, t) => v.runs.map((r) => r.taskMetrics[t]!));
    const selections = v.runs.map((r) => r.selection).filter((s): s is SelectionQuality => s !== null);
    const r = raw[i];
    let versusBaseline: VariantSummary['versusBaseline'] = null;
    if (r) {
      versusBaseline = {
        baseline: r.baseline,
        overall: { welch: r.overall, pHolm: overallHolm[i] ?? null },
        perTask: r.perTask.map((w) => ({ welch: w, pHolm: perTaskHolm[cursor++] ?? null })),
      };
    }
    return {
      id: v.id,
      label: v.label,
      regime: v.regime,
      runs: v.runs,
      perTask: perTask.map((values) => summarise(values)),
      perTaskCi: perTask.map((values) => confidenceInterval(values)),
      overall: summarise(v.runs.map(overallOf)),
      overallCi: confidenceInterval(v.runs.map(overallOf)),
      selection: summarise(selections.map((s) => s.quality)),
      withinGroupOverlap: summarise(selections.map((s) => s.withinGroupOverlap)),
      acrossGroupOverlap: summarise(selections.map((s) => s.acrossGroupOverlap)),
      activeExperts: summarise(v.runs.map((run) => run.activeExperts)),
      trainSeconds: summarise(v.runs.map((run) => run.trainSeconds)),
      versusBaseline,
    };
  });
}

/** Selection quality of one run from its task × expert weights and the ground-truth groups. */
export function runSelectionQuality(gateWeights: number[][], groups: ArrayLike<number> | undefined): SelectionQuality | null {
  return groups ? expertSelectionQuality(gateWeights, groups) : null;
}
