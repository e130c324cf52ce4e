import type { Optimizer } from '../../optim/optimizer.js';
import type { MultiTaskModel } from '../mmoe.js';
import type { MultiTaskBatchSource } from './dataset.js';
import { evaluatePrepared, type EvaluationResult } from './evaluate.js';
import type { TaskLossKind } from './task-loss.js';
import { TrainingRun, type StepValues } from './training-run.js';

export interface EarlyStoppingOptions {
  /** Epochs without an improvement larger than `minDelta` before stopping. */
  patience: number;
  minDelta?: number;
  /** Put back the weights of the best epoch when training ends (default true). */
  restoreBest?: boolean;
}

export interface FitOptions {
  /** Train until this many epochs have run in total (counting `initialEpoch`). */
  epochs: number;
  /** Rows per step (default 32; the last batch of an epoch may be smaller). */
  batchSize?: number;
  /** Default: Adam over the model's parameters with `lr`. */
  optimizer?: Optimizer;
  /** Learning rate of the default optimiser (default 1e-3). */
  lr?: number;
  /** Loss per task (or one for all), default 'mse'. */
  losses?: TaskLossKind | readonly TaskLossKind[];
  /** Weight of each task in the objective (default 1 each). */
  taskWeights?: readonly number[];
  /** Seed of the shuffling (default 0). Epoch e shuffles with a generator derived from (seed, e), so resumed runs repeat exactly. */
  seed?: number;
  shuffle?: boolean;
  /** First epoch to run (to resume a checkpoint taken after `initialEpoch` epochs). */
  initialEpoch?: number;
  /** Data evaluated after every epoch (eval mode); the monitored loss for early stopping. */
  validation?: MultiTaskBatchSource;
  earlyStopping?: EarlyStoppingOptions;
  /** Called after every epoch; returning false stops training. */
  onEpoch?: (metrics: EpochMetrics) => void | boolean;
  /** Called after every step (progress bars). */
  onBatch?: (progress: BatchProgress) => void;
}

export interface EpochMetrics {
  epoch: number;
  /** Mean over the epoch's rows of Σ_t w_t · L_t (task losses only). */
  loss: number;
  taskLosses: number[];
  /** Mean regulariser (entropy, reachability, load balancing) over the epoch. */
  regularization: number;
  /** loss + regularization: what was minimised. */
  objective: number;
  validation: EvaluationResult | null;
  /** Wall-clock seconds of the epoch (training and validation). */
  seconds: number;
}

export interface BatchProgress {
  epoch: number;
  batch: number;
  batches: number;
  /** Objective of this batch. */
  loss: number;
  /** Rows processed so far in this epoch. */
  rows: number;
}

export interface FitResult {
  history: EpochMetrics[];
  /** Epoch with the lowest monitored loss (validation loss if given, else training loss). */
  bestEpoch: number;
  bestLoss: number;
  stoppedEarly: boolean;
  /** True when the best epoch's weights were put back at the end. */
  restoredBest: boolean;
  optimizer: Optimizer;
}

/**
 * Trains a multi-task model: seeded shuffling and batching, Σ_t w_t · L_t plus every gate's
 * regulariser, one optimiser step per batch inside `tidy` (memory stays flat), gate schedules applied
 * at the start of each epoch, per-epoch metrics, optional validation and early stopping. Each batch's
 * losses are read back before its backward pass (so a non-finite objective stops training before it
 * reaches the weights); on a backend that reads back only asynchronously (webgpu) use `fitAsync`.
 */
export function fit(model: MultiTaskModel, data: MultiTaskBatchSource, opts: FitOptions): FitResult {
  const run = new TrainingRun('fit', model, data, opts);
  for (let epoch = run.initialEpoch; epoch < run.epochs; epoch++) {
    const batches = run.startEpoch(epoch);
    batches.forEach((rows, b) => {
      let values: StepValues | null = null;
      const losses = run.step(rows, (l) => {
        values = run.valuesOf(l.toArray());
        run.checkFinite(epoch, b, values);
      });
      losses.dispose();
      run.record(epoch, b, batches.length, rows.length, values!);
    });
    const val = run.validation ? evaluatePrepared(model, run.validation, run.setup, Math.max(run.batchSize, 256)) : null;
    if (!run.endEpoch(epoch, val)) break;
  }
  return run.finish();
}
