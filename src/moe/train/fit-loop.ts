import { add, mul } from '../../autograd/ops/elementwise.js';
import type { StateDict } from '../../nn/module.js';
import { Adam } from '../../optim/adam.js';
import { clipGradNorm, clipGradValue } from '../../optim/clip.js';
import { LRScheduler } from '../../optim/lr-scheduler.js';
import type { Optimizer } from '../../optim/optimizer.js';
import type { DType } from '../../tensor/dtype.js';
import { Rng } from '../../tensor/random.js';
import { concat, reshape } from '../../autograd/ops/shape.js';
import { full, zeros } from '../../tensor/creation.js';
import { keep, tidy, type TidyResult } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { MultiTaskModel } from '../mmoe.js';
import { batchIndices, canStackLosses, memoryBatch, prepareData, stackedMseLosses, type LoadedBatch, type PreparedData } from './dataset.js';
import { sum } from '../../autograd/ops/reduce.js';
import { fromTypedArray } from '../../tensor/creation.js';
import { allocArray } from '../../tensor/dtype.js';
import type { EvaluationResult } from './evaluate.js';
import type { Batch, EpochMetrics, FitOptions, FitPosition, FitResult } from './fit-options.js';
import { resolveLossSetup, type LossSetup } from './loss-setup.js';
import { taskLoss } from './task-loss.js';

/** A batch's tensors, made inside the step's `tidy` scope so that they are freed after the step. */
export type BatchLoader = () => LoadedBatch;

/** One batch's losses as numbers (a type alias: tidy returns plain records). */
type StepValues = {
  tasks: number[];
  reg: number;
  objective: number;
  rows: number;
};

/** A step whose losses have not been read yet (`FitLoop.trainBatchDeferred`). */
export interface DeferredBatch {
  batch: number;
  batches: number;
  /** Whether it ran before any optimiser step (for the hint of a non-finite objective). */
  beforeAnyStep: boolean;
  /** [task losses…, regularisation, objective, rows], kept on the device until disposed. */
  losses: Tensor;
}

/**
 * The training loop shared by `fit` (in memory or a stream) and `fitAsync`: they only decide where
 * batches come from and whether to await between them. The loop holds the epoch's sums, the history,
 * early stopping and the learning-rate schedule, and runs each step as
 * zeroGrad → forward → Σ_t w_t·L_t + regularisers → backward → clip → optimiser step → schedule.
 */
export class FitLoop {
  readonly optimizer: Optimizer;
  readonly scheduler: LRScheduler | null;
  readonly setup: LossSetup;
  readonly dtype: DType;
  readonly epochs: number;
  readonly initialEpoch: number;
  readonly batchSize: number;
  readonly history: EpochMetrics[] = [];
  private best: { epoch: number; loss: number; weights: StateDict | null } = { epoch: -1, loss: Infinity, weights: null };
  private stoppedEarly = false;
  private epoch = -1;
  private started = 0;
  private taskSums: number[] = [];
  private regSum = 0;
  private rowsSeen = 0;
  private batchIndex = 0;
  private lastLr = NaN;
  private stepsTaken = 0;
  /** The position to continue from (`opts.resumeFrom`), consumed by the first `beginEpoch`. */
  private resume: FitPosition | null;

  constructor(
    readonly owner: string,
    readonly model: MultiTaskModel,
    readonly opts: FitOptions,
  ) {
    const epochs = opts?.epochs;
    if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`${owner}: epochs must be an integer ≥ 1, got ${String(epochs)}`);
    const batchSize = opts.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${owner}: batchSize must be an integer ≥ 1, got ${String(batchSize)}`);
    this.resume = opts.resumeFrom === undefined ? null : checkPosition(owner, opts.resumeFrom, epochs, model);
    const initialEpoch = this.resume ? this.resume.epoch : (opts.initialEpoch ?? 0);
    if (!Number.isInteger(initialEpoch) || initialEpoch < 0 || initialEpoch >= epochs) {
      throw new Error(`${owner}: initialEpoch must be an integer in [0, epochs = ${epochs}), got ${String(initialEpoch)}`);
    }
    const seed = opts.seed ?? 0;
    if (!Number.isFinite(seed)) throw new Error(`${owner}: seed must be a finite number, got ${String(seed)}`);
    const stopping = opts.earlyStopping;
    if (stopping && (!Number.isInteger(stopping.patience) || stopping.patience < 1)) {
      throw new Error(`${owner}: earlyStopping.patience must be an integer ≥ 1, got ${String(stopping.patience)}`);
    }
    for (const key of ['clipGradNorm', 'clipGradValue'] as const) {
      const v = opts[key];
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) throw new Error(`${owner}: ${key} must be a finite number > 0, got ${String(v)}`);
    }
    this.epochs = epochs;
    this.batchSize = batchSize;
    this.initialEpoch = initialEpoch;
    this.setup = resolveLossSetup(owner, model.numTasks, opts.losses, opts.taskWeights);
    this.dtype = model.parameters()[0]?.dtype ?? 'float32';
    this.optimizer = opts.optimizer ?? new Adam(model, { lr: opts.lr ?? 1e-3 });
    this.scheduler = this.resolveScheduler();
  }

  private resolveScheduler(): LRScheduler | null {
    const s = this.opts.lrScheduler;
    if (s === undefined) return null;
    const scheduler = s instanceof LRScheduler ? s : new LRScheduler(this.optimizer, s.schedule, s.interval === undefined ? {} : { interval: s.interval });
    if (scheduler.optimizer !== this.optimizer) throw new Error(`${this.owner}: lrScheduler drives another optimiser than the one fit trains with (pass the same optimizer in the options)`);
    return scheduler;
  }

  /** Moves a fresh scheduler to the resumed epoch (per-step schedules need the epoch's batch count). */
  seekScheduler(batchesPerEpoch: number | null): void {
    const s = this.scheduler;
    const midEpoch = this.resume?.batch ?? 0;
    if (!s || s.position !== 0 || (this.initialEpoch === 0 && midEpoch === 0)) return;
    if (s.interval === 'epoch') s.seek(this.initialEpoch);
    else if (batchesPerEpoch !== null) s.seek(this.initialEpoch * batchesPerEpoch + midEpoch);
    else throw new Error(`${this.owner}: cannot place a per-step lrScheduler at initialEpoch ${this.initialEpoch} without knowing the batches per epoch; restore its stateDict first`);
  }

  /** Prepares in-memory data once (checked, per-task targets, model dtype). */
  prepare(data: Parameters<typeof prepareData>[1], validation = false): PreparedData {
    return prepareData(validation ? `${this.owner} (validation)` : this.owner, data, this.model.numTasks, this.dtype);
  }

  /** The batches of an in-memory epoch (after `beginEpoch`), shuffled from (seed, epoch) unless `shuffle` is false. */
  memoryBatches(data: PreparedData, epoch: number): BatchLoader[] {
    const order = this.opts.shuffle === false ? Int32Array.from({ length: data.size }, (_, i) => i) : new Rng(epochSeed(this.opts.seed ?? 0, epoch)).permutation(data.size);
    const batches = batchIndices(order, this.batchSize);
    if (this.batchIndex > batches.length) throw new Error(`${this.owner}: resumeFrom.batch ${this.batchIndex} exceeds the ${batches.length} batches of epoch ${epoch}`);
    return batches.map((rows) => () => memoryBatch(data, rows));
  }

  /** A streamed batch checked and split per task, inside the step's scope. */
  streamBatch(batch: Batch): BatchLoader {
    return () => prepareData(this.owner, batch, this.model.numTasks, this.dtype, false);
  }

  beginEpoch(epoch: number): void {
    this.epoch = epoch;
    this.started = Date.now();
    if (epoch === this.initialEpoch) this.model.train();
    const modules = this.model.modules();
    for (const m of modules) m.onEpochStart(epoch);
    this.taskSums = new Array<number>(this.model.numTasks).fill(0);
    this.regSum = 0;
    this.rowsSeen = 0;
    this.batchIndex = 0;
    const resume = this.resume;
    if (resume && epoch === resume.epoch) {
      // Mid-epoch: the batches before `resume.batch` were full ones (only an epoch's last batch is short).
      this.taskSums = [...resume.taskSums];
      this.regSum = resume.regularizationSum;
      this.batchIndex = resume.batch;
      this.rowsSeen = resume.batch * this.batchSize;
      modules.forEach((m, i) => m.setRandomState(resume.randomStates[i]!));
      this.resume = null;
    }
  }

  /** Where training stands now, between two batches (see FitPosition). */
  position(): FitPosition {
    return {
      epoch: this.epoch,
      batch: this.batchIndex,
      taskSums: [...this.taskSums],
      regularizationSum: this.regSum,
      randomStates: this.model.modules().map((m) => m.randomState()),
    };
  }

  /** The result of a run stopped on request: the history so far and where it stopped (no best weights put back). */
  interrupt(): FitResult {
    return { ...this.finish(false), interrupted: this.position() };
  }

  /** One optimiser step on one batch; `batches` is the epoch's batch count (NaN when unknown). */
  trainBatch(load: BatchLoader, batches: number): void {
    const b = this.batchIndex;
    const beforeAnyStep = this.stepsTaken === 0;
    const values = this.step(load, (taskLosses, reg, objective, rows) => {
      const v: StepValues = { tasks: Array.from(taskLosses.toArray()), reg: reg ? reg.item() : 0, objective: objective.item(), rows };
      this.checkFinite(b, v, beforeAnyStep);
      return v;
    }, batches);
    this.record(b, batches, values);
  }

  /**
   * The step of `trainBatch` without reading its losses — for a device that reads back only
   * asynchronously (webgpu), and to keep a GPU's queue full: they stay on the device as one kept
   * tensor [task losses…, regularisation, objective, rows], to be read later (many batches in one
   * readback) and handed to `recordDeferred`, in order, before the epoch ends or a position is taken.
   * The finite check then happens at that readback, after this step (and the ones enqueued behind it)
   * have updated the weights.
   */
  trainBatchDeferred(load: BatchLoader, batches: number): DeferredBatch {
    const batch = this.batchIndex;
    const beforeAnyStep = this.stepsTaken === 0;
    const losses = this.step(load, (taskLosses, reg, objective, rows) =>
      keep(concat([taskLosses.detach(), ...[reg ?? zeros([], { dtype: objective.dtype }), objective, full([], rows, { dtype: objective.dtype })].map((l) => reshape(l.detach(), [1]))], 0)),
      batches,
    );
    return { batch, batches, beforeAnyStep, losses };
  }

  /** Accounts for a deferred batch once its losses are read back (`values` from `offset`, in the tensor's order). */
  recordDeferred(d: DeferredBatch, values: ArrayLike<number>, offset = 0): void {
    const T = this.model.numTasks;
    const v: StepValues = { tasks: Array.from({ length: T }, (_, t) => values[offset + t]!), reg: values[offset + T]!, objective: values[offset + T + 1]!, rows: values[offset + T + 2]! };
    this.checkFinite(d.batch, v, d.beforeAnyStep);
    this.record(d.batch, d.batches, v);
  }

  /**
   * onStep hooks → zeroGrad → forward → objective → `read` (sees the per-task losses [T] before backward)
   * → backward → clip → optimiser step → schedule. Every module's `onStep` gets the step's index over the
   * whole run, epoch · batches + batch, so a resumed run repeats its per-step schedules (for a stream of
   * unknown length: `batchesPerEpoch` if given, else the steps taken in this call).
   */
  private step<T extends TidyResult>(load: BatchLoader, read: (taskLosses: Tensor, reg: Tensor | null, objective: Tensor, rows: number) => T, batches: number): T {
    const { optimizer, setup } = this;
    const perEpoch = Number.isFinite(batches) ? batches : (this.opts.batchesPerEpoch ?? NaN);
    const globalStep = Number.isFinite(perEpoch) ? this.epoch * perEpoch + this.batchIndex : this.stepsTaken;
    for (const m of this.model.modules()) m.onStep(globalStep);
    const out = tidy(() => {
      optimizer.zeroGrad();
      const batch = load();
      const forward = this.model.forward(batch.x);
      const { regularization } = forward;
      let objective: Tensor;
      let taskLosses: Tensor;
      if (canStackLosses(forward.stackedOutputs, batch.matrix, setup.losses)) {
        // Stacked outputs (StackedMMoE): every task's squared error in one op.
        taskLosses = stackedMseLosses(forward.stackedOutputs, batch.matrix!);
        objective = sum(mul(taskLosses, this.taskWeightTensor()));
      } else {
        const losses = forward.outputs.map((o, t) => taskLoss(setup.losses[t]!, o, batch.targets[t]!));
        objective = losses.reduce<Tensor | null>((acc, l, t) => {
          const term = mul(l, setup.weights[t]!);
          return acc ? add(acc, term) : term;
        }, null)!;
        taskLosses = concat(losses.map((l) => reshape(l, [1])), 0);
      }
      if (regularization) objective = add(objective, regularization);
      const result = read(taskLosses, regularization, objective, batch.x.shape[0]!);
      objective.backward();
      if (this.opts.clipGradValue !== undefined) clipGradValue(optimizer.params, this.opts.clipGradValue);
      if (this.opts.clipGradNorm !== undefined) clipGradNorm(optimizer.params, this.opts.clipGradNorm);
      optimizer.step();
      return result;
    });
    this.lastLr = optimizer.lr;
    this.stepsTaken++;
    if (this.scheduler?.interval === 'step') this.scheduler.step();
    this.batchIndex++;
    return out;
  }

  private checkFinite(b: number, v: StepValues, beforeAnyStep: boolean): void {
    if (Number.isFinite(v.objective)) return;
    const culprit = v.tasks.findIndex((l) => !Number.isFinite(l));
    const what = culprit >= 0 ? `task ${culprit} loss ${v.tasks[culprit]}` : `gate regularisation ${v.reg}`;
    // The data was checked to be finite; before the first step the learning rate cannot be the cause.
    const hint = beforeAnyStep
      ? 'before any optimiser step, so not the learning rate: the (finite) inputs overflow float range in the forward pass, or the starting weights are broken'
      : 'try a smaller learning rate';
    throw new Error(`${this.owner}: the objective became ${v.objective} at epoch ${this.epoch}, batch ${b} (${what}); ${hint}`);
  }

  private record(b: number, batches: number, v: StepValues): void {
    v.tasks.forEach((l, t) => (this.taskSums[t]! += l * v.rows));
    this.regSum += v.reg * v.rows;
    this.rowsSeen += v.rows;
    this.opts.onBatch?.({ epoch: this.epoch, batch: b, batches, loss: v.objective, taskLosses: v.tasks, rows: this.rowsSeen });
  }

  /** The task weights as a [T] tensor of the model's dtype (made inside the step's scope: it is small). */
  private taskWeightTensor(): Tensor {
    const w = allocArray(this.dtype, this.setup.weights.length);
    w.set(this.setup.weights);
    return fromTypedArray(w, [w.length]);
  }

  /** Batches trained so far in this epoch. */
  get batchesDone(): number {
    return this.batchIndex;
  }

  /** Closes the epoch: metrics, validation (already computed by the caller), best weights, stopping. Returns false to stop. */
  endEpoch(evaluateValidation: (() => EvaluationResult) | null): boolean {
    const { model, setup, optimizer } = this;
    const epoch = this.epoch;
    const stopping = this.opts.earlyStopping;
    optimizer.zeroGrad();
    const taskLosses = this.taskSums.map((s) => s / this.rowsSeen);
    const loss = taskLosses.reduce((acc, l, t) => acc + setup.weights[t]! * l, 0);
    const regularization = this.regSum / this.rowsSeen;
    const val = evaluateValidation ? evaluateValidation() : null;
    if (val && !Number.isFinite(val.loss)) {
      const culprit = val.taskLosses.findIndex((v) => !Number.isFinite(v));
      throw new Error(
        `${this.owner}: the validation loss became ${val.loss} at epoch ${epoch} (task ${culprit} loss ${val.taskLosses[culprit]}) while the training loss was ${loss}; ` +
          'the validation inputs drive the model out of float range (check their scale)',
      );
    }
    const metrics: EpochMetrics = { epoch, loss, taskLosses, regularization, objective: loss + regularization, validation: val, lr: this.lastLr, seconds: 0 };
    const monitored = val ? val.loss : loss;
    if (monitored < this.best.loss - (stopping?.minDelta ?? 0)) {
      this.best = { epoch, loss: monitored, weights: stopping && (stopping.restoreBest ?? true) ? model.stateDict() : null };
    }
    metrics.seconds = (Date.now() - this.started) / 1000;
    this.history.push(metrics);
    if (this.scheduler?.interval === 'epoch') this.scheduler.step();
    const keepGoing = this.opts.onEpoch?.(metrics);
    if (keepGoing === false || (stopping && epoch - this.best.epoch >= stopping.patience)) {
      this.stoppedEarly = true;
      return false;
    }
    return true;
  }

  /** Puts back the best weights when asked (and `restore`) and returns the result. */
  finish(restore = true): FitResult {
    let restoredBest = false;
    const last = this.history[this.history.length - 1];
    if (restore && this.best.weights && last && this.best.epoch !== last.epoch) {
      this.model.loadStateDict(this.best.weights);
      restoredBest = true;
    }
    return { history: this.history, bestEpoch: this.best.epoch, bestLoss: this.best.loss, stoppedEarly: this.stoppedEarly, restoredBest, optimizer: this.optimizer, lrScheduler: this.scheduler, interrupted: null };
  }
}

function checkPosition(owner: string, p: FitPosition, epochs: number, model: MultiTaskModel): FitPosition {
  const bad = (why: string): never => {
    throw new Error(`${owner}: resumeFrom ${why}`);
  };
  if (typeof p !== 'object' || p === null) bad('must be the position an interrupted fitAsync returned');
  if (!Number.isInteger(p.epoch) || p.epoch < 0 || p.epoch >= epochs) bad(`epoch must be an integer in [0, epochs = ${epochs}), got ${String(p.epoch)}`);
  if (!Number.isInteger(p.batch) || p.batch < 0) bad(`batch must be an integer ≥ 0, got ${String(p.batch)}`);
  if (!Array.isArray(p.taskSums) || p.taskSums.length !== model.numTasks || !p.taskSums.every(Number.isFinite)) {
    bad(`taskSums must be ${model.numTasks} finite numbers, got ${JSON.stringify(p.taskSums)}`);
  }
  if (!Number.isFinite(p.regularizationSum)) bad(`regularizationSum must be a finite number, got ${String(p.regularizationSum)}`);
  const modules = model.modules().length;
  if (!Array.isArray(p.randomStates) || p.randomStates.length !== modules) {
    bad(`holds ${Array.isArray(p.randomStates) ? p.randomStates.length : 'no'} module random states for a model with ${modules} modules`);
  }
  return p;
}

/** A well-mixed 32-bit seed per (seed, epoch). */
export function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(Math.floor(seed) ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(epoch + 1, 0x9e3779b1)) >>> 0;
}
