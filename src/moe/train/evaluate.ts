import { noGrad } from '../../autograd/engine.js';
import { eq, ge, gt, mul } from '../../autograd/ops/elementwise.js';
import { argmax, sum } from '../../autograd/ops/reduce.js';
import { concat, reshape } from '../../autograd/ops/shape.js';
import { zeros } from '../../tensor/creation.js';
import { keep, tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { MultiTaskModel } from '../mmoe.js';
import { batchIndices, prepareData, takeRows, type MultiTaskBatchSource, type PreparedData } from './dataset.js';
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

/** Losses and accuracies of `model` on `data` in eval mode (no regularisers, no noise, no graph). */
export function evaluate(model: MultiTaskModel, data: MultiTaskBatchSource, opts: EvaluateOptions = {}): EvaluationResult {
  const setup = resolveLossSetup('evaluate', model.numTasks, opts.losses, opts.taskWeights);
  const dtype = model.parameters()[0]?.dtype ?? 'float32';
  return evaluatePrepared(model, prepareData('evaluate', data, model.numTasks, dtype), setup, opts.batchSize ?? 256);
}

export function evaluatePrepared(model: MultiTaskModel, data: PreparedData, setup: LossSetup, batchSize: number): EvaluationResult {
  const wasTraining = model.training;
  model.eval();
  const T = model.numTasks;
  const lossSums = new Array<number>(T).fill(0);
  const accuracySums = new Array<number>(T).fill(0);
  try {
    const order = Int32Array.from({ length: data.size }, (_, i) => i);
    for (const rows of batchIndices(order, batchSize)) {
      tidy(() =>
        noGrad(() => {
          const { outputs } = model.forward(takeRows(data.x, rows));
          outputs.forEach((out, t) => {
            const target = takeRows(data.targets[t]!, rows);
            lossSums[t]! += taskLoss(setup.losses[t]!, out, target).item() * rows.length;
            accuracySums[t]! += (taskAccuracy(setup.losses[t]!, out, target) ?? 0) * rows.length;
          });
        }),
      );
    }
  } finally {
    model.train(wasTraining);
  }
  const taskLosses = lossSums.map((s) => s / data.size);
  return {
    loss: taskLosses.reduce((acc, l, t) => acc + setup.weights[t]! * l, 0),
    taskLosses,
    taskAccuracies: setup.losses.map((kind, t) => (kind === 'mse' ? null : accuracySums[t]! / data.size)),
  };
}

/**
 * `evaluate` for backends that read back only asynchronously (webgpu), and for keeping a page
 * responsive: the per-batch losses and correct-prediction counts stay on the device and are read back
 * once, at the end.
 */
export async function evaluateAsync(model: MultiTaskModel, data: MultiTaskBatchSource, opts: EvaluateOptions = {}): Promise<EvaluationResult> {
  const setup = resolveLossSetup('evaluateAsync', model.numTasks, opts.losses, opts.taskWeights);
  const dtype = model.parameters()[0]?.dtype ?? 'float32';
  return evaluatePreparedAsync(model, prepareData('evaluateAsync', data, model.numTasks, dtype), setup, opts.batchSize ?? 256);
}

export async function evaluatePreparedAsync(model: MultiTaskModel, data: PreparedData, setup: LossSetup, batchSize: number): Promise<EvaluationResult> {
  const wasTraining = model.training;
  model.eval();
  const T = model.numTasks;
  const parts: Tensor[] = [];
  let values: ArrayLike<number>;
  try {
    const order = Int32Array.from({ length: data.size }, (_, i) => i);
    for (const rows of batchIndices(order, batchSize)) {
      // Per batch [loss_t · rows, correct_t] for every task, summed on the host after one readback.
      const part = tidy(() =>
        noGrad(() => {
          const { outputs } = model.forward(takeRows(data.x, rows));
          const perTask = outputs.flatMap((out, t) => {
            const target = takeRows(data.targets[t]!, rows);
            return [reshape(mul(taskLoss(setup.losses[t]!, out, target), rows.length), [1]), correctCount(setup.losses[t]!, out, target)];
          });
          return concat(perTask, 0);
        }),
      );
      parts.push(keep(part));
    }
    const all = concat(parts, 0);
    try {
      values = await all.data();
    } finally {
      all.dispose();
    }
  } finally {
    for (const p of parts) p.dispose();
    model.train(wasTraining);
  }
  const lossSums = new Array<number>(T).fill(0);
  const correct = new Array<number>(T).fill(0);
  for (let b = 0; b < parts.length; b++) {
    for (let t = 0; t < T; t++) {
      lossSums[t]! += values[(b * T + t) * 2]!;
      correct[t]! += values[(b * T + t) * 2 + 1]!;
    }
  }
  const taskLosses = lossSums.map((s) => s / data.size);
  return {
    loss: taskLosses.reduce((acc, l, t) => acc + setup.weights[t]! * l, 0),
    taskLosses,
    taskAccuracies: setup.losses.map((kind, t) => (kind === 'mse' ? null : correct[t]! / data.size)),
  };
}

/** Correct predictions as a [1] tensor on the device ('bce': logit > 0 vs target ≥ 0.5; 'ce': argmax vs label), as `taskAccuracy` counts them. */
function correctCount(kind: TaskLossKind, output: Tensor, target: Tensor): Tensor {
  if (kind === 'mse') return zeros([1], { dtype: output.dtype });
  if (kind === 'bce') return reshape(sum(eq(gt(output, 0), ge(reshape(target, output.shape), 0.5))), [1]);
  return reshape(sum(eq(argmax(output, 1), reshape(target, [output.shape[0]!]))), [1]);
}
