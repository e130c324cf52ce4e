/** A run stopped on request (its AbortSignal, e.g. Ctrl-C) before it could finish; nothing of it was written. */
export class RunInterrupted extends Error {
  override readonly name = 'RunInterrupted';
}
