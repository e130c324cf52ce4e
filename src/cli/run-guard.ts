import { acquireRunLock, RunLockError } from '../node/run-lock.js';
import { UserError } from '../experiments/user-error.js';
import { listenForInterrupt, type Interrupt } from './interrupt.js';
import type { Progress } from './progress.js';

/** What a long command holds while it writes to its output folder: the folder's lock and the Ctrl-C handlers. */
export interface RunGuard {
  readonly interrupt: Interrupt;
  /** Releases the lock and the signal handlers. */
  release(): void;
}

const warn = (line: string): void => {
  process.stderr.write(`dselect-k: ${line}\n`);
};

/**
 * Locks `outDir` (a second run on it is a UserError naming the holder; a stale lock is taken over with
 * a notice) and listens for Ctrl-C: the first one stops the progress bar and prints `onStop`, the
 * command then finishes at the next batch boundary; a second one exits at once.
 */
export function guardRun(outDir: string, command: string, progress: Progress, onStop: string): RunGuard {
  let lock;
  try {
    lock = acquireRunLock(outDir, { command, notice: warn });
  } catch (e) {
    if (e instanceof RunLockError) throw new UserError(`--out: ${e.message}`);
    throw e;
  }
  const held = lock;
  const interrupt = listenForInterrupt({
    onFirst: (signal) => {
      progress.stop();
      warn(`${signal} received: ${onStop} (press Ctrl-C again to abort at once)`);
    },
    onSecond: (signal) => {
      progress.stop();
      warn(`${signal} received again: aborting now`);
      held.release();
    },
  });
  return {
    interrupt,
    release: () => {
      interrupt.dispose();
      held.release();
    },
  };
}
