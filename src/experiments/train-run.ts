import { join } from 'node:path';
import type { EpochMetrics, FitPosition } from '../moe/train/fit.js';
import { CheckpointError, readCheckpoint, saveCheckpoint, type Checkpoint } from '../node/checkpoint.js';
import { writeTextAtomic } from '../node/atomic-write.js';
import type { AtomicWriteFaults } from '../node/atomic-write.js';
import type { InputSpec, MultiTaskData, TargetScaling, TaskSpec } from '../data/types.js';
import { describeArchitecture, type ModuleSpec } from '../moe/architecture.js';
import { resolveGateKind, type TrainConfig } from './config.js';
import { buildExperiment, loadExperimentData, testReport, trainExperiment, type Experiment, type TestReport } from './experiment.js';
import { UserError } from './user-error.js';
import type { BatchProgress } from '../moe/train/fit.js';

/**
 * One training run that survives interruption: it checkpoints after every epoch (atomically), and
 * when its `signal` is aborted it stops at the next batch boundary and checkpoints there too; either
 * checkpoint resumes bit for bit. At the end it writes metrics.json beside the checkpoint.
 */

/** What `loss` and `valLoss` of an EpochRecord are (written into metrics.json). */
export const EPOCH_LOSS_DEFINITION =
  "mean over tasks of each task's mean loss over the epoch's examples, regularisers excluded (the loss the progress bar and the epoch lines show); valLoss: the same on the validation split";

/** One epoch as kept in the checkpoint and metrics.json. */
export interface EpochRecord {
  epoch: number;
  /** See EPOCH_LOSS_DEFINITION. */
  loss: number;
  regularization: number;
  valLoss: number | null;
  taskLosses: number[];
  seconds: number;
}

interface CheckpointExtra {
  history: EpochRecord[];
  /**
   * All randomness after initialisation derives from (seed, epoch): shuffling uses a generator seeded
   * from both, and the noisy gates reseed their noise at every epoch start. So seed + epoch is the
   * complete RNG state at an epoch boundary.
   */
  rng: { seed: number; epoch: number };
  /**
   * Set when the run was stopped inside an epoch: the batch reached, the epoch's running loss sums and
   * the gates' noise generator states (which no longer follow from seed + epoch alone).
   */
  position?: FitPosition | null;
}

/** What `predict` and `export` need to know about a run's data: the inputs, the tasks and the scalings. */
export interface RunDataInfo {
  input: InputSpec;
  tasks: TaskSpec[];
  /** Input column names (CSV runs), else null: predict then takes the columns in order. */
  featureNames: string[] | null;
  inputScaling: TargetScaling[] | null;
  targetScaling: TargetScaling[] | null;
}

/** What a train run keeps in its checkpoint's meta (the architecture lets `loadModel` rebuild it). */
export interface TrainMeta {
  config: TrainConfig;
  architecture: ModuleSpec;
  data: RunDataInfo;
  /** Completed epochs. */
  epoch: number;
  extra: CheckpointExtra;
}

/** A saved run read back for `resume`. */
export interface SavedRun {
  config: TrainConfig;
  checkpoint: Checkpoint;
  /** Completed epochs. */
  epoch: number;
  history: EpochRecord[];
  /** Where inside epoch `epoch` (0-based) the run stopped; null when it stopped at an epoch boundary. */
  position: FitPosition | null;
}

function isTrainConfig(value: unknown): value is TrainConfig {
  const c = value as TrainConfig | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.data?.dataset === 'string' &&
    typeof c.model?.gate === 'string' &&
    resolveGateKind(c.model.gate) !== null &&
    typeof c.model?.experts === 'number' &&
    typeof c.optim?.seed === 'number' &&
    typeof c.optim?.epochs === 'number'
  );
}

/** Reads the run saved in `dir`; a missing, corrupt or foreign checkpoint is a UserError. */
export function readSavedRun(dir: string): SavedRun {
  let checkpoint: Checkpoint;
  try {
    checkpoint = readCheckpoint(dir);
  } catch (e) {
    if (e instanceof CheckpointError) throw new UserError(`--resume: ${e.message}`);
    throw e;
  }
  const meta = checkpoint.meta as Partial<TrainMeta> | null;
  if (!isTrainConfig(meta?.config) || !Number.isInteger(meta.epoch) || meta.epoch! < 0 || checkpoint.optimizer === null) {
    throw new UserError(`--resume: the checkpoint in ${dir} does not hold a dselect-k train run (configuration, epoch and optimiser state)`);
  }
  const extra = meta.extra as Partial<CheckpointExtra> | undefined;
  const position = extra?.position ?? null;
  if (position !== null && (typeof position !== 'object' || position.epoch !== meta.epoch)) {
    throw new UserError(`--resume: the checkpoint in ${dir} holds a stop position that does not match its epoch ${meta.epoch}`);
  }
  // Runs saved by earlier versions spell the gate 'topk' / 'noisy-topk'.
  const config: TrainConfig = { ...meta.config, model: { ...meta.config.model, gate: resolveGateKind(meta.config.model.gate)!.kind } };
  return { config, checkpoint, epoch: meta.epoch!, history: Array.isArray(extra?.history) ? extra.history : [], position };
}

function meanOf(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function recordOf(m: EpochMetrics): EpochRecord {
  return {
    epoch: m.epoch + 1,
    loss: meanOf(m.taskLosses),
    regularization: m.regularization,
    valLoss: m.validation ? meanOf(m.validation.taskLosses) : null,
    taskLosses: m.taskLosses,
    seconds: m.seconds,
  };
}

export interface TrainRunHooks {
  /** Called once the data and model are built, before the first batch. */
  onStart?: (info: { data: MultiTaskData; experiment: Experiment; startEpoch: number; batchesPerEpoch: number }) => void;
  onBatch?: (progress: BatchProgress) => void;
  /** Called after each epoch's checkpoint is written. */
  onEpoch?: (record: EpochRecord) => void;
}

export interface TrainRunOptions {
  config: TrainConfig;
  /** Where checkpoint.dsk and metrics.json go. */
  outDir: string;
  /** A run to continue (its config must be `config`). */
  resume?: SavedRun;
  dataDir?: string;
  hooks?: TrainRunHooks;
  /** Test hook: fault injection while the checkpoint of epoch `epoch` is written. */
  checkpointFaults?: (epoch: number) => AtomicWriteFaults | undefined;
  /** Stop at the next batch boundary once aborted, checkpoint there and resolve with status 'interrupted'. */
  signal?: AbortSignal;
}

export interface TrainRunResult {
  status: 'finished';
  data: MultiTaskData;
  experiment: Experiment;
  report: TestReport;
  history: EpochRecord[];
  /** Wall-clock seconds of this session's training. */
  seconds: number;
  checkpointPath: string;
  metricsPath: string;
}

/** A run stopped by its signal; `checkpointPath` resumes it exactly (null when no batch had run yet). */
export interface TrainRunInterrupted {
  status: 'interrupted';
  data: MultiTaskData;
  experiment: Experiment;
  history: EpochRecord[];
  seconds: number;
  position: FitPosition;
  batchesPerEpoch: number;
  checkpointPath: string | null;
}

export async function runTraining(opts: TrainRunOptions): Promise<TrainRunResult | TrainRunInterrupted> {
  const { config, outDir, resume, hooks = {} } = opts;
  const startEpoch = resume ? resume.epoch : 0;
  const targetEpochs = config.optim.epochs;
  const data = await loadExperimentData(config.data, opts.dataDir);
  const exp = buildExperiment(config, data);
  if (resume) {
    try {
      exp.model.checkStateDict(resume.checkpoint.model);
      exp.optimizer.checkStateDict(resume.checkpoint.optimizer!);
      exp.model.loadStateDict(resume.checkpoint.model);
      exp.optimizer.loadStateDict(resume.checkpoint.optimizer!);
    } catch (e) {
      throw new UserError(`--resume: the checkpoint does not fit the model: ${(e as Error).message}`);
    }
  }
  const history: EpochRecord[] = resume ? [...resume.history] : [];
  const architecture = describeArchitecture(exp.model);
  const dataInfo: RunDataInfo = {
    input: data.input,
    tasks: [...data.tasks],
    featureNames: data.featureNames ? [...data.featureNames] : null,
    inputScaling: data.inputScaling ? [...data.inputScaling] : null,
    targetScaling: data.targetScaling ? [...data.targetScaling] : null,
  };
  const batchesPerEpoch = Math.ceil(data.train.size / config.optim.batchSize);
  hooks.onStart?.({ data, experiment: exp, startEpoch, batchesPerEpoch });
  const started = performance.now();
  let checkpointPath = '';
  let batchesRun = 0;
  const save = (epoch: number, position: FitPosition | null, faults?: AtomicWriteFaults): string => {
    const meta: TrainMeta = { config, architecture, data: dataInfo, epoch, extra: { history, rng: { seed: config.optim.seed, epoch }, position } };
    return saveCheckpoint(outDir, { model: exp.model, optimizer: exp.optimizer, meta }, faults);
  };
  let result;
  try {
    result = await trainExperiment(exp, config, targetEpochs, startEpoch, {
      onBatch: (b) => {
        batchesRun++;
        hooks.onBatch?.(b);
      },
      onEpoch: (m) => {
        const record = recordOf(m);
        history.push(record);
        checkpointPath = save(m.epoch + 1, null, opts.checkpointFaults?.(m.epoch + 1));
        hooks.onEpoch?.(record);
      },
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(resume?.position ? { resumeFrom: resume.position } : {}),
    });
  } catch (e) {
    if (resume?.position && /resumeFrom/.test((e as Error).message)) throw new UserError(`--resume: the checkpoint's stop position does not fit the run: ${(e as Error).message}`);
    throw e;
  }
  if (result.interrupted) {
    const position = result.interrupted;
    // With no batch run in this session there is nothing new to save (a resumed checkpoint stays as it was).
    const path = batchesRun === 0 ? null : save(position.epoch, position.batch === 0 ? null : position);
    return { status: 'interrupted', data, experiment: exp, history, seconds: (performance.now() - started) / 1000, position, batchesPerEpoch, checkpointPath: path };
  }
  const seconds = (performance.now() - started) / 1000;
  const report = testReport(exp);
  const metricsPath = join(outDir, 'metrics.json');
  writeTextAtomic(
    metricsPath,
    JSON.stringify(
      {
        config,
        epochs: targetEpochs,
        lossDefinition: EPOCH_LOSS_DEFINITION,
        history,
        test: {
          metric: report.metricKinds,
          taskMetrics: report.taskMetrics,
          taskLosses: report.evaluation.taskLosses,
          gateWeights: report.gateWeights,
          diagnostics: report.diagnostics,
        },
        targetScaling: data.targetScaling ?? null,
      },
      null,
      2,
    ) + '\n',
  );
  return { status: 'finished', data, experiment: exp, report, history, seconds, checkpointPath, metricsPath };
}
