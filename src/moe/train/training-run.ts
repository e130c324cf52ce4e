import { add, mul } from '../../autograd/ops/elementwise.js';
import { concat, reshape } from '../../autograd/ops/shape.js';
import type { StateDict } from '../../nn/module.js';
import { Adam } from '../../optim/adam.js';
import type { Optimizer } from '../../optim/optimizer.js';
import { zeros } from '../../tensor/creation.js';
import { Rng } from '../../tensor/random.js';
import { keep, tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Gate } from '../gate.js';
import type { MultiTaskModel } from '../mmoe.js';
import { batchIndices, prepareData, takeRows, type MultiTaskBatchSource, type PreparedData } from './dataset.js';
import type { EvaluationResult } from './evaluate.js';
import { resolveLossSetup, type LossSetup } from './loss-setup.js';
import type { BatchProgress, EarlyStoppingOptions, EpochMetrics, FitOptions, FitResult } from './fit.js';
import { taskLoss } from './task-loss.js';

/** One batch's losses as numbers. */
export interface StepValues {
  tasks: number[];
  reg: number;
  objective: number;
}

/**
 * The state of one training run, shared by `fit` (which reads each step's losses at once) and
 * `fitAsync` (which keeps them on the device and reads many at a time): option checks, data, the
 * optimiser, shuffling and batching per epoch, the step itself, the per-epoch metrics, early stopping
 * and restoring the best weights.
 */
export class TrainingRun {
  readonly epochs: number;
  readonly initialEpoch: number;
  readonly batchSize: number;
  readonly setup: LossSetup;
  readonly train: PreparedData;
  readonly validation: PreparedData | null;
  readonly optimizer: Optimizer;
  private readonly seed: number;
  private readonly stopping: EarlyStoppingOptions | undefined;
  private readonly gates: Gate[];
  private readonly history: EpochMetrics[] = [];
  private best: { epoch: number; loss: number; weights: StateDict | null } = { epoch: -1, loss: Infinity, weights: null };
  private stoppedEarly = false;
  private epochStart = 0;
  private taskSums: number[] = [];
  private regSum = 0;
  private rowsSeen = 0;

  constructor(
    readonly owner: string,
    readonly model: MultiTaskModel,
    data: MultiTaskBatchSource,
    private readonly opts: FitOptions,
  ) {
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
    this.epochs = epochs;
    this.initialEpoch = initialEpoch;
    this.batchSize = batchSize;
    this.seed = seed;
    this.stopping = stopping;
    this.setup = resolveLossSetup(owner, model.numTasks, opts.losses, opts.taskWeights);
    const dtype = model.parameters()[0]?.dtype ?? 'float32';
    this.train = prepareData(owner, data, model.numTasks, dtype);
    this.validation = opts.validation ? prepareData(`${owner} (validation)`, opts.validation, model.numTasks, dtype) : null;
    this.optimizer = opts.optimizer ?? new Adam(model, { lr: opts.lr ?? 1e-3 });
    this.gates = model.modules().filter((m): m is Gate => m instanceof Gate);
    model.train();
  }

  /** Applies the gates' schedules and returns the epoch's batches (row indices), shuffled by (seed, epoch). */
  startEpoch(epoch: number): Int32Array[] {
    this.epochStart = Date.now();
    for (const g of this.gates) g.onEpochStart(epoch);
    const order = this.opts.shuffle === false ? Int32Array.from({ length: this.train.size }, (_, i) => i) : new Rng(epochSeed(this.seed, epoch)).permutation(this.train.size);
    this.taskSums = new Array<number>(this.model.numTasks).fill(0);
    this.regSum = 0;
    this.rowsSeen = 0;
    return batchIndices(order, this.batchSize);
  }

  /**
   * One step on `rows`: forward, Σ_t w_t·L_t plus the gates' regularisers, and, once `check` has seen
   * the losses (null: not yet read), backward and the optimiser step. Returns the batch's losses as
   * one kept tensor [tasks…, regularisation, objective].
   */
  step(rows: Int32Array, check: ((losses: Tensor) => void) | null): Tensor {
    return tidy(() => {
      const { optimizer, model, setup, train } = this;
      optimizer.zeroGrad();
      const { outputs, regularization } = model.forward(takeRows(train.x, rows));
      const losses = outputs.map((out, t) => taskLoss(setup.losses[t]!, out, takeRows(train.targets[t]!, rows)));
      let objective: Tensor = losses.reduce<Tensor | null>((acc, l, t) => {
        const term = mul(l, setup.weights[t]!);
        return acc ? add(acc, term) : term;
      }, null)!;
      if (regularization) objective = add(objective, regularization);
      const reg = regularization ?? zeros([], { dtype: objective.dtype });
      const scalars = [...losses, reg, objective].map((l) => reshape(l.detach(), [1]));
      const values = keep(concat(scalars, 0));
      check?.(values);
      objective.backward();
      optimizer.step();
      return values;
    });
  }

  /** Adds a batch's losses to the epoch's sums (after the finite check) and reports progress. */
  record(epoch: number, batch: number, batches: number, rows: number, v: StepValues): void {
    this.checkFinite(epoch, batch, v);
    v.tasks.forEach((l, t) => (this.taskSums[t]! += l * rows));
    this.regSum += v.reg * rows;
    this.rowsSeen += rows;
    const progress: BatchProgress = { epoch, batch, batches, loss: v.objective, rows: this.rowsSeen };
    this.opts.onBatch?.(progress);
  }

  /** The values of a losses tensor from `step`. */
  valuesOf(data: ArrayLike<number>, offset = 0): StepValues {
    const T = this.model.numTasks;
    return { tasks: Array.from({ length: T }, (_, t) => data[offset + t]!), reg: data[offset + T]!, objective: data[offset + T + 1]! };
  }

  /** Closes the epoch: metrics, the best weights, the callbacks; returns false when training stops here. */
  endEpoch(epoch: number, validation: EvaluationResult | null): boolean {
    this.optimizer.zeroGrad();
    const size = this.train.size;
    const taskLosses = this.taskSums.map((s) => s / size);
    const loss = taskLosses.reduce((acc, l, t) => acc + this.setup.weights[t]! * l, 0);
    const regularization = this.regSum / size;
    const metrics: EpochMetrics = { epoch, loss, taskLosses, regularization, objective: loss + regularization, validation, seconds: 0 };
    const monitored = validation ? validation.loss : loss;
    if (monitored < this.best.loss - (this.stopping?.minDelta ?? 0)) {
      this.best = { epoch, loss: monitored, weights: this.stopping && (this.stopping.restoreBest ?? true) ? this.model.stateDict() : null };
    }
    metrics.seconds = (Date.now() - this.epochStart) / 1000;
    this.history.push(metrics);
    if (this.opts.onEpoch?.(metrics) === false || (this.stopping && epoch - this.best.epoch >= this.stopping.patience)) {
      this.stoppedEarly = true;
      return false;
    }
    return true;
  }

  /** Puts back the best epoch's weights (with early stopping) and returns the result. */
  finish(): FitResult {
    let restoredBest = false;
    const last = this.history[this.history.length - 1];
    if (this.best.weights && last && this.best.epoch !== last.epoch) {
      this.model.loadStateDict(this.best.weights);
      restoredBest = true;
    }
    return { history: this.history, bestEpoch: this.best.epoch, bestLoss: this.best.loss, stoppedEarly: this.stoppedEarly, restoredBest, optimizer: this.optimizer };
  }

  /** Throws, naming the epoch, batch and culprit, when a batch's objective is not finite. */
  checkFinite(epoch: number, batch: number, v: StepValues): void {
    if (Number.isFinite(v.objective)) return;
    const culprit = v.tasks.findIndex((l) => !Number.isFinite(l));
    throw new Error(
      `${this.owner}: the objective became ${v.objective} at epoch ${epoch}, batch ${batch} (${culprit >= 0 ? `task ${culprit} loss` : 'gate regularisation'} ${culprit >= 0 ? v.tasks[culprit] : v.reg}); try a smaller learning rate`,
    );
  }
}

/** A well-mixed 32-bit seed per (seed, epoch). */
function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(Math.floor(seed) ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(epoch + 1, 0x9e3779b1)) >>> 0;
}
