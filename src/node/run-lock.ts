import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { ensureDirectory } from './ensure-dir.js';
import { processAlive } from './process-alive.js';

/**
 * One run per output folder. A run holds the lock file `.NAME.lock` beside its folder NAME (beside,
 * not inside, so that a folder replaced as a whole keeps its lock). The file says who holds it (pid,
 * host, command, start time). A second run is refused; a lock whose process is gone (killed, crashed)
 * is taken over with a notice. Locks of another host are never taken over: their process cannot be
 * checked from here.
 */
export interface RunLockOwner {
  pid: number;
  host: string;
  command: string;
  started: string;
}

export interface RunLock {
  readonly path: string;
  readonly folder: string;
  /** Removes the lock (if it is still ours); safe to call twice. */
  release(): void;
}

/** The folder is in use by another run, or its lock cannot be read or made. */
export class RunLockError extends Error {
  override readonly name = 'RunLockError';
}

export function runLockPath(folder: string): string {
  const dir = resolve(folder);
  if (dirname(dir) === dir) throw new RunLockError(`cannot lock ${dir}: a run cannot write into the filesystem root`);
  return join(dirname(dir), `.${basename(dir)}.lock`);
}

/**
 * Takes the lock of `folder` (creating its parent folder if needed) or throws a RunLockError naming the
 * holder. `notice` hears about a stale lock being taken over. The lock is also released when the
 * process exits normally or through process.exit (not when it is killed: that is what staleness is for).
 */
export function acquireRunLock(folder: string, opts: { command: string; notice?: (line: string) => void }): RunLock {
  const path = runLockPath(folder);
  const dir = resolve(folder);
  try {
    ensureDirectory(dirname(path), `cannot lock ${dir}`);
  } catch (e) {
    throw new RunLockError((e as Error).message);
  }
  const me: RunLockOwner = { pid: process.pid, host: hostname(), command: opts.command, started: new Date().toISOString() };
  const text = JSON.stringify(me) + '\n';
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createExclusive(path, text)) return heldLock(path, dir, text);
    const seen = readLock(path);
    if (seen === null) continue; // released meanwhile
    const holder = parseOwner(seen);
    if (holder === null) {
      throw new RunLockError(`${dir} is locked by ${path}, which does not hold a dselect-k lock; delete it if no run uses ${dir}`);
    }
    const who = `pid ${holder.pid} on ${holder.host} (${holder.command}, since ${holder.started})`;
    if (holder.host !== me.host) {
      throw new RunLockError(`${dir} is in use by ${who}: its lock ${path} comes from another host, so it cannot be checked from here; delete the lock if that run is over`);
    }
    if (holder.pid === process.pid || processAlive(holder.pid)) {
      throw new RunLockError(`${dir} is in use by ${who}; wait for it to finish or choose another output folder (lock: ${path})`);
    }
    if (takeOverStale(path, seen)) opts.notice?.(`taking over the stale lock of ${dir}: ${who} is no longer running`);
  }
  throw new RunLockError(`could not lock ${dir}: ${path} keeps changing (another run is starting at the same moment?)`);
}

/** Creates `path` with `text` only if it does not exist, never showing a half-written file: write a temporary, hard-link it. */
function createExclusive(path: string, text: string): boolean {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
  } catch (e) {
    throw new RunLockError(`cannot create the lock ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw new RunLockError(`cannot create the lock ${path}: ${code ?? (e as Error).message}`);
    // a filesystem without hard links: an exclusive create (a reader may briefly see it empty)
    try {
      writeFileSync(path, text, { flag: 'wx', mode: 0o644 });
      return true;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new RunLockError(`cannot create the lock ${path}: ${(e2 as NodeJS.ErrnoException).code ?? (e2 as Error).message}`);
    }
  } finally {
    unlinkSync(tmp);
  }
}

function readLock(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RunLockError(`cannot read the lock ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function parseOwner(text: string): RunLockOwner | null {
  try {
    const o = JSON.parse(text) as Partial<RunLockOwner> | null;
    if (o && Number.isSafeInteger(o.pid) && typeof o.host === 'string' && typeof o.command === 'string' && typeof o.started === 'string') return o as RunLockOwner;
  } catch {
    // not JSON
  }
  return null;
}

/**
 * Moves the stale lock aside and removes it, unless it changed since it was read as `seen` (another
 * run took it over first): then it is put back. True when this call removed the stale lock.
 */
function takeOverStale(path: string, seen: string): boolean {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new RunLockError(`cannot take over the stale lock ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (readLock(aside) === seen) {
    unlinkSync(aside);
    return true;
  }
  try {
    linkSync(aside, path); // someone else's fresh lock: put it back if the place is still free
  } catch {
    // a third run holds the place now; the next attempt will find it
  }
  unlinkSync(aside);
  return false;
}

function heldLock(path: string, folder: string, text: string): RunLock {
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.removeListener('exit', release);
    try {
      if (readFileSync(path, 'utf8') === text) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  process.on('exit', release);
  return { path, folder, release };
}
