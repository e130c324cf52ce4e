import { closeSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { processAlive } from './process-alive.js';

/** Test hooks that simulate failures while a file is being written. */
export interface AtomicWriteFaults {
  /** Called after each chunk is written to the temporary file (may throw or kill the process). */
  afterChunk?: (chunkIndex: number) => void;
}

/**
 * Writes `chunks` to `path` so that readers see either the old file or the complete new one, never a
 * prefix: the data goes to a temporary file in the same directory, is fsync'ed, then renamed over
 * `path`, and the directory is fsync'ed so the rename itself survives a power loss. On failure the
 * temporary file is removed; after a hard crash it may remain, and is swept by the next write (only
 * temporaries of processes that are gone: two live writers never delete each other's).
 */
export function writeFileAtomic(path: string, chunks: readonly Uint8Array[], faults: AtomicWriteFaults = {}): void {
  const dir = dirname(path);
  sweepTemporaries(path);
  const tmp = join(dir, `${temporaryPrefix(path)}${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}.tmp`);
  const fd = openSync(tmp, 'wx', 0o644);
  let renamed = false;
  try {
    try {
      chunks.forEach((chunk, i) => {
        let written = 0;
        while (written < chunk.byteLength) written += writeSync(fd, chunk, written, chunk.byteLength - written);
        faults.afterChunk?.(i);
      });
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    renamed = true;
    syncDirectory(dir);
  } finally {
    if (!renamed) {
      try {
        unlinkSync(tmp);
      } catch {
        // already gone
      }
    }
  }
}

export function writeTextAtomic(path: string, text: string): void {
  writeFileAtomic(path, [new TextEncoder().encode(text)]);
}

function temporaryPrefix(path: string): string {
  return `.${basename(path)}.`;
}

/** Removes temporaries that writers of `path` which no longer run left behind. */
function sweepTemporaries(path: string): void {
  const prefix = temporaryPrefix(path);
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    const owner = /^(\d+)-/.exec(name.slice(prefix.length));
    if (name.startsWith(prefix) && name.endsWith('.tmp') && !(owner && processAlive(Number(owner[1])))) {
      try {
        unlinkSync(join(dirname(path), name));
      } catch {
        // raced with another sweeper
      }
    }
  }
}

function syncDirectory(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some filesystems do not support fsync on directories; the rename is still atomic
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
