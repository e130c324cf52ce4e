import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderText } from '../src/report/render.js';
import { runSelectionQuality, summariseVariants, type CompareResults, type RunResult } from '../src/report/results.js';
import { writeReport } from '../src/report/write.js';
import { countMarkItems, parseXml } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'dselect-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const groups = [0, 0, 1, 1];
function fakeRun(variant: string, seed: number, offset: number, weights: number[][]): RunResult {
  return {
    variant,
    seed,
    taskMetrics: [0.2, 0.3, 0.25, 0.35].map((m, t) => m + offset + 0.01 * seed + 0.001 * t),
    history: [1, 2, 3].map((epoch) => ({ epoch, trainLoss: 1 / epoch + offset, valLoss: 1.1 / epoch + offset })),
    gateWeights: weights,
    activeExperts: 2,
    selection: runSelectionQuality(weights, groups),
    trainSeconds: 1.5 + seed,
  };
}

const sparse = [
  [0.5, 0.5, 0, 0, 0],
  [0.5, 0.5, 0, 0, 0],
  [0, 0, 0.7, 0.3, 0],
  [0, 0, 0.6, 0.4, 0],
];
const dense = sparse.map(() => [0.2, 0.2, 0.2, 0.2, 0.2]);
const variants = [
  { id: 'dselect-k-static', label: 'DSelect-k (static)', regime: 'static' as const, runs: [0, 1, 2].map((s) => fakeRun('dselect-k-static', s, 0, sparse)) },
  { id: 'top-k-static', label: 'Top-k (static)', regime: 'static' as const, runs: [0, 1, 2].map((s) => fakeRun('top-k-static', s, 0.1, dense)) },
  { id: 'softmax-per-example', label: 'Softmax (per-example, MMoE)', regime: 'per-example' as const, runs: [0, 1, 2].map((s) => fakeRun('softmax-per-example', s, 0.05, dense)) },
];
const provenance = { packageVersion: '0.2.0', nodeVersion: 'v20.0.0', gitCommit: '0123456789abcdef', gitDirty: false, machine: { platform: 'linux', arch: 'x64', cpu: 'Test CPU', cores: 2, memoryGiB: 8 }, loadAverage: [1, 2, 3], backend: 'cpu' };

const results: CompareResults = {
  tool: 'dselect-k compare',
  createdAt: '2024-01-01T00:00:00.000Z',
  command: 'dselect-k compare --seeds 3',
  provenance,
  dataset: {
    name: 'synthetic',
    description: 'synthetic regression: 4 tasks in 2 groups',
    tasks: groups.map((g, t) => ({ name: `task${t}`, metric: 'mse' as const, group: g })),
    sizes: { train: 100, val: 20, test: 30 },
    details: {},
  },
  settings: { experts: 5, k: 2 },
  overallMetric: 'test MSE (mean over tasks)',
  lowerIsBetter: true,
  baselines: { static: 'top-k-static', 'per-example': 'top-k-per-example' },
  variants: summariseVariants(variants, 4, { static: 'top-k-static', 'per-example': 'top-k-per-example' }),
};

describe('comparison report', () => {
  it('summarises seeds with 95% CIs and tests against Top-k of the same regime only, Holm-corrected', () => {
    const [ds, topk, softmax] = results.variants;
    expect(ds!.overall.mean).toBeCloseTo(0.2865, 12);
    // seeds differ by 0.01: s = 0.01, half-width t_{0.975, 2} · s / √3 with t_{0.975, 2} = 4.302652729911275
    expect(ds!.overallCi.halfWidth).toBeCloseTo((4.302652729911275 * 0.01) / Math.sqrt(3), 10);
    expect(topk!.versusBaseline).toBeNull();
    // Softmax is per-example and the comparison has no per-example Top-k: no cross-regime test.
    expect(softmax!.versusBaseline).toBeNull();
    // the fake runs differ by exactly 0.1 with identical spread: t = −0.1 / √(2·0.01²/3)
    const test = ds!.versusBaseline!;
    expect(test.baseline).toBe('top-k-static');
    expect(test.overall.welch!.t).toBeCloseTo(-0.1 / Math.sqrt((2 * 0.0001) / 3), 9);
    // One overall test: Holm leaves it as it is. Four per-task tests: the smallest p is multiplied by 4.
    expect(test.overall.pHolm).toBeCloseTo(test.overall.welch!.p, 15);
    const perTask = test.perTask.map((t) => t.welch!.p);
    const smallest = perTask.indexOf(Math.min(...perTask));
    expect(test.perTask[smallest]!.pHolm).toBeCloseTo(Math.min(1, 4 * perTask[smallest]!), 15);
    expect(ds!.selection.mean).toBeCloseTo(0.95, 12); // group 1 overlaps by 0.9
    expect(topk!.selection.mean).toBeCloseTo(0, 12);
    const text = renderText(results);
    expect(text).toMatch(new RegExp(`DSelect-k \\(static\\)\\s+static\\s+0\\.2865 ± ${ds!.overallCi.halfWidth.toFixed(4)}\\s+0\\.950 ± 0\\.000`));
    expect(text).toContain('(baseline)');
    expect(text).toContain('n/a (no Top-k in this regime)');
  });

  it('writes parseable results.json, report.md and well-formed SVGs with the expected marks', async () => {
    const files = await writeReport(dir, results);
    expect(readdirSync(dir).sort()).toEqual(['heatmap-dselect-k-static.svg', 'heatmap-softmax-per-example.svg', 'heatmap-top-k-static.svg', 'loss-curves.svg', 'report.md', 'results.json']);
    expect(files.length).toBe(6);
    const parsed = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as CompareResults;
    expect(parsed.variants.map((v) => v.id)).toEqual(['dselect-k-static', 'top-k-static', 'softmax-per-example']);
    expect(parsed.provenance).toEqual(provenance);
    expect(parsed.variants[0]!.runs[2]!.taskMetrics).toEqual(variants[0]!.runs[2]!.taskMetrics);

    const loss = readFileSync(join(dir, 'loss-curves.svg'), 'utf8');
    expect(parseXml(loss)[0]!.name).toBe('svg');
    // one line per (gate, split) and one band per (gate, split)
    expect(countMarkItems(loss, 'curve-line')).toBe(6);
    expect(countMarkItems(loss, 'band')).toBe(6);
    expect(loss).toContain('DSelect-k (static)');

    const heat = readFileSync(join(dir, 'heatmap-dselect-k-static.svg'), 'utf8');
    parseXml(heat);
    expect(countMarkItems(heat, 'heat-cells')).toBe(4 * 5);
    expect(heat).toContain('task 3 · group 1');
    // the white end of the scale for a zero weight, the dark end for none here
    expect(heat).toContain('fill="rgb(255, 255, 255)"');

    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('| gate | regime | test MSE (mean over tasks), mean ± 95% CI | selection quality (ours) |');
    expect(md).toContain('**Provenance**: dselect-k 0.2.0, Node v20.0.0, git 0123456789ab; Test CPU, 2 cores, 8 GiB, linux/x64; backend cpu; load average 1 / 2 / 3.');
    expect(md).toMatch(/Holm: corrected over all 4 per-task tests/);
    expect(md).toContain('![loss curves](loss-curves.svg)');
    expect(md).toContain('![DSelect-k (static)](heatmap-dselect-k-static.svg)');
    expect(md).toMatch(/Welch's t-test/);
  });

  it('the XML checker rejects malformed documents', () => {
    expect(() => parseXml('<svg><g></svg>')).toThrow(/closes/);
    expect(() => parseXml('<svg a="1" a="2"/>')).toThrow(/duplicate/);
    expect(() => parseXml('<svg>&nope</svg>')).toThrow(/unescaped/);
    expect(() => parseXml('<svg/><svg/>')).toThrow(/one root/);
  });
});
