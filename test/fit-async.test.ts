import { describe, expect, it } from 'vitest';
import { Activation, Adam, buildMMoE, Dropout, fit, fitAsync, fromTypedArray, Linear, linearWarmupSchedule, Rng, Sequential, type FitPosition, type FitResult, type GateSpec, type MMoE, type Tensor } from '../src/index.js';

/** fitAsync: the same loop as fit, stoppable at batch boundaries, and resumable exactly from where it stopped. */

function data(seed: number, n: number): { x: Tensor; y: Tensor } {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: n * 6 }, () => rng.normal());
  const y = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const s = x[i * 6]! - 0.5 * x[i * 6 + 3]!;
    y[i * 2] = s + Math.sin(2 * s);
    y[i * 2 + 1] = x[i * 6 + 1]! * x[i * 6 + 2]!;
  }
  return { x: fromTypedArray(x, [n, 6]), y: fromTypedArray(y, [n, 2]) };
}

const GATES: [string, GateSpec][] = [
  ['dselect-k with an entropy warm-up', { type: 'dselect-k', k: 2, perExample: true, entropyWeight: 0.05, entropySchedule: linearWarmupSchedule(2) }],
  ['noisy-top-k (gate noise)', { type: 'noisy-top-k', k: 2 }],
  ['softmax with dropout in the experts', { type: 'softmax', perExample: true }],
];

function build(gate: GateSpec): { model: MMoE; optimizer: Adam } {
  // With the softmax gate the experts carry dropout: its masks are random state too.
  const dropoutExperts = gate.type === 'softmax' ? { expertFactory: (_: number, rng: Rng) => new Sequential([new Linear(6, 5, { rng }), new Activation('relu'), new Dropout(0.3, { rng }), new Linear(5, 3, { rng })]) } : {};
  const model = buildMMoE({ inputDim: 6, numTasks: 2, numExperts: 4, expertHidden: [5], expertOutputDim: 3, towerHidden: [3], gate, seed: 4, ...dropoutExperts });
  return { model, optimizer: new Adam(model, { lr: 0.01 }) };
}

const train = data(1, 90);
const validation = data(2, 30);
const OPTS = { epochs: 3, batchSize: 16, seed: 7, validation } as const;

function snapshot(model: MMoE, optimizer: Adam): number[][] {
  const state = optimizer.stateDict();
  return [...model.parameters().map((p) => Array.from(p.toArray())), ...Object.values(state.slots).map((t) => Array.from(t.toArray())), state.steps];
}

/** What must match between runs: every epoch's losses (not the wall-clock seconds). */
const losses = (r: FitResult) => r.history.map((h) => ({ epoch: h.epoch, loss: h.loss, taskLosses: h.taskLosses, regularization: h.regularization, validation: h.validation }));

describe('fitAsync', () => {
  it.each(GATES)('runs the same steps as fit, bit for bit (%s)', async (_, gate) => {
    const a = build(gate);
    const b = build(gate);
    const sync = fit(a.model, train, { ...OPTS, optimizer: a.optimizer });
    const async = await fitAsync(b.model, train, { ...OPTS, optimizer: b.optimizer });
    expect(losses(async)).toEqual(losses(sync));
    expect(snapshot(b.model, b.optimizer)).toEqual(snapshot(a.model, a.optimizer));
    expect(async.interrupted).toBeNull();
  });

  it.each(GATES)('stops at a batch boundary when aborted and resumes exactly, mid-epoch (%s)', async (_, gate) => {
    const straight = build(gate);
    const whole = fit(straight.model, train, { ...OPTS, optimizer: straight.optimizer });

    // Stop in the middle of epoch 1 (6 batches per epoch): abort while batch 2 runs.
    const first = build(gate);
    const controller = new AbortController();
    const stopped = await fitAsync(first.model, train, {
      ...OPTS,
      optimizer: first.optimizer,
      signal: controller.signal,
      onAbort: 'return',
      onBatch: (b) => (b.epoch === 1 && b.batch === 2 ? controller.abort() : undefined),
    });
    expect(stopped.interrupted).toMatchObject({ epoch: 1, batch: 3 });
    expect(stopped.history.map((h) => h.epoch)).toEqual([0]);

    // Everything goes through JSON, as it does in a checkpoint, into a fresh model and optimiser.
    const position = JSON.parse(JSON.stringify(stopped.interrupted)) as FitPosition;
    const second = build(gate);
    second.model.loadStateDict(first.model.stateDict());
    second.optimizer.loadStateDict(first.optimizer.stateDict());
    const resumed = await fitAsync(second.model, train, { ...OPTS, optimizer: second.optimizer, resumeFrom: position });
    expect(resumed.interrupted).toBeNull();
    expect([...losses(stopped), ...losses(resumed)]).toEqual(losses(whole));
    expect(snapshot(second.model, second.optimizer)).toEqual(snapshot(straight.model, straight.optimizer));
  });

  it('resumes from a position at an epoch boundary, and fit accepts the position too', async () => {
    const gate = GATES[1]![1];
    const straight = build(gate);
    const whole = fit(straight.model, train, { ...OPTS, optimizer: straight.optimizer });
    const first = build(gate);
    const controller = new AbortController();
    const stopped = await fitAsync(first.model, train, { ...OPTS, optimizer: first.optimizer, signal: controller.signal, onAbort: 'return', onEpoch: () => controller.abort() });
    expect(stopped.interrupted).toMatchObject({ epoch: 1, batch: 0 });
    const resumed = fit(first.model, train, { ...OPTS, optimizer: first.optimizer, resumeFrom: stopped.interrupted! });
    expect([...losses(stopped), ...losses(resumed)]).toEqual(losses(whole));
    expect(snapshot(first.model, first.optimizer)).toEqual(snapshot(straight.model, straight.optimizer));
  });

  it('takes no step when the signal is already aborted', async () => {
    const { model, optimizer } = build(GATES[0]![1]);
    const before = snapshot(model, optimizer);
    const controller = new AbortController();
    controller.abort();
    const r = await fitAsync(model, train, { ...OPTS, optimizer, initialEpoch: 1, signal: controller.signal, onAbort: 'return' });
    expect(r.interrupted).toEqual({ epoch: 1, batch: 0, taskSums: [0, 0], regularizationSum: 0, randomStates: model.modules().map(() => null) });
    expect(r.history).toEqual([]);
    expect(snapshot(model, optimizer)).toEqual(before);
  });

  it('in the default mode an abort rejects with the reason, and the position is not needed', async () => {
    const { model, optimizer } = build(GATES[0]![1]);
    const controller = new AbortController();
    const run = fitAsync(model, train, { ...OPTS, optimizer, signal: controller.signal, onBatch: (b) => (b.batch === 1 ? controller.abort(new Error('stop (test)')) : undefined) });
    await expect(run).rejects.toThrow('stop (test)');
    await expect(fitAsync(model, train, { ...OPTS, optimizer, onAbort: 'later' as never })).rejects.toThrow("fitAsync: onAbort must be 'reject' or 'return', got later");
  });

  it('refuses a position that does not fit the run', async () => {
    const { model, optimizer } = build(GATES[1]![1]);
    // the noisy gates' generator states, null for every other module
    const states = model.modules().map((m) => m.randomState());
    expect(states.filter((st) => st !== null)).toHaveLength(2);
    const good: FitPosition = { epoch: 1, batch: 2, taskSums: [1, 2], regularizationSum: 0, randomStates: states };
    const gateAt = states.findIndex((st) => st !== null);
    const run = (resumeFrom: FitPosition) => fitAsync(model, train, { ...OPTS, optimizer, resumeFrom });
    await expect(run({ ...good, epoch: 3 })).rejects.toThrow('fitAsync: resumeFrom epoch must be an integer in [0, epochs = 3), got 3');
    await expect(run({ ...good, batch: 7 })).rejects.toThrow('fitAsync: resumeFrom.batch 7 exceeds the 6 batches of epoch 1');
    await expect(run({ ...good, taskSums: [1] })).rejects.toThrow('fitAsync: resumeFrom taskSums must be 2 finite numbers, got [1]');
    await expect(run({ ...good, randomStates: [null] })).rejects.toThrow(`fitAsync: resumeFrom holds 1 module random states for a model with ${states.length} modules`);
    await expect(run({ ...good, randomStates: states.map(() => null) })).rejects.toThrow(/NoisyTopKGate.setRandomState: expected the noise generator's state, got null/);
    await expect(run({ ...good, randomStates: states.map((st, i) => (i === gateAt ? { words: [0, 0, 0, 0], spareNormal: null } : st)) })).rejects.toThrow(/Rng.setState: words must be four uint32 values, not all 0/);
    await expect(run({ ...good, randomStates: states.map((st, i) => (i === 0 ? { words: [1, 2, 3, 4], spareNormal: null } : st)) })).rejects.toThrow(/MMoE.setRandomState: this module has no random state/);
    await expect(fitAsync(model, [train], { epochs: 3, optimizer, resumeFrom: good })).rejects.toThrow('fitAsync: resumeFrom needs in-memory data (a stream cannot be rewound to a batch)');
  });
});
