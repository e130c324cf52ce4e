import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../src/node/checkpoint.js';
import type { CompareResults } from '../src/report/results.js';
import { countMarkItems, parseXml } from './cli-helpers.js';

/**
 * The command line run as a subprocess on tiny settings. The sources are compiled once into a private
 * folder (so a concurrent `npm run build` elsewhere cannot interfere) and run with node.
 */
const repo = resolve(__dirname, '..');
const work = join(repo, '.tmp', `cli-test-${process.pid}`);
const main = join(work, 'dist', 'cli', 'main.js');

beforeAll(() => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'dselect-k-cli-test', version: '0.0.0-test', type: 'module' }));
  const tsc = spawnSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.build.json'), '--outDir', join(work, 'dist'), '--sourceMap', 'false', '--declaration', 'false'], { encoding: 'utf8' });
  if (!existsSync(main)) throw new Error(`compiling the CLI failed:\n${tsc.stdout}\n${tsc.stderr}`);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function cli(args: readonly string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', cwd: work, env: { ...process.env, ...env }, timeout: 110_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A user mistake: non-zero exit, exactly one line on stderr, no stack trace. */
function expectUserError(r: Run, pattern: RegExp): void {
  expect(r.status, r.stdout + r.stderr).not.toBe(0);
  expect(r.status).not.toBeNull();
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^dselect-k: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const TINY = ['--tasks', '4', '--groups', '2', '--input-dim', '6', '--train-size', '96', '--val-size', '24', '--test-size', '32', '--experts', '4', '--k', '2', '--expert-hidden', '6', '--expert-output', '4', '--tower-hidden', '4', '--batch-size', '32', '-q'];

const overallMetric = (run: { taskMetrics: number[] }): number => run.taskMetrics.reduce((x, y) => x + y, 0) / run.taskMetrics.length;

/**
 * Welch's t-test written out independently of src/report/stats.ts: t and the Welch–Satterthwaite df
 * from the sample variances, and the two-sided p from Student's t by numeric integration. With
 * x = √ν·tan θ the density's kernel becomes cos^(ν−1) θ, so p = ∫ from atan(|t|/√ν) to π/2 over ∫ from
 * 0 to π/2; θ = π/2 − w² makes the integrand sin(w²)^(ν−1)·2w, smooth enough at w = 0 for Simpson's rule.
 */
function welchFromScratch(a: number[], b: number[]): { t: number; df: number; p: number; meanDifference: number } {
  const stats = (v: number[]) => {
    const m = v.reduce((x, y) => x + y, 0) / v.length;
    return { m, se2: v.reduce((x, y) => x + (y - m) ** 2, 0) / (v.length - 1) / v.length, n: v.length };
  };
  const sa = stats(a);
  const sb = stats(b);
  const t = (sa.m - sb.m) / Math.sqrt(sa.se2 + sb.se2);
  const df = (sa.se2 + sb.se2) ** 2 / (sa.se2 ** 2 / (sa.n - 1) + sb.se2 ** 2 / (sb.n - 1));
  const simpson = (f: (x: number) => number, hi: number, steps = 20_000): number => {
    const h = hi / steps;
    let acc = f(0) + f(hi);
    for (let i = 1; i < steps; i++) acc += (i % 2 === 1 ? 4 : 2) * f(i * h);
    return (acc * h) / 3;
  };
  const kernel = (w: number): number => Math.sin(w * w) ** (df - 1) * 2 * w;
  const tail = (theta: number): number => simpson(kernel, Math.sqrt(Math.PI / 2 - theta));
  const p = tail(Math.atan(Math.abs(t) / Math.sqrt(df))) / tail(0);
  return { t, df, p, meanDifference: sa.m - sb.m };
}

function modelBytes(dir: string): Record<string, number[]> {
  const c = readCheckpoint(dir);
  const out: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(c.model)) out[`model/${name}`] = Array.from(new Uint8Array(t.toArray().buffer));
  for (const [name, t] of Object.entries(c.optimizer!.slots)) out[`optim/${name}`] = Array.from(new Uint8Array(t.toArray().buffer));
  out['steps'] = c.optimizer!.steps;
  return out;
}

describe('dselect-k --help', () => {
  it.each([
    [[], 'Usage: dselect-k [options] [command]'],
    [['train'], 'Usage: dselect-k train [options]'],
    [['compare'], 'Usage: dselect-k compare [options]'],
    [['gradcheck'], 'Usage: dselect-k gradcheck [options]'],
  ])('%j --help', (args, usage) => {
    const r = cli([...args, '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(usage);
    expect(r.stderr).toBe('');
  });

  it('documents the important options', () => {
    const train = cli(['train', '--help']).stdout;
    for (const flag of ['--gate <kind>', '--experts', '--k', '--gamma', '--entropy-weight', '--entropy-schedule', '--per-example', '--static', '--epochs', '--batch-size', '--lr', '--seed', '--backend', '--tasks', '--out', '--resume', '--quiet']) {
      expect(train).toContain(flag);
    }
    const compare = cli(['compare', '--help']).stdout;
    expect(compare).toContain('--seeds');
    expect(compare).toContain('dselect-k-static,dselect-k-per-example,topk,noisy-topk,softmax');
  });
});

describe('bad input', () => {
  it.each([
    [['train', '--bogus'], /unknown option '--bogus'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['train', '--epoch', '3'], /unknown option '--epoch' \(Did you mean --epochs\?\)/],
    [['train', '--experts', 'abc'], /--experts <n>.*'abc' is invalid.*expected an integer/],
    [['train', '--lr', '-1'], /--lr <rate>.*must be > 0/],
    [['train', '--gate', 'magic'], /--gate <kind>.*'magic' is invalid.*dselect-k, softmax, topk, noisy-topk/],
    [['train', '--k', '9', '--experts', '4'], /--k must be in \[1, --experts = 4\] for the dselect-k gate, got 9/],
    [['train', '--entropy-schedule', 'sometimes'], /--entropy-schedule: .*cannot parse 'sometimes'/],
    [['train', '--gate', 'topk', '--static'], /the topk gate is per-example only/],
    [['train', '--dataset', 'imagenet'], /unknown dataset 'imagenet' \(available: synthetic/],
    [['train', '--tasks', '3', '--groups', '5'], /numGroups \(5\) exceeds numTasks \(3\)/],
    [['compare', '--gates', 'topk,lasso'], /unknown value 'lasso'/],
    [['gradcheck', '--filter', 'no-such-case-anywhere'], /no case matches --filter 'no-such-case-anywhere'/],
  ])('%j', (args, pattern) => {
    expectUserError(cli(args), pattern);
  });

  it('a missing or corrupt checkpoint', () => {
    expectUserError(cli(['train', '--resume', join(work, 'nowhere')]), /--resume: no checkpoint at .*nowhere\/checkpoint\.dsk/);
    const dir = join(work, 'garbage');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'checkpoint.dsk'), 'DSKCKPT\n\x04\x00\x00\x00{bad');
    expectUserError(cli(['train', '--resume', dir]), /--resume: corrupt checkpoint .*checkpoint\.dsk: checksum mismatch/);
  });
});

describe('dselect-k train', () => {
  it('trains, prints per-task metrics and writes a checkpoint and metrics.json', () => {
    const out = join(work, 'train-basic');
    const r = cli(['train', ...TINY, '--epochs', '2', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/task0\s+0\s+\d\.\d{4}/);
    expect(r.stdout).toMatch(/mean test MSE over 4 task\(s\): \d\.\d{4}/);
    expect(readdirSync(out).sort()).toEqual(['checkpoint.dsk', 'metrics.json']);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { history: unknown[]; test: { taskMetrics: number[]; gateWeights: number[][] } };
    expect(metrics.history).toHaveLength(2);
    expect(metrics.test.taskMetrics).toHaveLength(4);
    expect(metrics.test.gateWeights[0]).toHaveLength(4);
    const meta = readCheckpoint(out).meta as { epoch: number; config: { model: { gate: string } } };
    expect(meta.epoch).toBe(2);
    expect(meta.config.model.gate).toBe('dselect-k');
  });

  it.each([['dselect-k', '--per-example'], ['noisy-topk', '--per-example']])('--resume continues exactly: 2 epochs = 1 + resume 1 (%s)', (gate, mode) => {
    const straight = join(work, `straight-${gate}`);
    const split = join(work, `split-${gate}`);
    const args = [...TINY, '--gate', gate, mode, '--seed', '3'];
    expect(cli(['train', ...args, '--epochs', '2', '--out', straight]).status).toBe(0);
    expect(cli(['train', ...args, '--epochs', '1', '--out', split]).status).toBe(0);
    const resumed = cli(['train', '--resume', split, '--epochs', '2', '-q']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect((readCheckpoint(split).meta as { epoch: number }).epoch).toBe(2);
    expect(modelBytes(split)).toEqual(modelBytes(straight));
  });

  it('refuses flags that would change a resumed run, and a finished one', () => {
    const dir = join(work, 'train-basic');
    expectUserError(cli(['train', '--resume', dir, '--epochs', '3', '--experts', '8']), /--experts 8 differs from the run saved in .* \(4\)/);
    expectUserError(cli(['train', '--resume', dir]), /has already trained 2 epoch\(s\); pass --epochs N with N > 2/);
  });

  it('never leaves a partial checkpoint: a crash while writing keeps the previous one, and resuming from it is exact', () => {
    const crashed = join(work, 'crashed');
    const straight = join(work, 'straight-3');
    const r = cli(['train', ...TINY, '--epochs', '3', '--out', crashed], { DSELECT_K_TEST_CRASH_IN_CHECKPOINT: '2' });
    expect(r.signal).toBe('SIGKILL');
    // the epoch-1 checkpoint is intact; the half-written epoch-2 data is only in a temporary file
    expect((readCheckpoint(crashed).meta as { epoch: number }).epoch).toBe(1);
    expect(readdirSync(crashed).filter((f) => f.endsWith('.tmp'))).toHaveLength(1);
    const resumed = cli(['train', '--resume', crashed, '--epochs', '3', '-q']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(readdirSync(crashed).sort()).toEqual(['checkpoint.dsk', 'metrics.json']);
    expect(cli(['train', ...TINY, '--epochs', '3', '--out', straight]).status).toBe(0);
    expect(modelBytes(crashed)).toEqual(modelBytes(straight));
  });
});

describe('dselect-k compare', () => {
  it('compares every gate over seeds and writes a readable report folder', () => {
    const out = join(work, 'report');
    const r = cli(['compare', ...TINY.filter((a) => a !== '-q'), '--epochs', '2', '--seeds', '2', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    for (const label of ['DSelect-k (static)', 'DSelect-k (per-example)', 'Top-k', 'Noisy Top-k', 'Softmax (MMoE)']) expect(r.stdout).toContain(label);
    expect(r.stdout).toMatch(/p vs Top-k/);
    expect(r.stdout).toMatch(/\[10\/10\] Softmax \(MMoE\), seed 1/);
    expect(readdirSync(out).sort()).toEqual([
      'heatmap-dselect-k-per-example.svg',
      'heatmap-dselect-k-static.svg',
      'heatmap-noisy-topk.svg',
      'heatmap-softmax.svg',
      'heatmap-topk.svg',
      'loss-curves.svg',
      'report.md',
      'results.json',
    ]);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as CompareResults;
    expect(results.variants).toHaveLength(5);
    for (const v of results.variants) {
      expect(v.runs).toHaveLength(2);
      expect(v.runs[0]!.history).toHaveLength(2);
      expect(v.perTask).toHaveLength(4);
      expect(v.selection.n).toBe(2);
    }
    // The significance result is Welch's test of this variant's per-seed metrics against the baseline's,
    // recomputed here from scratch from the runs in results.json.
    expect(results.baseline).toBe('topk');
    const baseline = results.variants.find((v) => v.id === results.baseline)!;
    expect(baseline.versusBaseline).toBeNull();
    for (const v of results.variants.filter((x) => x.id !== results.baseline)) {
      const expected = welchFromScratch(v.runs.map(overallMetric), baseline.runs.map(overallMetric));
      const got = v.versusBaseline!.overall!;
      expect(got.meanDifference, v.id).toBeCloseTo(expected.meanDifference, 12);
      expect(got.t, v.id).toBeCloseTo(expected.t, 9);
      expect(got.df, v.id).toBeCloseTo(expected.df, 9);
      expect(Math.abs(got.p - expected.p), `${v.id}: p ${got.p} vs ${expected.p}`).toBeLessThanOrEqual(1e-6 * expected.p + 1e-12);
    }
    // Top-k uses exactly k experts per example; the dense softmax gate all of them
    expect(results.variants.find((v) => v.id === 'topk')!.activeExperts.mean).toBe(2);
    const softmax = results.variants.find((v) => v.id === 'softmax')!;
    expect(softmax.activeExperts.mean).toBe(4);
    const loss = readFileSync(join(out, 'loss-curves.svg'), 'utf8');
    parseXml(loss);
    expect(countMarkItems(loss, 'curve-line')).toBe(10);
    const heat = readFileSync(join(out, 'heatmap-dselect-k-static.svg'), 'utf8');
    parseXml(heat);
    expect(countMarkItems(heat, 'heat-cells')).toBe(4 * 4);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('## Significance against Top-k');
  });
});

describe('dselect-k gradcheck', () => {
  it('runs selected cases and prints a pass/fail table', () => {
    const list = cli(['gradcheck', '--list']);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^engine\s/m);
    expect(list.stdout).toMatch(/^dselect-k\s/m);
    expect(list.stdout).toMatch(/^models\s/m);
    const r = cli(['gradcheck', '--filter', 'smoothStep', '-q']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/suite\s+case\s+elements/);
    expect(r.stdout).toMatch(/\d+ passed, 0 failed/);
  });

  it('exits 1 and names the case when a gradient is wrong', () => {
    const r = cli(['gradcheck', '--filter', 'self-test', '-q'], { DSELECT_K_TEST_BROKEN_GRADCHECK: '1' });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/FAIL self-test\/deliberately wrong gradient: input 0/);
    expect(r.stdout).toMatch(/0 passed, 1 failed/);
  });
});
