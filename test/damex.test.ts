import '../src/index.js';
import { describe, expect, it } from 'vitest';
import { damexTable, runDamexExperiment, type DamexResults, type DamexRun } from '../src/experiments/damex.js';
import { loadImageClassification } from '../src/experiments/moe-layer-training.js';
import { buildFashionMnistMixture, mixtureSubset } from '../src/data/dataset-mixture.js';
import { buildDamexNet, damexTargets, defaultExpertOfDataset, fitDamex, routingSeparation } from '../src/moe/damex.js';
import { barImages } from './image-helpers.js';

const sources = () => ({
  fashionTrain: barImages('horizontal-train', 200, 11),
  fashionTest: barImages('horizontal-test', 60, 12),
  digits: barImages('vertical', 260, 13, true),
});

describe('routingSeparation', () => {
  it('is 1 bit / NMI 1 when the expert reveals the dataset, 0 when independent', () => {
    const ids = [0, 0, 1, 1, 0, 1];
    const clean = routingSeparation(ids, [0, 0, 1, 1, 0, 1], 2, 2, [0, 1]);
    expect(clean.mutualInformation).toBeCloseTo(1, 12);
    expect(clean.normalizedMutualInformation).toBeCloseTo(1, 12);
    expect(clean.ownExpertFraction).toEqual([1, 1]);
    expect(clean.matrix).toEqual([
      [1, 0],
      [0, 1],
    ]);
    const mixed = routingSeparation([0, 0, 1, 1], [0, 1, 0, 1], 2, 2, [0, 1]);
    expect(mixed.mutualInformation).toBeCloseTo(0, 12);
    expect(mixed.ownExpertFraction).toEqual([0.5, 0.5]);
    expect(mixed.purity).toEqual([0.5, 0.5]);
    // Swapped but clean: no own-expert agreement, yet fully separated.
    const swapped = routingSeparation(ids, [1, 1, 0, 0, 1, 0], 2, 2, [0, 1]);
    expect(swapped.ownExpertFraction).toEqual([0, 0]);
    expect(swapped.normalizedMutualInformation).toBeCloseTo(1, 12);
  });

  it('rejects inconsistent input', () => {
    expect(() => routingSeparation([], [], 2, 2)).toThrow('routingSeparation: no examples');
    expect(() => routingSeparation([0, 3], [0, 1], 2, 2)).toThrow('dataset id 3 outside [0, 2)');
    expect(() => damexTargets([1, 2], [0, 2], [0, 1])).toThrow('example 1 has dataset id 2 but expertOfDataset maps only 2 datasets');
    expect(defaultExpertOfDataset(3, 2)).toEqual([0, 1, 0]);
  });
});

describe('dataset mixture', () => {
  it('puts both datasets in one shuffled label space (dataset d class c → offset_d + c)', () => {
    const m = buildFashionMnistMixture({ seed: 1, trainPerDataset: 50, testPerDataset: 20, ...sources() });
    expect(m.train.size).toBe(100);
    expect(m.test.size).toBe(40);
    expect(m.numClasses).toBe(20);
    const fashion = mixtureSubset(m.train, 0);
    const mnist = mixtureSubset(m.train, 1);
    expect(fashion.size).toBe(50);
    expect(Math.max(...fashion.labels)).toBeLessThan(10);
    expect(Math.min(...mnist.labels)).toBeGreaterThanOrEqual(10);
    // shuffled: the first 50 rows are not all one dataset
    expect(new Set(m.train.datasetIds.slice(0, 50)).size).toBe(2);
    expect(() => buildFashionMnistMixture({ seed: 1, trainPerDataset: 250, testPerDataset: 20, ...sources() })).toThrow(
      /trainPerDataset = 250 but horizontal-train has only 200 images/,
    );
    const wrong = { ...sources(), digits: { ...barImages('v', 10, 1), shape: [10, 14, 56] as [number, number, number] } };
    expect(() => buildFashionMnistMixture({ seed: 1, trainPerDataset: 5, testPerDataset: 2, ...wrong })).toThrow(/v: images have shape \[10, 14, 56\].*expected \[N, 28, 28\]/);
  });
});

describe('DAMEX', () => {
  it('learns to route each dataset to its own expert on small data', () => {
    const data = loadImageClassification({ dataset: 'fashion+mnist', trainSize: 160, testSize: 50, seed: 3, sources: sources() });
    const expertOfDataset = defaultExpertOfDataset(2, 2);
    const model = buildDamexNet({ numClasses: 20, numExperts: 2, stemFilters: 4, expertFilters: 4, headHidden: [16], seed: 4 });
    const before = routingSeparation(data.test.datasetIds, model.routeOf(data.test.x), 2, 2, expertOfDataset);
    fitDamex(model, { x: data.train.x, y: damexTargets(data.train.labels, data.train.datasetIds, expertOfDataset) }, { epochs: 6, batchSize: 32, lr: 1e-2, seed: 1 });
    const after = routingSeparation(data.test.datasetIds, model.routeOf(data.test.x), 2, 2, expertOfDataset);
    expect(Math.min(...after.ownExpertFraction!.map((v) => v!))).toBeGreaterThanOrEqual(0.9);
    expect(after.normalizedMutualInformation).toBeGreaterThan(0.6);
    expect(after.normalizedMutualInformation).toBeGreaterThan(before.normalizedMutualInformation);
  });

  // Measured for router weight 0.3 and seeds 0–2: DAMEX own-expert share ≥ 0.92 and NMI ≥ 0.79, top-1 +
  // balancing NMI ≤ 0.01; with the router loss off, min own-expert share ≤ 0.22 and NMI ≤ 0.05.
  const comparison = (routerWeight: number): Promise<DamexResults> => {
    const data = loadImageClassification({ dataset: 'fashion+mnist', trainSize: 128, testSize: 50, seed: 3, sources: sources() });
    return runDamexExperiment(data, { experts: 2, routerWeight, balanceWeight: 0.1, importance: 'probabilities', epochs: 3, batchSize: 32, lr: 1e-2, seed: 0, checkpointsPerEpoch: 2 });
  };
  /** The minimum over datasets of the share routed to the dataset's own expert. */
  const ownExpert = (run: DamexRun): number => Math.min(...run.separation.ownExpertFraction!.map((v) => v!));

  it('DAMEX routes each dataset to its own expert and separates datasets far better than top-1 + balancing', async () => {
    const r = await comparison(0.3);
    expect(r.runs.map((run) => run.variant)).toEqual(['damex', 'top1-balanced']);
    const [damex, top1] = r.runs as [DamexRun, DamexRun];
    expect(ownExpert(damex)).toBeGreaterThanOrEqual(0.85);
    expect(damex.separation.normalizedMutualInformation).toBeGreaterThanOrEqual(0.7);
    // Balancing alone spreads each dataset over both experts: routing tells little about the dataset.
    expect(top1.separation.normalizedMutualInformation).toBeLessThan(0.2);
    expect(damex.separation.normalizedMutualInformation - top1.separation.normalizedMutualInformation).toBeGreaterThanOrEqual(0.5);
    for (const run of r.runs) {
      // 20 classes in the joint label space: chance is 0.05.
      for (const acc of run.datasetAccuracy) expect(acc, `${run.variant} per-dataset accuracy`).toBeGreaterThanOrEqual(0.8);
      expect(run.separation.matrix.map((row) => row.reduce((a, b) => a + b, 0))).toEqual([1, 1].map((v) => expect.closeTo(v, 9)));
      expect(run.timeline.length).toBe(3 * 2 * 2);
    }
    expect(damexTable(r)).toMatch(/fashion-mnist acc/);
  });

  it('the same checks fail when the router loss is switched off (DAMEX broken to plain top-1)', async () => {
    const [broken] = (await comparison(0)).runs as [DamexRun, DamexRun];
    expect(ownExpert(broken)).toBeLessThan(0.85);
    expect(broken.separation.normalizedMutualInformation).toBeLessThan(0.7);
  });
});
