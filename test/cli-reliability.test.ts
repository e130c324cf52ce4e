import { hostname } from 'node:os';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../src/node/checkpoint.js';
import { compileCli, deadPid, runCli, startCli, type CliBuild, type Finished } from './cli-process.js';

/**
 * The command line under real signals and real concurrent processes: Ctrl-C / SIGTERM stop at a batch
 * boundary with a checkpoint that resumes exactly (train) or leave the previous report as it was
 * (compare, balance, damex), a second Ctrl-C exits at once, one run per output folder, and the command-line defects
 * of issue 11 (4, 12, 13, 15, 18, 19).
 */
let cli: CliBuild;
beforeAll(() => {
  cli = compileCli('cli-reliability');
});
afterAll(() => cli.remove());

const TINY = ['--tasks', '4', '--groups', '2', '--input-dim', '6', '--train-size', '960', '--val-size', '24', '--test-size', '32', '--experts', '4', '--k', '2', '--expert-hidden', '6', '--expert-output', '4', '--tower-hidden', '4', '--batch-size', '32'];
/** Each batch then takes at least this long (a sleep, no CPU), so a signal lands mid-epoch. */
const SLOW = { DSELECT_K_TEST_BATCH_DELAY_MS: '15' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function expectUsageError(r: Finished, pattern: RegExp): void {
  expect(r.status, r.stdout + r.stderr).toBe(2);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

function state(dir: string): Record<string, number[]> {
  const c = readCheckpoint(dir);
  const out: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(c.model)) out[`model/${name}`] = Array.from(t.toArray());
  for (const [name, t] of Object.entries(c.optimizer!.slots)) out[`optim/${name}`] = Array.from(t.toArray());
  out['steps'] = c.optimizer!.steps;
  return out;
}

/** metrics.json without wall-clock seconds. */
function metrics(dir: string): unknown {
  const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as { history: { seconds?: number }[] };
  return { ...m, history: m.history.map(({ seconds, ...rest }) => (void seconds, rest)) };
}

const lockOf = (dir: string) => join(dirname(dir), `.${dir.split('/').pop()}.lock`);

describe('Ctrl-C and SIGTERM during train', () => {
  it('SIGINT mid-epoch: a checkpoint at the batch boundary, exit 130, and --resume ends bit for bit where an uninterrupted run ends', async () => {
    const straight = join(cli.work, 'sig-straight');
    const stopped = join(cli.work, 'sig-stopped');
    expect(runCli(cli, ['train', ...TINY, '--gate', 'noisy-top-k', '--epochs', '3', '--out', straight, '-q']).status).toBe(0);

    const run = startCli(cli, ['train', ...TINY, '--gate', 'noisy-top-k', '--epochs', '3', '--out', stopped], SLOW);
    await run.waitFor(/^epoch 1\/3 /m);
    await sleep(150);
    run.child.kill('SIGINT');
    const r = await run.finished;
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/SIGINT received: stopping at the next batch boundary to save a checkpoint \(press Ctrl-C again to abort at once\)/);
    const where = /interrupted at epoch 2\/3, batch (\d+)\/30; checkpoint: .*sig-stopped\/checkpoint\.dsk/.exec(r.stderr);
    expect(where, r.stderr).not.toBeNull();
    expect(Number(where![1])).toBeGreaterThan(0);
    expect(r.stderr).toContain(`resume exactly with: dselect-k train --resume ${stopped}`);
    expect(readdirSync(stopped)).toEqual(['checkpoint.dsk']);
    expect(existsSync(lockOf(stopped))).toBe(false);
    const meta = readCheckpoint(stopped).meta as { epoch: number; extra: { position: { epoch: number; batch: number } } };
    expect(meta.epoch).toBe(1);
    expect(meta.extra.position).toMatchObject({ epoch: 1, batch: Number(where![1]) });

    const resumed = runCli(cli, ['train', '--resume', stopped, '-q']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(state(stopped)).toEqual(state(straight));
    expect(metrics(stopped)).toEqual(metrics(straight));
  });

  it('SIGTERM stops the same way and exits 143', async () => {
    const dir = join(cli.work, 'sigterm');
    const run = startCli(cli, ['train', ...TINY, '--epochs', '2', '--out', dir], SLOW);
    await run.waitFor(/^dselect-k train: /m);
    await sleep(200);
    run.child.kill('SIGTERM');
    const r = await run.finished;
    expect(r.status, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/SIGTERM received: stopping at the next batch boundary/);
    expect(r.stderr).toMatch(/interrupted at epoch 1\/2, batch \d+\/30; checkpoint: /);
    expect((readCheckpoint(dir).meta as { epoch: number }).epoch).toBe(0);
  });

  it('a second Ctrl-C aborts at once: no new checkpoint, the lock removed', async () => {
    const dir = join(cli.work, 'sig-twice');
    const run = startCli(cli, ['train', ...TINY, '--epochs', '2', '--out', dir], { DSELECT_K_TEST_BATCH_DELAY_MS: '1000' });
    await run.waitFor(/^dselect-k train: /m);
    // Both arrive while a (1 s) batch runs: the first asks to stop at its end, the second exits.
    await sleep(100);
    run.child.kill('SIGINT');
    await sleep(50);
    run.child.kill('SIGINT');
    const r = await run.finished;
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/SIGINT received: stopping at the next batch boundary.*\n.*SIGINT received again: aborting now/);
    expect(r.stderr).not.toContain('interrupted at');
    expect(existsSync(join(dir, 'checkpoint.dsk'))).toBe(false);
    expect(existsSync(lockOf(dir))).toBe(false);
  });
});

describe('Ctrl-C during compare', () => {
  const COMPARE = [...TINY, '--gates', 'top-k-per-example,softmax-per-example', '--seeds', '1', '--epochs', '2'];
  const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));

  it('leaves the previous report exactly as it was, and a finished run replaces it as a whole', async () => {
    const dir = join(cli.work, 'reports', 'compare');
    expect(runCli(cli, ['compare', ...COMPARE, '--epochs', '1', '--out', dir, '-q']).status).toBe(0);
    writeFileSync(join(dir, 'heatmap-from-an-older-run.svg'), '<svg/>');
    const before = snapshot(dir);

    const run = startCli(cli, ['compare', ...COMPARE, '--out', dir], SLOW);
    await run.waitFor(/^dselect-k compare: /m);
    await sleep(300);
    run.child.kill('SIGINT');
    const r = await run.finished;
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/compare: interrupted during top-k-per-example s0 \(run 1 of 2\), epoch \d, batch \d+; no report written, .*reports\/compare is as it was/);
    expect(snapshot(dir)).toEqual(before);
    expect(readdirSync(dirname(dir))).toEqual(['compare']);

    // A finished comparison swaps in a complete new folder: nothing of the old report survives.
    expect(runCli(cli, ['compare', ...COMPARE, '--out', dir, '-q']).status).toBe(0);
    expect(readdirSync(dir)).not.toContain('heatmap-from-an-older-run.svg');
    expect(readdirSync(dir)).toContain('report.md');
    expect(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')).settings.epochs).toBe(2);
    expect(readdirSync(dirname(dir))).toEqual(['compare']);
  });

  it('refuses to replace a folder that is not a compare report', () => {
    const dir = join(cli.work, 'not-a-report');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'thesis.tex'), 'precious');
    expectUsageError(runCli(cli, ['compare', ...COMPARE, '--out', dir]), /--out .*not-a-report is not empty and holds no previous compare report/);
    expect(readFileSync(join(dir, 'thesis.tex'), 'utf8')).toBe('precious');
  });
});

describe('Ctrl-C and locks during balance and damex', () => {
  // CNN runs on real Fashion-MNIST (and MNIST digits for damex), kept tiny: 32-image batches.
  const BALANCE = ['balance', '--experts', '2', '--test-size', '16', '--batch-size', '32', '--epochs', '1'];
  const DAMEX = ['damex', '--test-size', '8', '--batch-size', '32', '--epochs', '1'];
  const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));

  it('balance: SIGINT leaves the previous report exactly as it was (exit 130); a finished run replaces it as a whole', async () => {
    const dir = join(cli.work, 'reports-balance', 'balance');
    expect(runCli(cli, [...BALANCE, '--train-size', '64', '--balance', 'none', '--out', dir, '-q']).status).toBe(0);
    writeFileSync(join(dir, 'routing-from-an-older-run.svg'), '<svg/>');
    const before = snapshot(dir);

    // 10 batches per constraint, each at least 50 ms: the signal lands in the first run
    const run = startCli(cli, [...BALANCE, '--train-size', '320', '--balance', 'none,soft', '--out', dir], { DSELECT_K_TEST_BATCH_DELAY_MS: '50' });
    await run.waitFor(/^dselect-k balance: /m);
    await sleep(200);
    run.child.kill('SIGINT');
    const r = await run.finished;
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/SIGINT received: stopping at the next batch boundary; the report in .*reports-balance\/balance will stay as it was \(press Ctrl-C again to abort at once\)/);
    expect(r.stderr).toMatch(/balance: interrupted during none \(run 1 of 2\), epoch 1, batch \d+; no report written, .*reports-balance\/balance is as it was/);
    expect(r.stdout).not.toMatch(/^report: /m);
    expect(snapshot(dir)).toEqual(before);
    // no staging folder and no lock left beside it
    expect(readdirSync(dirname(dir))).toEqual(['balance']);

    expect(runCli(cli, [...BALANCE, '--train-size', '64', '--balance', 'soft', '--out', dir, '-q']).status).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['results.json', 'routing-soft.svg', 'utilization.svg']);
    expect(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')).settings.balance).toEqual(['soft']);
    expect(readdirSync(dirname(dir))).toEqual(['balance']);
  });

  it('balance refuses to replace a folder that is not a balance report', () => {
    const dir = join(cli.work, 'not-a-balance-report');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'results.json'), JSON.stringify({ tool: 'dselect-k compare' }));
    expectUsageError(runCli(cli, [...BALANCE, '--train-size', '64', '--out', dir]), /--out .*not-a-balance-report is not empty and holds no previous balance report/);
    expect(readdirSync(dir)).toEqual(['results.json']);
  });

  it('damex: a second run on the same --out is refused while the first runs; SIGTERM then stops the first (143), writing nothing', async () => {
    const dir = join(cli.work, 'damex-locked');
    const first = startCli(cli, [...DAMEX, '--train-size', '160', '--out', dir], { DSELECT_K_TEST_BATCH_DELAY_MS: '50' });
    await first.waitFor(/^dselect-k damex: /m);
    expect(existsSync(lockOf(dir))).toBe(true);
    const second = runCli(cli, [...DAMEX, '--train-size', '16', '--out', dir, '-q']);
    expectUsageError(second, new RegExp(`--out: .*damex-locked is in use by pid ${first.child.pid} on ${hostname()} \\(dselect-k damex .*\\); wait for it to finish or choose another output folder`));
    first.child.kill('SIGTERM');
    const r = await first.finished;
    expect(r.status, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/SIGTERM received: stopping at the next batch boundary/);
    expect(r.stderr).toMatch(/damex: interrupted during (damex \(run 1|top1-balanced \(run 2) of 2\), epoch 1, batch \d+; no report written/);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(lockOf(dir))).toBe(false);
  });

  it('damex: a second Ctrl-C aborts at once, the lock removed', async () => {
    const dir = join(cli.work, 'damex-twice');
    const run = startCli(cli, [...DAMEX, '--train-size', '64', '--out', dir], { DSELECT_K_TEST_BATCH_DELAY_MS: '1000' });
    await run.waitFor(/^dselect-k damex: /m);
    // Both arrive while a (1 s) batch runs: the first asks to stop at its end, the second exits.
    await sleep(100);
    run.child.kill('SIGINT');
    await sleep(50);
    run.child.kill('SIGINT');
    const r = await run.finished;
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/SIGINT received: stopping at the next batch boundary.*\n.*SIGINT received again: aborting now/);
    expect(r.stderr).not.toContain('interrupted during');
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(lockOf(dir))).toBe(false);
  });

  it('balance takes over the stale lock of a process that is gone, with a notice', () => {
    const dir = join(cli.work, 'balance-stale');
    const pid = deadPid();
    writeFileSync(lockOf(dir), JSON.stringify({ pid, host: hostname(), command: 'dselect-k balance (killed)', started: '2020-01-01T00:00:00.000Z' }));
    const r = runCli(cli, [...BALANCE, '--train-size', '32', '--balance', 'none', '--out', dir, '-q']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`dselect-k: taking over the stale lock of ${dir}: pid ${pid} on ${hostname()} (dselect-k balance (killed), since 2020-01-01T00:00:00.000Z) is no longer running`);
    expect(existsSync(lockOf(dir))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['results.json', 'routing-none.svg', 'utilization.svg']);
  });
});

describe('one run per output folder (defect 12)', () => {
  it('refuses a second run on the same --out while the first runs; the first finishes untouched', async () => {
    const dir = join(cli.work, 'locked');
    const first = startCli(cli, ['train', ...TINY, '--epochs', '1', '--out', dir, '-q'], SLOW);
    // wait until the lock exists
    for (let i = 0; i < 200 && !existsSync(lockOf(dir)); i++) await sleep(25);
    const second = runCli(cli, ['train', ...TINY, '--epochs', '1', '--out', dir, '-q']);
    expectUsageError(second, new RegExp(`--out: .*locked is in use by pid ${first.child.pid} on ${hostname()} \\(dselect-k train .*\\); wait for it to finish or choose another output folder`));
    const r = await first.finished;
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['checkpoint.dsk', 'metrics.json']);
    expect(existsSync(lockOf(dir))).toBe(false);
  });

  it('takes over the stale lock of a process that is gone, with a notice', () => {
    const dir = join(cli.work, 'stale');
    const pid = deadPid();
    writeFileSync(lockOf(dir), JSON.stringify({ pid, host: hostname(), command: 'dselect-k train (killed)', started: '2020-01-01T00:00:00.000Z' }));
    const r = runCli(cli, ['train', ...TINY, '--train-size', '96', '--epochs', '1', '--out', dir, '-q']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`dselect-k: taking over the stale lock of ${dir}: pid ${pid} on ${hostname()} (dselect-k train (killed), since 2020-01-01T00:00:00.000Z) is no longer running`);
    expect(existsSync(lockOf(dir))).toBe(false);
  });

  it('refuses a lock from another host, which it cannot check', () => {
    const dir = join(cli.work, 'remote');
    writeFileSync(lockOf(dir), JSON.stringify({ pid: 1, host: 'elsewhere.example', command: 'dselect-k compare', started: '2020-01-01T00:00:00.000Z' }));
    expectUsageError(runCli(cli, ['train', ...TINY, '--epochs', '1', '--out', dir]), /in use by pid 1 on elsewhere\.example .* comes from another host, so it cannot be checked from here; delete the lock if that run is over/);
  });
});

describe('command-line defects of issue 11', () => {
  it('4: --out under /proc fails at once with a message instead of spinning forever', () => {
    const started = Date.now();
    const r = runCli(cli, ['train', ...TINY, '--epochs', '1', '--out', '/proc/x/run']);
    expectUsageError(r, /dselect-k: error: --out: cannot lock \/proc\/x\/run: cannot create directory \/proc\/x: mkdir \/proc\/x failed \(ENOENT\)/);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('15: --gamma 1e-300 and 1e300 are refused when parsed', () => {
    expectUsageError(runCli(cli, ['train', '--gamma', '1e-300']), /--gamma <g>' argument '1e-300' is invalid\. must be ≥ 0\.0001/);
    expectUsageError(runCli(cli, ['train', '--gamma', '1e300']), /argument '1e300' is invalid\. must be ≤ 10000/);
  });

  it('18: no subcommand prints the help on stderr and exits 2', () => {
    const r = runCli(cli, []);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Usage: dselect-k/);
    expect(r.stdout).toBe('');
    expect(runCli(cli, ['--help']).status).toBe(0);
  });

  it("19: --out '' is refused instead of writing into the current folder", () => {
    expectUsageError(runCli(cli, ['train', '--out', '']), /--out <dir>' argument '' is invalid\. expected a path, got an empty string/);
    expectUsageError(runCli(cli, ['compare', '--out', ' ']), /expected a path, got an empty string/);
    expect(readdirSync(cli.work).filter((f) => f.endsWith('.dsk') || f === 'report.md')).toEqual([]);
  });
});
