import { Command, Option } from 'commander';
import { balanceModes, importanceSources, type BalanceMode, type ImportanceSource } from '../moe/balanced-gate.js';
import { BALANCE_TOOL, balanceTable, runBalanceExperiment, writeBalanceReport, type BalanceSettings } from '../experiments/balance.js';
import { IMAGE_DATASETS, loadImageClassification, type ImageDatasetName } from '../experiments/moe-layer-training.js';
import { UserError } from '../experiments/user-error.js';
import { addImageTrainingOptions, defaultOutDir, integerArg, listArg, numberArg } from './options.js';
import { runReportCommand } from './report-run.js';

/** `dselect-k balance`: a CNN with a MoE layer of conv experts, trained with each balancing constraint. */

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
  return addImageTrainingOptions(cmd, defaultOutDir('balance')).action(async (opts: Record<string, unknown>) => {
    process.exitCode = await runBalanceCommand(opts, print);
  });
}

export async function runBalanceCommand(opts: Record<string, unknown>, print: (line: string) => void): Promise<number> {
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
  return runReportCommand(opts, print, {
    command: 'balance',
    tool: BALANCE_TOOL,
    load: () =>
      loadImageClassification({
        dataset: String(opts['dataset']) as ImageDatasetName,
        trainSize: Number(opts['trainSize']),
        testSize: Number(opts['testSize']),
        seed: settings.seed,
        ...(typeof opts['dataDir'] === 'string' ? { dataDir: opts['dataDir'] } : {}),
      }),
    describe: (data) => `dselect-k balance: ${data.name}, ${data.train.size}/${data.test.size} train/test images; ${settings.experts} conv experts, top-${settings.k}; constraints: ${settings.balance.join(', ')}`,
    train: (data, onBatch, signal) => runBalanceExperiment(data, settings, onBatch, signal),
    table: balanceTable,
    write: writeBalanceReport,
  });
}
