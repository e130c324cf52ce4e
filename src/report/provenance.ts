import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { arch, cpus, loadavg, platform, totalmem } from 'node:os';

/** Where and with what a result was produced, so that a reader can tell runs apart and rerun them. */
export interface Provenance {
  packageVersion: string;
  nodeVersion: string;
  /** `git rev-parse HEAD` of the working directory, or null outside a git checkout. */
  gitCommit: string | null;
  /** True when the checkout had uncommitted changes to tracked files (null: unknown). */
  gitDirty: boolean | null;
  machine: { platform: string; arch: string; cpu: string; cores: number; memoryGiB: number };
  /** 1-, 5- and 15-minute load averages when the result was written (this machine is shared). */
  loadAverage: number[];
  /** The backend the run used, e.g. "cpu (wasm matmul)". */
  backend: string;
}

function git(args: string[], cwd: string): string | null {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  } catch {
    return null;
  }
}

/** This package's version from its package.json, or 'unknown'. */
export function packageVersion(): string {
  try {
    // src/report and dist/report both sit two levels below the package root
    const pkg = createRequire(import.meta.url)('../../package.json') as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Collects the provenance of a result produced now, in `cwd` (default: the process's directory). */
export function collectProvenance(backend: string, cwd = process.cwd()): Provenance {
  const commit = git(['rev-parse', 'HEAD'], cwd);
  const status = commit === null ? null : git(['status', '--porcelain', '--untracked-files=no'], cwd);
  const cpuList = cpus();
  return {
    packageVersion: packageVersion(),
    nodeVersion: process.version,
    gitCommit: commit,
    gitDirty: status === null ? null : status.length > 0,
    machine: {
      platform: platform(),
      arch: arch(),
      cpu: cpuList[0]?.model.trim() ?? 'unknown',
      cores: cpuList.length,
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    },
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    backend,
  };
}

/** One Markdown line, e.g. for a report's header. */
export function formatProvenance(p: Provenance): string {
  const commit = p.gitCommit === null ? 'no git checkout' : `git ${p.gitCommit.slice(0, 12)}${p.gitDirty ? ' (uncommitted changes)' : ''}`;
  return (
    `dselect-k ${p.packageVersion}, Node ${p.nodeVersion}, ${commit}; ${p.machine.cpu}, ${p.machine.cores} cores, ` +
    `${p.machine.memoryGiB} GiB, ${p.machine.platform}/${p.machine.arch}; backend ${p.backend}; load average ${p.loadAverage.join(' / ')}`
  );
}
