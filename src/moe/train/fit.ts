import type { Optimizer } from '../../optim/optimizer.js';
import type { RngState } from '../../tensor/random.js';
import type { MultiTaskModel } from '../mmoe.js';
import type { MultiTaskBatchSource } from './dataset.js';
import type { EvaluationResult } from './evaluate.js';
import type { TaskLossKind } from './task-loss.js';
import { trainingLoop } from './training-loop.js';

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
  /**
   * Continue exactly where an interrupted `fitAsync` stopped (its `interrupted` position), with the
   * model and optimiser state saved at that moment; replaces `initialEpoch`.
   */
  resumeFrom?: FitPosition;
}

/**
 * Where training stood between two batches. With the model's parameters and the optimiser's state it
 * is everything needed to continue bit for bit: the epoch's shuffle derives from (seed, epoch), the
 * metrics' running sums and the gates' noise generators are here. JSON-safe.
 */
export interface FitPosition {
  /** The epoch in progress (0-based). */
  epoch: number;
  /** Batches of that epoch already trained. */
  batch: number;
  /** Σ over the trained rows of each task's loss × rows (behind the epoch's mean loss). */
  taskSums: number[];
  /** Σ over the trained rows of the regulariser × rows. */
  regularizationSum: number;
  /** Each gate's noise generator state (null for gates without noise), in `model.modules()` order. */
  randomStates: (RngState | null)[];
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
  /** Where training stopped when `fitAsync` was asked to stop; null when it ran to its end. */
  interrupted: FitPosition | null;
}

/**
 * Trains a multi-task model: seeded shuffling and batching, Σ_t w_t · L_t plus every gate's
 * regulariser, one optimiser step per batch inside `tidy` (memory stays flat), gate schedules applied
 * at the start of each epoch, per-epoch metrics, optional validation and early stopping. Synchronous:
 * use `fitAsync` to be able to stop it (Ctrl-C, a button) and resume exactly.
 */
export function fit(model: MultiTaskModel, data: MultiTaskBatchSource, opts: FitOptions): FitResult {
  const loop = trainingLoop('fit', model, data, opts);
  for (let step = loop.next(); ; step = loop.next(false)) {
    if (step.done) return step.value;
  }
}
