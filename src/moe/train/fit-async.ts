import type { MultiTaskModel } from '../mmoe.js';
import type { MultiTaskBatchSource } from './dataset.js';
import type { FitOptions, FitResult } from './fit.js';
import { trainingLoop } from './training-loop.js';

export interface FitAsyncOptions extends FitOptions {
  /**
   * Stop at the next batch boundary once this is aborted: the promise resolves with the result so far
   * and `interrupted` set to the position, which `resumeFrom` continues exactly (with the model and
   * optimiser state as they are then).
   */
  signal?: AbortSignal;
  /** Hand the thread back to the event loop (signals, timers, UI) at least this often, in ms (default 20; 0: before every batch). */
  yieldEveryMs?: number;
}

/**
 * `fit` that can be stopped: the same loop (same results, bit for bit), run in slices between which
 * the event loop runs, so a signal handler or a UI can abort it. Works in browsers and Node.
 */
export async function fitAsync(model: MultiTaskModel, data: MultiTaskBatchSource, opts: FitAsyncOptions): Promise<FitResult> {
  const every = opts?.yieldEveryMs ?? 20;
  if (typeof every !== 'number' || !(every >= 0)) throw new Error(`fitAsync: yieldEveryMs must be a number ≥ 0, got ${String(every)}`);
  const loop = trainingLoop('fitAsync', model, data, opts);
  let lastYield = performance.now();
  for (let step = loop.next(); ; ) {
    if (step.done) return step.value;
    if (performance.now() - lastYield >= every) {
      await nextMacrotask();
      lastYield = performance.now();
    }
    step = loop.next(opts.signal?.aborted === true);
  }
}

/**
 * Resolves after the event loop has had a turn (I/O, signals, timers). A MessageChannel message is a
 * macrotask without setTimeout's clamping to ≥ 1 ms (4 ms in nested browser timers).
 */
export function nextMacrotask(): Promise<void> {
  if (typeof MessageChannel !== 'function') return new Promise((resolve) => setTimeout(resolve, 0));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    // The browser's and Node's MessagePort both have `onmessage`; Node's typings only declare `on`.
    const receiver = channel.port1 as unknown as PortLike;
    receiver.onmessage = () => {
      receiver.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

interface PortLike {
  onmessage: (() => void) | null;
  close(): void;
}
