import { add, mul } from '../../autograd/ops/elementwise.js';
import { sum } from '../../autograd/ops/reduce.js';
import { fromTypedArray } from '../../tensor/creation.js';
import { allocArray, type DType } from '../../tensor/dtype.js';
import type { Module } from '../../nn/module.js';
import { keep, tidy } from '../../tensor/scope.js';
import type { StateDict } from '../../nn/module.js';
import { Adam } from '../../optim/adam.js';
import type { Optimizer } from '../../optim/optimizer.js';
import { Rng } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Gate } from '../gate.js';
import type { MultiTaskModel } from '../mmoe.js';
import { batchIndices, canStackLosses, prepareData, stackedMseLosses, takeRows, type MultiTaskBatchSource } from './dataset.js';
import { evaluatePrepared, type EvaluationResult } from './evaluate.js';
import { resolveLossSetup } from './loss-setup.js';
import { taskLoss, type TaskLossKind } from './task-loss.js';

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
 * at the start of each epoch and before each step, per-epoch metrics, optional validation and early stopping.
 */
export function fit(model: MultiTaskModel, data: MultiTaskBatchSource, opts: FitOptions): FitResult {
  const owner = 'fit';
  const epochs = opts?.epochs;
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`${owner}: epochs must be an integer ≥ 1, got ${String(epochs)}`);
  const batchSize = opts.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${owner}: batchSize must be an integer ≥ 1, got ${String(batchSize)}`);
  const initialEpoch = opts.initialEpoch ?? 0;
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0 || initialEpoch >= epochs) {
    throw new Error(`${owner}: initialEpoch must be an integer in [0, epochs = ${epochs}), got ${String(initialEpoch)}`);
  }
  const seed = opts.seed ?? 0;
  if (!Number.isFinite(seed)) throw new Error(`${owner}: seed must be a finite number, got ${String(seed)}`);
  const stopping = opts.earlyStopping;
  if (stopping && (!Number.isInteger(stopping.patience) || stopping.patience < 1)) {
    throw new Error(`${owner}: earlyStopping.patience must be an integer ≥ 1, got ${String(stopping.patience)}`);
  }
  const setup = resolveLossSetup(owner, model.numTasks, opts.losses, opts.taskWeights);
  const dtype = model.parameters()[0]?.dtype ?? 'float32';
  const train = prepareData(owner, data, model.numTasks, dtype);
  const validation = opts.validation ? prepareData(`${owner} (validation)`, opts.validation, model.numTasks, dtype) : null;
  const optimizer = opts.optimizer ?? new Adam(model, { lr: opts.lr ?? 1e-3 });
  // Gates (and gate banks) follow their regulariser schedules through these two hooks.
  const gates = model.modules().filter(isScheduled);
  const taskWeights = train.matrix ? keep(fromTypedArray(copyAs(dtype, setup.weights), [setup.weights.length])) : null;

  const history: EpochMetrics[] = [];
  let best: { epoch: number; loss: number; weights: StateDict | null } = { epoch: -1, loss: Infinity, weights: null };
  let stoppedEarly = false;
  model.train();
  for (let epoch = initialEpoch; epoch < epochs; epoch++) {
    const started = Date.now();
    for (const g of gates) g.onEpochStart(epoch);
    const order = opts.shuffle === false ? Int32Array.from({ length: train.size }, (_, i) => i) : new Rng(epochSeed(seed, epoch)).permutation(train.size);
    const batches = batchIndices(order, batchSize);
    const taskSums = new Array<number>(model.numTasks).fill(0);
    let regSum = 0;
    let rowsSeen = 0;
    batches.forEach((rows, b) => {
      // The step index is derived from (epoch, batch), so a resumed run sees the same schedule.
      for (const g of gates) g.onStep(epoch * batches.length + b);
      const step = tidy(() => {
        optimizer.zeroGrad();
        const out = model.forward(takeRows(train.x, rows));
        const { regularization } = out;
        let objective: Tensor;
        let tasks: number[];
        if (canStackLosses(out.stackedOutputs, train.matrix, setup.losses)) {
          const perTask = stackedMseLosses(out.stackedOutputs, takeRows(train.matrix!, rows));
          objective = sum(mul(perTask, taskWeights!));
          tasks = Array.from(perTask.toArray());
        } else {
          const losses = out.outputs.map((o, t) => taskLoss(setup.losses[t]!, o, takeRows(train.targets[t]!, rows)));
          objective = losses.reduce<Tensor | null>((acc, l, t) => {
            const term = mul(l, setup.weights[t]!);
            return acc ? add(acc, term) : term;
          }, null)!;
          tasks = losses.map((l) => l.item());
        }
        if (regularization) objective = add(objective, regularization);
        const values = { tasks, reg: regularization ? regularization.item() : 0, objective: objective.item() };
        if (!Number.isFinite(values.objective)) {
          const culprit = values.tasks.findIndex((v) => !Number.isFinite(v));
          throw new Error(
            `${owner}: the objective became ${values.objective} at epoch ${epoch}, batch ${b} (${culprit >= 0 ? `task ${culprit} loss` : 'gate regularisation'} ${culprit >= 0 ? values.tasks[culprit] : values.reg}); try a smaller learning rate`,
          );
        }
        objective.backward();
        optimizer.step();
        return values;
      });
      accumulateWeighted(step.tasks, taskSums, rows.length);
      regSum += step.reg * rows.length;
      rowsSeen += rows.length;
      opts.onBatch?.({ epoch, batch: b, batches: batches.length, loss: step.objective, rows: rowsSeen });
    });
    optimizer.zeroGrad();
    const taskLosses = taskSums.map((s) => s / train.size);
    const loss = taskLosses.reduce((acc, l, t) => acc + setup.weights[t]! * l, 0);
    const regularization = regSum / train.size;
    const val = validation ? evaluatePrepared(model, validation, setup, Math.max(batchSize, 256)) : null;
    const metrics: EpochMetrics = { epoch, loss, taskLosses, regularization, objective: loss + regularization, validation: val, seconds: 0 };
    const monitored = val ? val.loss : loss;
    if (monitored < best.loss - (stopping?.minDelta ?? 0)) {
      best = { epoch, loss: monitored, weights: stopping && (stopping.restoreBest ?? true) ? model.stateDict() : null };
    }
    metrics.seconds = (Date.now() - started) / 1000;
    history.push(metrics);
    const keepGoing = opts.onEpoch?.(metrics);
    if (keepGoing === false) {
      stoppedEarly = true;
      break;
    }
    if (stopping && epoch - best.epoch >= stopping.patience) {
      stoppedEarly = true;
      break;
    }
  }
  taskWeights?.dispose();
  let restoredBest = false;
  const last = history[history.length - 1];
  if (best.weights && last && best.epoch !== last.epoch) {
    model.loadStateDict(best.weights);
    restoredBest = true;
  }
  return { history, bestEpoch: best.epoch, bestLoss: best.loss, stoppedEarly, restoredBest, optimizer };
}

interface Scheduled {
  onEpochStart(epoch: number): void;
  onStep(step: number): void;
}

function isScheduled(m: Module): m is Module & Scheduled {
  return m instanceof Gate || (typeof (m as Partial<Scheduled>).onEpochStart === 'function' && typeof (m as Partial<Scheduled>).onStep === 'function');
}

function accumulateWeighted(values: readonly number[], sums: number[], rows: number): void {
  values.forEach((v, t) => (sums[t]! += v * rows));
}

/** A well-mixed 32-bit seed per (seed, epoch). */
function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(Math.floor(seed) ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(epoch + 1, 0x9e3779b1)) >>> 0;
}

function copyAs(dtype: DType, values: readonly number[]): Float32Array | Float64Array {
  const out = allocArray(dtype, values.length);
  out.set(values);
  return out;
}
