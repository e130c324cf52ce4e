import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINT_FILE } from '../../node/checkpoint.js';
import { loadavg } from 'node:os';
import { appendLedger, readLedger } from '../../node/ledger.js';
import type { BatchProgress } from '../../moe/train/fit.js';
import { collectProvenance } from '../../report/provenance.js';
import { UserError } from '../user-error.js';
import { isResultRecord, type Cell, type EpochRecord, type LedgerRecord, type ProtocolRecord, type ResultRecord } from '../../report/reproduce-records.js';
import { removeRunFolder, type EpochLog } from './resumable-run.js';
import { describeSetting, sampleSettings, seedFromKey, type SearchDimension, type Setting } from './search.js';

/**
 * Runs a reproduce protocol against its ledger: every (cell, phase, index) run whose result is not in
 * the ledger yet is trained (continuing from its checkpoint if a previous session was stopped), and its
 * result appended. Tuning comes first in each cell: `trials` settings drawn from the cell's search space,
 * each trained once and scored on the validation split; then `seeds` runs at the trial with the lowest
 * validation loss, scored on the test split. With no search space, every seed runs the fixed setting.
 */

export const LEDGER_FILE = 'ledger.jsonl';
export const RUNS_FOLDER = 'runs';

/** One run to do: what its ledger line will say about it before any result. */
export type RunSpec = Pick<ResultRecord, 'id' | 'cell' | 'phase' | 'index' | 'seed' | 'setting'>;

/** What a protocol's run function gets besides the spec. */
export interface RunContext {
  /** Folder for the run's checkpoints (removed once its result is in the ledger). */
  dir: string;
  /** Keep the first final seed's gate weights in the record (heat maps). */
  keepGateWeights: boolean;
  onEpoch: (log: EpochLog, binarySelectorFraction: number | null) => void;
  onBatch?: (progress: BatchProgress) => void;
}

/** The fields of a result that the protocol computes. */
export type RunOutcome = Omit<ResultRecord, 'kind' | 'id' | 'cell' | 'phase' | 'index' | 'seed' | 'setting' | 'finishedAt' | 'loadAverage'>;

export interface Protocol {
  name: string;
  version: number;
  /** What makes runs of this protocol comparable; stored in the ledger's first line and checked on every continuation. */
  settings: Record<string, unknown>;
  cells: Cell[];
  trials: number;
  seeds: number;
  /** Hyperparameters searched per cell (empty: every run uses `fixedSetting`). */
  searchSpace(cell: Cell): SearchDimension[];
  fixedSetting(cell: Cell): Setting;
  /** 'cell': all runs of a cell, then the next cell; 'seed': seed 0 of every cell first, then seed 1, … */
  order: 'cell' | 'seed';
  /** Write one ledger line per epoch (long runs). */
  logEpochs: boolean;
  run(spec: RunSpec, ctx: RunContext): RunOutcome;
}

export interface RunnerHooks {
  onRunStart?: (info: { spec: RunSpec; done: number; total: number; resuming: boolean }) => void;
  onRunDone?: (record: ResultRecord, info: { done: number; total: number }) => void;
  onEpoch?: (spec: RunSpec, log: EpochLog) => void;
  onBatch?: (spec: RunSpec, progress: BatchProgress) => void;
  /** Called after each finished run, e.g. to rebuild the report. */
  afterRun?: (records: readonly LedgerRecord[]) => Promise<void> | void;
}

export interface RunnerOptions {
  outDir: string;
  command: string;
  backend: string;
  hooks?: RunnerHooks;
  /** Stop starting runs (and stop a running one after its current epoch) once this many seconds have passed. */
  timeLimitSeconds?: number;
  /** Run at most this many runs in this session. */
  maxRuns?: number;
}

export interface RunnerSummary {
  /** Runs finished in this session. */
  ran: number;
  /** Runs of the plan whose results are in the ledger (after this session). */
  done: number;
  /** Runs of the plan (finals of cells whose tuning is unfinished counted as `seeds`). */
  total: number;
  stoppedBy: 'complete' | 'time-limit' | 'max-runs';
  records: LedgerRecord[];
}

/** Stops a run between epochs when the session's time is up (its checkpoint is on disk). */
class TimeUp extends Error {}

function slug(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** The settings of a cell's trials (deterministic: seeded by the cell's key). */
export function trialSettings(protocol: Protocol, cell: Cell): Setting[] {
  const space = protocol.searchSpace(cell);
  if (space.length === 0 || protocol.trials === 0) return [];
  return sampleSettings(space, protocol.trials, seedFromKey(`${protocol.name}/${cell.key}`));
}

/** The trial a cell's seeds use: lowest validation loss, ties to the lower trial number. Null until every trial is done. */
export function chosenTrial(protocol: Protocol, cell: Cell, results: ReadonlyMap<string, ResultRecord>): ResultRecord | null {
  const trials = trialSettings(protocol, cell).map((_, i) => results.get(trialId(cell, i)));
  if (trials.some((t) => t === undefined)) return null;
  let best: ResultRecord | null = null;
  for (const t of trials as ResultRecord[]) if (best === null || t.validation.loss < best.validation.loss) best = t;
  return best;
}

export const trialId = (cell: Cell, i: number): string => `${cell.key}/trial-${i}`;
export const finalId = (cell: Cell, s: number): string => `${cell.key}/seed-${s}`;

/** Model seeds: finals use 0..seeds−1, trials 1000 + i (never the same as a final seed). */
const TRIAL_SEED_OFFSET = 1000;

function checkProtocol(protocol: Protocol, records: readonly LedgerRecord[], ledger: string): boolean {
  const first = records.find((r): r is ProtocolRecord => r.kind === 'protocol');
  if (!first) return false;
  const want = JSON.stringify({ protocol: protocol.name, version: protocol.version, settings: protocol.settings });
  const have = JSON.stringify({ protocol: first.protocol, version: first.version, settings: first.settings });
  if (want !== have) {
    const diff = Object.keys({ ...protocol.settings, ...first.settings }).filter((k) => JSON.stringify(protocol.settings[k]) !== JSON.stringify(first.settings[k]));
    const what = first.protocol !== protocol.name ? `protocol '${first.protocol}'` : diff.map((k) => `${k} = ${JSON.stringify(first.settings[k])} (now ${JSON.stringify(protocol.settings[k])})`).join(', ');
    throw new UserError(`${ledger} was written under a different protocol: ${what || `version ${first.version}`}; use another --out, or the options it was started with`);
  }
  return true;
}

export async function runProtocol(protocol: Protocol, opts: RunnerOptions): Promise<RunnerSummary> {
  const ledger = join(opts.outDir, LEDGER_FILE);
  const records = readLedger(ledger).records as LedgerRecord[];
  if (!checkProtocol(protocol, records, ledger)) {
    const record: ProtocolRecord = { kind: 'protocol', protocol: protocol.name, version: protocol.version, settings: protocol.settings, createdAt: new Date().toISOString() };
    appendLedger(ledger, record);
    records.push(record);
  }
  const append = (r: LedgerRecord): void => {
    appendLedger(ledger, r);
    records.push(r);
  };
  const results = new Map<string, ResultRecord>();
  for (const r of records) if (isResultRecord(r)) results.set(r.id, r);

  const started = performance.now();
  const deadline = opts.timeLimitSeconds !== undefined ? started + opts.timeLimitSeconds * 1000 : Infinity;
  let ran = 0;
  let sessionLogged = false;
  const totalRuns = (): number => protocol.cells.reduce((n, cell) => n + trialSettings(protocol, cell).length + protocol.seeds, 0);
  const doneRuns = (): number =>
    protocol.cells.reduce((n, cell) => {
      const trials = trialSettings(protocol, cell).filter((_, i) => results.has(trialId(cell, i))).length;
      const finals = Array.from({ length: protocol.seeds }, (_, s) => finalId(cell, s)).filter((id) => results.has(id)).length;
      return n + trials + finals;
    }, 0);

  const execute = async (spec: RunSpec): Promise<'ok' | 'time-limit' | 'max-runs'> => {
    if (results.has(spec.id)) return 'ok';
    if (opts.maxRuns !== undefined && ran >= opts.maxRuns) return 'max-runs';
    if (performance.now() >= deadline) return 'time-limit';
    if (!sessionLogged) {
      append({
        kind: 'session',
        startedAt: new Date().toISOString(),
        command: opts.command,
        provenance: collectProvenance(opts.backend, opts.outDir),
        plan: protocol.cells.map((cell) => ({ cell, trials: trialSettings(protocol, cell).length, seeds: protocol.seeds })),
      });
      sessionLogged = true;
    }
    const dir = join(opts.outDir, RUNS_FOLDER, slug(spec.id));
    opts.hooks?.onRunStart?.({ spec, done: doneRuns(), total: totalRuns(), resuming: existsSync(join(dir, CHECKPOINT_FILE)) });
    let outcome: RunOutcome;
    try {
      outcome = protocol.run(spec, {
        dir,
        keepGateWeights: spec.phase === 'final' && spec.index === 0,
        onEpoch: (log, binarySelectorFraction) => {
          if (protocol.logEpochs) append({ kind: 'epoch', id: spec.id, ...log, binarySelectorFraction } satisfies EpochRecord);
          opts.hooks?.onEpoch?.(spec, log);
          if (performance.now() >= deadline) throw new TimeUp();
        },
        ...(opts.hooks?.onBatch ? { onBatch: (p: BatchProgress) => opts.hooks!.onBatch!(spec, p) } : {}),
      });
    } catch (e) {
      if (e instanceof TimeUp) return 'time-limit';
      throw e;
    }
    const record: ResultRecord = {
      kind: 'result',
      id: spec.id,
      cell: spec.cell,
      phase: spec.phase,
      index: spec.index,
      seed: spec.seed,
      setting: spec.setting,
      ...outcome,
      finishedAt: new Date().toISOString(),
      loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    };
    append(record);
    results.set(record.id, record);
    removeRunFolder(dir);
    ran++;
    opts.hooks?.onRunDone?.(record, { done: doneRuns(), total: totalRuns() });
    await opts.hooks?.afterRun?.(records);
    return 'ok';
  };

  const trialsOf = (cell: Cell): RunSpec[] =>
    trialSettings(protocol, cell).map((setting, i) => ({ id: trialId(cell, i), cell, phase: 'trial', index: i, seed: TRIAL_SEED_OFFSET + i, setting }));
  const finalOf = (cell: Cell, s: number): RunSpec | null => {
    const tuned = trialSettings(protocol, cell).length > 0;
    const chosen = tuned ? chosenTrial(protocol, cell, results) : null;
    if (tuned && chosen === null) return null;
    return { id: finalId(cell, s), cell, phase: 'final', index: s, seed: s, setting: chosen ? chosen.setting : protocol.fixedSetting(cell) };
  };

  let stoppedBy: RunnerSummary['stoppedBy'] = 'complete';
  const run = async (spec: RunSpec | null): Promise<boolean> => {
    if (spec === null) return true;
    const status = await execute(spec);
    if (status === 'ok') return true;
    stoppedBy = status;
    return false;
  };
  outer: if (protocol.order === 'cell') {
    for (const cell of protocol.cells) {
      for (const spec of trialsOf(cell)) if (!(await run(spec))) break outer;
      for (let s = 0; s < protocol.seeds; s++) if (!(await run(finalOf(cell, s)))) break outer;
    }
  } else {
    for (const cell of protocol.cells) for (const spec of trialsOf(cell)) if (!(await run(spec))) break outer;
    for (let s = 0; s < protocol.seeds; s++) for (const cell of protocol.cells) if (!(await run(finalOf(cell, s)))) break outer;
  }
  return { ran, done: doneRuns(), total: totalRuns(), stoppedBy, records };
}

export { describeSetting };
