import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p` that names the path in its errors and never hangs: Node 20's
 * `mkdirSync(dir, { recursive: true })` loops forever at 100% CPU where the kernel answers ENOENT
 * to a mkdir under an existing directory (e.g. `/proc/x`). Creates the missing folders one by one.
 */
export function ensureDirectory(dir: string, owner: string): string {
  const target = resolve(dir);
  const missing: string[] = [];
  for (let at = target; ; ) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(at).isDirectory();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' || dirname(at) === at) throw new Error(`${owner}: cannot create directory ${target}: cannot look at ${at} (${code ?? (e as Error).message})`);
      missing.push(at);
      at = dirname(at);
      continue;
    }
    if (!isDirectory) throw new Error(`${owner}: cannot create directory ${target}: ${at} exists and is not a directory`);
    break;
  }
  for (const folder of missing.reverse()) {
    try {
      mkdirSync(folder);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(folder).isDirectory()) continue; // made by someone else meanwhile
      throw new Error(`${owner}: cannot create directory ${target}: mkdir ${folder} failed (${code ?? (e as Error).message})`);
    }
  }
  return target;
}
