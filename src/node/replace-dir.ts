import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ensureDirectory } from './ensure-dir.js';
import { processAlive } from './process-alive.js';

/**
 * Replaces the folder `dir` as a whole: `fill` writes the new contents into a fresh staging folder
 * beside it (`.NAME.staging-PID`); only when it succeeds does the staging folder take `dir`'s place.
 * A failure or an interruption before that leaves `dir` exactly as it was. The swap is two renames
 * (old folder aside to `.NAME.previous-PID`, staging folder in), so only a hard kill between them can
 * leave `dir` missing: the next call then puts the previous folder back before starting.
 */
export async function replaceDirectory<T>(dir: string, fill: (staging: string) => Promise<T> | T): Promise<T> {
  const target = resolve(dir);
  const parent = ensureDirectory(dirname(target), 'replaceDirectory');
  const name = basename(target);
  recoverLeftovers(parent, name, target);
  const staging = join(parent, `.${name}.staging-${process.pid}`);
  const previous = join(parent, `.${name}.previous-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  let result: T;
  try {
    result = await fill(staging);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  const hadPrevious = existsSync(target);
  if (hadPrevious) renameSync(target, previous);
  renameSync(staging, target);
  if (hadPrevious) rmSync(previous, { recursive: true, force: true });
  return result;
}

/** Staging and previous folders of runs that are gone: the previous one goes back where it was missing, the rest is removed. */
function recoverLeftovers(parent: string, name: string, target: string): void {
  const pattern = new RegExp(`^\\.${escapeRegExp(name)}\\.(staging|previous)-(\\d+)$`);
  for (const entry of readdirSync(parent)) {
    const m = pattern.exec(entry);
    if (!m || processAlive(Number(m[2]))) continue;
    const leftover = join(parent, entry);
    if (m[1] === 'previous' && !existsSync(target)) renameSync(leftover, target);
    else rmSync(leftover, { recursive: true, force: true });
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
