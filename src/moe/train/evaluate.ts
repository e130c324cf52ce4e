import { noGrad } from '../../autograd/engine.js';
import { tidy } from '../../tensor/scope.js';
import type { MultiTaskModel } from '../mmoe.js';
import { batchIndices, checkBatchSize, prepareData, takeRows, type MultiTaskBatchSource, type PreparedData } from './dataset.js';
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
  const batchSize = checkBatchSize('evaluate', opts.batchSize ?? 256);
  const setup = resolveLossSetup('evaluate', model.numTasks, opts.losses, opts.taskWeights);
  const dtype = model.parameters()[0]?.dtype ?? 'float32';
  return evaluatePrepared(model, prepareData('evaluate', data, model.numTasks, dtype), setup, batchSize);
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
