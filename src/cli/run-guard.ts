import { acquireRunLock, RunLockError } from '../node/run-lock.js';
import { RunInterrupted } from '../experiments/interrupted.js';
import { UserError } from '../experiments/user-error.js';
import { isReplaceableReportFolder } from '../report/write.js';
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

/**
 * A command that writes a report folder (`compare`, `balance`, `damex`): refuses an --out that holds
 * something else, runs `body` under the lock and Ctrl-C handlers, and turns an interruption into the
 * message that the previous report was left as it was (exit 130 / 143).
 */
export async function guardReportRun(command: string, tool: string, outDir: string, progress: Progress, body: (guard: RunGuard) => Promise<number>): Promise<number> {
  if (!isReplaceableReportFolder(outDir, tool)) {
    throw new UserError(`--out ${outDir} is not empty and holds no previous ${command} report; the report replaces the folder as a whole, so choose a new or empty folder`);
  }
  const guard = guardRun(outDir, ['dselect-k', command, ...process.argv.slice(3)].join(' '), progress, `stopping at the next batch boundary; the report in ${outDir} will stay as it was`);
  try {
    return await body(guard);
  } catch (e) {
    if (!(e instanceof RunInterrupted)) throw e;
    progress.stop();
    process.stderr.write(`dselect-k: ${e.message}; no report written, ${outDir} is as it was\n`);
    return guard.interrupt.exitCode();
  } finally {
    progress.stop();
    guard.release();
  }
}
