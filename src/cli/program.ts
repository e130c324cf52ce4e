import { packageVersion } from '../report/provenance.js';
import { Command, CommanderError, Option } from 'commander';
import { datasetNames } from '../experiments/datasets.js';
import { DEPRECATED_VARIANT_IDS, runCompareCommand, VARIANT_IDS } from './compare.js';
import { DEFAULTS, DEPRECATED_GATE_NAMES, GAMMA_RANGE, GATE_KINDS } from '../experiments/config.js';
import { runGradcheckCommand } from './gradcheck.js';
import { choiceOption, choicesArg, defaultOutDir, explicitOptions, gateKindArg, integerArg, listArg, namesArg, numberArg, pathArg, widthsArg } from './options.js';
import { CSV_TASK_TYPES } from '../experiments/csv-data.js';
import { addExportCommand } from './export-command.js';
import { addPredictCommand } from './predict-command.js';
import { runTrainCommand } from './train.js';
import { UserError } from '../experiments/user-error.js';
import { addBalanceCommand } from './balance-command.js';
import { addDamexCommand } from './damex-command.js';
import { addReproduceCommand } from './reproduce-command.js';

const print = (line: string): void => {
  process.stdout.write(line + '\n');
};
const write = (text: string): void => {
  process.stdout.write(text);
};

function addDataOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--dataset <name>', `dataset (${datasetNames().join(', ')})`).default(DEFAULTS.dataset))
    .option('--tasks <n>', "number of tasks (synthetic: default 8; fixed by other datasets)", integerArg(1, 4096))
    .option('--groups <n>', 'synthetic: number of task groups (default 2)', integerArg(1, 4096))
    .option('--correlation <rho>', 'synthetic: cosine ρ between task weight vectors of one group (default 0.9)', numberArg({ min: 0, max: 1 }))
    .option('--input-dim <d>', 'synthetic: input dimension (default 16)', integerArg(2, 1_000_000))
    .option('--train-size <n>', 'training examples (dataset default)', integerArg(2))
    .option('--val-size <n>', 'validation examples (dataset default)', integerArg(1))
    .option('--test-size <n>', 'test examples (dataset default)', integerArg(1))
    .option('--data-seed <n>', 'seed of the data (kept apart from the model seed)', integerArg(0), DEFAULTS.dataSeed)
    .option('--data-dir <dir>', 'multi-fashion: directory of the Fashion-MNIST IDX files (default: where Debian\'s dataset-fashion-mnist installs them)', pathArg);
}

function addModelOptions(cmd: Command, withGate: boolean): Command {
  if (withGate) {
    cmd.addOption(
      new Option('--gate <kind>', `gate of every task (${GATE_KINDS.join(', ')})`).argParser(gateKindArg('--gate', GATE_KINDS, DEPRECATED_GATE_NAMES)).default('dselect-k'),
    );
    cmd.option('--per-example', 'per-example gate: weights depend on the input (default for softmax, top-k; noisy-top-k is per-example only)');
    cmd.option('--static', 'static gate: one learned weight vector per task (default for dselect-k; also softmax, top-k)');
  }
  return cmd
    .option('--experts <n>', 'number of shared experts', integerArg(2, 4096), DEFAULTS.experts)
    .option('--k <n>', 'experts selected per task (dselect-k, top-k, noisy-top-k)', integerArg(1, 4096), DEFAULTS.k)
    .option('--gamma <g>', `smooth-step width γ of DSelect-k, in [${GAMMA_RANGE[0]}, ${GAMMA_RANGE[1]}]`, numberArg({ min: GAMMA_RANGE[0], max: GAMMA_RANGE[1] }), DEFAULTS.gamma)
    .option('--entropy-weight <w>', 'weight λ of the DSelect-k entropy regulariser', numberArg({ min: 0 }), DEFAULTS.entropyWeight)
    .option('--entropy-schedule <s>', "λ schedule: 'constant', 'warmup:E' (ramp up over E epochs), 'exp:F' (λ·F^epoch), 'warmup-steps:S' or 'exp-steps:F' (per training step)", DEFAULTS.entropySchedule)
    .option('--balance-weight <w>', 'load-balancing loss weight of noisy-top-k', numberArg({ min: 0 }), DEFAULTS.balanceWeight)
    .addOption(new Option('--expert-hidden <widths>', "hidden layer widths of each expert MLP (comma-separated, or 'none')").argParser(widthsArg).default([...DEFAULTS.expertHidden], DEFAULTS.expertHidden.join(',')))
    .option('--expert-output <n>', 'output width of each expert', integerArg(1, 1_000_000), DEFAULTS.expertOutput)
    .addOption(new Option('--tower-hidden <widths>', `hidden layer widths of each task tower (or 'none') (default: ${DEFAULTS.towerHidden.join(',')}; 50 for multi-mnist and multi-fashion)`).argParser(widthsArg));
}

function addTrainingOptions(cmd: Command): Command {
  return cmd
    .option('--epochs <n>', 'training epochs (with --resume: the total to reach)', integerArg(1, 1_000_000), DEFAULTS.epochs)
    .option('--batch-size <n>', 'examples per batch', integerArg(1, 1_000_000), DEFAULTS.batchSize)
    .option('--lr <rate>', `Adam learning rate (default: ${DEFAULTS.lr}; 0.001 for multi-mnist and multi-fashion)`, numberArg({ min: 0, exclusiveMin: true }))
    .addOption(choiceOption('--backend <name>', 'compute backend', ['cpu', 'gpu'], 'cpu'))
    .option('-q, --quiet', 'no progress bar');
}

export function buildProgram(): Command {
  const program = new Command('dselect-k')
    .description('Mixture-of-Experts with the DSelect-k gate: train, compare gates, verify gradients.')
    .version(packageVersion(), '-V, --version')
    .showSuggestionAfterError(true)
    .configureOutput({
      // one line, e.g. "dselect-k: error: unknown option '--epoch' (Did you mean --epochs?)"
      outputError: (str, write) => write(`dselect-k: ${str.trim().split('\n').join(' ')}\n`),
    })
    .exitOverride();

  const train = program
    .command('train')
    .description('train one multi-task MoE model, print per-task test metrics and save a checkpoint');
  addDataOptions(train);
  addModelOptions(train, true);
  addTrainingOptions(train);
  train
    .option('--data <file.csv>', 'train on your own data: a CSV file with a header row, numbers only (instead of --dataset)')
    .option('--targets <columns>', '--data: comma-separated target columns, one task each (the other columns are the features)', namesArg)
    .option('--task-types <types>', `--data: one type per target (${CSV_TASK_TYPES.join(', ')}: regression, 0/1 label, class index; default mse)`, choicesArg(CSV_TASK_TYPES))
    .option('--features <columns>', '--data: comma-separated feature columns (default: every column that is not a target)', namesArg)
    .option('--seed <n>', 'seed of initialisation, shuffling and gate noise', integerArg(0), DEFAULTS.seed)
    .option('--out <dir>', 'directory for checkpoint.dsk and metrics.json (one run at a time: see the lock in the README)', pathArg, defaultOutDir('train'))
    .option('--resume <dir>', 'continue the run saved in DIR exactly, also after Ctrl-C (written back to DIR unless --out is given)', pathArg)
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      process.exitCode = await runTrainCommand(opts, explicitOptions(cmd), print);
    });

  const compare = program
    .command('compare')
    .description('train every gate on the same data over several seeds and write a report (tables, significance, SVG plots)');
  addDataOptions(compare);
  addModelOptions(compare, false);
  addTrainingOptions(compare);
  compare
    .addOption(
      new Option('--gates <list>', 'comma-separated gate variants to compare').argParser(listArg(VARIANT_IDS, DEPRECATED_VARIANT_IDS, '--gates')).default([...VARIANT_IDS], VARIANT_IDS.join(',')),
    )
    .option('--seeds <n>', 'seeds per gate (0, 1, …, n−1)', integerArg(1, 1000), 3)
    .option('--out <dir>', 'report folder, replaced as a whole when the comparison finishes', pathArg, defaultOutDir('compare'))
    .action(async (opts: Record<string, unknown>) => {
      process.exitCode = await runCompareCommand(opts, print);
    });

  program
    .command('gradcheck')
    .description('run the float64 finite-difference gradient checks of every op, gate and model; exit 1 on any failure')
    .option('--filter <text>', 'only cases whose suite or name contains TEXT')
    .option('--list', 'list the cases without running them')
    .option('-q, --quiet', 'no progress bar')
    .action((opts: { filter?: string; list?: boolean; quiet?: boolean }) => {
      process.exitCode = runGradcheckCommand({ filter: opts.filter, list: opts.list === true, quiet: opts.quiet === true }, print);
    });

  addBalanceCommand(program, print);
  addDamexCommand(program, print);
  addReproduceCommand(program, print);
  addPredictCommand(program, write);
  addExportCommand(program, print, packageVersion());

  return program;
}

/** One line on stderr, no stack trace, for anything the user can fix; set DSELECT_K_DEBUG=1 for traces. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // commander has printed its message (or the help/version text) already; help shown because no
    // command was given is a usage error (exitCode 1 from commander), --help is not
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
    if (e.code === 'commander.help') return e.exitCode === 0 ? 0 : 2;
    return 2;
  }
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`dselect-k: error: ${message.split('\n').map((s) => s.trim()).filter(Boolean).join('; ')}\n`);
  if (process.env['DSELECT_K_DEBUG'] && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
  return e instanceof UserError ? 2 : 1;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportError(e);
  }
}
