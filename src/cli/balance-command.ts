import { resolve } from 'node:path';
import { reportFolder } from '../report/write.js';
import { Command, Option } from 'commander';
import { balanceModes, importanceSources, type BalanceMode, type ImportanceSource } from '../moe/balanced-gate.js';
import { ConvMoENet } from '../moe/conv-moe.js';
import { renderSvg } from '../report/plots.js';
import { formatTable } from '../report/table.js';
import { routingShares, routingTableSpec, utilizationSpec, type UtilizationPoint } from '../report/utilization-plot.js';
import {
  classAccuracy,
  classificationTargets,
  fitWithUsage,
  IMAGE_DATASETS,
  loadImageClassification,
  sharesCv2,
  type ImageClassificationData,
  type ImageDatasetName,
} from './moe-layer-training.js';
import { addImageTrainingOptions, integerArg, listArg, numberArg } from './options.js';
import { createProgress, progressEnabled } from './progress.js';
import { UserError } from './user-error.js';

/** `dselect-k balance`: a CNN with a MoE layer of conv experts, trained with each balancing constraint. */

export interface BalanceSettings {
  experts: number;
  k: number;
  balance: BalanceMode[];
  balanceWeight: number;
  /** What the soft constraint's importance term sums (see BalancedTopKGate). */
  importance: ImportanceSource;
  /** Noisy gating in training (makes the load term differentiable). */
  noise: boolean;
  capacityFactor: number;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  checkpointsPerEpoch: number;
}

export interface BalanceRun {
  balance: BalanceMode;
  testAccuracy: number;
  /** Share of test examples routed (first choice) to each expert, inference routing. */
  testShares: number[];
  /** CV² of the training shares over the last epoch and of the test shares. */
  trainCv2LastEpoch: number;
  testCv2: number;
  /** Slots moved to a next-best expert / dropped by the capacity limit, over training. */
  rerouted: number;
  dropped: number;
  /** Classes × experts routing shares on the test set. */
  classShares: number[][];
  timeline: UtilizationPoint[];
  trainSeconds: number;
}

export interface BalanceResults {
  tool: 'dselect-k balance';
  dataset: string;
  sizes: { train: number; test: number };
  settings: BalanceSettings;
  classNames: string[];
  runs: BalanceRun[];
}

export function runBalanceExperiment(data: ImageClassificationData, s: BalanceSettings, onBatch?: (label: string, fraction: number, loss: number) => void): BalanceResults {
  const runs: BalanceRun[] = [];
  const numClasses = data.classNames.length;
  s.balance.forEach((balance, runIndex) => {
    const soft = balance === 'soft' || balance === 'both';
    const model = new ConvMoENet({
      numClasses,
      numExperts: s.experts,
      k: s.k,
      balance,
      balanceWeight: s.balanceWeight,
      importance: s.importance,
      noisy: soft && s.noise,
      capacityFactor: s.capacityFactor,
      seed: s.seed,
    });
    const started = performance.now();
    const trace = fitWithUsage(
      model,
      { x: data.train.x, y: classificationTargets(data.train.labels) },
      {
        epochs: s.epochs,
        batchSize: s.batchSize,
        lr: s.lr,
        losses: 'ce',
        seed: s.seed,
        onBatch: (b) => onBatch?.(balance, (runIndex + (b.epoch + (b.batch + 1) / b.batches) / s.epochs) / s.balance.length, b.loss),
      },
      s.checkpointsPerEpoch,
      balance,
    );
    const trainSeconds = (performance.now() - started) / 1000;
    const route = model.routeOf(data.test.x);
    const testShares = routingShares(new Int32Array(data.test.size), route, 1, s.experts)[0]!;
    const lastEpoch = trace.timeline.filter((p) => p.epoch > s.epochs - 1);
    const trainShares = Array.from({ length: s.experts }, (_, e) => mean(lastEpoch.filter((p) => p.expert === e).map((p) => p.share)));
    runs.push({
      balance,
      testAccuracy: classAccuracy(model, data.test),
      testShares,
      trainCv2LastEpoch: sharesCv2(trainShares),
      testCv2: sharesCv2(testShares),
      rerouted: trace.rerouted,
      dropped: trace.dropped,
      classShares: routingShares(data.test.labels, route, numClasses, s.experts),
      timeline: trace.timeline,
      trainSeconds,
    });
  });
  return { tool: 'dselect-k balance', dataset: data.name, sizes: { train: data.train.size, test: data.test.size }, settings: s, classNames: data.classNames, runs };
}

function mean(v: readonly number[]): number {
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
}

export function balanceTable(r: BalanceResults): string {
  const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;
  return formatTable(
    ['balance', 'test accuracy', 'test shares per expert', 'CV² train (last epoch)', 'CV² test', 'rerouted', 'dropped', 'train s'],
    r.runs.map((run) => [
      run.balance,
      pct(run.testAccuracy),
      run.testShares.map((v) => v.toFixed(2)).join(' '),
      run.trainCv2LastEpoch.toFixed(3),
      run.testCv2.toFixed(3),
      String(run.rerouted),
      String(run.dropped),
      run.trainSeconds.toFixed(1),
    ]),
  );
}

/** results.json, utilisation.svg and one routing-table SVG per balancing mode. */
export async function writeBalanceReport(dir: string, r: BalanceResults): Promise<string[]> {
  const { put, written: files } = reportFolder(dir);
  put('results.json', JSON.stringify(r, null, 2) + '\n');
  const points = r.runs.flatMap((run) => run.timeline);
  put('utilization.svg', await renderSvg(utilizationSpec(points, r.settings.experts, `Expert utilisation during training — ${r.dataset}, ${r.settings.experts} experts, top-${r.settings.k}`, 'balance: ')));
  for (const run of r.runs) {
    const spec = routingTableSpec({ title: `Test routing by class — balance: ${run.balance} (${(100 * run.testAccuracy).toFixed(1)}% accuracy)`, rowLabels: r.classNames, shares: run.classShares });
    put(`routing-${run.balance}.svg`, await renderSvg(spec));
  }
  return files;
}

export function addBalanceCommand(program: Command, print: (line: string) => void): Command {
  const cmd = program
    .command('balance')
    .description('train a CNN whose middle layer is a MoE of conv experts, once per balancing constraint (none, soft, hard, both); report accuracy and per-expert utilisation plots')
    .addOption(new Option('--dataset <name>', 'image dataset').choices(IMAGE_DATASETS).default('fashion-mnist'))
    .option('--data-dir <dir>', 'directory of the Fashion-MNIST IDX files (default: Debian dataset-fashion-mnist location)')
    .option('--train-size <n>', 'training images (per dataset for fashion+mnist)', integerArg(1), 10_000)
    .option('--test-size <n>', 'test images (per dataset for fashion+mnist)', integerArg(1), 2_000)
    .option('--experts <n>', 'conv experts in the MoE layer', integerArg(2, 64), 4)
    .option('--k <n>', 'experts per example', integerArg(1, 64), 1)
    .option('--balance <modes>', `balancing constraints to compare (${balanceModes.join(', ')})`, listArg(balanceModes), [...balanceModes])
    .option('--balance-weight <w>', 'weight of the soft constraint (CV² of importance and load)', numberArg({ min: 0 }), 0.1)
    .addOption(
      new Option('--importance <source>', "soft constraint: importance sums the routed gates ('gates', Shazeer et al.) or the router's full probabilities ('probabilities': also balances the noise-free router)")
        .choices(importanceSources)
        .default('probabilities'),
    )
    .option('--no-noise', 'soft constraint without noisy gating (then only the importance term, no load term)')
    .option('--capacity-factor <f>', 'hard constraint: each expert takes at most ceil(f·k·batch/experts) examples per batch', numberArg({ min: 0, exclusiveMin: true }), 1.5);
  return addImageTrainingOptions(cmd, 'dselect-k-balance').action(async (opts: Record<string, unknown>) => {
    process.exitCode = await runBalanceCommand(opts, print);
  });
}

export async function runBalanceCommand(opts: Record<string, unknown>, print: (line: string) => void): Promise<number> {
  const quiet = opts['quiet'] === true;
  const settings: BalanceSettings = {
    experts: Number(opts['experts']),
    k: Number(opts['k']),
    balance: opts['balance'] as BalanceMode[],
    balanceWeight: Number(opts['balanceWeight']),
    importance: String(opts['importance']) as ImportanceSource,
    noise: opts['noise'] !== false,
    capacityFactor: Number(opts['capacityFactor']),
    epochs: Number(opts['epochs']),
    batchSize: Number(opts['batchSize']),
    lr: Number(opts['lr']),
    seed: Number(opts['seed']),
    checkpointsPerEpoch: 8,
  };
  if (settings.k > settings.experts) throw new UserError(`--k ${settings.k} exceeds --experts ${settings.experts}`);
  let data: ImageClassificationData;
  try {
    data = loadImageClassification({
      dataset: String(opts['dataset']) as ImageDatasetName,
      trainSize: Number(opts['trainSize']),
      testSize: Number(opts['testSize']),
      seed: settings.seed,
      ...(typeof opts['dataDir'] === 'string' ? { dataDir: opts['dataDir'] } : {}),
    });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (!quiet) print(`dselect-k balance: ${data.name}, ${data.train.size}/${data.test.size} train/test images; ${settings.experts} conv experts, top-${settings.k}; constraints: ${settings.balance.join(', ')}`);
  const progress = createProgress(progressEnabled(quiet));
  progress.start(1000, 'balance');
  let results: BalanceResults;
  try {
    results = runBalanceExperiment(data, settings, (label, fraction, loss) => progress.update(Math.round(1000 * fraction), { label, loss }));
  } finally {
    progress.stop();
  }
  print(balanceTable(results));
  const files = await writeBalanceReport(resolve(String(opts['out'])), results);
  print(`report: ${files.length} files in ${resolve(String(opts['out']))} (results.json, utilization.svg, routing-*.svg)`);
  return 0;
}
