import { noGrad } from '../../autograd/engine.js';
import { eq, ge, gt, mul } from '../../autograd/ops/elementwise.js';
import { argmax, sum } from '../../autograd/ops/reduce.js';
import { concat, reshape, stack } from '../../autograd/ops/shape.js';
import { zeros } from '../../tensor/creation.js';
import { keep, tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { MultiTaskModel } from '../mmoe.js';
import type { DType } from '../../tensor/dtype.js';
import { emptyEpochError, epochBatches } from './batch-stream.js';
import { batchIndices, canStackLosses, checkBatchSize, isInMemory, memoryBatch, prepareData, stackedMseLosses, type MultiTaskBatchSource, type PreparedData } from './dataset.js';
import type { BatchStream } from './fit-options.js';
import { resolveLossSetup, type LossSetup } from './loss-setup.js';
import { taskAccuracy, taskLoss, type TaskLossKind } from './task-loss.js';

export interface EvaluationResult {
  /** Σ_t w_t · L_t, the weighted task loss (no regulariser). */
  loss: number;
  /** Mean loss of each task. */
  taskLosses: number[];
  /** Accuracy per task for 'bce'/'ce' tasks, null for 'mse'. */
  taskAccuracies: (number | null)[];
}

export interface EvaluateOptions {
  losses?: TaskLossKind | readonly TaskLossKind[];
  taskWeights?: readonly number[];
  /** Rows per forward pass (default 256). */
  batchSize?: number;
}

/**
 * Losses and accuracies of `model` on `data` in eval mode (no regularisers, no noise, no graph): tensors
 * in memory, or a stream of batches (an iterable, or a function called with epoch 0).
 */
export function evaluate(model: MultiTaskModel, data: MultiTaskBatchSource | BatchStream, opts: EvaluateOptions = {}): EvaluationResult {
  const batchSize = checkBatchSize('evaluate', opts.batchSize ?? 256);
  const setup = resolveLossSetup('evaluate', model.numTasks, opts.losses, opts.taskWeights);
  const dtype = model.parameters()[0]?.dtype ?? 'float32';
  if (!isInMemory(data)) return evaluateStream(model, data, setup, dtype, 'evaluate');
  return evaluatePrepared(model, prepareData('evaluate', data, model.numTasks, dtype), setup, batchSize);
}

/** Losses of the model (eval mode) over a sync stream's batches. */
export function evaluateStream(model: MultiTaskModel, stream: BatchStream, setup: LossSetup, dtype: DType, owner: string): EvaluationResult {
  return withEvalMode(model, () => {
    const acc = new EvalAccumulator(model, setup);
    const source = epochBatches(owner, stream, 0);
    if (!(Symbol.iterator in source)) throw new Error(`${owner}: the data is an async iterable; use fitAsync / evaluateAsync`);
    for (const batch of source) acc.add(() => prepareData(owner, batch, model.numTasks, dtype, false));
    if (acc.batches === 0) throw emptyEpochError(owner, 0, stream);
    return acc.result();
  });
}

export function evaluatePrepared(model: MultiTaskModel, data: PreparedData, setup: LossSetup, batchSize: number): EvaluationResult {
  const order = Int32Array.from({ length: data.size }, (_, i) => i);
  return withEvalMode(model, () => {
    const acc = new EvalAccumulator(model, setup);
    for (const rows of batchIndices(order, batchSize)) acc.add(() => memoryBatch(data, rows));
    return acc.result();
  });
}

/**
 * `evaluatePrepared` with every batch's losses and correct counts kept on the device and read back
 * once at the end: for a backend that reads back only asynchronously (webgpu).
 */
export async function evaluatePreparedAsync(model: MultiTaskModel, data: PreparedData, setup: LossSetup, batchSize: number): Promise<EvaluationResult> {
  const order = Int32Array.from({ length: data.size }, (_, i) => i);
  return withEvalModeAsync(model, async () => {
    const acc = new EvalAccumulator(model, setup, true);
    for (const rows of batchIndices(order, batchSize)) acc.add(() => memoryBatch(data, rows));
    return acc.resultAsync();
  });
}

/** Runs `fn` with the model in eval mode, restoring its mode afterwards (also after an error). */
export function withEvalMode<T>(model: MultiTaskModel, fn: () => T): T {
  const wasTraining = model.training;
  model.eval();
  try {
    return fn();
  } finally {
    model.train(wasTraining);
  }
}

/** `withEvalMode` for an async function. */
export async function withEvalModeAsync<T>(model: MultiTaskModel, fn: () => Promise<T>): Promise<T> {
  const wasTraining = model.training;
  model.eval();
  try {
    return await fn();
  } finally {
    model.train(wasTraining);
  }
}

/**
 * Loss and accuracy sums over batches (the model must be in eval mode), weighted by rows. `deferred`:
 * each batch's [loss·rows, correct predictions] per task stays on the device and `resultAsync` reads
 * them all back at once (a backend that reads back only asynchronously: webgpu).
 */
export class EvalAccumulator {
  private readonly lossSums: number[];
  private readonly accuracySums: number[];
  private readonly kept: Tensor[] = [];
  private rows = 0;
  /** Batches added so far. */
  batches = 0;

  constructor(
    private readonly model: MultiTaskModel,
    private readonly setup: LossSetup,
    private readonly deferred = false,
  ) {
    this.lossSums = new Array<number>(model.numTasks).fill(0);
    this.accuracySums = new Array<number>(model.numTasks).fill(0);
  }

  /** Evaluates one batch; `load` runs inside the batch's scope, so the tensors it makes are freed after. */
  add(load: () => { x: Tensor; targets: readonly Tensor[]; matrix?: Tensor | null }): void {
    tidy(() =>
      noGrad(() => {
        const batch = load();
        const rows = batch.x.shape[0]!;
        const result = this.model.forward(batch.x);
        if (canStackLosses(result.stackedOutputs, batch.matrix ?? null, this.setup.losses)) {
          // Stacked outputs (StackedMMoE), squared error everywhere: every task's loss in one op, no accuracy.
          const perTask = mul(stackedMseLosses(result.stackedOutputs, batch.matrix!), rows);
          if (this.deferred) this.kept.push(keep(reshape(stack([perTask, zeros([perTask.size], { dtype: perTask.dtype })], 1), [2 * perTask.size])));
          else perTask.toArray().forEach((l, t) => (this.lossSums[t]! += l));
          this.rows += rows;
          this.batches++;
          return;
        }
        const { outputs } = result;
        if (this.deferred) {
          const perTask = outputs.flatMap((out, t) => {
            const target = batch.targets[t]!;
            return [reshape(mul(taskLoss(this.setup.losses[t]!, out, target), rows), [1]), correctCount(this.setup.losses[t]!, out, target)];
          });
          this.kept.push(keep(concat(perTask, 0)));
        } else {
          outputs.forEach((out, t) => {
            const target = batch.targets[t]!;
            this.lossSums[t]! += taskLoss(this.setup.losses[t]!, out, target).item() * rows;
            this.accuracySums[t]! += (taskAccuracy(this.setup.losses[t]!, out, target) ?? 0) * rows;
          });
        }
        this.rows += rows;
        this.batches++;
      }),
    );
  }

  /** `result` after reading the deferred batches back (one readback for all of them). */
  async resultAsync(): Promise<EvaluationResult> {
    if (this.kept.length > 0) {
      const T = this.model.numTasks;
      const taken = this.kept.splice(0);
      let values: ArrayLike<number>;
      try {
        const all = concat(taken, 0);
        try {
          values = await all.data();
        } finally {
          all.dispose();
        }
      } finally {
        for (const k of taken) k.dispose();
      }
      for (let b = 0; b < taken.length; b++) {
        for (let t = 0; t < T; t++) {
          this.lossSums[t]! += values[(b * T + t) * 2]!;
          this.accuracySums[t]! += values[(b * T + t) * 2 + 1]!;
        }
      }
    }
    return this.result();
  }

  result(): EvaluationResult {
    const taskLosses = this.lossSums.map((s) => s / this.rows);
    return {
      loss: taskLosses.reduce((acc, l, t) => acc + this.setup.weights[t]! * l, 0),
      taskLosses,
      taskAccuracies: this.setup.losses.map((kind, t) => (kind === 'mse' ? null : this.accuracySums[t]! / this.rows)),
    };
  }
}

/** Correct predictions as a [1] tensor on the device ('bce': logit > 0 vs target ≥ 0.5; 'ce': argmax vs label), as `taskAccuracy` counts them. */
function correctCount(kind: TaskLossKind, output: Tensor, target: Tensor): Tensor {
  if (kind === 'mse') return zeros([1], { dtype: output.dtype });
  if (kind === 'bce') return reshape(sum(eq(gt(output, 0), ge(reshape(target, output.shape), 0.5))), [1]);
  return reshape(sum(eq(argmax(output, 1), reshape(target, [output.shape[0]!]))), [1]);
}
