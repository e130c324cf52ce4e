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
    [['reproduce'], 'Usage: dselect-k reproduce [options] [command]'],
    [['reproduce', 'synthetic'], 'Usage: dselect-k reproduce synthetic [options]'],
    [['reproduce', 'multi-fashion'], 'Usage: dselect-k reproduce multi-fashion [options]'],
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
    expect(compare).toContain('dselect-k-static,top-k-static,softmax-static,dselect-k-per-example,top-k-per-example,noisy-top-k,softmax-per-example');
    const reproduce = cli(['reproduce', 'synthetic', '--help']).stdout;
    for (const flag of ['--quick', '--out', '--tasks', '--k', '--regimes', '--trials', '--seeds', '--max-epochs', '--patience', '--time-limit', '--max-runs', '--report-only']) expect(reproduce).toContain(flag);
  });
});

describe('bad input', () => {
  it.each([
    [['train', '--bogus'], /unknown option '--bogus'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['train', '--epoch', '3'], /unknown option '--epoch' \(Did you mean --epochs\?\)/],
    [['train', '--experts', 'abc'], /--experts <n>.*'abc' is invalid.*expected an integer/],
    [['train', '--lr', '-1'], /--lr <rate>.*must be > 0/],
    [['train', '--gate', 'magic'], /--gate <kind>.*'magic' is invalid.*dselect-k, softmax, top-k, noisy-top-k/],
    [['train', '--k', '9', '--experts', '4'], /--k must be in \[1, --experts = 4\] for the dselect-k gate, got 9/],
    [['train', '--entropy-schedule', 'sometimes'], /--entropy-schedule: .*cannot parse 'sometimes'/],
    [['train', '--gate', 'noisy-top-k', '--static'], /the noisy-top-k gate is per-example only/],
    [['train', '--dataset', 'imagenet'], /unknown dataset 'imagenet' \(available: synthetic/],
    [['train', '--tasks', '3', '--groups', '5'], /numGroups \(5\) exceeds numTasks \(3\)/],
    [['compare', '--gates', 'top-k-static,lasso'], /unknown value 'lasso'/],
    [['reproduce', 'synthetic', '--quick', '--k', '9'], /--k 9 exceeds the protocol's 4 experts/],
    [['reproduce', 'synthetic', '--regimes', 'dynamic'], /unknown value 'dynamic'/],
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

  it('names gates as the library does, and still accepts the old spellings with a deprecation notice', () => {
    const out = join(work, 'train-static-top-k');
    const r = cli(['train', ...TINY.filter((a) => a !== '-q'), '--gate', 'top-k', '--static', '--epochs', '1', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/gate top-k \(static, k = 2\)/);
    const config = (readCheckpoint(out).meta as { config: { model: { gate: string; perExample: boolean } } }).config.model;
    expect([config.gate, config.perExample]).toEqual(['top-k', false]);
    const old = cli(['train', ...TINY.filter((a) => a !== '-q'), '--gate', 'topk', '--epochs', '1', '--out', join(work, 'train-old-name')]);
    expect(old.status, old.stderr).toBe(0);
    expect(old.stderr).toBe('dselect-k: warning: --gate topk is deprecated; use --gate top-k\n');
    expect(old.stdout).toMatch(/gate top-k \(per-example, k = 2\)/);
    const compare = cli(['compare', ...TINY, '--epochs', '1', '--seeds', '1', '--gates', 'noisy-topk', '--out', join(work, 'compare-old-name')]);
    expect(compare.status, compare.stderr).toBe(0);
    expect(compare.stderr).toBe("dselect-k: warning: 'noisy-topk' in --gates is deprecated; use 'noisy-top-k'\n");
  });

  it.each([['dselect-k', '--per-example'], ['noisy-top-k', '--per-example']])('--resume continues exactly: 2 epochs = 1 + resume 1 (%s)', (gate, mode) => {
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
  it('compares every gate in both regimes over seeds and writes a readable report folder', () => {
    const out = join(work, 'report');
    const r = cli(['compare', ...TINY.filter((a) => a !== '-q'), '--epochs', '2', '--seeds', '2', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const labels = ['DSelect-k (static)', 'Top-k (static)', 'Softmax (static)', 'DSelect-k (per-example)', 'Top-k (per-example)', 'Noisy Top-k (per-example)', 'Softmax (per-example, MMoE)'];
    for (const label of labels) expect(r.stdout).toContain(label);
    expect(r.stdout).toMatch(/p vs Top-k \(same regime\)/);
    expect(r.stdout).toMatch(/\[14\/14\] Softmax \(per-example, MMoE\), seed 1/);
    expect(readdirSync(out).sort()).toEqual([
      'heatmap-dselect-k-per-example.svg',
      'heatmap-dselect-k-static.svg',
      'heatmap-noisy-top-k.svg',
      'heatmap-softmax-per-example.svg',
      'heatmap-softmax-static.svg',
      'heatmap-top-k-per-example.svg',
      'heatmap-top-k-static.svg',
      'loss-curves.svg',
      'report.md',
      'results.json',
    ]);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as CompareResults;
    expect(results.variants.map((v) => [v.id, v.regime])).toEqual([
      ['dselect-k-static', 'static'],
      ['top-k-static', 'static'],
      ['softmax-static', 'static'],
      ['dselect-k-per-example', 'per-example'],
      ['top-k-per-example', 'per-example'],
      ['noisy-top-k', 'per-example'],
      ['softmax-per-example', 'per-example'],
    ]);
    for (const v of results.variants) {
      expect(v.runs).toHaveLength(2);
      expect(v.runs[0]!.history).toHaveLength(2);
      expect(v.perTask).toHaveLength(4);
      expect(v.perTaskCi).toHaveLength(4);
      expect(v.selection.n).toBe(2);
    }
    // Each gate is tested against Top-k of its own regime.
    const baselineOf = (id: string): string | null => results.variants.find((v) => v.id === id)!.versusBaseline?.baseline ?? null;
    expect(['dselect-k-static', 'softmax-static', 'dselect-k-per-example', 'noisy-top-k', 'softmax-per-example', 'top-k-static'].map(baselineOf)).toEqual([
      'top-k-static',
      'top-k-static',
      'top-k-per-example',
      'top-k-per-example',
      'top-k-per-example',
      null,
    ]);
    expect(results.baselines).toEqual({ static: 'top-k-static', 'per-example': 'top-k-per-example' });
    // The significance result is Welch's test of this variant's per-seed metrics against its baseline's,
    // recomputed here from scratch from the runs in results.json.
    for (const v of results.variants.filter((x) => x.versusBaseline !== null)) {
      const baseline = results.variants.find((x) => x.id === v.versusBaseline!.baseline)!;
      expect(baseline.versusBaseline).toBeNull();
      const expected = welchFromScratch(v.runs.map(overallMetric), baseline.runs.map(overallMetric));
      const got = v.versusBaseline!.overall.welch!;
      expect(got.meanDifference, v.id).toBeCloseTo(expected.meanDifference, 12);
      expect(got.t, v.id).toBeCloseTo(expected.t, 9);
      expect(got.df, v.id).toBeCloseTo(expected.df, 9);
      expect(Math.abs(got.p - expected.p), `${v.id}: p ${got.p} vs ${expected.p}`).toBeLessThanOrEqual(1e-6 * expected.p + 1e-12);
    }
    // Top-k uses exactly k experts per example; the dense softmax gate all of them
    expect(results.variants.find((v) => v.id === 'top-k-per-example')!.activeExperts.mean).toBe(2);
    expect(results.variants.find((v) => v.id === 'top-k-static')!.activeExperts.mean).toBe(2);
    expect(results.variants.find((v) => v.id === 'softmax-per-example')!.activeExperts.mean).toBe(4);
    expect(results.provenance!.nodeVersion).toBe(process.version);
    expect(results.provenance!.machine.cores).toBeGreaterThan(0);
    const loss = readFileSync(join(out, 'loss-curves.svg'), 'utf8');
    parseXml(loss);
    expect(countMarkItems(loss, 'curve-line')).toBe(14);
    const heat = readFileSync(join(out, 'heatmap-dselect-k-static.svg'), 'utf8');
    parseXml(heat);
    expect(countMarkItems(heat, 'heat-cells')).toBe(4 * 4);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('## Significance against Top-k of the same regime');
    expect(md).toMatch(/\*\*Provenance\*\*: dselect-k 0\.0\.0-test, Node v\d+/);
  });
});

describe('dselect-k reproduce', () => {
  it('synthetic --quick: runs the protocol into a ledger, continues it, and rebuilds the report from it', () => {
    const out = join(work, 'reproduce-synthetic');
    const first = cli(['reproduce', 'synthetic', '--quick', '--tasks', '4', '--k', '1', '--max-runs', '5', '--out', out]);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/3 cells, 12 runs planned/);
    expect(first.stdout).toMatch(/5 run\(s\) finished in this session; 5 of 12 done \(stopped: max-runs/);
    const rest = cli(['reproduce', 'synthetic', '--quick', '--tasks', '4', '--k', '1', '--out', out]);
    expect(rest.status, rest.stderr).toBe(0);
    expect(rest.stdout).toMatch(/7 run\(s\) finished in this session; 12 of 12 done\n/);
    const lines = readFileSync(join(out, 'ledger.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string });
    expect(lines[0]!.kind).toBe('protocol');
    expect(lines.filter((l) => l.kind === 'result')).toHaveLength(12);
    expect(lines.filter((l) => l.kind === 'session')).toHaveLength(2);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    rmSync(join(out, 'report.md'));
    const rebuilt = cli(['reproduce', 'synthetic', '--quick', '--out', out, '--report-only']);
    expect(rebuilt.status, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toMatch(/report rebuilt from 12 finished runs/);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toBe(report);
    expect(report).toMatch(/selection NMI/);
    expect(report).toMatch(/selection quality \(ours\)/);
    expectUserError(cli(['reproduce', 'synthetic', '--quick', '--tasks', '4', '--patience', '3', '--out', out]), /written under a different protocol: patience = 2 \(now 3\)/);
  });

  it('multi-fashion --quick: COMET pairing, CNN experts, static DSelect-k vs static Top-k vs MMoE, sparse inference timed', () => {
    const out = join(work, 'reproduce-fashion');
    const r = cli(['reproduce', 'multi-fashion', '--quick', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/3 run\(s\) finished in this session; 3 of 3 done/);
    const records = readFileSync(join(out, 'ledger.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string; id?: string; inference?: { expertsEvaluated: number; numExperts: number } | null; test?: { metric: string } });
    expect(records.filter((x) => x.kind === 'epoch').length).toBe(3 * 2);
    const results = records.filter((x) => x.kind === 'result');
    expect(results.map((x) => x.id)).toEqual(['multi-fashion/static/dselect-k/seed-0', 'multi-fashion/static/top-k/seed-0', 'multi-fashion/per-example/softmax/seed-0']);
    expect(results.every((x) => x.test!.metric === 'accuracy' && x.inference!.numExperts === 4)).toBe(true);
    // Static Top-k with k = 2 of 4 experts and 2 tasks: at most 4, the softmax gate all 4.
    expect(results[2]!.inference!.expertsEvaluated).toBe(4);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('## Sparse inference');
    expect(report).toContain('different protocol, not comparable');
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
