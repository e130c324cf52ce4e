import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../src/data/synthetic.js';
import { runProtocol, type Protocol } from '../src/experiments/reproduce/runner.js';
import { runResumable } from '../src/experiments/reproduce/resumable-run.js';
import { rebuildReport, runReproduce } from '../src/experiments/reproduce/session.js';
import { SYNTHETIC_QUICK, syntheticProtocol } from '../src/experiments/reproduce/synthetic.js';
import { sampleSettings } from '../src/experiments/reproduce/search.js';
import { StackedMMoE } from '../src/moe/stacked-mmoe.js';
import { appendLedger, LedgerError, readLedger } from '../src/node/ledger.js';
import { Adam } from '../src/optim/adam.js';
import type { ResultRecord } from '../src/report/reproduce-records.js';

const dir = mkdtempSync(join(tmpdir(), 'dselect-k-reproduce-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ledger (JSON lines, append-safe)', () => {
  it('appends whole lines, ignores a torn last line and cuts it off at the next append', () => {
    const file = join(dir, 'ledger-a.jsonl');
    expect(readLedger(file)).toEqual({ records: [], tornBytes: 0 });
    appendLedger(file, { a: 1 });
    appendLedger(file, { b: 'two' });
    // A writer killed in the middle of its line.
    appendFileSync(file, '{"c": 3, "trunc');
    expect(readLedger(file)).toEqual({ records: [{ a: 1 }, { b: 'two' }], tornBytes: 15 });
    appendLedger(file, { d: 4 });
    expect(readLedger(file)).toEqual({ records: [{ a: 1 }, { b: 'two' }, { d: 4 }], tornBytes: 0 });
    expect(readFileSync(file, 'utf8')).toBe('{"a":1}\n{"b":"two"}\n{"d":4}\n');
  });

  it('refuses a damaged complete line, naming the file and the line', () => {
    const file = join(dir, 'ledger-b.jsonl');
    writeFileSync(file, '{"a":1}\nnot json\n');
    expect(() => readLedger(file)).toThrow(LedgerError);
    expect(() => readLedger(file)).toThrow(/ledger-b\.jsonl: line 2 is not valid JSON/);
  });
});

describe('search', () => {
  it('draws every stratum of every dimension once (Latin hypercube), seeded', () => {
    const dims = [
      { name: 'lr', low: 1e-3, high: 1e-1 },
      { name: 'gamma', low: 0.5, high: 4 },
    ] as const;
    const a = sampleSettings(dims, 5, 42);
    expect(sampleSettings(dims, 5, 42)).toEqual(a);
    expect(sampleSettings(dims, 5, 43)).not.toEqual(a);
    const strata = (values: number[], low: number, high: number): number[] => values.map((v) => Math.floor((5 * Math.log(v / low)) / Math.log(high / low))).sort();
    expect(strata(a.map((s) => s.lr), 1e-3, 1e-1)).toEqual([0, 1, 2, 3, 4]);
    expect(strata(a.map((s) => s.gamma!), 0.5, 4)).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('a resumable run', () => {
  const data = generateSynthetic({ numTasks: 3, numGroups: 2, inputDim: 5, numTrain: 96, numVal: 32, numTest: 32, seed: 1 });
  const make = () => {
    const model = new StackedMMoE({ inputDim: 5, numTasks: 3, numExperts: 4, gate: { type: 'dselect-k', k: 2, entropyWeight: 0.1 }, expertHidden: [4], expertOutputDim: 3, seed: 7 });
    return { model, optimizer: new Adam(model, { lr: 0.02 }) };
  };
  const options = (runDir: string, m: ReturnType<typeof make>) => ({
    runId: 'r',
    dir: runDir,
    ...m,
    train: data.train,
    validation: data.val,
    losses: ['mse', 'mse', 'mse'] as const as ('mse')[],
    batchSize: 32,
    seed: 3,
    maxEpochs: 6,
    patience: 100,
  });

  it('killed after an epoch and started again, ends exactly where the uninterrupted run ends', () => {
    const whole = make();
    const a = runResumable(options(join(dir, 'whole'), whole));
    const first = make();
    expect(() =>
      runResumable({
        ...options(join(dir, 'cut'), first),
        afterCheckpoint: (epoch) => {
          if (epoch === 3) throw new Error('killed');
        },
      }),
    ).toThrow('killed');
    const second = make();
    const b = runResumable(options(join(dir, 'cut'), second));
    expect(b.resumedAt).toBe(3);
    expect(b.history.map((h) => h.valLoss)).toEqual(a.history.map((h) => h.valLoss));
    expect(b.bestEpoch).toBe(a.bestEpoch);
    for (const [name, p] of whole.model.namedParameters()) {
      expect(Array.from(second.model.namedParameters().find(([n]) => n === name)![1].toArray()), name).toEqual(Array.from(p.toArray()));
    }
  });

  it('refuses a checkpoint of another run', () => {
    expect(() => runResumable({ ...options(join(dir, 'whole'), make()), runId: 'other' })).toThrow(/belongs to another run \("r"\)/);
  });
});

describe('dselect-k reproduce synthetic --quick, as a library', () => {
  const tiny = { ...SYNTHETIC_QUICK, tasks: [4], ks: [1], regimes: ['static' as const], trials: 2, seeds: 2 };
  const results = (out: string): Map<string, ResultRecord> =>
    new Map((readLedger(join(out, 'ledger.jsonl')).records as ResultRecord[]).filter((r) => r.kind === 'result').map((r) => [r.id, r]));

  it('an interrupted session continues where it stopped and ends with the uninterrupted results', async () => {
    const whole = join(dir, 'synthetic-whole');
    const cut = join(dir, 'synthetic-cut');
    const common = { command: 'test', backend: 'cpu' };
    const full = await runProtocol(syntheticProtocol(tiny), { ...common, outDir: whole });
    expect(full.stoppedBy).toBe('complete');
    expect(full.done).toBe(full.total);
    // 3 cells (DSelect-k, Top-k, softmax) × (2 trials + 2 seeds).
    expect(full.total).toBe(12);
    const partial = await runProtocol(syntheticProtocol(tiny), { ...common, outDir: cut, maxRuns: 5 });
    expect([partial.ran, partial.stoppedBy]).toEqual([5, 'max-runs']);
    const rest = await runProtocol(syntheticProtocol(tiny), { ...common, outDir: cut });
    expect(rest.ran).toBe(7);
    const a = results(whole);
    const b = results(cut);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [id, r] of a) {
      expect(b.get(id)!.test, id).toEqual(r.test);
      expect(b.get(id)!.setting, id).toEqual(r.setting);
    }
    // Finished runs leave no checkpoint behind.
    expect(existsSync(join(cut, 'runs')) ? readdirSync(join(cut, 'runs')) : []).toEqual([]);
    const again = await runProtocol(syntheticProtocol(tiny), { ...common, outDir: cut });
    expect(again.ran).toBe(0);
  });

  it('rejects a ledger written under other settings', async () => {
    await expect(runProtocol(syntheticProtocol({ ...tiny, maxEpochs: 4 }), { command: 't', backend: 'cpu', outDir: join(dir, 'synthetic-whole') })).rejects.toThrow(
      /written under a different protocol: maxEpochs = 3 \(now 4\)/,
    );
  });

  it('rebuilds the same report from the ledger alone', async () => {
    const out = join(dir, 'synthetic-report');
    const protocol: Protocol = syntheticProtocol({ ...tiny, tasks: [4, 6] });
    const opts = { outDir: out, command: 'test', continueCommand: 'c', reportCommand: 'r', backend: 'cpu' };
    const run = await runReproduce(protocol, opts);
    const first = readFileSync(join(out, 'report.md'), 'utf8');
    rmSync(join(out, 'report.md'));
    const rebuilt = await rebuildReport(protocol, opts);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toBe(first);
    expect(rebuilt.summary.cells.map((c) => c.finals.length)).toEqual(run.summary.cells.map(() => 2));
    expect(first).toContain('## Protocol (fixed before the runs)');
    expect(first).toMatch(/\| DSelect-k \(k = 1\) \| 2 \| /);
    expect(readdirSync(out)).toEqual(expect.arrayContaining(['ledger.jsonl', 'report.md', 'summary.json', 'test-mse-over-tasks.svg', 'selection-nmi-over-tasks.svg', '.gitignore']));
    expect(readFileSync(join(out, '.gitignore'), 'utf8')).toMatch(/^runs\/$/m);
  });
});
