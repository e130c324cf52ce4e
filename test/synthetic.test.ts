import { describe, expect, it } from 'vitest';
import { generateSynthetic, syntheticResponse, type SyntheticData } from '../src/data/synthetic.js';
import { loadDataset } from '../src/experiments/datasets.js';

function column(data: Float32Array | Float64Array, rows: number, cols: number, c: number): number[] {
  return Array.from({ length: rows }, (_, r) => data[r * cols + c]!);
}

const sum10 = (term: (i: number) => number): number => Array.from({ length: 10 }, (_, k) => term(k + 1)).reduce((a, b) => a + b, 0);

/** The generator's response written out here, not taken from src: y = s + Σ_{i=1..10} sin(i·s + (i−1)²). */
const response = (s: number): number => s + sum10((i) => Math.sin(i * s + (i - 1) ** 2));

/** Largest |raw target − f(wᵀx)| over the training split, raw = standardised·std + mean per task. */
function maxResidual(data: SyntheticData, f: (s: number) => number): number {
  const { numTasks: T, inputDim: d } = data.config;
  const x = data.train.x.toArray();
  const y = data.train.y.toArray();
  let worst = 0;
  for (let t = 0; t < T; t++) {
    const { mean: m, std: sd } = data.targetScaling![t]!;
    for (let r = 0; r < data.train.size; r++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += data.taskWeights[t * d + j]! * x[r * d + j]!;
      worst = Math.max(worst, Math.abs(y[r * T + t]! * sd + m - f(s)));
    }
  }
  return worst;
}

describe('synthetic multi-task generator', () => {
  it('builds unit-norm task vectors with cosine ρ inside groups and 0 across groups', () => {
    const data = generateSynthetic({ numTasks: 6, numGroups: 2, inputDim: 16, correlation: 0.7, numTrain: 50, numVal: 10, numTest: 10, seed: 3 });
    const d = 16;
    const w = (t: number): number[] => Array.from(data.taskWeights.subarray(t * d, (t + 1) * d));
    const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
    for (let a = 0; a < 6; a++) {
      expect(dot(w(a), w(a))).toBeCloseTo(1, 12);
      for (let b = a + 1; b < 6; b++) {
        const expected = data.taskGroups![a] === data.taskGroups![b] ? 0.7 : 0;
        expect(dot(w(a), w(b))).toBeCloseTo(expected, 12);
      }
    }
    expect(Array.from(data.taskGroups!)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(data.cosines.withinGroupMean).toBeCloseTo(0.7, 12);
    expect(data.cosines.acrossGroupMaxAbs).toBeLessThan(1e-12);
  });

  it('its response matches values computed independently (Python, math module) at several s', () => {
    // y(s) = s + Σ_{i=1..10} sin(i·s + (i−1)²), evaluated outside this code base.
    const reference: [number, number][] = [
      [0, -1.5788615543013642],
      [0.5, -0.019260106768744345],
      [-1.3, -3.086098923774071],
      [2, 1.8936832619138302],
      [3.7, 1.850039369095731],
    ];
    for (const [s, y] of reference) {
      expect(syntheticResponse(s), `s = ${s}`).toBeCloseTo(y, 12);
      expect(response(s), `s = ${s} (this file's formula)`).toBeCloseTo(y, 12);
    }
  });

  it('follows y = wᵀx + Σ sin(i·wᵀx + (i−1)²) + small noise, standardised per task on the training split', () => {
    const data = generateSynthetic({ numTasks: 3, numGroups: 1, inputDim: 8, numTrain: 400, numVal: 20, numTest: 30, seed: 1, dtype: 'float64' });
    const { train } = data;
    expect(train.x.shape).toEqual([400, 8]);
    expect(train.y.shape).toEqual([400, 3]);
    expect(data.val.y.shape).toEqual([20, 3]);
    expect(data.test.x.shape).toEqual([30, 8]);
    const y = train.y.toArray();
    for (let t = 0; t < 3; t++) {
      const ys = column(y, 400, 3, t);
      const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
      const std = Math.sqrt(ys.reduce((a, v) => a + (v - mean) ** 2, 0) / (ys.length - 1));
      expect(mean).toBeCloseTo(0, 10);
      expect(std).toBeCloseTo(1, 10);
    }
    // The residual against this file's formula is the N(0, 0.01²) noise: never beyond 6σ.
    expect(maxResidual(data, response)).toBeLessThan(0.06);
  });

  it('the same residual check fails on a generator with a wrong phase, frequency or missing linear term', () => {
    const data = generateSynthetic({ numTasks: 3, numGroups: 1, inputDim: 8, numTrain: 400, numVal: 20, numTest: 30, seed: 1, dtype: 'float64' });
    const wrongPhase = (s: number): number => s + sum10((i) => Math.sin(i * s + (i - 1)));
    const wrongFrequency = (s: number): number => s + sum10((i) => Math.sin((i + 1) * s + (i - 1) ** 2));
    const noLinearTerm = (s: number): number => sum10((i) => Math.sin(i * s + (i - 1) ** 2));
    for (const broken of [wrongPhase, wrongFrequency, noLinearTerm]) expect(maxResidual(data, broken)).toBeGreaterThan(0.5);
  });

  it('reproduces bit for bit from a seed and changes with it', () => {
    const a = generateSynthetic({ seed: 5, numTrain: 30, numVal: 5, numTest: 5 });
    const b = generateSynthetic({ seed: 5, numTrain: 30, numVal: 5, numTest: 5 });
    const c = generateSynthetic({ seed: 6, numTrain: 30, numVal: 5, numTest: 5 });
    expect(Array.from(a.train.y.toArray())).toEqual(Array.from(b.train.y.toArray()));
    expect(Array.from(a.test.x.toArray())).toEqual(Array.from(b.test.x.toArray()));
    expect(Array.from(a.train.y.toArray())).not.toEqual(Array.from(c.train.y.toArray()));
  });

  it('scales to 128 tasks, with approximate orthogonality when inputDim < groups + tasks', () => {
    const data = generateSynthetic({ numTasks: 128, numGroups: 8, inputDim: 64, correlation: 0.8, numTrain: 20, numVal: 4, numTest: 4 });
    expect(data.train.y.shape).toEqual([20, 128]);
    expect(new Set(data.taskGroups).size).toBe(8);
    expect(data.taskGroups!.filter((g) => g === 3).length).toBe(16);
    expect(data.cosines.withinGroupMean).toBeGreaterThan(0.75);
    expect(data.cosines.withinGroupMean).toBeLessThan(0.85);
    expect(data.cosines.acrossGroupMaxAbs).toBeLessThan(0.5);
  });

  it('rejects bad settings naming the parameter and value', () => {
    expect(() => generateSynthetic({ correlation: 1.5 })).toThrow(/correlation must be in \[0, 1\], got 1.5/);
    expect(() => generateSynthetic({ numTasks: 2, numGroups: 3 })).toThrow(/numGroups \(3\) exceeds numTasks \(2\)/);
    expect(() => generateSynthetic({ numTasks: 0 })).toThrow(/numTasks must be an integer ≥ 1, got 0/);
  });

  it('is reachable through the dataset registry, which refuses unknown names and settings', async () => {
    const data = await loadDataset('synthetic', { seed: 0, numTasks: 4, numTrain: 10, numVal: 5, numTest: 5 });
    expect(data.tasks.length).toBe(4);
    expect(data.input).toEqual({ kind: 'vector', shape: [16] });
    await expect(loadDataset('nope', { seed: 0 })).rejects.toThrow(/unknown dataset 'nope' \(available: synthetic/);
    await expect(loadDataset('synthetic', { seed: 0, extra: { bogus: 1 } })).rejects.toThrow(/unknown setting 'bogus'/);
  });
});
