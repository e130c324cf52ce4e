import type { MultiTaskModel } from '../mmoe.js';
import { emptyEpochError, epochBatches } from './batch-stream.js';
import { isInMemory } from './dataset.js';
import { evaluatePrepared, evaluateStream, type EvaluationResult } from './evaluate.js';
import type { BatchStream, FitData, FitOptions, FitResult } from './fit-options.js';
import { FitLoop } from './fit-loop.js';

export type { AsyncBatchStream, Batch, BatchProgress, BatchStream, EarlyStoppingOptions, EpochMetrics, FitData, FitOptions, FitPosition, FitResult } from './fit-options.js';

/**
 * Trains a multi-task model: seeded shuffling and batching of in-memory data (or the batches of a
 * stream, in its order), Σ_t w_t · L_t plus every gate's regulariser, one optimiser step per batch
 * inside `tidy` (memory stays flat), optional gradient clipping and learning-rate schedule, module
 * epoch hooks (gate schedules, noise and dropout reseeding), per-epoch metrics, optional validation and
 * early stopping. For async iterables of batches (and to stop from an AbortSignal) use `fitAsync`.
 */
export function fit(model: MultiTaskModel, data: FitData, opts: FitOptions): FitResult {
  const loop = new FitLoop('fit', model, opts);
  const train = isInMemory(data) ? loop.prepare(data) : null;
  if (!train && opts.resumeFrom) throw new Error('fit: resumeFrom needs in-memory data (a stream cannot be rewound to a batch)');
  const validation = validationEvaluator(loop, opts.validation);
  loop.seekScheduler(train ? Math.ceil(train.size / loop.batchSize) : (opts.batchesPerEpoch ?? null));
  for (let epoch = loop.initialEpoch; epoch < loop.epochs; epoch++) {
    loop.beginEpoch(epoch);
    if (train) {
      const batches = loop.memoryBatches(train, epoch);
      for (const load of batches.slice(loop.batchesDone)) loop.trainBatch(load, batches.length);
    } else {
      const source = epochBatches('fit', data as BatchStream, epoch);
      if (!(Symbol.iterator in source)) throw new Error('fit: the data is an async iterable; use fitAsync for async batches');
      for (const batch of source) loop.trainBatch(loop.streamBatch(batch), opts.batchesPerEpoch ?? NaN);
      if (loop.batchesDone === 0) throw emptyEpochError('fit', epoch, data as BatchStream);
    }
    if (!loop.endEpoch(validation)) break;
  }
  return loop.finish();
}

/** Evaluates the validation data after an epoch: in memory (prepared once) or a sync stream. */
function validationEvaluator(loop: FitLoop, data: FitData | undefined): (() => EvaluationResult) | null {
  if (data === undefined) return null;
  if (isInMemory(data)) {
    const prepared = loop.prepare(data, true);
    return () => evaluatePrepared(loop.model, prepared, loop.setup, Math.max(loop.batchSize, 256));
  }
  return () => evaluateStream(loop.model, data as BatchStream, loop.setup, loop.dtype, 'fit (validation)');
}
