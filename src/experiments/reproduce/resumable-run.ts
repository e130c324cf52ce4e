import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { MultiTaskModel } from '../../moe/mmoe.js';
import type { MultiTaskBatchSource } from '../../moe/train/dataset.js';
import { fit, type BatchProgress, type EpochMetrics } from '../../moe/train/fit.js';
import type { TaskLossKind } from '../../moe/train/task-loss.js';
import { readCheckpoint, saveCheckpoint } from '../../node/checkpoint.js';
import type { Optimizer } from '../../optim/optimizer.js';
import type { EpochLog } from '../../report/reproduce-records.js';

export type { EpochLog };

/**
 * One training run with early stopping on the validation loss that survives being killed: after every
 * epoch it writes `checkpoint.dsk` (weights, optimiser state, the epoch, the loss history and the
 * early-stopping state) through the one checkpoint format (atomic, checksummed), and whenever the
 * validation loss improves, `best.dsk` (the best weights) before it. Started again on the same folder
 * it continues from the last checkpoint; since shuffling, gate noise and step schedules derive from
 * (seed, epoch, step), the continued run is the run that was interrupted.
 */

export interface ResumableRunOptions {
  /** Identifies the run; a checkpoint in `dir` written for another run id is an error. */
  runId: string;
  dir: string;
  model: MultiTaskModel;
  optimizer: Optimizer;
  train: MultiTaskBatchSource;
  validation: MultiTaskBatchSource;
  losses: TaskLossKind[];
  batchSize: number;
  seed: number;
  maxEpochs: number;
  /** Stop after this many epochs without a lower validation loss. */
  patience: number;
  onEpoch?: (log: EpochLog, model: MultiTaskModel) => void;
  onBatch?: (progress: BatchProgress) => void;
  /** Test hook: called after each epoch's checkpoint is on disk (throw to simulate a kill). */
  afterCheckpoint?: (epoch: number) => void;
}

export interface ResumableRunResult {
  history: EpochLog[];
  /** 1-based epoch whose weights the model holds at the end. */
  bestEpoch: number;
  bestValLoss: number;
  stoppedEarly: boolean;
  /** Epochs completed before this call (0: a fresh start). */
  resumedAt: number;
  /** Training wall-clock seconds over every session of the run. */
  seconds: number;
}

interface RunMeta {
  runId: string;
  /** Completed epochs. */
  epoch: number;
  history: EpochLog[];
  best: { epoch: number; valLoss: number };
  stopped: boolean;
  seconds: number;
}

const CHECKPOINT = 'checkpoint.dsk';
const BEST = 'best.dsk';

function isRunMeta(m: unknown, runId: string): m is RunMeta {
  const r = m as RunMeta | null;
  return typeof r === 'object' && r !== null && r.runId === runId && Number.isInteger(r.epoch) && Array.isArray(r.history) && typeof r.best?.epoch === 'number';
}

export function runResumable(opts: ResumableRunOptions): ResumableRunResult {
  const { model, optimizer, dir, runId } = opts;
  const checkpointFile = join(dir, CHECKPOINT);
  const bestFile = join(dir, BEST);
  let meta: RunMeta = { runId, epoch: 0, history: [], best: { epoch: 0, valLoss: Infinity }, stopped: false, seconds: 0 };
  if (existsSync(checkpointFile)) {
    const saved = readCheckpoint(checkpointFile);
    if (!isRunMeta(saved.meta, runId)) {
      throw new Error(`run ${runId}: ${checkpointFile} belongs to another run (${JSON.stringify((saved.meta as { runId?: unknown } | null)?.runId)}); remove the folder to start this run afresh`);
    }
    if (saved.optimizer === null) throw new Error(`run ${runId}: ${checkpointFile} has no optimiser state`);
    model.checkStateDict(saved.model);
    optimizer.checkStateDict(saved.optimizer);
    model.loadStateDict(saved.model);
    optimizer.loadStateDict(saved.optimizer);
    meta = saved.meta;
  }
  const resumedAt = meta.epoch;
  if (!meta.stopped && meta.epoch < opts.maxEpochs) {
    let sessionStart = performance.now();
    fit(model, opts.train, {
      epochs: opts.maxEpochs,
      initialEpoch: meta.epoch,
      batchSize: opts.batchSize,
      optimizer,
      losses: opts.losses,
      seed: opts.seed,
      validation: opts.validation,
      ...(opts.onBatch ? { onBatch: opts.onBatch } : {}),
      onEpoch: (m: EpochMetrics) => {
        const T = m.taskLosses.length;
        const log: EpochLog = {
          epoch: m.epoch + 1,
          trainLoss: m.loss / T,
          regularization: m.regularization,
          valLoss: m.validation!.loss / T,
          valAccuracy: m.validation!.taskAccuracies,
          seconds: m.seconds,
        };
        const now = performance.now();
        const seconds = meta.seconds + (now - sessionStart) / 1000;
        sessionStart = now;
        const improved = log.valLoss < meta.best.valLoss;
        const best = improved ? { epoch: log.epoch, valLoss: log.valLoss } : meta.best;
        const stopped = log.epoch - best.epoch >= opts.patience;
        // best.dsk first: a kill between the two writes leaves a best.dsk one epoch ahead of the
        // checkpoint, which the replayed epoch rewrites with the same weights.
        if (improved) saveCheckpoint(bestFile, { model, meta: { runId, epoch: log.epoch } });
        meta = { runId, epoch: log.epoch, history: [...meta.history, log], best, stopped, seconds };
        saveCheckpoint(checkpointFile, { model, optimizer, meta });
        opts.afterCheckpoint?.(log.epoch);
        opts.onEpoch?.(log, model);
        return !stopped;
      },
    });
  }
  if (meta.best.epoch > 0) {
    const best = readCheckpoint(bestFile);
    const epoch = (best.meta as { epoch?: unknown } | null)?.epoch;
    if (epoch !== meta.best.epoch) throw new Error(`run ${runId}: ${bestFile} holds epoch ${String(epoch)} but the checkpoint's best epoch is ${meta.best.epoch}`);
    model.loadStateDict(best.model);
  }
  return { history: meta.history, bestEpoch: meta.best.epoch, bestValLoss: meta.best.valLoss, stoppedEarly: meta.stopped, resumedAt, seconds: meta.seconds };
}

/** Removes a finished run's folder (its result is in the ledger by then). */
export function removeRunFolder(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
