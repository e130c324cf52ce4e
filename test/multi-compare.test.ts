import '../src/index.js';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { reshape } from '../src/autograd/ops/shape.js';
import { imageExpertOverrides } from '../src/experiments/image-experts.js';
import { multiFashionDataset } from '../src/experiments/image-datasets.js';
import { datasetNames, loadDataset } from '../src/experiments/datasets.js';
import { buildMultiMnist, multiTaskDataFromSplits } from '../src/data/multi.js';
import type { MultiTaskData } from '../src/data/types.js';
import type { MMoE } from '../src/moe/mmoe.js';
import { buildMMoE } from '../src/moe/build-mmoe.js';
import type { GateSpec } from '../src/moe/gate-factory.js';
import { evaluate } from '../src/moe/train/evaluate.js';
import { fit } from '../src/moe/train/fit.js';
import { CnnExpert } from '../src/nn/cnn-expert.js';
import { barImages } from './image-helpers.js';

describe('multi-mnist / multi-fashion in the dataset registry', () => {
  it('registers both names once and loads Multi-MNIST as 36×36 two-task classification', async () => {
    expect(datasetNames()).toEqual(expect.arrayContaining(['synthetic', 'multi-mnist', 'multi-fashion']));
    const data = await loadDataset('multi-mnist', { seed: 3, numTrain: 24, numVal: 8, numTest: 6 });
    expect(data.input).toEqual({ kind: 'image', shape: [1, 36, 36] });
    expect(data.tasks.map((t) => (t.kind === 'classification' ? t.numClasses : 0))).toEqual([10, 10]);
    expect([data.train.x.shape, data.val.size, data.test.size]).toEqual([[24, 1, 36, 36], 8, 6]);
    await expect(loadDataset('multi-mnist', { seed: 3, numTasks: 3 })).rejects.toThrow(/has 2 tasks; --tasks 3 does not fit/);
    expect(() => multiFashionDataset.load({ seed: 0, extra: { numGroups: 2 } })).toThrow(/dataset 'multi-fashion': unknown setting\(s\) numGroups/);
  });

  it('names the Debian package and --data-dir when the Fashion-MNIST directory is missing', () => {
    expect(() => multiFashionDataset.load({ seed: 0, numTrain: 4, numVal: 2, numTest: 2, dataDir: '/nonexistent/fashion' })).toThrow(
      /\/nonexistent\/fashion does not exist.*dataset-fashion-mnist.*--data-dir/,
    );
  });
});

/**
 * What `compare` does per gate, on toy data small enough to train here: Multi-MNIST's construction
 * (two 28×28 images overlaid at (0,0) and (8,8) on a 36×36 canvas, one task per position) applied to
 * bar images (class c = a bright bar at row 3 + 2c) instead of digits, which a few epochs can learn.
 */
function multiBars(): MultiTaskData {
  const splits = buildMultiMnist({ seed: 1, digits: barImages('bars', 600, 21), trainPairs: 256, validationPairs: 8, testPairs: 100 });
  return multiTaskDataFromSplits(splits, 'multi-bars', 'bar images paired like Multi-MNIST');
}

const flat = (s: MultiTaskData['train']) => ({ x: reshape(s.x, [s.size, s.x.size / s.size]), y: s.y });

/** CNN experts shared by two task towers, one gate per task (seed 1). */
function buildModel(data: MultiTaskData, gate: GateSpec): MMoE {
  return buildMMoE({ inputDim: 36 * 36, numTasks: 2, numExperts: 4, gate, towerHidden: [8], taskOutputDims: [10, 10], seed: 1, ...imageExpertOverrides(data) });
}

function accuracyAndActive(model: MMoE, data: MultiTaskData): { accuracies: number[]; active: number } {
  const result = evaluate(model, flat(data.test), { losses: 'ce' });
  const diagnostics = model.diagnostics(flat(data.test).x);
  return { accuracies: result.taskAccuracies.map((a) => a!), active: diagnostics.reduce((a, d) => a + d.activeExperts.mean, 0) / diagnostics.length };
}

/**
 * Accuracy on each task well above chance (0.1 for 10 classes; ±0.03 is one binomial std on 100 test
 * pairs). Measured with these settings: every gate ≥ 0.41 on both tasks for model seed 1 (the one used),
 * ≥ 0.33 for seeds 2 and 3; an untrained model ≈ chance.
 */
const LEARNED = 0.3;

describe('CNN experts shared by two task towers, every gate kind (toy Multi-bars, fixed seed)', () => {
  const gates: [string, GateSpec][] = [
    ['dselect-k static', { type: 'dselect-k', k: 2, entropyWeight: 1e-3 }],
    ['dselect-k per-example', { type: 'dselect-k', k: 2, perExample: true, entropyWeight: 1e-3 }],
    ['top-k', { type: 'top-k', k: 2 }],
    ['noisy top-k', { type: 'noisy-top-k', k: 2 }],
    ['softmax', { type: 'softmax', perExample: true }],
  ];
  let data: MultiTaskData | null = null;
  for (const [name, spec] of gates) {
    it(`${name}: learns both tasks well above chance and reports its active experts`, () => {
      data ??= multiBars();
      const model = buildModel(data, spec);
      expect(model.experts.at(0)).toBeInstanceOf(CnnExpert);
      fit(model, flat(data.train), { epochs: 3, batchSize: 16, losses: 'ce', lr: 3e-3, validation: flat(data.val) });
      const { accuracies, active } = accuracyAndActive(model, data);
      expect(accuracies).toHaveLength(2);
      for (const [task, a] of accuracies.entries()) expect(a, `${name}: task ${task} test accuracy`).toBeGreaterThanOrEqual(LEARNED);
      expect(active).toBeGreaterThan(0);
      // top-k gates use exactly k experts per example; DSelect-k at most 4 before its selectors saturate
      if (spec.type === 'top-k' || spec.type === 'noisy-top-k') expect(active).toBe(2);
      else expect(active).toBeLessThanOrEqual(4);
    });
  }

  it('the same accuracy check fails on a model that did not learn (untrained weights)', () => {
    data ??= multiBars();
    const { accuracies } = accuracyAndActive(buildModel(data, gates[0]![1]), data);
    expect(Math.max(...accuracies)).toBeLessThan(LEARNED);
  });

  it('rejects an image dataset too small for the CNN expert with the image shape', () => {
    const tiny = { input: { kind: 'image', shape: [1, 8, 8] } } as unknown as MultiTaskData;
    expect(() => imageExpertOverrides(tiny)).toThrow(/CnnExpert: input \[1,\s?8,\s?8\] is too small/);
  });
});

describe('the command line on image data (in process, tiny settings)', () => {
  async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const { main } = await import('../src/cli/program.js');
    let out = '';
    let err = '';
    const spies = [
      vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true)),
      vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true)),
    ];
    const before = process.exitCode;
    try {
      const code = await main(args);
      return { code, out, err };
    } finally {
      spies.forEach((s) => s.mockRestore());
      process.exitCode = before;
    }
  }

  it('compare --dataset multi-mnist writes the same report as on synthetic data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsk-multi-compare-'));
    try {
      const r = await run(['compare', '--dataset', 'multi-mnist', '--train-size', '32', '--val-size', '8', '--test-size', '16', '--experts', '4', '--k', '2', '--epochs', '1', '--batch-size', '16', '--seeds', '1', '--gates', 'top-k-static,dselect-k-static', '-q', '--out', dir]);
      expect(r.code, r.err).toBe(0);
      const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { dataset: { name: string; tasks: { metric: string }[] }; variants: { id: string }[] };
      expect(results.dataset.name).toBe('multi-mnist');
      expect(results.dataset.tasks.map((t) => t.metric)).toEqual(['accuracy', 'accuracy']);
      expect(results.variants.map((v) => v.id)).toEqual(['dselect-k-static', 'top-k-static']);
      expect(readdirSync(dir).sort()).toEqual(['heatmap-dselect-k-static.svg', 'heatmap-top-k-static.svg', 'loss-curves.svg', 'report.md', 'results.json']);
      expect(r.out).toMatch(/test accuracy/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists the CNN gradient checks and rejects bad balance/damex input in one line', async () => {
    const list = await run(['gradcheck', '--list', '--filter', 'cnn']);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/cnn\s+CnnExpert/);
    expect(list.out).toMatch(/cnn\s+ConvMoENet, top-1 with router output \(DAMEX objective\)/);
    const badFactor = await run(['balance', '--capacity-factor', '0', '-q']);
    expect(badFactor.code).not.toBe(0);
    expect(badFactor.err).toMatch(/--capacity-factor.*must be > 0/);
    const missing = await run(['damex', '--data-dir', '/nonexistent/fashion', '-q', '--out', join(tmpdir(), 'dsk-never-written')]);
    expect(missing.code).toBe(2);
    expect(missing.err.trim().split('\n')).toHaveLength(1);
    expect(missing.err).toMatch(/\/nonexistent\/fashion does not exist.*dataset-fashion-mnist.*--data-dir/);
  });
});
