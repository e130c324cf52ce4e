import type { Optimizer } from '../../optim/optimizer.js';
import type { LrInterval, LrSchedule, LRScheduler } from '../../optim/lr-scheduler.js';
import type { RngState } from '../../tensor/random.js';
import type { MultiTaskBatchSource } from './dataset.js';
import type { EvaluationResult } from './evaluate.js';
import type { TaskLossKind } from './task-loss.js';

export interface EarlyStoppingOptions {
  /** Epochs without an improvement larger than `minDelta` before stopping. */
  patience: number;
  minDelta?: number;
  /** Put back the weights of the best epoch when training ends (default true). */
  restoreBest?: boolean;
}

/** One batch of a stream: inputs [B, ...] and targets as in `MultiTaskBatchSource`. */
export type Batch = MultiTaskBatchSource;

/**
 * Batches streamed from anywhere (data larger than memory): an iterable, re-iterated every epoch, or a
 * function that returns the batches of epoch `epoch` (0-based) — a generator function reading a file,
 * shuffling shards with the epoch as seed, …. `fitAsync` also takes async iterables.
 */
export type BatchStream = Iterable<Batch> | ((epoch: number) => Iterable<Batch>);
export type AsyncBatchStream = BatchStream | AsyncIterable<Batch> | ((epoch: number) => Iterable<Batch> | AsyncIterable<Batch>);

/** What `fit` trains on: tensors in memory (shuffled and batched by `fit`) or a stream of batches. */
export type FitData = MultiTaskBatchSource | BatchStream;

export interface FitOptions {
  /** Train until this many epochs have run in total (counting `initialEpoch`). */
  epochs: number;
  /** Rows per step (default 32; the last batch of an epoch may be smaller). In-memory data only. */
  batchSize?: number;
  /** Default: Adam over the model's parameters with `lr`. */
  optimizer?: Optimizer;
  /** Learning rate of the default optimiser (default 1e-3). */
  lr?: number;
  /**
   * A learning-rate schedule: an LRScheduler over `optimizer`, or a schedule for fit's optimiser
   * (`{ schedule: cosineDecay({ steps: 20 }), interval: 'epoch' }`). fit advances it after every epoch
   * or every optimiser step; when resuming at `initialEpoch` a schedule at position 0 is moved there.
   */
  lrScheduler?: LRScheduler | { schedule: LrSchedule; interval?: LrInterval };
  /** Scale the gradients so their global L2 norm is at most this, before every optimiser step. */
  clipGradNorm?: number;
  /** Clamp every gradient element to [−v, v] before every optimiser step (applied before `clipGradNorm`). */
  clipGradValue?: number;
  /** Loss per task (or one for all), default 'mse'. */
  losses?: TaskLossKind | readonly TaskLossKind[];
  /** Weight of each task in the objective (default 1 each). */
  taskWeights?: readonly number[];
  /** Seed of the shuffling (default 0). Epoch e shuffles with a generator derived from (seed, e), so resumed runs repeat exactly. In-memory data only. */
  seed?: number;
  /** Shuffle in-memory data every epoch (default true); a stream is used in the order it yields. */
  shuffle?: boolean;
  /** First epoch to run (to resume a checkpoint taken after `initialEpoch` epochs). */
  initialEpoch?: number;
  /** Data evaluated after every epoch (eval mode); the monitored loss for early stopping. */
  validation?: FitData;
  /** Batches per epoch of a stream, if known (shown in `BatchProgress.batches`; NaN otherwise). */
  batchesPerEpoch?: number;
  earlyStopping?: EarlyStoppingOptions;
  /** Called after every epoch; returning false stops training. */
  onEpoch?: (metrics: EpochMetrics) => void | boolean;
  /** Called after every step (progress bars). */
  onBatch?: (progress: BatchProgress) => void;
  /**
   * Continue exactly where an interrupted `fitAsync` stopped (its result's `interrupted`), with the
   * model and optimiser state saved at that moment; replaces `initialEpoch`. In-memory data only (a
   * stream cannot be rewound to a batch).
   */
  resumeFrom?: FitPosition;
}

/**
 * Where training stood between two batches. With the model's parameters and the optimiser's state it
 * is everything needed to continue bit for bit: the epoch's shuffle derives from (seed, epoch), and the
 * epoch's running sums and the modules' random generators (gate noise, dropout) are here. JSON-safe.
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
  /** Each module's `randomState()` (null for modules without randomness), in `model.modules()` order. */
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
  /** Learning rate of the epoch's last step. */
  lr: number;
  /** Wall-clock seconds of the epoch (training and validation). */
  seconds: number;
}

export interface BatchProgress {
  epoch: number;
  batch: number;
  /** Batches in the epoch (NaN for a stream without `batchesPerEpoch`). */
  batches: number;
  /** Objective of this batch (weighted task losses plus regularisers). */
  loss: number;
  /** Each task's mean loss on this batch (no regulariser). */
  taskLosses: number[];
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
  /** The scheduler that drove the learning rate, if any. */
  lrScheduler: LRScheduler | null;
  /** Where `fitAsync` stopped when its signal was aborted with `onAbort: 'return'`; null when training ran to its end. */
  interrupted: FitPosition | null;
}
