import { describe, expect, it } from 'vitest';
import {
  Adam,
  buildMMoE,
  clipGradNorm,
  clipGradValue,
  cosineDecay,
  evaluate,
  evaluateAsync,
  fit,
  fitAsync,
  Linear,
  linearWarmup,
  LRScheduler,
  randn,
  Rng,
  SGD,
  stepDecay,
  tensor,
  type Batch,
  type FitResult,
  type MMoE,
  type Tensor,
} from '../src/index.js';

const arr = (t: Tensor): number[] => Array.from(t.toArray());

function model(seed = 3): MMoE {
  return buildMMoE({ inputDim: 6, numTasks: 2, numExperts: 4, expertHidden: [8], expertOutputDim: 4, gate: { type: 'dselect-k', k: 2, perExample: true }, seed });
}

const data = { x: randn([96, 6], { rng: new Rng(1) }), y: randn([96, 2], { rng: new Rng(2) }) };

/** The batches fit cuts from `data` with shuffle off, as a stream would yield them. */
function batches(size: number): Batch[] {
  const out: Batch[] = [];
  for (let start = 0; start < 96; start += size) {
    const rows = Math.min(size, 96 - start);
    out.push({ x: data.x.slice([start, 0], [rows, 6]), y: data.y.slice([start, 0], [rows, 2]) });
  }
  return out;
}

function weights(m: MMoE): number[][] {
  return m.parameters().map(arr);
}

function losses(r: FitResult): number[] {
  return r.history.map((h) => h.loss);
}

describe('learning-rate schedules', () => {
  it('step, cosine and warm-up factors follow their formulas', () => {
    const step = stepDecay({ stepSize: 3, gamma: 0.5 });
    expect([0, 2, 3, 5, 6, 9].map(step)).toEqual([1, 1, 0.5, 0.5, 0.25, 0.125]);
    const cos = cosineDecay({ steps: 4, minFactor: 0.2 });
    expect(cos(0)).toBe(1);
    expect(cos(2)).toBeCloseTo(0.6, 15);
    expect(cos(4)).toBeCloseTo(0.2, 15);
    expect(cos(10)).toBeCloseTo(0.2, 15);
    const warm = linearWarmup({ steps: 4, then: stepDecay({ stepSize: 2, gamma: 0.1 }) });
    expect([0, 1, 2, 3, 4, 5, 6].map(warm)).toEqual([0.25, 0.5, 0.75, 1, 1, 1, 0.1 ** 1]);
  });

  it('LRScheduler drives any optimiser, keeps its position in stateDict and rejects a bad factor', () => {
    const layer = new Linear(2, 2);
    const sgd = new SGD(layer, { lr: 0.4 });
    const s = new LRScheduler(sgd, stepDecay({ stepSize: 1, gamma: 0.5 }));
    expect(sgd.lr).toBe(0.4);
    s.step();
    s.step();
    expect(sgd.lr).toBe(0.1);
    const adam = new Adam(layer, { lr: 0.4 });
    const other = new LRScheduler(adam, stepDecay({ stepSize: 1, gamma: 0.5 }));
    other.loadStateDict(s.stateDict());
    expect(adam.lr).toBe(0.1);
    expect(other.position).toBe(2);
    expect(() => new LRScheduler(sgd, () => -1)).toThrow(/LRScheduler: the schedule gave factor -1 at step 0/);
    expect(() => new LRScheduler(sgd, () => NaN)).toThrow(/factor NaN/);
  });

  it('fit advances a per-epoch schedule after each epoch and a per-step one after each step', () => {
    const perEpoch = fit(model(), data, { epochs: 4, batchSize: 32, lr: 0.01, lrScheduler: { schedule: stepDecay({ stepSize: 1, gamma: 0.5 }) } });
    expect(perEpoch.history.map((h) => h.lr)).toEqual([0.01, 0.005, 0.0025, 0.00125]);
    const perStep = fit(model(), data, { epochs: 2, batchSize: 32, lr: 0.01, lrScheduler: { schedule: linearWarmup({ steps: 4 }), interval: 'step' } });
    // 3 steps per epoch: the last step of epoch 0 is step 2 (factor 3/4), of epoch 1 step 5 (1).
    expect(perStep.history.map((h) => h.lr)).toEqual([0.0075, 0.01]);
    expect(perStep.lrScheduler!.position).toBe(6);
  });

  it('a schedule resumed at initialEpoch continues where an uninterrupted run would be', () => {
    const schedule = { schedule: cosineDecay({ steps: 9, minFactor: 0.1 }), interval: 'step' as const };
    const whole = model();
    const wholeOpt = new Adam(whole, { lr: 0.01 });
    fit(whole, data, { epochs: 3, batchSize: 32, optimizer: wholeOpt, lrScheduler: new LRScheduler(wholeOpt, schedule.schedule, { interval: 'step' }) });
    const split = model();
    const opt = new Adam(split, { lr: 0.01 });
    fit(split, data, { epochs: 1, batchSize: 32, optimizer: opt, lrScheduler: new LRScheduler(opt, schedule.schedule, { interval: 'step' }) });
    opt.lr = 0.01;
    const resumed = fit(split, data, { epochs: 3, initialEpoch: 1, batchSize: 32, optimizer: opt, lrScheduler: new LRScheduler(opt, schedule.schedule, { interval: 'step' }) });
    expect(resumed.lrScheduler!.position).toBe(9);
    expect(weights(split)).toEqual(weights(whole));
  });
});

describe('gradient clipping', () => {
  it('clipGradNorm scales every gradient by maxNorm / norm and returns the norm before clipping', () => {
    const a = tensor([3, 0]);
    const b = tensor([[0, 4]]);
    a.grad = tensor([3, 0]);
    b.grad = tensor([[0, 4]]);
    expect(clipGradNorm([a, b], 1)).toBe(5);
    expect(arr(a.grad)[0]).toBeCloseTo(0.6, 6);
    expect(arr(b.grad)[1]).toBeCloseTo(0.8, 6);
    expect(clipGradNorm([a, b], 10)).toBeCloseTo(1, 5);
    expect(arr(b.grad)[1]).toBeCloseTo(0.8, 6); // under the limit: unchanged
    expect(clipGradNorm([a, b], 0.5, Infinity)).toBeCloseTo(0.8, 6);
    expect(arr(b.grad)[1]).toBeCloseTo(0.5, 5);
    b.grad = tensor([[NaN, 1]]);
    expect(() => clipGradNorm([a, b], 1)).toThrow('clipGradNorm: the gradient norm is NaN');
  });

  it('clipGradValue clamps each element', () => {
    const a = tensor([0, 0, 0]);
    a.grad = tensor([-3, 0.2, 5]);
    clipGradValue([a], 1);
    expect(arr(a.grad)).toEqual([-1, Math.fround(0.2), 1]);
    expect(() => clipGradValue([a], 0)).toThrow(/clipValue must be a finite number > 0, got 0/);
  });

  it('fit clips before every step: with SGD no update is longer than lr · maxNorm', () => {
    const m = model();
    const before = m.parameters().map(arr);
    const sgd = new SGD(m, { lr: 0.1 });
    fit(m, data, { epochs: 1, batchSize: 96, optimizer: sgd, clipGradNorm: 0.01, shuffle: false });
    const step = Math.sqrt(m.parameters().reduce((s, p, i) => s + arr(p).reduce((a, v, j) => a + (v - before[i]![j]!) ** 2, 0), 0));
    expect(step).toBeLessThanOrEqual(0.1 * 0.01 * 1.0001);
    expect(step).toBeGreaterThan(0.1 * 0.01 * 0.99);
    expect(() => fit(model(), data, { epochs: 1, clipGradNorm: -1 })).toThrow('fit: clipGradNorm must be a finite number > 0, got -1');
  });
});

describe('streamed batches', () => {
  it('fit on an array of batches is bit for bit fit on the same data in memory without shuffling', () => {
    const opts = { epochs: 3, batchSize: 32, lr: 0.01, shuffle: false } as const;
    const a = model();
    const ra = fit(a, data, opts);
    const b = model();
    const rb = fit(b, batches(32), opts);
    expect(losses(rb)).toEqual(losses(ra));
    expect(weights(b)).toEqual(weights(a));
  });

  it('a function is called once per epoch with the epoch; a one-shot iterator fails on its second epoch', () => {
    const seen: number[] = [];
    const r = fit(model(), (epoch) => {
      seen.push(epoch);
      return batches(48);
    }, { epochs: 3, batchesPerEpoch: 2, onBatch: (p) => expect(p.batches).toBe(2) });
    expect(seen).toEqual([0, 1, 2]);
    expect(r.history).toHaveLength(3);
    const once = batches(48)[Symbol.iterator]();
    expect(() => fit(model(), { [Symbol.iterator]: () => once }, { epochs: 2 })).toThrow(/fit: epoch 1 produced no batches \(an iterator is used up by its first epoch/);
    expect(() => fit(model(), 42 as never, { epochs: 1 })).toThrow(/fit: data must be \{ x, y \} tensors, an iterable of batches or a function/);
  });

  it('streamed validation and evaluate give the in-memory numbers', () => {
    const m = model();
    const inMemory = evaluate(m, data);
    const streamed = evaluate(m, batches(20));
    expect(streamed.taskLosses[0]).toBeCloseTo(inMemory.taskLosses[0]!, 6);
    expect(streamed.loss).toBeCloseTo(inMemory.loss, 6);
    const r = fit(model(), data, { epochs: 1, validation: batches(50) });
    expect(r.history[0]!.validation!.loss).toBeGreaterThan(0);
  });
});

describe('fitAsync', () => {
  it('gives bit for bit the result of fit, for in-memory data and for an async generator of batches', async () => {
    const opts = { epochs: 2, batchSize: 32, lr: 0.01, seed: 4, validation: data } as const;
    const a = model();
    const ra = fit(a, data, opts);
    const b = model();
    const rb = await fitAsync(b, data, opts);
    expect(losses(rb)).toEqual(losses(ra));
    expect(weights(b)).toEqual(weights(a));

    const c = model();
    const rc = fit(c, batches(32), { epochs: 2 });
    const d = model();
    const rd = await fitAsync(d, async function* () {
      for (const batch of batches(32)) {
        await new Promise((r) => setTimeout(r, 1));
        yield batch;
      }
    }, { epochs: 2, validation: async function* () { yield* batches(48); } });
    expect(losses(rd)).toEqual(losses(rc));
    expect(weights(d)).toEqual(weights(c));
    expect(rd.history[1]!.validation!.loss).toBeCloseTo((await evaluateAsync(d, batches(96))).loss, 6);
  });

  it('stops between two steps when its signal is aborted, rejecting with the reason', async () => {
    const controller = new AbortController();
    let steps = 0;
    const run = fitAsync(model(), data, {
      epochs: 50,
      batchSize: 8,
      signal: controller.signal,
      onBatch: () => {
        if (++steps === 5) controller.abort(new Error('stop requested'));
      },
    });
    await expect(run).rejects.toThrow('stop requested');
    expect(steps).toBe(5);
  });
});
