import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLedger } from '../../node/ledger.js';
import type { Cell, LedgerRecord, ProtocolRecord, SessionRecord } from '../../report/reproduce-records.js';
import type { ReproduceSummary } from '../../report/reproduce-summary.js';
import { writeReproduceReport } from '../../report/reproduce-write.js';
import { UserError } from '../user-error.js';
import { reportContext } from './describe.js';
import { LEDGER_FILE, RUNS_FOLDER, runProtocol, trialSettings, type Protocol, type RunnerHooks, type RunnerSummary } from './runner.js';

export interface ReproduceOptions {
  outDir: string;
  /** The command as typed, recorded in the ledger's session lines. */
  command: string;
  /** Commands printed in the report to continue the run and to rebuild the report. */
  continueCommand: string;
  reportCommand: string;
  backend: string;
  hooks?: RunnerHooks;
  timeLimitSeconds?: number;
  maxRuns?: number;
  /** Rebuild the report at most this often while running (seconds; default 120). */
  reportEverySeconds?: number;
}

export interface ReproduceResult {
  runner: RunnerSummary | null;
  summary: ReproduceSummary;
  reportFiles: string[];
}

/** Checkpoints of unfinished runs stay out of git; the ledger and the report go in. */
function ignoreRunFolders(outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, '.gitignore');
  if (!existsSync(file)) writeFileSync(file, `# checkpoints of unfinished runs (large, local); ${LEDGER_FILE} and the report are the record\n${RUNS_FOLDER}/\n`);
}

/** Rebuilds report.md & co. from the ledger in `outDir` alone. */
export async function rebuildReport(protocol: Protocol, opts: Pick<ReproduceOptions, 'outDir' | 'continueCommand' | 'reportCommand'>, records?: readonly LedgerRecord[]): Promise<{ summary: ReproduceSummary; files: string[] }> {
  const all = records ?? (readLedger(join(opts.outDir, LEDGER_FILE)).records as LedgerRecord[]);
  const stored = all.find((r): r is ProtocolRecord => r.kind === 'protocol');
  if (!stored) throw new UserError(`no ledger to report on in ${opts.outDir} (expected ${LEDGER_FILE} with a protocol line)`);
  if (stored.protocol !== protocol.name) throw new UserError(`${join(opts.outDir, LEDGER_FILE)} holds a '${stored.protocol}' run, not '${protocol.name}'`);
  // Everything comes from the ledger — the plan of every session, the command of the latest — so the
  // report reads the same whoever rebuilds it, with whatever options.
  const sessions = all.filter((r): r is SessionRecord => r.kind === 'session');
  const plan = new Map<string, { cell: Cell; runs: number }>();
  for (const s of sessions) {
    for (const p of s.plan ?? []) plan.set(p.cell.key, { cell: p.cell, runs: Math.max(plan.get(p.cell.key)?.runs ?? 0, p.trials + p.seeds) });
  }
  // Cells run by sessions that did not record their plan (older ledgers), or with no session at all:
  // planned as this protocol plans them.
  if (plan.size === 0) for (const cell of protocol.cells) plan.set(cell.key, { cell, runs: trialSettings(protocol, cell).length + protocol.seeds });
  for (const r of all) {
    if (r.kind === 'result' && !plan.has(r.cell.key)) plan.set(r.cell.key, { cell: r.cell, runs: trialSettings(protocol, r.cell).length + protocol.seeds });
  }
  const plannedRuns = [...plan.values()].reduce((n, p) => n + p.runs, 0);
  const lastSession = sessions.at(-1);
  const ctx = reportContext(protocol, stored.settings, plannedRuns, [(lastSession?.command ?? opts.continueCommand) + '    # continue (finished runs are skipped)', opts.reportCommand + '    # rebuild this report from the ledger']);
  // Cells run in the order asked for (e.g. the largest task count first); the report lists them by task
  // count, static before per-example.
  const regimeOrder = (c: Cell): number => (c.regime === 'static' ? 0 : 1);
  const cells = [...plan.values()].map((p) => p.cell).sort((a, b) => a.tasks - b.tasks || regimeOrder(a) - regimeOrder(b));
  const { files, summary } = await writeReproduceReport(opts.outDir, all, ctx, cells);
  return { summary, files };
}

/** Runs what the ledger lacks, rebuilding the report as it goes and at the end. */
export async function runReproduce(protocol: Protocol, opts: ReproduceOptions): Promise<ReproduceResult> {
  ignoreRunFolders(opts.outDir);
  let lastReport = performance.now();
  const every = (opts.reportEverySeconds ?? 120) * 1000;
  const runner = await runProtocol(protocol, {
    outDir: opts.outDir,
    command: opts.command,
    backend: opts.backend,
    ...(opts.timeLimitSeconds !== undefined ? { timeLimitSeconds: opts.timeLimitSeconds } : {}),
    ...(opts.maxRuns !== undefined ? { maxRuns: opts.maxRuns } : {}),
    hooks: {
      ...opts.hooks,
      afterRun: async (records) => {
        await opts.hooks?.afterRun?.(records);
        if (performance.now() - lastReport >= every) {
          await rebuildReport(protocol, opts, records);
          lastReport = performance.now();
        }
      },
    },
  });
  const { summary, files } = await rebuildReport(protocol, opts, runner.records);
  return { runner, summary, reportFiles: files };
}
