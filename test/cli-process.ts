import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The `dselect-k` command as a child process, for tests that need real signals and real processes.
 * The sources are compiled once per test file into a private folder (so a concurrent `npm run build`
 * cannot interfere).
 */
const repo = resolve(__dirname, '..');

export interface CliBuild {
  work: string;
  main: string;
  remove(): void;
}

export function compileCli(name: string): CliBuild {
  const work = join(repo, '.tmp', `${name}-${process.pid}`);
  const main = join(work, 'dist', 'cli', 'main.js');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'dselect-k-cli-test', version: '0.0.0-test', type: 'module' }));
  const tsc = spawnSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.build.json'), '--outDir', join(work, 'dist'), '--sourceMap', 'false', '--declaration', 'false'], { encoding: 'utf8' });
  if (!existsSync(main)) throw new Error(`compiling the CLI failed:\n${tsc.stdout}\n${tsc.stderr}`);
  return { work, main, remove: () => rmSync(work, { recursive: true, force: true }) };
}

export interface Finished {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(build: CliBuild, args: readonly string[], env: Record<string, string> = {}): Finished {
  const r = spawnSync(process.execPath, [build.main, ...args], { encoding: 'utf8', cwd: build.work, env: { ...process.env, ...env }, timeout: 110_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A running command: its output so far, a way to wait for a line, to signal it and to await its end. */
export interface Running {
  child: ChildProcess;
  output(): { stdout: string; stderr: string };
  /** Resolves once stdout or stderr matches `pattern` (rejects if the process ends first). */
  waitFor(pattern: RegExp): Promise<void>;
  finished: Promise<Finished>;
}

export function startCli(build: CliBuild, args: readonly string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [build.main, ...args], { cwd: build.work, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void; reject: (e: Error) => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      if (w.pattern.test(stdout) || w.pattern.test(stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    check();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    check();
  });
  const finished = new Promise<Finished>((resolveFinished) => {
    child.on('close', (status, signal) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`the command ended (status ${status}, signal ${signal}) before printing ${w.pattern}:\n${stdout}\n${stderr}`));
      resolveFinished({ status, signal, stdout, stderr });
    });
  });
  return {
    child,
    output: () => ({ stdout, stderr }),
    waitFor: (pattern) =>
      new Promise<void>((resolveWait, reject) => {
        waiters.push({ pattern, resolve: resolveWait, reject });
        check();
      }),
    finished,
  };
}

/** The id of a process that has certainly ended (for stale locks and temporaries). */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}
