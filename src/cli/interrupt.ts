import { constants } from 'node:os';

/**
 * Ctrl-C (SIGINT) and SIGTERM during a long command: the first one aborts `signal`, so training stops
 * at the next batch boundary and the command finishes cleanly (checkpoint, message, exit 128 + signal
 * number: 130 for SIGINT, 143 for SIGTERM); a second one exits at once.
 */
export interface Interrupt {
  readonly signal: AbortSignal;
  /** The first signal received, or null. */
  received(): NodeJS.Signals | null;
  /** 128 + the received signal's number (130 for SIGINT). */
  exitCode(): number;
  /** Stops listening; the default behaviour (exit at once) returns. */
  dispose(): void;
}

export interface InterruptOptions {
  /** Told about the first signal (stop the progress bar, say what will happen). */
  onFirst: (signal: NodeJS.Signals) => void;
  /** Told about the second signal, just before the process exits (restore the terminal). */
  onSecond: (signal: NodeJS.Signals) => void;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export function listenForInterrupt(opts: InterruptOptions): Interrupt {
  const controller = new AbortController();
  let first: NodeJS.Signals | null = null;
  const codeOf = (s: NodeJS.Signals): number => 128 + (constants.signals[s] ?? 2);
  const handler = (s: NodeJS.Signals): void => {
    if (first === null) {
      first = s;
      controller.abort();
      opts.onFirst(s);
      return;
    }
    opts.onSecond(s);
    process.exit(codeOf(first));
  };
  for (const s of SIGNALS) process.on(s, handler);
  return {
    signal: controller.signal,
    received: () => first,
    exitCode: () => codeOf(first ?? 'SIGINT'),
    dispose: () => {
      for (const s of SIGNALS) process.removeListener(s, handler);
    },
  };
}
