import { concat } from '../../autograd/ops/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { MultiTaskModel } from '../mmoe.js';
import type { MultiTaskBatchSource } from './dataset.js';
import { evaluatePreparedAsync } from './evaluate.js';
import type { FitOptions, FitResult } from './fit.js';
import { TrainingRun } from './training-run.js';

export interface FitAsyncOptions extends FitOptions {
  /** Stops training between batches: the promise rejects with the signal's reason (an AbortError by default). */
  signal?: AbortSignal;
  /**
   * Batches whose losses stay on the device before they are read back together (default 16; also at
   * the end of every epoch). Each readback is the only place `fitAsync` waits for the device, and
   * where it lets the event loop run (a browser tab stays responsive).
   */
  readEvery?: number;
}

/**
 * `fit` that awaits only where it must: each step is recorded and enqueued without waiting for the
 * device; the batch losses are kept on the device and read back `readEvery` batches at a time (and at
 * each epoch's end), which is where progress (`onBatch`), the finite check and the event loop happen.
 * The same steps as `fit` in the same order, so on a synchronous backend the weights are identical.
 * Differences: a non-finite objective is detected at the next readback (the batches enqueued after it
 * have already stepped), and validation uses `evaluateAsync`. Required on webgpu, whose results
 * cannot be read synchronously.
 */
export async function fitAsync(model: MultiTaskModel, data: MultiTaskBatchSource, opts: FitAsyncOptions): Promise<FitResult> {
  const run = new TrainingRun('fitAsync', model, data, opts);
  const readEvery = opts.readEvery ?? 16;
  if (!Number.isInteger(readEvery) || readEvery < 1) throw new Error(`fitAsync: readEvery must be an integer ≥ 1, got ${String(readEvery)}`);
  const stride = model.numTasks + 2;
  for (let epoch = run.initialEpoch; epoch < run.epochs; epoch++) {
    const batches = run.startEpoch(epoch);
    let pending: { batch: number; rows: number; losses: Tensor }[] = [];
    const readPending = async (): Promise<void> => {
      if (pending.length === 0) return;
      const taken = pending;
      pending = [];
      let values: ArrayLike<number>;
      try {
        const all = concat(
          taken.map((p) => p.losses),
          0,
        );
        try {
          values = await all.data();
        } finally {
          all.dispose();
        }
      } finally {
        for (const p of taken) p.losses.dispose();
      }
      taken.forEach((p, i) => run.record(epoch, p.batch, batches.length, p.rows, run.valuesOf(values, i * stride)));
      await yieldToEventLoop();
    };
    try {
      for (let b = 0; b < batches.length; b++) {
        opts.signal?.throwIfAborted();
        const rows = batches[b]!;
        pending.push({ batch: b, rows: rows.length, losses: run.step(rows, null) });
        if (pending.length >= readEvery) await readPending();
      }
      await readPending();
    } finally {
      for (const p of pending) p.losses.dispose();
    }
    const val = run.validation ? await evaluatePreparedAsync(model, run.validation, run.setup, Math.max(run.batchSize, 256)) : null;
    if (!run.endEpoch(epoch, val)) break;
  }
  return run.finish();
}

/** Lets timers, rendering and input run (a macrotask boundary; a resolved promise would not). */
function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, 0));
}
