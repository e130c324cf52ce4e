import { add, mul } from '../../autograd/ops/elementwise.js';
import type { StateDict } from '../../nn/module.js';
import { Adam } from '../../optim/adam.js';
import { Rng } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Gate } from '../gate.js';
import type { MultiTaskModel } from '../mmoe.js';
import { batchIndices, checkBatchSize, prepareData, takeRows, type MultiTaskBatchSource } from './dataset.js';
import { evaluatePrepared } from './evaluate.js';
import type { EpochMetrics, FitOptions, FitPosition, FitResult } from './fit.js';
import { resolveLossSetup, type LossSetup } from './loss-setup.js';
import { taskLoss } from './task-loss.js';

/**
 * The one training loop behind `fit` and `fitAsync`: a generator that pauses at every batch boundary
 * (before each batch). The driver answers each pause with `true` to stop there — the loop then returns
 * a result whose `interrupted` position resumes exactly — or `false` to go on. `fit` always answers
 * false without waiting; `fitAsync` may wait (yield to the event loop) before answering.
 */
export type TrainingLoop = Generator<void, FitResult, boolean | undefined>;

export function* trainingLoop(owner: string, model: MultiTaskModel, data: MultiTaskBatchSource, opts: FitOptions): TrainingLoop {
  const epochs = opts?.epochs;
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`${owner}: epochs must be an integer ≥ 1, got ${String(epochs)}`);
  const batchSize = checkBatchSize(owner, opts.batchSize ?? 32);
  const seed = opts.seed ?? 0;
  if (!Number.isFinite(seed)) throw new Error(`${owner}: seed must be a finite number, got ${String(seed)}`);
  const stopping = opts.earlyStopping;
  if (stopping && (!Number.isInteger(stopping.patience) || stopping.patience < 1)) {
    throw new Error(`${owner}: earlyStopping.patience must be an integer ≥ 1, got ${String(stopping.patience)}`);
  }
  const setup = resolveLossSetup(owner, model.numTasks, opts.losses, opts.taskWeights);
  const gates = model.modules().filter((m): m is Gate => m instanceof Gate);
  const resume = opts.resumeFrom ? checkPosition(owner, opts.resumeFrom, epochs, model.numTasks, gates.length) : null;
  const initialEpoch = resume ? resume.epoch : (opts.initialEpoch ?? 0);
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0 || initialEpoch >= epochs) {
    throw new Error(`${owner}: initialEpoch must be an integer in [0, epochs = ${epochs}), got ${String(initialEpoch)}`);
  }
  const dtype = model.parameters()[0]?.dtype ?? 'float32';
  const train = prepareData(owner, data, model.numTasks, dtype);
  const validation = opts.validation ? prepareData(`${owner} (validation)`, opts.validation, model.numTasks, dtype) : null;
  const optimizer = opts.optimizer ?? new Adam(model, { lr: opts.lr ?? 1e-3 });

  const history: EpochMetrics[] = [];
  let best: { epoch: number; loss: number; weights: StateDict | null } = { epoch: -1, loss: Infinity, weights: null };
  let stoppedEarly = false;
  let stepsTaken = 0;
  const result = (interrupted: FitPosition | null): FitResult => {
    let restoredBest = false;
    const last = history[history.length - 1];
    if (interrupted === null && best.weights && last && best.epoch !== last.epoch) {
      model.loadStateDict(best.weights);
      restoredBest = true;
    }
    return { history, bestEpoch: best.epoch, bestLoss: best.loss, stoppedEarly, restoredBest, optimizer, interrupted };
  };

  model.train();
  for (let epoch = initialEpoch; epoch < epochs; epoch++) {
    const started = Date.now();
    for (const g of gates) g.onEpochStart(epoch);
    const order = opts.shuffle === false ? Int32Array.from({ length: train.size }, (_, i) => i) : new Rng(epochSeed(seed, epoch)).permutation(train.size);
    const batches = batchIndices(order, batchSize);
    const sums = { tasks: new Array<number>(model.numTasks).fill(0), regularization: 0, rows: 0 };
    let firstBatch = 0;
    if (resume && epoch === resume.epoch) {
      if (resume.batch > batches.length) throw new Error(`${owner}: resumeFrom.batch ${resume.batch} exceeds the ${batches.length} batches of epoch ${epoch}`);
      firstBatch = resume.batch;
      sums.tasks = [...resume.taskSums];
      sums.regularization = resume.regularizationSum;
      for (let b = 0; b < firstBatch; b++) sums.rows += batches[b]!.length;
      gates.forEach((g, i) => g.setRandomState(resume.randomStates[i]!));
    }
    for (let b = firstBatch; b < batches.length; b++) {
      if (yield) {
        return result({ epoch, batch: b, taskSums: [...sums.tasks], regularizationSum: sums.regularization, randomStates: gates.map((g) => g.randomState()) });
      }
      const rows = batches[b]!;
      const step = trainStep(owner, model, optimizer, setup, train.x, train.targets, rows, epoch, b, stepsTaken === 0);
      stepsTaken++;
      step.tasks.forEach((v, t) => (sums.tasks[t]! += v * rows.length));
      sums.regularization += step.reg * rows.length;
      sums.rows += rows.length;
      opts.onBatch?.({ epoch, batch: b, batches: batches.length, loss: step.objective, rows: sums.rows });
    }
    optimizer.zeroGrad();
    const taskLosses = sums.tasks.map((s) => s / train.size);
    const loss = taskLosses.reduce((acc, l, t) => acc + setup.weights[t]! * l, 0);
    const regularization = sums.regularization / train.size;
    const val = validation ? evaluatePrepared(model, validation, setup, Math.max(batchSize, 256)) : null;
    if (val && !Number.isFinite(val.loss)) {
      const culprit = val.taskLosses.findIndex((v) => !Number.isFinite(v));
      throw new Error(
        `${owner}: the validation loss became ${val.loss} at epoch ${epoch} (task ${culprit} loss ${val.taskLosses[culprit]}) while the training loss was ${loss}; ` +
          'the validation inputs drive the model out of float range (check their scale)',
      );
    }
    const metrics: EpochMetrics = { epoch, loss, taskLosses, regularization, objective: loss + regularization, validation: val, seconds: 0 };
    const monitored = val ? val.loss : loss;
    if (monitored < best.loss - (stopping?.minDelta ?? 0)) {
      best = { epoch, loss: monitored, weights: stopping && (stopping.restoreBest ?? true) ? model.stateDict() : null };
    }
    metrics.seconds = (Date.now() - started) / 1000;
    history.push(metrics);
    const keepGoing = opts.onEpoch?.(metrics);
    if (keepGoing === false || (stopping && epoch - best.epoch >= stopping.patience)) {
      stoppedEarly = true;
      break;
    }
  }
  return result(null);
}

/** One optimiser step on `rows`; returns the batch's task losses, regulariser and objective. */
function trainStep(
  owner: string,
  model: MultiTaskModel,
  optimizer: NonNullable<FitOptions['optimizer']>,
  setup: LossSetup,
  x: Tensor,
  targets: readonly Tensor[],
  rows: Int32Array,
  epoch: number,
  batch: number,
  beforeAnyStep: boolean,
): { tasks: number[]; reg: number; objective: number } {
  return tidy(() => {
    optimizer.zeroGrad();
    const { outputs, regularization } = model.forward(takeRows(x, rows));
    const losses = outputs.map((out, t) => taskLoss(setup.losses[t]!, out, takeRows(targets[t]!, rows)));
    let objective: Tensor = losses.reduce<Tensor | null>((acc, l, t) => {
      const term = mul(l, setup.weights[t]!);
      return acc ? add(acc, term) : term;
    }, null)!;
    if (regularization) objective = add(objective, regularization);
    const values = { tasks: losses.map((l) => l.item()), reg: regularization ? regularization.item() : 0, objective: objective.item() };
    if (!Number.isFinite(values.objective)) {
      const culprit = values.tasks.findIndex((v) => !Number.isFinite(v));
      const what = culprit >= 0 ? `task ${culprit} loss ${values.tasks[culprit]}` : `gate regularisation ${values.reg}`;
      // The data was checked to be finite; before the first step the learning rate cannot be the cause.
      const hint = beforeAnyStep
        ? 'before any optimiser step, so not the learning rate: the (finite) inputs overflow float range in the forward pass, or the starting weights are broken'
        : 'try a smaller learning rate';
      throw new Error(`${owner}: the objective became ${values.objective} at epoch ${epoch}, batch ${batch} (${what}); ${hint}`);
    }
    objective.backward();
    optimizer.step();
    return values;
  });
}

function checkPosition(owner: string, p: FitPosition, epochs: number, numTasks: number, numGates: number): FitPosition {
  const bad = (why: string): never => {
    throw new Error(`${owner}: resumeFrom ${why}`);
  };
  if (typeof p !== 'object' || p === null) bad('must be the position an interrupted fitAsync returned');
  if (!Number.isInteger(p.epoch) || p.epoch < 0 || p.epoch >= epochs) bad(`epoch must be an integer in [0, epochs = ${epochs}), got ${String(p.epoch)}`);
  if (!Number.isInteger(p.batch) || p.batch < 0) bad(`batch must be an integer ≥ 0, got ${String(p.batch)}`);
  if (!Array.isArray(p.taskSums) || p.taskSums.length !== numTasks || !p.taskSums.every(Number.isFinite)) {
    bad(`taskSums must be ${numTasks} finite numbers, got ${JSON.stringify(p.taskSums)}`);
  }
  if (!Number.isFinite(p.regularizationSum)) bad(`regularizationSum must be a finite number, got ${String(p.regularizationSum)}`);
  if (!Array.isArray(p.randomStates) || p.randomStates.length !== numGates) {
    bad(`holds ${Array.isArray(p.randomStates) ? p.randomStates.length : 'no'} gate random states for a model with ${numGates} gates`);
  }
  return p;
}

/** A well-mixed 32-bit seed per (seed, epoch). */
function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(Math.floor(seed) ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(epoch + 1, 0x9e3779b1)) >>> 0;
}
