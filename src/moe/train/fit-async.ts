import type { MultiTaskModel } from '../mmoe.js';
import { emptyEpochError, epochBatches } from './batch-stream.js';
import { checkBatchSize, isInMemory, prepareData } from './dataset.js';
import { EvalAccumulator, evaluatePrepared, withEvalModeAsync, type EvaluateOptions, type EvaluationResult } from './evaluate.js';
import type { MultiTaskBatchSource } from './dataset.js';
import type { AsyncBatchStream, FitOptions, FitResult } from './fit-options.js';
import { FitLoop } from './fit-loop.js';
import { resolveLossSetup, type LossSetup } from './loss-setup.js';
import type { DType } from '../../tensor/dtype.js';

export interface FitAsyncOptions extends Omit<FitOptions, 'validation'> {
  validation?: MultiTaskBatchSource | AsyncBatchStream;
  /** Stops training between two steps (see `onAbort`). */
  signal?: AbortSignal;
  /**
   * What an aborted `signal` does: 'reject' (default) rejects with the signal's reason; 'return'
   * resolves with the result so far and `interrupted` set to the position, which `resumeFrom`
   * continues exactly (a pause, e.g. Ctrl-C with a checkpoint).
   */
  onAbort?: 'reject' | 'return';
}

/** Longest stretch of in-memory steps without giving the event loop a turn (timers, signals, IO). */
const YIELD_AFTER_MS = 25;

/**
 * `fit` for batches that arrive asynchronously (an async iterable, or a function returning one per
 * epoch: data read from disk or the network, larger than memory), and for in-memory data when the
 * event loop must stay responsive. The same loop as `fit`: for the same data and options the result
 * is bit for bit the same. With `signal`, an abort stops it between two steps.
 */
export async function fitAsync(model: MultiTaskModel, data: MultiTaskBatchSource | AsyncBatchStream, opts: FitAsyncOptions): Promise<FitResult> {
  const { signal, validation: validationData, onAbort = 'reject', ...rest } = opts;
  if (onAbort !== 'reject' && onAbort !== 'return') throw new Error(`fitAsync: onAbort must be 'reject' or 'return', got ${String(onAbort)}`);
  const loop = new FitLoop('fitAsync', model, rest);
  const train = isInMemory(data) ? loop.prepare(data) : null;
  if (!train && opts.resumeFrom) throw new Error('fitAsync: resumeFrom needs in-memory data (a stream cannot be rewound to a batch)');
  const validation = validationData === undefined ? null : validationEvaluator(loop, validationData);
  loop.seekScheduler(train ? Math.ceil(train.size / loop.batchSize) : (opts.batchesPerEpoch ?? null));
  let lastYield = Date.now();
  /** At a batch boundary: gives the event loop a turn now and then; true when training must stop here. */
  const shouldStop = async (): Promise<boolean> => {
    if (Date.now() - lastYield >= YIELD_AFTER_MS) {
      await macrotask();
      lastYield = Date.now();
    }
    if (!signal?.aborted) return false;
    if (onAbort === 'reject') signal.throwIfAborted();
    return true;
  };
  for (let epoch = loop.initialEpoch; epoch < loop.epochs; epoch++) {
    if (onAbort === 'reject' && (await shouldStop())) break;
    loop.beginEpoch(epoch);
    if (train) {
      const batches = loop.memoryBatches(train, epoch);
      for (const load of batches.slice(loop.batchesDone)) {
        if (await shouldStop()) return loop.interrupt();
        loop.trainBatch(load, batches.length);
      }
    } else {
      for await (const batch of epochBatches('fitAsync', data as AsyncBatchStream, epoch)) {
        if (await shouldStop()) return loop.interrupt();
        loop.trainBatch(loop.streamBatch(batch), opts.batchesPerEpoch ?? NaN);
      }
      if (loop.batchesDone === 0) throw emptyEpochError('fitAsync', epoch, data as AsyncBatchStream);
    }
    const val = validation ? await validation() : null;
    if (!loop.endEpoch(val ? () => val : null)) break;
  }
  return loop.finish();
}

function validationEvaluator(loop: FitLoop, data: MultiTaskBatchSource | AsyncBatchStream): () => Promise<EvaluationResult> {
  if (isInMemory(data)) {
    const prepared = loop.prepare(data, true);
    return async () => evaluatePrepared(loop.model, prepared, loop.setup, Math.max(loop.batchSize, 256));
  }
  return () => evaluateStreamAsync(loop.model, data, loop.setup, loop.dtype, 'fitAsync (validation)');
}

/** `evaluate` over an async (or sync) stream of batches. */
export async function evaluateAsync(model: MultiTaskModel, data: MultiTaskBatchSource | AsyncBatchStream, opts: EvaluateOptions = {}): Promise<EvaluationResult> {
  const batchSize = checkBatchSize('evaluateAsync', opts.batchSize ?? 256);
  const setup = resolveLossSetup('evaluateAsync', model.numTasks, opts.losses, opts.taskWeights);
  const dtype = model.parameters()[0]?.dtype ?? 'float32';
  if (isInMemory(data)) return evaluatePrepared(model, prepareData('evaluateAsync', data, model.numTasks, dtype), setup, batchSize);
  return evaluateStreamAsync(model, data, setup, dtype, 'evaluateAsync');
}

async function evaluateStreamAsync(model: MultiTaskModel, stream: AsyncBatchStream, setup: LossSetup, dtype: DType, owner: string): Promise<EvaluationResult> {
  return withEvalModeAsync(model, async () => {
    const acc = new EvalAccumulator(model, setup);
    for await (const batch of epochBatches(owner, stream, 0)) acc.add(() => prepareData(owner, batch, model.numTasks, dtype, false));
    if (acc.batches === 0) throw emptyEpochError(owner, 0, stream);
    return acc.result();
  });
}

/** Gives the event loop a turn (setImmediate in Node, a zero timeout elsewhere). */
function macrotask(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}
