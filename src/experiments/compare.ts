import { runSelectionQuality, summariseVariants, type CompareResults, type Regime, type RunResult, type VariantRuns } from '../report/results.js';
import { collectProvenance } from '../report/provenance.js';
import type { MultiTaskData } from '../data/types.js';
import type { BatchProgress } from '../moe/train/fit.js';
import type { GateKind, TrainConfig } from './config.js';
import { buildExperiment, loadExperimentData, testReport, trainExperiment } from './experiment.js';
import { RunInterrupted } from './interrupted.js';
import { UserError } from './user-error.js';

/**
 * The gate variants of the comparison, in two regimes: static gates (one learned weight vector per
 * task) and per-example gates (weights computed from each input). Each gate is tested against Top-k
 * of its own regime, so no comparison mixes regimes.
 */
export const VARIANTS = [
  { id: 'dselect-k-static', label: 'DSelect-k (static)', gate: 'dselect-k', regime: 'static' },
  { id: 'top-k-static', label: 'Top-k (static)', gate: 'top-k', regime: 'static' },
  { id: 'softmax-static', label: 'Softmax (static)', gate: 'softmax', regime: 'static' },
  { id: 'dselect-k-per-example', label: 'DSelect-k (per-example)', gate: 'dselect-k', regime: 'per-example' },
  { id: 'top-k-per-example', label: 'Top-k (per-example)', gate: 'top-k', regime: 'per-example' },
  { id: 'noisy-top-k', label: 'Noisy Top-k (per-example)', gate: 'noisy-top-k', regime: 'per-example' },
  { id: 'softmax-per-example', label: 'Softmax (per-example, MMoE)', gate: 'softmax', regime: 'per-example' },
] as const satisfies readonly { id: string; label: string; gate: GateKind; regime: Regime }[];

export const VARIANT_IDS: readonly string[] = VARIANTS.map((v) => v.id);
/** Variant ids of earlier versions, still accepted by `--gates` (with a deprecation notice). */
export const DEPRECATED_VARIANT_IDS: Readonly<Record<string, string>> = { topk: 'top-k-per-example', 'noisy-topk': 'noisy-top-k', softmax: 'softmax-per-example' };
/** The baseline of each regime: Top-k. */
export const BASELINES: Readonly<Record<Regime, string>> = { static: 'top-k-static', 'per-example': 'top-k-per-example' };

/** One finished run, as the progress display wants it. */
export interface CompareRunDone {
  index: number;
  total: number;
  label: string;
  seed: number;
  metricKind: string;
  run: RunResult;
}

export interface CompareHooks {
  onStart?: (info: { data: MultiTaskData; runs: number; batchesPerRun: number }) => void;
  /** `done` counts batches over the whole comparison. */
  onBatch?: (info: { done: number; label: string; batch: BatchProgress }) => void;
  onRun?: (info: CompareRunDone) => void;
}

export interface CompareOptions {
  /** The run every variant starts from (gate settings are overridden per variant). */
  base: TrainConfig;
  /** Variant ids to run (see VARIANTS), in VARIANTS order. */
  variants: readonly string[];
  seeds: number;
  backend: string;
  /** How the comparison was asked for, recorded in the results. */
  command: string;
  dataDir?: string;
  hooks?: CompareHooks;
  /** Stop at the next batch boundary once aborted: runCompare then rejects with RunInterrupted. */
  signal?: AbortSignal;
}

/** Trains every chosen gate variant on the same data for seeds 0..seeds−1 and summarises the runs. */
export async function runCompare(opts: CompareOptions): Promise<CompareResults> {
  const { base, seeds, hooks = {} } = opts;
  const chosen = VARIANTS.filter((v) => opts.variants.includes(v.id));
  const configs = chosen.map((v) => ({ variant: v, config: { ...base, model: { ...base.model, gate: v.gate, perExample: v.regime === 'per-example' } } as TrainConfig }));
  for (const { config } of configs) {
    if (config.model.gate !== 'softmax' && config.model.k > config.model.experts) {
      throw new UserError(`--k ${config.model.k} exceeds --experts ${config.model.experts}`);
    }
  }
  const data = await loadExperimentData(base.data, opts.dataDir);
  const T = data.tasks.length;
  const epochs = base.optim.epochs;
  const batchesPerRun = epochs * Math.ceil(data.train.size / base.optim.batchSize);
  const totalRuns = configs.length * seeds;
  hooks.onStart?.({ data, runs: totalRuns, batchesPerRun });
  const variantRuns: VariantRuns[] = [];
  let runIndex = 0;
  for (const { variant, config } of configs) {
    const runs: RunResult[] = [];
    for (let seed = 0; seed < seeds; seed++) {
      const runConfig: TrainConfig = { ...config, optim: { ...config.optim, seed } };
      const exp = buildExperiment(runConfig, data);
      const label = `${variant.id} s${seed}`;
      const doneBefore = runIndex * batchesPerRun;
      const started = performance.now();
      const result = await trainExperiment(exp, runConfig, epochs, 0, {
        ...(hooks.onBatch ? { onBatch: (b: BatchProgress) => hooks.onBatch!({ done: doneBefore + b.epoch * b.batches + b.batch + 1, label, batch: b }) } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      if (result.interrupted) throw new RunInterrupted(`compare: interrupted during ${label} (run ${runIndex + 1} of ${totalRuns}), epoch ${result.interrupted.epoch + 1}, batch ${result.interrupted.batch}`);
      const trainSeconds = (performance.now() - started) / 1000;
      const report = testReport(exp);
      const run: RunResult = {
        variant: variant.id,
        seed,
        taskMetrics: report.taskMetrics,
        history: result.history.map((h) => ({ epoch: h.epoch + 1, trainLoss: h.loss / T, valLoss: (h.validation?.loss ?? Number.NaN) / T })),
        gateWeights: report.gateWeights,
        activeExperts: report.activeExperts,
        selection: runSelectionQuality(report.gateWeights, data.taskGroups),
        trainSeconds,
      };
      runs.push(run);
      runIndex++;
      hooks.onRun?.({ index: runIndex, total: totalRuns, label: variant.label, seed, metricKind: report.metricKinds[0]!, run });
    }
    variantRuns.push({ id: variant.id, label: variant.label, regime: variant.regime, runs });
  }

  const metricKinds = data.tasks.map((t) => (t.kind === 'regression' ? ('mse' as const) : ('accuracy' as const)));
  const allMse = metricKinds.every((k) => k === 'mse');
  return {
    tool: 'dselect-k compare',
    createdAt: new Date().toISOString(),
    command: opts.command,
    provenance: collectProvenance(opts.backend),
    dataset: {
      name: data.name,
      description: data.description,
      tasks: data.tasks.map((t, i) => ({ name: t.name, metric: metricKinds[i]!, group: data.taskGroups ? data.taskGroups[i]! : null })),
      sizes: { train: data.train.size, val: data.val.size, test: data.test.size },
      details: { targetScaling: data.targetScaling ?? null, dataSeed: base.data.dataSeed },
    },
    settings: {
      experts: base.model.experts,
      k: base.model.k,
      gamma: base.model.gamma,
      entropyWeight: base.model.entropyWeight,
      entropySchedule: base.model.entropySchedule,
      balanceWeight: base.model.balanceWeight,
      expertHidden: base.model.expertHidden,
      expertOutput: base.model.expertOutput,
      towerHidden: base.model.towerHidden,
      epochs,
      batchSize: base.optim.batchSize,
      lr: base.optim.lr,
      seeds,
      backend: opts.backend,
    },
    overallMetric: allMse ? 'test MSE (mean over tasks)' : 'test accuracy (mean over tasks)',
    lowerIsBetter: allMse,
    baselines: BASELINES,
    variants: summariseVariants(variantRuns, T, BASELINES),
  };
}

