import { resolve } from 'node:path';
import { ensureDirectory } from '../node/ensure-dir.js';
import { formatTable } from '../report/table.js';
import { DEFAULTS, GATE_KINDS, resolveGateKind, validateModelConfig, type TrainConfig } from '../experiments/config.js';
import { datasetTrainingDefault } from '../experiments/datasets.js';
import { describeGate, selectBackend } from '../experiments/experiment.js';
import { readSavedRun, runTraining } from '../experiments/train-run.js';
import type { CsvDataConfig, CsvTaskType } from '../experiments/csv-data.js';
import { UserError } from '../experiments/user-error.js';
import { createProgress, progressEnabled, type Progress } from './progress.js';
import { guardRun } from './run-guard.js';

/** Environment hook for the crash-safety test: SIGKILL ourselves halfway through writing this epoch's checkpoint. */
const CRASH_ENV = 'DSELECT_K_TEST_CRASH_IN_CHECKPOINT';

function optionNumber(opts: Record<string, unknown>, key: string): number | null {
  const v = opts[key];
  return typeof v === 'number' ? v : null;
}

/** The run described by the command-line options (defaults filled in). */
export function configFromOptions(opts: Record<string, unknown>): TrainConfig {
  const resolved = resolveGateKind(String(opts['gate'] ?? 'dselect-k'));
  if (!resolved) throw new UserError(`--gate must be one of ${GATE_KINDS.join(', ')}, got '${String(opts['gate'])}'`);
  const gate = resolved.kind;
  if (opts['perExample'] === true && opts['static'] === true) throw new UserError('--per-example and --static exclude each other');
  // Noisy Top-k's noise scale depends on the input: it has no static form.
  if (gate === 'noisy-top-k' && opts['static'] === true) throw new UserError(`the ${gate} gate is per-example only; drop --static`);
  // DSelect-k defaults to its static gate (the paper's task-only gate); the baselines to per-example gates.
  const perExample = opts['perExample'] === true || gate === 'noisy-top-k' || (gate !== 'dselect-k' && opts['static'] !== true);
  const csv = csvConfig(opts);
  const dataset = csv ? 'csv' : String(opts['dataset'] ?? DEFAULTS.dataset);
  const config: TrainConfig = {
    data: {
      dataset,
      tasks: optionNumber(opts, 'tasks'),
      trainSize: optionNumber(opts, 'trainSize'),
      valSize: optionNumber(opts, 'valSize'),
      testSize: optionNumber(opts, 'testSize'),
      dataSeed: optionNumber(opts, 'dataSeed') ?? DEFAULTS.dataSeed,
      groups: optionNumber(opts, 'groups'),
      correlation: optionNumber(opts, 'correlation'),
      inputDim: optionNumber(opts, 'inputDim'),
      ...(csv ? { csv } : {}),
    },
    model: {
      gate,
      experts: optionNumber(opts, 'experts') ?? DEFAULTS.experts,
      k: optionNumber(opts, 'k') ?? DEFAULTS.k,
      gamma: optionNumber(opts, 'gamma') ?? DEFAULTS.gamma,
      entropyWeight: optionNumber(opts, 'entropyWeight') ?? DEFAULTS.entropyWeight,
      entropySchedule: String(opts['entropySchedule'] ?? DEFAULTS.entropySchedule),
      perExample,
      balanceWeight: optionNumber(opts, 'balanceWeight') ?? DEFAULTS.balanceWeight,
      expertHidden: (opts['expertHidden'] as number[] | undefined) ?? [...DEFAULTS.expertHidden],
      expertOutput: optionNumber(opts, 'expertOutput') ?? DEFAULTS.expertOutput,
      towerHidden: (opts['towerHidden'] as number[] | undefined) ?? [...(datasetTrainingDefault(dataset, 'towerHidden') ?? DEFAULTS.towerHidden)],
    },
    optim: {
      epochs: optionNumber(opts, 'epochs') ?? DEFAULTS.epochs,
      batchSize: optionNumber(opts, 'batchSize') ?? DEFAULTS.batchSize,
      lr: optionNumber(opts, 'lr') ?? datasetTrainingDefault(dataset, 'lr') ?? DEFAULTS.lr,
      seed: optionNumber(opts, 'seed') ?? DEFAULTS.seed,
    },
  };
  try {
    validateModelConfig(config.model);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  return config;
}

/** `--data file.csv --targets y1,y2 [--task-types mse,bce] [--features a,b]`, or null without --data. */
function csvConfig(opts: Record<string, unknown>): CsvDataConfig | null {
  const data = opts['data'];
  for (const flag of ['targets', 'taskTypes', 'features'] as const) {
    if (data === undefined && opts[flag] !== undefined) throw new UserError(`${flagName(flag)} needs --data <file.csv>`);
  }
  if (typeof data !== 'string') return null;
  const targets = opts['targets'] as string[] | undefined;
  if (!targets) throw new UserError('--data needs --targets <columns> (the target columns, one task each)');
  const taskTypes = (opts['taskTypes'] as CsvTaskType[] | undefined) ?? targets.map(() => 'mse' as const);
  if (taskTypes.length !== targets.length) throw new UserError(`--task-types gives ${taskTypes.length} type(s) for ${targets.length} target(s) (${targets.join(', ')})`);
  return { path: resolve(data), targets, taskTypes, features: (opts['features'] as string[] | undefined) ?? null };
}

/** Options that may differ from the checkpoint when resuming (they do not change the run's maths). */
const RESUMABLE_OVERRIDES = new Set(['epochs', 'out', 'resume', 'quiet', 'backend']);

/** Flag name → where its value lives in a TrainConfig. */
const CONFIG_PATHS: Record<string, (c: TrainConfig) => unknown> = {
  dataset: (c) => c.data.dataset,
  tasks: (c) => c.data.tasks,
  groups: (c) => c.data.groups,
  correlation: (c) => c.data.correlation,
  inputDim: (c) => c.data.inputDim,
  trainSize: (c) => c.data.trainSize,
  valSize: (c) => c.data.valSize,
  testSize: (c) => c.data.testSize,
  dataSeed: (c) => c.data.dataSeed,
  gate: (c) => c.model.gate,
  perExample: (c) => c.model.perExample,
  static: (c) => !c.model.perExample,
  experts: (c) => c.model.experts,
  k: (c) => c.model.k,
  gamma: (c) => c.model.gamma,
  entropyWeight: (c) => c.model.entropyWeight,
  entropySchedule: (c) => c.model.entropySchedule,
  balanceWeight: (c) => c.model.balanceWeight,
  expertHidden: (c) => c.model.expertHidden,
  expertOutput: (c) => c.model.expertOutput,
  towerHidden: (c) => c.model.towerHidden,
  data: (c) => c.data.csv?.path ?? null,
  targets: (c) => c.data.csv?.targets ?? null,
  taskTypes: (c) => c.data.csv?.taskTypes ?? null,
  features: (c) => c.data.csv?.features ?? null,
  batchSize: (c) => c.optim.batchSize,
  lr: (c) => c.optim.lr,
  seed: (c) => c.optim.seed,
};

function flagName(attribute: string): string {
  return '--' + attribute.replace(/[A-Z]/g, (ch) => '-' + ch.toLowerCase());
}

/** Refuses flags that would silently change a resumed run. */
function checkResumeFlags(saved: TrainConfig, opts: Record<string, unknown>, explicit: ReadonlySet<string>, dir: string): void {
  const requested = configFromOptions({ ...opts, gate: explicit.has('gate') ? opts['gate'] : saved.model.gate });
  for (const key of explicit) {
    if (RESUMABLE_OVERRIDES.has(key)) continue;
    const path = CONFIG_PATHS[key];
    if (!path) continue;
    if (JSON.stringify(path(requested)) !== JSON.stringify(path(saved))) {
      throw new UserError(`${flagName(key)} ${JSON.stringify(path(requested))} differs from the run saved in ${dir} (${JSON.stringify(path(saved))}); drop the flag to resume, or start a new run`);
    }
  }
}

/** Test hook: wait this many ms after every batch (without using the CPU), so a test can signal a run mid-epoch. */
const BATCH_DELAY_ENV = 'DSELECT_K_TEST_BATCH_DELAY_MS';

export function testBatchDelay(): () => void {
  const ms = Number(process.env[BATCH_DELAY_ENV] ?? 0);
  if (!(ms > 0)) return () => {};
  const cell = new Int32Array(new SharedArrayBuffer(4));
  return () => void Atomics.wait(cell, 0, 0, ms);
}

export async function runTrainCommand(opts: Record<string, unknown>, explicit: ReadonlySet<string>, print: (line: string) => void): Promise<number> {
  const quiet = opts['quiet'] === true;
  if (explicit.has('data') && explicit.has('dataset')) throw new UserError('--data and --dataset exclude each other (--data trains on your CSV file)');
  const resumeDir = typeof opts['resume'] === 'string' ? resolve(opts['resume']) : null;
  const outDir = resolve(explicit.has('out') || !resumeDir ? String(opts['out']) : resumeDir);
  const progress = createProgress(progressEnabled(quiet));
  const guard = guardRun(outDir, ['dselect-k', 'train', ...process.argv.slice(3)].join(' '), progress, 'stopping at the next batch boundary to save a checkpoint');
  try {
    return await trainLocked(opts, explicit, print, { quiet, resumeDir, outDir, progress, signal: guard.interrupt.signal, exitCode: () => guard.interrupt.exitCode() });
  } finally {
    progress.stop();
    guard.release();
  }
}

interface TrainContext {
  quiet: boolean;
  resumeDir: string | null;
  outDir: string;
  progress: Progress;
  signal: AbortSignal;
  exitCode: () => number;
}

async function trainLocked(opts: Record<string, unknown>, explicit: ReadonlySet<string>, print: (line: string) => void, ctx: TrainContext): Promise<number> {
  const { quiet, resumeDir, outDir, progress } = ctx;
  const resumed = resumeDir ? readSavedRun(resumeDir) : null;
  if (resumed) checkResumeFlags(resumed.config, opts, explicit, resumeDir!);
  const config = resumed ? resumed.config : configFromOptions(opts);
  const startEpoch = resumed ? resumed.epoch : 0;
  const targetEpochs = resumed && !explicit.has('epochs') ? config.optim.epochs : Number(opts['epochs'] ?? config.optim.epochs);
  if (resumed && targetEpochs <= startEpoch) {
    throw new UserError(`--resume: the checkpoint in ${resumeDir} has already trained ${startEpoch} epoch(s); pass --epochs N with N > ${startEpoch} to continue`);
  }
  config.optim.epochs = targetEpochs;

  selectBackend(String(opts['backend'] ?? 'cpu'));
  try {
    ensureDirectory(outDir, '--out');
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const epochLines = !quiet && !progressEnabled(quiet);
  const crashAt = Number(process.env[CRASH_ENV] ?? NaN);
  const delay = testBatchDelay();
  let T = 1;
  const run = await runTraining({
    config,
    outDir,
    ...(resumed ? { resume: resumed } : {}),
    ...(typeof opts['dataDir'] === 'string' ? { dataDir: opts['dataDir'] } : {}),
    checkpointFaults: (epoch) => (crashAt === epoch ? { afterChunk: () => process.kill(process.pid, 'SIGKILL') } : undefined),
    signal: ctx.signal,
    hooks: {
      onStart: ({ data, experiment, batchesPerEpoch }) => {
        T = data.tasks.length;
        if (!quiet) {
          print(`dselect-k train: ${data.description}`);
          print(`  gate ${describeGate(config.model)}, ${config.model.experts} experts, ${experiment.model.parameterCount()} parameters; epochs ${startEpoch + 1}..${targetEpochs}, batch ${config.optim.batchSize}, lr ${config.optim.lr}, seed ${config.optim.seed}`);
        }
        progress.start((targetEpochs - startEpoch) * batchesPerEpoch, 'train');
      },
      // The mean task loss, as metrics.json stores it (EPOCH_LOSS_DEFINITION).
      onBatch: (b) => {
        progress.update((b.epoch - startEpoch) * b.batches + b.batch + 1, { loss: b.taskLosses.reduce((a, v) => a + v, 0) / b.taskLosses.length, epoch: `${b.epoch + 1}/${targetEpochs}` });
        delay();
      },
      onEpoch: (record) => {
        if (epochLines) {
          const val = record.valLoss === null ? '' : `  val ${record.valLoss.toFixed(4)}`;
          print(`epoch ${record.epoch}/${targetEpochs}  loss ${record.loss.toFixed(4)}  reg ${record.regularization.toExponential(2)}${val}  (${record.seconds.toFixed(1)} s)`);
        }
      },
    },
  });
  progress.stop();
  if (run.status === 'interrupted') {
    const { position, batchesPerEpoch, checkpointPath } = run;
    const where = `epoch ${position.epoch + 1}/${targetEpochs}, batch ${position.batch}/${batchesPerEpoch}`;
    const warn = (line: string): void => void process.stderr.write(`dselect-k: ${line}\n`);
    if (checkpointPath === null) {
      warn(`interrupted at ${where} before any batch ran: nothing was saved${resumeDir ? ` (the checkpoint in ${resumeDir} is unchanged)` : ''}`);
    } else {
      warn(`interrupted at ${where}; checkpoint: ${checkpointPath}`);
      warn(`resume exactly with: dselect-k train --resume ${shellQuote(outDir)}`);
    }
    return ctx.exitCode();
  }
  const { data, report } = run;
  const groups = data.taskGroups;
  const rows = data.tasks.map((task, t) => [
    task.name,
    ...(groups ? [String(groups[t])] : []),
    report.taskMetrics[t]!.toFixed(4),
    report.diagnostics[t]!.selectedExperts.slice(0, 8).join(' ') + (report.diagnostics[t]!.selectedExperts.length > 8 ? ' …' : ''),
    report.diagnostics[t]!.activeExperts.mean.toFixed(2),
  ]);
  const metricName = report.metricKinds.every((k) => k === 'mse') ? 'test MSE' : report.metricKinds.every((k) => k === 'accuracy') ? 'test accuracy' : 'test metric';
  const meanMetric = report.taskMetrics.reduce((a, b) => a + b, 0) / T;
  print('');
  print(formatTable(['task', ...(groups ? ['group'] : []), metricName, 'selected experts', 'active'], rows, groups ? ['left', 'right', 'right', 'left'] : ['left', 'right', 'left']));
  print(`mean ${metricName} over ${T} task(s): ${meanMetric.toFixed(4)}; training ${run.seconds.toFixed(1)} s`);
  print(`checkpoint: ${run.checkpointPath} (epoch ${targetEpochs}); metrics: ${run.metricsPath}`);
  return 0;
}

/** A path as a POSIX shell word (quoted only when it needs to be). */
function shellQuote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}
