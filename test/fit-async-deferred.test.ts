import { describe, expect, it } from 'vitest';
import { buildMMoE, evaluate, evaluateAsync, fit, fitAsync, fromTypedArray, Rng, Tensor, zeros, type BatchProgress, type MMoE } from '../src/index.js';
import { prepareData } from '../src/moe/train/dataset.js';
import { evaluatePreparedAsync } from '../src/moe/train/evaluate.js';
import { resolveLossSetup } from '../src/moe/train/loss-setup.js';

/**
 * fitAsync's deferred readback (`readEvery`, the default on webgpu) and the device-side evaluation of
 * evaluateAsync, run on the cpu backend: the same steps as fit (identical weights and metrics), progress
 * for every batch, abort between batches without leaks, non-finite objectives detected at the next
 * readback. Their webgpu runs are in webgpu-browser.test.ts.
 */
const INPUTS = 6;

function data(seed: number, n: number, classes = false): { x: Tensor; y: Tensor } {
  const rng = new Rng(seed);
  const x = new Float32Array(n * INPUTS);
  const y = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < INPUTS; j++) x[i * INPUTS + j] = rng.normal();
    const s = x[i * INPUTS]! - 0.5 * x[i * INPUTS + 1]!;
    y[i * 2] = classes ? (s > 0 ? 1 : 0) : s + 0.1 * rng.normal();
    y[i * 2 + 1] = classes ? (x[i * INPUTS + 2]! > 0.4 ? 2 : x[i * INPUTS + 2]! > -0.4 ? 1 : 0) : Math.sin(s) + 0.1 * rng.normal();
  }
  return { x: fromTypedArray(x, [n, INPUTS]), y: fromTypedArray(y, [n, 2]) };
}

const model = (seed = 3, taskOutputDims?: number[]): MMoE =>
  buildMMoE({ inputDim: INPUTS, numTasks: 2, numExperts: 4, expertHidden: [8], expertOutputDim: 4, gate: { type: 'dselect-k', k: 2, perExample: true }, seed, ...(taskOutputDims ? { taskOutputDims } : {}) });

const weights = (m: MMoE): number[] => m.parameters().flatMap((p) => Array.from(p.toArray()));

describe('fitAsync with deferred readback (readEvery)', () => {
  it('takes the same steps as fit: identical weights, history and progress', async () => {
    const train = data(1, 100);
    const val = data(2, 40);
    const [a, b] = [model(), model()];
    const syncBatches: BatchProgress[] = [];
    const asyncBatches: BatchProgress[] = [];
    const opts = { epochs: 3, batchSize: 16, lr: 0.01, seed: 7, validation: val };
    const r1 = fit(a, train, { ...opts, onBatch: (p) => void syncBatches.push(p) });
    const r2 = await fitAsync(b, train, { ...opts, readEvery: 3, onBatch: (p) => void asyncBatches.push(p) });
    expect(weights(b)).toEqual(weights(a));
    expect(r2.history.map((h) => [h.loss, h.regularization])).toEqual(r1.history.map((h) => [h.loss, h.regularization]));
    // Validation: evaluateAsync scales each batch's loss on the device (float32), evaluate on the host.
    r2.history.forEach((h, e) => expect(h.validation!.loss).toBeCloseTo(r1.history[e]!.validation!.loss, 6));
    expect(asyncBatches).toEqual(syncBatches);
    expect(asyncBatches.length).toBe(3 * 7);
  });

  it('stops at an aborted signal between batches, leaking no tensor', async () => {
    const train = data(1, 100);
    const m = model();
    await fitAsync(m, train, { epochs: 1, batchSize: 16, lr: 0.01 }); // optimiser state and columns made once
    const controller = new AbortController();
    let seen = 0;
    const first = zeros([1]).id;
    const disposed = new Set<number>();
    const original = Tensor.prototype.dispose;
    Tensor.prototype.dispose = function (this: Tensor) {
      if (!this.isDisposed) disposed.add(this.id);
      original.call(this);
    };
    let error: unknown = null;
    try {
      await fitAsync(m, train, {
        epochs: 5,
        batchSize: 16,
        lr: 0.01,
        readEvery: 2,
        signal: controller.signal,
        onBatch: () => {
          if (++seen === 4) controller.abort();
        },
      });
    } catch (e) {
      error = e;
    } finally {
      Tensor.prototype.dispose = original;
    }
    expect((error as Error).name).toBe('AbortError');
    expect(seen).toBe(4);
    const last = zeros([1]).id;
    let survivors = 0;
    for (let id = first + 1; id < last; id++) if (!disposed.has(id)) survivors++;
    expect(survivors).toBeLessThanOrEqual(2 + m.parameters().length * 3); // target columns; parameters and Adam moments replaced in place
  });

  it('names the batch whose objective became non-finite, at the next readback', async () => {
    const train = data(1, 64);
    const m = model();
    // Broken starting weights: the first batch's objective is NaN (the data itself is checked up front).
    const w = m.parameters()[0]!;
    w.setStorage(fromTypedArray(new Float32Array(w.size).fill(NaN), [...w.shape]).storage);
    const seen: number[] = [];
    await expect(fitAsync(m, train, { epochs: 1, batchSize: 16, shuffle: false, readEvery: 4, onBatch: (p) => void seen.push(p.batch) })).rejects.toThrow(
      /^fitAsync: the objective became NaN at epoch 0, batch 0 \(task 0 loss NaN\); before any optimiser step/,
    );
    expect(seen).toEqual([]); // found at the first readback, before any batch was reported
  });

  it('rejects a bad readEvery', async () => {
    const train = data(1, 32);
    await expect(fitAsync(model(), train, { epochs: 1, readEvery: -1 })).rejects.toThrow('fitAsync: readEvery must be an integer ≥ 0, got -1');
  });
});

/** The device-side evaluation evaluateAsync uses on webgpu (every batch's sums kept on the device, one readback), run here on the cpu. */
function deviceEvaluate(m: MMoE, d: { x: Tensor; y: Tensor }, opts: { losses?: ('mse' | 'bce' | 'ce')[]; batchSize: number }) {
  const setup = resolveLossSetup('test', m.numTasks, opts.losses, undefined);
  return evaluatePreparedAsync(m, prepareData('test', d, m.numTasks, 'float32'), setup, opts.batchSize);
}

describe('evaluateAsync on the device', () => {
  it('on the device (as on webgpu): evaluate’s losses and accuracies (mse; bce and ce)', async () => {
    const reg = data(3, 70);
    const m = model();
    fit(m, reg, { epochs: 2, batchSize: 16, lr: 0.02 });
    const want = evaluate(m, reg, { batchSize: 32 });
    expect(await evaluateAsync(m, reg, { batchSize: 32 })).toEqual(want); // the cpu backend reads synchronously: evaluate itself
    const got = await deviceEvaluate(m, reg, { batchSize: 32 });
    expect(got.taskAccuracies).toEqual([null, null]);
    got.taskLosses.forEach((l, t) => expect(l).toBeCloseTo(want.taskLosses[t]!, 6));

    const cls = data(4, 90, true);
    const c = model(5, [1, 3]);
    const losses = ['bce', 'ce'] as const;
    fit(c, cls, { epochs: 3, batchSize: 16, lr: 0.02, losses: [...losses] });
    const w2 = evaluate(c, cls, { losses: [...losses], batchSize: 40 });
    const g2 = await deviceEvaluate(c, cls, { losses: [...losses], batchSize: 40 });
    expect(g2.taskAccuracies).toEqual(w2.taskAccuracies);
    expect(w2.taskAccuracies[0]).toBeGreaterThan(0.5);
    g2.taskLosses.forEach((l, t) => expect(l).toBeCloseTo(w2.taskLosses[t]!, 6));
    expect(g2.loss).toBeCloseTo(w2.loss, 6);
  });
});
