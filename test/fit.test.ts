import { describe, expect, it } from 'vitest';
import {
  Adam,
  buildMMoE,
  evaluate,
  fit,
  fromTypedArray,
  linearWarmupSchedule,
  Rng,
  Tensor,
  zeros,
  type EpochMetrics,
  type GateSpec,
  type MMoE,
} from '../src/index.js';

const INPUTS = 8;

/** Two related regression tasks: y_t = s_t + sin(2 s_t) + noise with s_t = w_tᵀx, x ~ N(0, I_8). */
function makeData(rng: Rng, n: number, w: readonly number[][]): { x: Tensor; y: Tensor } {
  const x = new Float32Array(n * INPUTS);
  const y = new Float32Array(n * w.length);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < INPUTS; j++) x[i * INPUTS + j] = rng.normal();
    w.forEach((wt, t) => {
      let s = 0;
      for (let j = 0; j < INPUTS; j++) s += wt[j]! * x[i * INPUTS + j]!;
      y[i * w.length + t] = s + Math.sin(2 * s) + 0.05 * rng.normal();
    });
  }
  return { x: fromTypedArray(x, [n, INPUTS]), y: fromTypedArray(y, [n, w.length]) };
}

function problem(seed = 1) {
  const rng = new Rng(seed);
  const w = [0, 1].map(() => Array.from({ length: INPUTS }, () => rng.normal() / Math.sqrt(INPUTS)));
  return { train: makeData(rng, 400, w), test: makeData(rng, 200, w) };
}

const model = (gate: GateSpec, seed = 3): MMoE =>
  buildMMoE({ inputDim: INPUTS, numTasks: 2, numExperts: 8, expertHidden: [16], expertOutputDim: 8, gate, seed });

/** Loss of always predicting each task's training mean: the scale a trained model must beat. */
function meanPredictorLoss(train: { y: Tensor }, test: { y: Tensor }): number {
  const mean = (y: number[], t: number) => y.filter((_, i) => i % 2 === t).reduce((a, b) => a + b, 0) / (y.length / 2);
  const yTrain = Array.from(train.y.toArray());
  const yTest = Array.from(test.y.toArray());
  let total = 0;
  for (const t of [0, 1]) {
    const m = mean(yTrain, t);
    const col = yTest.filter((_, i) => i % 2 === t);
    total += col.reduce((a, v) => a + (v - m) ** 2, 0) / col.length;
  }
  return total;
}

describe('fit: DSelect-k against the softmax gate', () => {
  it('a static DSelect-k gate (k = 2 of 8, entropy) ends with ≤ 2 exact non-zeros per task and a loss within 10% of softmax', () => {
    const { train, test } = problem();
    const opts = { epochs: 40, batchSize: 32, lr: 0.01, seed: 5 };
    const dselect = model({ type: 'dselect-k', k: 2, entropyWeight: 0.05 });
    const history = fit(dselect, train, opts).history;
    const softmax = model({ type: 'softmax', perExample: true });
    fit(softmax, train, opts);

    // Inference weights: at most 2 non-zero per task, the rest exactly 0, selectors binary.
    dselect.eval();
    const { gateWeights } = dselect.forward(test.x);
    for (const w of gateWeights) {
      for (const row of w.toNested() as number[][]) {
        expect(row.filter((v) => v !== 0).length).toBeLessThanOrEqual(2);
        expect(row.filter((v) => v === 0).length).toBeGreaterThanOrEqual(6);
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      }
    }
    for (const d of dselect.diagnostics()) {
      expect(d.binarySelectorFraction).toBe(1);
      expect(d.activeExperts.max).toBeLessThanOrEqual(2);
      expect(d.sumViolations).toBe(0);
    }
    // Entropy of one-hot selectors is −k·log(1 + 1e-6) per gate: essentially 0 at the end.
    expect(Math.abs(history[history.length - 1]!.regularization)).toBeLessThan(1e-4);
    expect(history[history.length - 1]!.loss).toBeLessThan(history[0]!.loss / 3);

    // Held-out loss: DSelect-k within 10% of the dense softmax gate (which mixes all 8 experts).
    const sparseLoss = evaluate(dselect, test).loss;
    const denseLoss = evaluate(softmax, test).loss;
    expect(sparseLoss).toBeLessThanOrEqual(1.1 * denseLoss);
    // Both actually learned the tasks.
    const baseline = meanPredictorLoss(train, test);
    expect(denseLoss).toBeLessThan(0.3 * baseline);
    expect(sparseLoss).toBeLessThan(0.3 * baseline);
  });
});

describe('fit: options', () => {
  const small = () => {
    const { train, test } = problem(2);
    const slice = (d: { x: Tensor; y: Tensor }, n: number) => ({
      x: fromTypedArray(d.x.toArray().slice(0, n * INPUTS), [n, INPUTS]),
      y: fromTypedArray(d.y.toArray().slice(0, n * 2), [n, 2]),
    });
    return { train: slice(train, 96), test: slice(test, 64) };
  };

  it('reports every batch and epoch, and seeds the shuffling', () => {
    const { train } = small();
    const epochs: EpochMetrics[] = [];
    const batches: number[] = [];
    const m = model({ type: 'dselect-k', k: 2, entropyWeight: 0.1, entropySchedule: linearWarmupSchedule(4) });
    const result = fit(m, train, { epochs: 3, batchSize: 40, lr: 0.01, onEpoch: (e) => void epochs.push(e), onBatch: (b) => batches.push(b.rows) });
    expect(result.history).toEqual(epochs);
    expect(epochs.map((e) => e.epoch)).toEqual([0, 1, 2]);
    expect(batches).toEqual([40, 80, 96, 40, 80, 96, 40, 80, 96]);
    for (const e of epochs) {
      expect(e.taskLosses.length).toBe(2);
      expect(e.loss).toBeCloseTo(e.taskLosses[0]! + e.taskLosses[1]!, 10);
      expect(e.objective).toBeCloseTo(e.loss + e.regularization, 10);
      expect(e.regularization).toBeGreaterThan(0);
      expect(e.validation).toBeNull();
    }
    // The schedule was applied per epoch: λ = 0.1 · 3/4 in the last one.
    expect((m.gates.at(0) as unknown as { entropyWeight: number }).entropyWeight).toBeCloseTo(0.075, 12);

    const weightsAfter = (seed: number) => {
      const mm = model({ type: 'softmax' });
      fit(mm, train, { epochs: 2, batchSize: 16, lr: 0.01, seed });
      return Array.from(mm.parameters()[0]!.toArray());
    };
    expect(weightsAfter(7)).toEqual(weightsAfter(7));
    expect(weightsAfter(7)).not.toEqual(weightsAfter(8));
  });

  it('stops early on a worsening validation loss and restores the best weights', () => {
    const { train, test } = small();
    // Validation targets with the opposite sign: the better the model fits train, the worse it does here.
    const flipped = { x: test.x, y: fromTypedArray(test.y.toArray().map((v) => -v), [64, 2]) };
    const m = model({ type: 'softmax' });
    const result = fit(m, train, { epochs: 30, lr: 0.02, validation: flipped, earlyStopping: { patience: 2 } });
    expect(result.stoppedEarly).toBe(true);
    expect(result.history.length).toBe(result.bestEpoch + 3);
    expect(result.restoredBest).toBe(true);
    const best = result.history[result.bestEpoch]!.validation!;
    expect(evaluate(m, flipped).loss).toBeCloseTo(best.loss, 6);
    expect(result.bestLoss).toBe(best.loss);
  });

  it('resumes exactly from saved weights and optimiser state (noisy top-k noise included)', () => {
    const { train } = small();
    const gate: GateSpec = { type: 'noisy-top-k', k: 2 };
    const full = model(gate, 11);
    fit(full, train, { epochs: 4, batchSize: 32, lr: 0.01, seed: 3 });

    const first = model(gate, 11);
    const opt1 = new Adam(first, { lr: 0.01 });
    fit(first, train, { epochs: 2, batchSize: 32, optimizer: opt1, seed: 3 });
    const weights = first.stateDict();
    const state = opt1.stateDict();
    const resumed = model(gate, 11);
    resumed.loadStateDict(weights);
    const opt2 = new Adam(resumed, { lr: 0.01 });
    opt2.loadStateDict(state);
    fit(resumed, train, { epochs: 4, initialEpoch: 2, batchSize: 32, optimizer: opt2, seed: 3 });
    resumed.parameters().forEach((p, i) => expect(Array.from(p.toArray())).toEqual(Array.from(full.parameters()[i]!.toArray())));
  });

  it('trains classification tasks from class indices in y', () => {
    const rng = new Rng(4);
    const n = 240;
    const x = new Float32Array(n * INPUTS);
    const y = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < INPUTS; j++) x[i * INPUTS + j] = rng.normal();
      y[i * 2] = x[i * INPUTS]! + x[i * INPUTS + 1]! > 0 ? 1 : 0; // binary: bce
      y[i * 2 + 1] = x[i * INPUTS + 2]! > 0.5 ? 2 : x[i * INPUTS + 2]! > -0.5 ? 1 : 0; // 3 classes: ce
    }
    const data = { x: fromTypedArray(x, [n, INPUTS]), y: fromTypedArray(y, [n, 2]) };
    const m = buildMMoE({ inputDim: INPUTS, numTasks: 2, numExperts: 4, expertHidden: [16], expertOutputDim: 8, taskOutputDims: [1, 3], gate: { type: 'top-k', k: 2 }, seed: 5 });
    fit(m, data, { epochs: 15, lr: 0.01, losses: ['bce', 'ce'] });
    const result = evaluate(m, data, { losses: ['bce', 'ce'] });
    expect(result.taskAccuracies[0]).toBeGreaterThan(0.9);
    expect(result.taskAccuracies[1]).toBeGreaterThan(0.8);
  });

  it('releases every tensor a training step creates (memory does not grow with epochs)', () => {
    const { train } = small();
    const m = model({ type: 'dselect-k', k: 2, perExample: true });
    const opt = new Adam(m, { lr: 0.01 });
    fit(m, train, { epochs: 1, optimizer: opt });
    /** Tensors created during `run` that were never disposed (ids are sequential). */
    const survivors = (run: () => void): number => {
      const disposed = new Set<number>();
      const original = Tensor.prototype.dispose;
      Tensor.prototype.dispose = function (this: Tensor) {
        if (!this.isDisposed) disposed.add(this.id);
        original.call(this);
      };
      const first = zeros([1]).id;
      try {
        run();
      } finally {
        Tensor.prototype.dispose = original;
      }
      const last = zeros([1]).id;
      let count = 0;
      for (let id = first + 1; id < last; id++) if (!disposed.has(id)) count++;
      return count;
    };
    const oneEpoch = survivors(() => fit(m, train, { epochs: 1, optimizer: opt, validation: train }));
    const fourEpochs = survivors(() => fit(m, train, { epochs: 4, optimizer: opt, validation: train }));
    expect(fourEpochs).toBe(oneEpoch);
    expect(oneEpoch).toBeLessThanOrEqual(4); // the per-task target columns split off y, once per call
  });

  it('rejects bad data and options with clear messages', () => {
    const { train } = small();
    const m = model({ type: 'softmax' });
    expect(() => fit(m, train, { epochs: 0 })).toThrow('fit: epochs must be an integer ≥ 1, got 0');
    expect(() => fit(m, { x: train.x, y: fromTypedArray(new Float32Array(96 * 3), [96, 3]) }, { epochs: 1 })).toThrow(
      'fit: data.y [96,3] must be [N, 2] (one column per task) or an array of 2 tensors',
    );
    expect(() => fit(m, train, { epochs: 1, losses: ['mse', 'hinge' as never] })).toThrow('fit: loss of task 1 must be one of mse, bce, ce, got "hinge"');
    expect(() => fit(m, { x: train.x, y: [train.x, train.x] }, { epochs: 1 })).toThrow('mseLoss: prediction [32,1] and target [32,8] differ in shape');
    const nan = fromTypedArray(train.y.toArray().map((v, i) => (i === 1 ? NaN : v)), [96, 2]);
    // Non-finite data is named before training, not reported later as a NaN loss.
    expect(() => fit(m, { x: train.x, y: nan }, { epochs: 1, shuffle: false })).toThrow('fit: non-finite value NaN in the targets of task 1 [96] at row 0');
  });
});
