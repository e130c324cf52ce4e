import { reshape } from '../autograd/ops/shape.js';
import { loadDataset } from './datasets.js';
import type { MultiTaskData, MultiTaskSplit, TaskSpec } from '../data/types.js';
import { loadCsvData } from './csv-data.js';
import { registerGpuBackend } from '../gpu/index.js';
import { setBackend } from '../kernels/registry.js';
import { buildMMoE } from '../moe/build-mmoe.js';
import { parseEntropySchedule } from '../moe/entropy-schedule.js';
import type { GateSpec } from '../moe/gate-factory.js';
import type { GateDiagnostics } from '../moe/gate-diagnostics.js';
import type { MMoE } from '../moe/mmoe.js';
import type { MultiTaskBatchSource } from '../moe/train/dataset.js';
import { evaluate, type EvaluationResult } from '../moe/train/evaluate.js';
import type { BatchProgress, EpochMetrics, FitPosition, FitResult } from '../moe/train/fit.js';
import { fitAsync } from '../moe/train/fit-async.js';
import type { TaskLossKind } from '../moe/train/task-loss.js';
import { Adam } from '../optim/adam.js';
import type { Tensor } from '../tensor/tensor.js';
import type { DataConfig, ModelConfig, TrainConfig } from './config.js';
import { UserError } from './user-error.js';
import { imageExpertOverrides } from './image-experts.js';

/** The glue between a run's config, a dataset and the models layer (MMoE, gates, fit, evaluate). */

export async function loadExperimentData(cfg: DataConfig, dataDir?: string): Promise<MultiTaskData> {
  if (cfg.csv) {
    if (cfg.tasks !== null || cfg.groups !== null || cfg.correlation !== null || cfg.inputDim !== null) {
      throw new UserError('--tasks, --groups, --correlation and --input-dim do not apply to --data (the CSV file and --targets define the tasks)');
    }
    try {
      return loadCsvData(cfg.csv, { valSize: cfg.valSize, testSize: cfg.testSize, trainSize: cfg.trainSize, seed: cfg.dataSeed });
    } catch (e) {
      throw new UserError(`--data: ${(e as Error).message}`);
    }
  }
  const extra: Record<string, number> = {};
  if (cfg.groups !== null) extra['numGroups'] = cfg.groups;
  if (cfg.correlation !== null) extra['correlation'] = cfg.correlation;
  if (cfg.inputDim !== null) extra['inputDim'] = cfg.inputDim;
  if (cfg.dataset !== 'synthetic' && Object.keys(extra).length > 0) {
    throw new UserError(`--groups, --correlation and --input-dim apply to the synthetic dataset only, not '${cfg.dataset}'`);
  }
  try {
    return await loadDataset(cfg.dataset, {
      seed: cfg.dataSeed,
      ...(cfg.tasks !== null ? { numTasks: cfg.tasks } : {}),
      ...(cfg.trainSize !== null ? { numTrain: cfg.trainSize } : {}),
      ...(cfg.valSize !== null ? { numVal: cfg.valSize } : {}),
      ...(cfg.testSize !== null ? { numTest: cfg.testSize } : {}),
      ...(Object.keys(extra).length > 0 ? { extra } : {}),
      ...(dataDir !== undefined ? { dataDir } : {}),
    });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}

/** Switches the compute backend, turning an unavailable one into a user-facing error. */
export function selectBackend(name: string): string {
  if (name === 'gpu') registerGpuBackend();
  try {
    const info = setBackend(name as Parameters<typeof setBackend>[0]);
    return JSON.stringify(info);
  } catch (e) {
    throw new UserError(`--backend ${name}: ${(e as Error).message}`);
  }
}

export function gateSpec(m: ModelConfig): GateSpec {
  switch (m.gate) {
    case 'dselect-k':
      return {
        type: 'dselect-k',
        k: m.k,
        gamma: m.gamma,
        perExample: m.perExample,
        entropyWeight: m.entropyWeight,
        entropySchedule: parseEntropySchedule(m.entropySchedule),
      };
    case 'softmax':
      return { type: 'softmax', perExample: m.perExample };
    case 'top-k':
      return { type: 'top-k', k: m.k, perExample: m.perExample };
    case 'noisy-top-k':
      return { type: 'noisy-top-k', k: m.k, balanceWeight: m.balanceWeight };
  }
}

/** Human-readable gate description, e.g. 'dselect-k (static, k = 2, γ = 1)'. */
export function describeGate(m: ModelConfig): string {
  const mode = m.perExample ? 'per-example' : 'static';
  switch (m.gate) {
    case 'dselect-k':
      return `dselect-k (${mode}, k = ${m.k}, γ = ${m.gamma}, λ = ${m.entropyWeight} ${m.entropySchedule})`;
    case 'softmax':
      return `softmax (${mode})`;
    case 'top-k':
      return `top-k (${mode}, k = ${m.k})`;
    case 'noisy-top-k':
      return `noisy-top-k (per-example, k = ${m.k}, balance ${m.balanceWeight})`;
  }
}

/** The training loss of a task: regression 'mse', one-logit binary 'bce', classes 'ce'. */
export function taskLossOf(task: TaskSpec): TaskLossKind {
  return task.kind === 'regression' ? 'mse' : task.kind === 'binary' ? 'bce' : 'ce';
}

export interface Experiment {
  data: MultiTaskData;
  model: MMoE;
  optimizer: Adam;
  losses: TaskLossKind[];
  train: MultiTaskBatchSource;
  val: MultiTaskBatchSource;
  test: MultiTaskBatchSource;
}

/** Flattens image inputs: the MLP experts and the gates see [N, C·H·W]. */
function flatSplit(split: MultiTaskSplit): MultiTaskBatchSource {
  const x: Tensor = split.x.ndim === 2 ? split.x : reshape(split.x, [split.size, split.x.size / split.size]);
  return { x, y: split.y };
}

export function buildExperiment(cfg: TrainConfig, data: MultiTaskData): Experiment {
  const m = cfg.model;
  const inputDim = data.input.shape.reduce((a, b) => a * b, 1);
  const losses: TaskLossKind[] = data.tasks.map(taskLossOf);
  let model: MMoE;
  try {
    model = buildMMoE({
      inputDim,
      numTasks: data.tasks.length,
      numExperts: m.experts,
      gate: gateSpec(m),
      expertHidden: m.expertHidden,
      expertOutputDim: m.expertOutput,
      towerHidden: m.towerHidden,
      taskOutputDims: data.tasks.map((t) => (t.kind === 'classification' ? t.numClasses : 1)),
      seed: cfg.optim.seed,
      ...imageExpertOverrides(data),
    });
  } catch (e) {
    throw new UserError(`the model does not fit dataset '${data.name}': ${(e as Error).message}`);
  }
  const optimizer = new Adam(model, { lr: cfg.optim.lr });
  return { data, model, optimizer, losses, train: flatSplit(data.train), val: flatSplit(data.val), test: flatSplit(data.test) };
}

export interface TrainHooks {
  onEpoch?: (metrics: EpochMetrics) => void;
  onBatch?: (progress: BatchProgress) => void;
  /** Stop at the next batch boundary once aborted; the result's `interrupted` says where. */
  signal?: AbortSignal;
  /** Continue an interrupted run exactly from this position (instead of from `initialEpoch`). */
  resumeFrom?: FitPosition;
}

/**
 * Trains from `initialEpoch` (or `hooks.resumeFrom`) up to `epochs` (total); shuffling and gate noise
 * derive from (seed, epoch). The event loop runs between batches, so a signal can stop it.
 */
export function trainExperiment(exp: Experiment, cfg: TrainConfig, epochs: number, initialEpoch: number, hooks: TrainHooks = {}): Promise<FitResult> {
  return fitAsync(exp.model, exp.train, {
    epochs,
    initialEpoch,
    batchSize: cfg.optim.batchSize,
    optimizer: exp.optimizer,
    losses: exp.losses,
    seed: cfg.optim.seed,
    validation: exp.val,
    ...(hooks.onEpoch ? { onEpoch: hooks.onEpoch } : {}),
    ...(hooks.onBatch ? { onBatch: hooks.onBatch } : {}),
    ...(hooks.signal ? { signal: hooks.signal, onAbort: 'return' as const } : {}),
    ...(hooks.resumeFrom ? { resumeFrom: hooks.resumeFrom } : {}),
  });
}

export interface TestReport {
  evaluation: EvaluationResult;
  /** Per task: MSE (regression) or accuracy (classification). */
  taskMetrics: number[];
  metricKinds: ('mse' | 'accuracy')[];
  diagnostics: GateDiagnostics[];
  /** Task × expert mean gate weights on the test set. */
  gateWeights: number[][];
  /** Non-zero weights per task (per example), averaged over tasks. */
  activeExperts: number;
}

export function testReport(exp: Experiment): TestReport {
  const evaluation = evaluate(exp.model, exp.test, { losses: exp.losses });
  const metricKinds = exp.losses.map((l) => (l === 'mse' ? 'mse' : 'accuracy') as 'mse' | 'accuracy');
  const taskMetrics = evaluation.taskLosses.map((loss, t) => (metricKinds[t] === 'mse' ? loss : evaluation.taskAccuracies[t]!));
  const diagnostics = exp.model.diagnostics(exp.test.x);
  const gateWeights = diagnostics.map((d) => [...d.meanWeights]);
  const activeExperts = diagnostics.reduce((a, d) => a + d.activeExperts.mean, 0) / Math.max(1, diagnostics.length);
  return { evaluation, taskMetrics, metricKinds, diagnostics, gateWeights, activeExperts };
}
