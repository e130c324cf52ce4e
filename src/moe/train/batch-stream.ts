import type { AsyncBatchStream, Batch } from './fit-options.js';

/**
 * The batches of one epoch of a stream. An iterable is re-iterated every epoch (an array of batches
 * works for any number of epochs; a one-shot iterator only for the first); a function is called with
 * the epoch. Anything else is an error naming what was passed.
 */
export function epochBatches(owner: string, stream: AsyncBatchStream, epoch: number): Iterable<Batch> | AsyncIterable<Batch> {
  const source = typeof stream === 'function' ? stream(epoch) : stream;
  if (source === null || typeof source !== 'object' || !(Symbol.iterator in source || Symbol.asyncIterator in source)) {
    const what = typeof stream === 'function' ? `the batch function returned ${describe(source)} for epoch ${epoch}` : `got ${describe(stream)}`;
    throw new Error(`${owner}: data must be { x, y } tensors, an iterable of batches or a function (epoch) => batches; ${what}`);
  }
  return source;
}

/** The error for an epoch that yielded nothing (usually a one-shot iterator reused for a second epoch). */
export function emptyEpochError(owner: string, epoch: number, stream: AsyncBatchStream): Error {
  const hint =
    typeof stream === 'function'
      ? 'the batch function yielded nothing'
      : 'an iterator is used up by its first epoch: pass an array of batches or a function (epoch) => batches to train for several epochs';
  return new Error(`${owner}: epoch ${epoch} produced no batches (${hint})`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object without [Symbol.iterator] (${Object.keys(value as object).slice(0, 4).join(', ') || 'no keys'})`;
  return typeof value;
}
