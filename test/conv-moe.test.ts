import '../src/index.js';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { balanceTable, runBalanceExperiment, writeBalanceReport, type BalanceRun, type BalanceSettings } from '../src/experiments/balance.js';
import { classAccuracy, classificationTargets, fitWithUsage, loadImageClassification } from '../src/experiments/moe-layer-training.js';
import { BalancedTopKGate } from '../src/moe/balanced-gate.js';
import { ConvBlock, ConvMoELayer, ConvMoENet } from '../src/moe/conv-moe.js';
import { rand } from '../src/tensor/creation.js';
import { Rng } from '../src/tensor/random.js';
import { barImages } from './image-helpers.js';

const tinyNet = { stemFilters: 4, expertFilters: 4, headHidden: [16] } as const;

describe('ConvMoENet: a CNN with a MoE layer of conv experts', () => {
  it('routes each example to k experts, mixes their feature maps and classifies', () => {
    const net = new ConvMoENet({ numClasses: 10, numExperts: 4, k: 2, balance: 'soft', seed: 1, ...tinyNet });
    expect(net.moe.outputShape()).toEqual([4, 4, 4]); // 28 → conv5 24 → pool 12 → conv5 8 → pool 4
    const x = rand([6, 1, 28, 28], { rng: new Rng(2) });
    const out = net.forward(x);
    expect(out.outputs.map((o) => o.shape)).toEqual([[6, 10]]);
    expect(out.regularization).not.toBeNull();
    const w = out.gateWeights[0]!.toArray();
    for (let r = 0; r < 6; r++) {
      const row = [...w.slice(r * 4, r * 4 + 4)];
      expect(row.filter((v) => v !== 0)).toHaveLength(2);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
    net.eval();
    expect(net.forward(x).regularization).toBeNull();
    expect(net.routeOf(x)).toHaveLength(12);
    // flattened rows are accepted too
    expect(net.forward(x.reshape([6, 784])).outputs[0]!.shape).toEqual([6, 10]);
  });

  it('rejects images of the wrong size and mismatched layer pieces with the shapes', () => {
    const net = new ConvMoENet({ numClasses: 10, numExperts: 2, seed: 1, ...tinyNet });
    expect(() => net.forward(rand([2, 1, 36, 36]))).toThrow(/ConvMoENet: input \[2,\s?1,\s?36,\s?36\] does not match the network's images \[N, 1, 28, 28\]/);
    const experts = [new ConvBlock(3, 4), new ConvBlock(3, 4)];
    expect(() => new ConvMoELayer({ inputShape: [3, 12, 12], experts, gate: new BalancedTopKGate({ numExperts: 2, inputDim: 10, k: 1 }) })).toThrow(
      /a 'flatten' router over \[3,\s?12,\s?12\] feature maps needs inputDim 432, the gate has 10/,
    );
    const layer = new ConvMoELayer({ inputShape: [3, 12, 12], experts, gate: new BalancedTopKGate({ numExperts: 2, inputDim: 3, k: 1 }), gateInput: 'avgpool' });
    expect(() => layer.forward(rand([2, 4, 12, 12]))).toThrow(/ConvMoELayer: input \[2,\s?4,\s?12,\s?12\] does not match the layer's feature maps \[N, 3, 12, 12\]/);
    expect(() => new ConvMoENet({ numClasses: 10, numExperts: 2, capacityFactor: -1, balance: 'hard' })).toThrow(/capacityFactor must be a finite number > 0, got -1/);
    const mismatched = [new ConvBlock(3, 4), new ConvBlock(2, 4)];
    expect(() => new ConvMoELayer({ inputShape: [3, 12, 12], experts: mismatched, gate: new BalancedTopKGate({ numExperts: 2, inputDim: 3, k: 1 }), gateInput: 'avgpool' })).toThrow(
      /expert 1 expects 2 input channels but the feature maps \[3,\s?12,\s?12\] have 3/,
    );
  });

  it('with the hard constraint at capacity factor 1, every training batch is split exactly evenly', async () => {
    const source = barImages('bars', 128, 3);
    const data = loadImageClassification({ dataset: 'fashion-mnist', trainSize: 128, testSize: 32, seed: 0, sources: { fashionTrain: source, fashionTest: barImages('bars-test', 32, 4) } });
    const net = new ConvMoENet({ numClasses: 10, numExperts: 4, k: 1, balance: 'hard', capacityFactor: 1, seed: 2, ...tinyNet });
    const trace = await fitWithUsage(net, { x: data.train.x, y: classificationTargets(data.train.labels) }, { epochs: 1, batchSize: 32, losses: 'ce', lr: 1e-2 }, 4);
    expect(trace.timeline).toHaveLength(16); // 4 windows × 4 experts
    for (const p of trace.timeline) expect(p.share).toBe(0.25);
    expect(trace.dropped).toBe(0);
  });
});

/** CV² of expert shares from scratch: population variance over squared mean (0 = perfectly even). */
function cv2(shares: readonly number[]): number {
  const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
  return shares.reduce((a, s) => a + (s - mean) ** 2, 0) / shares.length / (mean * mean);
}

describe('dselect-k balance experiment (small bar images, fixed seed)', () => {
  const sources = { fashionTrain: barImages('bars', 256, 5), fashionTest: barImages('bars-test', 128, 6) };
  const data = loadImageClassification({ dataset: 'fashion-mnist', trainSize: 256, testSize: 128, seed: 0, sources });
  const settings: BalanceSettings = {
    experts: 4,
    k: 1,
    balance: ['none', 'soft', 'hard'],
    balanceWeight: 1,
    importance: 'probabilities',
    noise: true,
    capacityFactor: 1,
    epochs: 4,
    batchSize: 32,
    lr: 1e-2,
    seed: 0,
    checkpointsPerEpoch: 2,
  };

  it('the soft constraint evens out expert use, the hard one splits training batches exactly, and every model learns', async () => {
    const results = await runBalanceExperiment(data, settings);
    expect(results.runs.map((r) => r.balance)).toEqual(['none', 'soft', 'hard']);
    const [none, soft, hard] = results.runs as [BalanceRun, BalanceRun, BalanceRun];
    // Without a constraint this seed's router favours some experts (test CV² 1.26); the CV² aux loss pulls
    // the shares together (0.03). Over seeds 0–3 the soft run's training CV² stayed ≤ 0.12 while no
    // constraint ranged 0.06–1.16, so the comparison needs a seed where the router does collapse: seed 0.
    expect(cv2(none.testShares)).toBeGreaterThan(0.5);
    expect(cv2(soft.testShares)).toBeLessThan(0.25 * cv2(none.testShares));
    expect(soft.trainCv2LastEpoch).toBeLessThan(0.05);
    expect(hard.trainCv2LastEpoch).toBeLessThan(1e-9); // capacity factor 1: exactly even in training
    for (const run of results.runs) {
      expect(run.testCv2).toBeCloseTo(cv2(run.testShares), 6);
      expect(run.testAccuracy, `${run.balance}: test accuracy (chance 0.1)`).toBeGreaterThanOrEqual(0.9);
      expect(run.testShares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      expect(run.classShares).toHaveLength(10);
      expect(run.timeline.length).toBe(4 * 2 * 4);
    }
    expect(balanceTable(results)).toMatch(/balance\s+test accuracy/);
    const dir = mkdtempSync(join(tmpdir(), 'dsk-balance-'));
    try {
      const files = await writeBalanceReport(dir, results);
      expect(files.map((f) => f.slice(dir.length + 1)).sort()).toEqual(['results.json', 'routing-hard.svg', 'routing-none.svg', 'routing-soft.svg', 'utilization.svg']);
      const svg = readFileSync(join(dir, 'utilization.svg'), 'utf8');
      expect(svg).toContain('<svg');
      expect(svg).toContain('expert 3');
      expect(existsSync(join(dir, 'results.json'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the same checks fail on a broken soft constraint (aux loss weighted 0) and on an untrained model', async () => {
    const broken = (await runBalanceExperiment(data, { ...settings, balance: ['soft'], balanceWeight: 0 })).runs[0]!;
    expect(broken.trainCv2LastEpoch).toBeGreaterThan(0.05);
    expect(cv2(broken.testShares)).toBeGreaterThan(0.5);
    const untrained = new ConvMoENet({ numClasses: 10, numExperts: 4, k: 1, balance: 'soft', seed: 0 });
    expect(classAccuracy(untrained, data.test)).toBeLessThan(0.5);
  });
});
