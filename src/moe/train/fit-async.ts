import type { MultiTaskModel } from '../mmoe.js';
import { emptyEpochError, epochBatches } from './batch-stream.js';
import { checkBatchSize, isInMemory, prepareData } from './dataset.js';
import { concat } from '../../autograd/ops/shape.js';
import { backend } from '../../kernels/registry.js';
import { EvalAccumulator, evaluatePrepared, evaluatePreparedAsync, withEvalModeAsync, type EvaluateOptions, type EvaluationResult } from './evaluate.js';
import type { MultiTaskBatchSource } from './dataset.js';
import type { AsyncBatchStream, FitOptions, FitResult } from './fit-options.js';
import { FitLoop, type BatchLoader, type DeferredBatch } from './fit-loop.js';
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
  /**
   * Steps whose losses stay on the device before they are read back together. Default: 16 on a backend
   * that reads back only asynchronously (the gpu backend on webgpu), where waiting for every step's loss
   * would stall the GPU's queue; elsewhere 0 (each step's losses are read before its backward, as `fit`
   * does). With it the steps are the same, `onBatch` runs in bursts at each readback, and a non-finite
   * objective is caught there (the steps enqueued after it have already run).
   */
  readEvery?: number;
}

/** Longest stretch of in-memory steps without giving the event loop a turn (timers, signals, IO). */
const YIELD_AFTER_MS = 25;

/**
 * `fit` for batches that arrive asynchronously (an async iterable, or a function returning one per
 * epoch: data read from disk or the network, larger than memory), and for in-memory data when the
 * event loop must stay responsive. The same loop as `fit`: for the same data and options the result
 * is bit for bit the same. With `signal`, an abort stops it between two steps. On the gpu backend's
 * webgpu mode it awaits only where it must: steps are enqueued without waiting for the device, and their
 * losses are read back `readEvery` steps at a time (see `readEvery`).
 */
export async function fitAsync(model: MultiTaskModel, data: MultiTaskBatchSource | AsyncBatchStream, opts: FitAsyncOptions): Promise<FitResult> {
  const { signal, validation: validationData, onAbort = 'reject', readEvery: readEveryOption, ...rest } = opts;
  if (onAbort !== 'reject' && onAbort !== 'return') throw new Error(`fitAsync: onAbort must be 'reject' or 'return', got ${String(onAbort)}`);
  const loop = new FitLoop('fitAsync', model, rest);
  const deviceReads = backend().readsSync === false;
  const readEvery = readEveryOption ?? (deviceReads ? 16 : 0);
  if (!Number.isInteger(readEvery) || readEvery < 0) throw new Error(`fitAsync: readEvery must be an integer ≥ 0, got ${String(readEveryOption)}`);
  if (readEvery === 0 && deviceReads) throw new Error('fitAsync: readEvery 0 reads every step synchronously, which this backend (webgpu) cannot; give readEvery ≥ 1');
  const pending: DeferredBatch[] = [];
  /** Reads the pending steps' losses back (one readback) and accounts for them in order. */
  const readPending = async (): Promise<void> => {
    if (pending.length === 0) return;
    const taken = pending.splice(0);
    let values: ArrayLike<number>;
    try {
      const all = concat(
        taken.map((d) => d.losses),
        0,
      );
      try {
        values = await all.data();
      } finally {
        all.dispose();
      }
    } finally {
      for (const d of taken) d.losses.dispose();
    }
    taken.forEach((d, i) => loop.recordDeferred(d, values, i * (model.numTasks + 3)));
  };
  /** One step: its losses read at once, or kept on the device until `readEvery` steps wait. */
  const trainStep = async (load: BatchLoader, batches: number): Promise<void> => {
    if (readEvery === 0) return loop.trainBatch(load, batches);
    pending.push(loop.trainBatchDeferred(load, batches));
    if (pending.length >= readEvery) await readPending();
  };
  /** The result of a stop on request, every step taken accounted for. */
  const interrupt = async (): Promise<FitResult> => {
    await readPending();
    return loop.interrupt();
  };
  const train = isInMemory(data) ? loop.prepare(data) : null;
  if (!train && opts.resumeFrom) throw new Error('fitAsync: resumeFrom needs in-memory data (a stream cannot be rewound to a batch)');
  const validation = validationData === undefined ? null : validationEvaluator(loop, validationData, deviceReads);
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
    try {
      if (train) {
        const batches = loop.memoryBatches(train, epoch);
        for (const load of batches.slice(loop.batchesDone)) {
          if (await shouldStop()) return await interrupt();
          await trainStep(load, batches.length);
        }
      } else {
        for await (const batch of epochBatches('fitAsync', data as AsyncBatchStream, epoch)) {
          if (await shouldStop()) return await interrupt();
          await trainStep(loop.streamBatch(batch), opts.batchesPerEpoch ?? NaN);
        }
      }
      await readPending();
    } finally {
      for (const d of pending.splice(0)) d.losses.dispose();
    }
    if (!train && loop.batchesDone === 0) throw emptyEpochError('fitAsync', epoch, data as AsyncBatchStream);
    const val = validation ? await validation() : null;
    if (!loop.endEpoch(val ? () => val : null)) break;
  }
  return loop.finish();
}

function validationEvaluator(loop: FitLoop, data: MultiTaskBatchSource | AsyncBatchStream, deviceReads: boolean): () => Promise<EvaluationResult> {
  if (isInMemory(data)) {
    const prepared = loop.prepare(data, true);
    const batchSize = Math.max(loop.batchSize, 256);
    return deviceReads ? () => evaluatePreparedAsync(loop.model, prepared, loop.setup, batchSize) : async () => evaluatePrepared(loop.model, prepared, loop.setup, batchSize);
  }
  return () => evaluateStreamAsync(loop.model, data, loop.setup, loop.dtype, 'fitAsync (validation)');
}

/**
 * `evaluate` over an async (or sync) stream of batches, or in-memory data; on a backend that reads back
 * only asynchronously (webgpu) the batches' losses and correct counts stay on the device and are read
 * back once, at the end.
 */
export async function evaluateAsync(model: MultiTaskModel, data: MultiTaskBatchSource | AsyncBatchStream, opts: EvaluateOptions = {}): Promise<EvaluationResult> {
  const batchSize = checkBatchSize('evaluateAsync', opts.batchSize ?? 256);
  const setup = resolveLossSetup('evaluateAsync', model.numTasks, opts.losses, opts.taskWeights);
  const dtype = model.parameters()[0]?.dtype ?? 'float32';
  if (isInMemory(data)) {
    const prepared = prepareData('evaluateAsync', data, model.numTasks, dtype);
    return backend().readsSync === false ? evaluatePreparedAsync(model, prepared, setup, batchSize) : evaluatePrepared(model, prepared, setup, batchSize);
  }
  return evaluateStreamAsync(model, data, setup, dtype, 'evaluateAsync');
}

async function evaluateStreamAsync(model: MultiTaskModel, stream: AsyncBatchStream, setup: LossSetup, dtype: DType, owner: string): Promise<EvaluationResult> {
  return withEvalModeAsync(model, async () => {
    const acc = new EvalAccumulator(model, setup, backend().readsSync === false);
    for await (const batch of epochBatches(owner, stream, 0)) acc.add(() => prepareData(owner, batch, model.numTasks, dtype, false));
    if (acc.batches === 0) throw emptyEpochError(owner, 0, stream);
    return acc.resultAsync();
  });
}

/** Gives the event loop a turn (setImmediate in Node, a zero timeout elsewhere). */
function macrotask(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}
