import { expertSelectionQuality, type SelectionQuality } from './selection.js';
import { summarise, welchTTest, type Summary, type WelchResult } from './stats.js';

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

export interface VariantSummary {
  id: string;
  label: string;
  runs: RunResult[];
  perTask: Summary[];
  /** Mean over tasks of the test metric, summarised over seeds. */
  overall: Summary;
  selection: Summary;
  withinGroupOverlap: Summary;
  acrossGroupOverlap: Summary;
  activeExperts: Summary;
  trainSeconds: Summary;
  /** Welch's t-test of this variant against the baseline (null for the baseline itself or too few seeds). */
  versusBaseline: { overall: WelchResult | null; perTask: (WelchResult | null)[] } | null;
}

/** What a compare report's results.json says it is (how a previous report is recognised). */
export const COMPARE_TOOL = 'dselect-k compare';

export interface CompareResults {
  tool: typeof COMPARE_TOOL;
  createdAt: string;
  command: string;
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
  baseline: string;
  variants: VariantSummary[];
}

export interface VariantRuns {
  id: string;
  label: string;
  runs: RunResult[];
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Summaries over seeds per variant, and each variant's Welch test against the baseline variant. */
export function summariseVariants(variants: readonly VariantRuns[], numTasks: number, baselineId: string): VariantSummary[] {
  const baseline = variants.find((v) => v.id === baselineId) ?? null;
  const overallOf = (r: RunResult): number => mean(r.taskMetrics);
  return variants.map((v) => {
    const perTask = Array.from({ length: numTasks }, (_, t) => summarise(v.runs.map((r) => r.taskMetrics[t]!)));
    const selections = v.runs.map((r) => r.selection).filter((s): s is SelectionQuality => s !== null);
    const versusBaseline =
      baseline && baseline.id !== v.id
        ? {
            overall: welchTTest(v.runs.map(overallOf), baseline.runs.map(overallOf)),
            perTask: Array.from({ length: numTasks }, (_, t) =>
              welchTTest(
                v.runs.map((r) => r.taskMetrics[t]!),
                baseline.runs.map((r) => r.taskMetrics[t]!),
              ),
            ),
          }
        : null;
    return {
      id: v.id,
      label: v.label,
      runs: v.runs,
      perTask,
      overall: summarise(v.runs.map(overallOf)),
      selection: summarise(selections.map((s) => s.quality)),
      withinGroupOverlap: summarise(selections.map((s) => s.withinGroupOverlap)),
      acrossGroupOverlap: summarise(selections.map((s) => s.acrossGroupOverlap)),
      activeExperts: summarise(v.runs.map((r) => r.activeExperts)),
      trainSeconds: summarise(v.runs.map((r) => r.trainSeconds)),
      versusBaseline,
    };
  });
}

/** Selection quality of one run from its task × expert weights and the ground-truth groups. */
export function runSelectionQuality(gateWeights: number[][], groups: ArrayLike<number> | undefined): SelectionQuality | null {
  return groups ? expertSelectionQuality(gateWeights, groups) : null;
}
