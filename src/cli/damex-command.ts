import { Command, Option } from 'commander';
import { importanceSources, type ImportanceSource } from '../moe/balanced-gate.js';
import { DAMEX_TOOL, damexTable, runDamexExperiment, writeDamexReport, type DamexSettings } from '../experiments/damex.js';
import { loadImageClassification } from '../experiments/moe-layer-training.js';
import { addImageTrainingOptions, defaultOutDir, integerArg, numberArg } from './options.js';
import { runReportCommand } from './report-run.js';

/** `dselect-k damex`: one MoE trained on Fashion-MNIST + MNIST, dataset-aware routing vs top-1 + balancing. */

export function addDamexCommand(program: Command, print: (line: string) => void): Command {
  const cmd = program
    .command('damex')
    .description('train one CNN MoE on Fashion-MNIST + MNIST with dataset-aware routing (DAMEX) and with top-1 + balancing; compare per-dataset accuracy and how cleanly experts separate the datasets')
    .option('--data-dir <dir>', 'directory of the Fashion-MNIST IDX files (default: Debian dataset-fashion-mnist location)')
    .option('--train-size <n>', 'training images per dataset', integerArg(1), 5_000)
    .option('--test-size <n>', 'test images per dataset', integerArg(1), 1_000)
    .option('--experts <n>', 'conv experts in the MoE layer (dataset d is mapped to expert d mod n)', integerArg(2, 64), 2)
    .option('--router-weight <w>', 'weight of the router cross-entropy against the dataset expert', numberArg({ min: 0 }), 0.1)
    .option('--balance-weight <w>', 'weight of the balancing loss of the top-1 baseline', numberArg({ min: 0 }), 0.1)
    .addOption(new Option('--importance <source>', "importance term of the baseline's balancing loss: routed 'gates' or full router 'probabilities'").choices(importanceSources).default('probabilities'));
  return addImageTrainingOptions(cmd, defaultOutDir('damex')).action(async (opts: Record<string, unknown>) => {
    process.exitCode = await runDamexCommand(opts, print);
  });
}

export async function runDamexCommand(opts: Record<string, unknown>, print: (line: string) => void): Promise<number> {
  const settings: DamexSettings = {
    experts: Number(opts['experts']),
    routerWeight: Number(opts['routerWeight']),
    balanceWeight: Number(opts['balanceWeight']),
    importance: String(opts['importance']) as ImportanceSource,
    epochs: Number(opts['epochs']),
    batchSize: Number(opts['batchSize']),
    lr: Number(opts['lr']),
    seed: Number(opts['seed']),
    checkpointsPerEpoch: 8,
  };
  return runReportCommand(opts, print, {
    command: 'damex',
    tool: DAMEX_TOOL,
    load: () =>
      loadImageClassification({
        dataset: 'fashion+mnist',
        trainSize: Number(opts['trainSize']),
        testSize: Number(opts['testSize']),
        seed: settings.seed,
        ...(typeof opts['dataDir'] === 'string' ? { dataDir: opts['dataDir'] } : {}),
      }),
    describe: (data) => `dselect-k damex: ${data.datasets.join(' + ')}, ${data.train.size}/${data.test.size} train/test images; ${settings.experts} conv experts, top-1; router weight ${settings.routerWeight}`,
    train: (data, onBatch, signal) => runDamexExperiment(data, settings, onBatch, signal),
    table: damexTable,
    write: writeDamexReport,
  });
}
