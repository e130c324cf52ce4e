import { resolve } from 'node:path';
import { renderText } from '../report/render.js';
import { mean, runSelectionQuality, summariseVariants, type CompareResults, type RunResult, type VariantRuns } from '../report/results.js';
import { writeReport } from '../report/write.js';
import type { GateKind, TrainConfig } from './config.js';
import { buildExperiment, loadExperimentData, selectBackend, testReport, trainExperiment } from './experiment.js';
import { createProgress, progressEnabled } from './progress.js';
import { configFromOptions } from './train.js';
import { UserError } from './user-error.js';

/** The gate variants of the paper's comparison. */
export const VARIANTS = [
  { id: 'dselect-k-static', label: 'DSelect-k (static)', gate: 'dselect-k', perExample: false },
  { id: 'dselect-k-per-example', label: 'DSelect-k (per-example)', gate: 'dselect-k', perExample: true },
  { id: 'topk', label: 'Top-k', gate: 'topk', perExample: true },
  { id: 'noisy-topk', label: 'Noisy Top-k', gate: 'noisy-topk', perExample: true },
  { id: 'softmax', label: 'Softmax (MMoE)', gate: 'softmax', perExample: true },
] as const satisfies readonly { id: string; label: string; gate: GateKind; perExample: boolean }[];

export const VARIANT_IDS: readonly string[] = VARIANTS.map((v) => v.id);
const BASELINE = 'topk';

export async function runCompareCommand(opts: Record<string, unknown>, print: (line: string) => void): Promise<number> {
  const quiet = opts['quiet'] === true;
  const seeds = Number(opts['seeds']);
  const chosen = VARIANTS.filter((v) => (opts['gates'] as string[]).includes(v.id));
  const base = configFromOptions({ ...opts, gate: 'dselect-k' });
  const configs = chosen.map((v) => ({ variant: v, config: { ...base, model: { ...base.model, gate: v.gate, perExample: v.perExample } } as TrainConfig }));
  for (const { config } of configs) {
    if (config.model.gate !== 'softmax' && config.model.k > config.model.experts) {
      throw new UserError(`--k ${config.model.k} exceeds --experts ${config.model.experts}`);
    }
  }
  selectBackend(String(opts['backend'] ?? 'cpu'));
  const data = await loadExperimentData(base.data, typeof opts['dataDir'] === 'string' ? opts['dataDir'] : undefined);
  const T = data.tasks.length;
  const outDir = resolve(String(opts['out']));
  const epochs = base.optim.epochs;

  if (!quiet) {
    print(`dselect-k compare: ${data.description}; ${data.train.size}/${data.val.size}/${data.test.size} train/val/test examples`);
    print(`  ${chosen.length} gate(s) × ${seeds} seed(s), ${base.model.experts} experts, k = ${base.model.k}, ${epochs} epochs, batch ${base.optim.batchSize}, lr ${base.optim.lr}`);
  }
  const batchesPerEpoch = Math.ceil(data.train.size / base.optim.batchSize);
  const totalRuns = configs.length * seeds;
  const progress = createProgress(progressEnabled(quiet));
  const lines = !quiet && !progressEnabled(quiet);
  progress.start(totalRuns * epochs * batchesPerEpoch, 'compare');
  const variantRuns: VariantRuns[] = [];
  let runIndex = 0;
  try {
    for (const { variant, config } of configs) {
      const runs: RunResult[] = [];
      for (let seed = 0; seed < seeds; seed++) {
        const runConfig: TrainConfig = { ...config, optim: { ...config.optim, seed } };
        const exp = buildExperiment(runConfig, data);
        const label = `${variant.id} s${seed}`;
        const doneBefore = runIndex * epochs * batchesPerEpoch;
        const started = performance.now();
        const result = trainExperiment(exp, runConfig, epochs, 0, {
          onBatch: (b) => progress.update(doneBefore + b.epoch * b.batches + b.batch + 1, { label, loss: b.loss / T, epoch: `${b.epoch + 1}/${epochs}` }),
        });
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
        if (lines) {
          const q = run.selection ? `, selection quality ${run.selection.quality.toFixed(3)}` : '';
          print(`  [${runIndex}/${totalRuns}] ${variant.label}, seed ${seed}: test ${report.metricKinds[0]} ${mean(run.taskMetrics).toFixed(4)}${q}, ${run.activeExperts.toFixed(2)} active experts, ${trainSeconds.toFixed(1)} s`);
        }
      }
      variantRuns.push({ id: variant.id, label: variant.label, runs });
    }
  } finally {
    progress.stop();
  }

  const metricKinds = data.tasks.map((t) => (t.kind === 'regression' ? ('mse' as const) : ('accuracy' as const)));
  const allMse = metricKinds.every((k) => k === 'mse');
  const results: CompareResults = {
    tool: 'dselect-k compare',
    createdAt: new Date().toISOString(),
    command: ['dselect-k', 'compare', ...process.argv.slice(3)].join(' '),
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
      backend: String(opts['backend'] ?? 'cpu'),
    },
    overallMetric: allMse ? 'test MSE (mean over tasks)' : 'test accuracy (mean over tasks)',
    lowerIsBetter: allMse,
    baseline: BASELINE,
    variants: summariseVariants(variantRuns, T, BASELINE),
  };
  print('');
  print(renderText(results));
  const files = await writeReport(outDir, results);
  print('');
  print(`report: ${files.find((f) => f.endsWith('report.md'))} (+ results.json and ${files.filter((f) => f.endsWith('.svg')).length} SVG plots in ${outDir})`);
  return 0;
}
