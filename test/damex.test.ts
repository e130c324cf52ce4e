import '../src/index.js';
import { describe, expect, it } from 'vitest';
import { damexTable, runDamexExperiment } from '../src/experiments/damex.js';
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

  it('compares DAMEX with top-1 + balancing on per-dataset accuracy and separation', () => {
    const data = loadImageClassification({ dataset: 'fashion+mnist', trainSize: 96, testSize: 30, seed: 5, sources: sources() });
    const r = runDamexExperiment(data, { experts: 2, routerWeight: 0.1, balanceWeight: 0.1, importance: 'probabilities', epochs: 1, batchSize: 32, lr: 3e-3, seed: 0, checkpointsPerEpoch: 2 });
    expect(r.runs.map((run) => run.variant)).toEqual(['damex', 'top1-balanced']);
    for (const run of r.runs) {
      expect(run.datasetAccuracy).toHaveLength(2);
      expect(run.separation.matrix.map((row) => row.reduce((a, b) => a + b, 0))).toEqual([1, 1].map((v) => expect.closeTo(v, 9)));
      expect(run.timeline.length).toBeGreaterThan(0);
    }
    expect(damexTable(r)).toMatch(/fashion-mnist acc/);
  });
});
