import { describe, expect, it } from 'vitest';
import { add, buildMMoE, fit, mseLoss, randn, Rng, StackedMMoE, stackedStateFromMMoE, tensor, tidy, type StaticGateBankSpec, type Tensor } from '../src/index.js';
import type { GateSpec } from '../src/moe/gate-factory.js';
import { evaluate } from '../src/moe/train/evaluate.js';

const f64 = { dtype: 'float64' } as const;
const T = 5;
const n = 4;

function pair(spec: StaticGateBankSpec, towerHidden: number[]): { mmoe: ReturnType<typeof buildMMoE>; stacked: StackedMMoE } {
  const gate: GateSpec = spec.type === 'softmax' ? { type: 'softmax', perExample: false } : spec.type === 'top-k' ? { type: 'top-k', k: spec.k, perExample: false } : { type: 'dselect-k', k: spec.k, gamma: spec.gamma, entropyWeight: spec.entropyWeight };
  const common = { inputDim: 3, numTasks: T, numExperts: n, expertHidden: [4], expertOutputDim: 3, towerHidden, dtype: 'float64' as const };
  const mmoe = buildMMoE({ ...common, gate, seed: 1 });
  const stacked = new StackedMMoE({ ...common, gate: spec, seed: 2 });
  stacked.loadStateDict(stackedStateFromMMoE(mmoe));
  return { mmoe, stacked };
}

/** Training loss Σ_t mse_t + regulariser of a model on (x, y). */
function loss(model: { forward(x: Tensor): { outputs: Tensor[]; regularization: Tensor | null } }, x: Tensor, y: Tensor[]): Tensor {
  const out = model.forward(x);
  let total = out.outputs.map((o, t) => mseLoss(o, y[t]!)).reduce((a, b) => add(a, b));
  if (out.regularization) total = add(total, out.regularization);
  return total;
}

const specs: [string, StaticGateBankSpec][] = [
  ['DSelect-k (k = 2, entropy)', { type: 'dselect-k', k: 2, gamma: 1.3, entropyWeight: 0.2 }],
  ['Top-k (k = 2)', { type: 'top-k', k: 2 }],
  ['softmax', { type: 'softmax' }],
];

describe('StackedMMoE is the MMoE with static gates, in a fixed number of ops', () => {
  it.each(specs)('%s: same outputs, regulariser and gradients as buildMMoE with the same parameters', (_name, spec) => {
    for (const towerHidden of [[], [3]]) {
      const { mmoe, stacked } = pair(spec, towerHidden);
      const x = randn([6, 3], { ...f64, rng: new Rng(3) });
      const y = Array.from({ length: T }, (_, t) => randn([6, 1], { ...f64, rng: new Rng(10 + t) }));
      const a = mmoe.forward(x);
      const b = stacked.forward(x);
      for (let t = 0; t < T; t++) {
        expect(Array.from(b.outputs[t]!.toArray())).toEqual(Array.from(a.outputs[t]!.toArray()).map((v) => expect.closeTo(v, 12)));
        expect(Array.from(b.gateWeights[t]!.toArray())).toEqual(Array.from(a.gateWeights[t]!.toArray()).map((v) => expect.closeTo(v, 14)));
      }
      expect(b.stackedOutputs!.shape).toEqual([T, 6, 1]);
      expect(b.regularization?.item() ?? null).toBeCloseTo(a.regularization?.item() ?? 0, 12);
      mmoe.zeroGrad();
      stacked.zeroGrad();
      loss(mmoe, x, y).backward();
      loss(stacked, x, y).backward();
      const expected = stackedStateFromMMoE({ stateDict: () => Object.fromEntries(mmoe.namedParameters().map(([k, p]) => [k, p.grad ?? tensor(new Array<number>(p.size).fill(0), { ...f64, shape: p.shape })])), numTasks: T, gates: mmoe.gates } as unknown as typeof mmoe);
      for (const [name, p] of stacked.namedParameters()) {
        const g = Array.from((p.grad ?? tensor(new Array<number>(p.size).fill(0), { ...f64, shape: p.shape })).toArray());
        expect(g, name).toEqual(Array.from(expected[name]!.toArray()).map((v) => expect.closeTo(v, 11)));
      }
    }
  });

  it('skips the experts no task uses, exactly', () => {
    const { stacked } = pair({ type: 'top-k', k: 1 }, []);
    // Every task on expert 2 or 3: experts 0 and 1 are never evaluated, and nothing changes.
    stacked.loadStateDict({ ...stacked.stateDict(), 'gates.alpha': tensor(Array.from({ length: T }, (_, t) => [0, 0, t % 2 ? 1 : 0, t % 2 ? 0 : 1]), f64) });
    const x = randn([4, 3], { ...f64, rng: new Rng(5) });
    let calls = 0;
    const first = stacked.experts.at(0);
    const original = first.forward.bind(first);
    first.forward = (input: Tensor) => {
      calls++;
      return original(input);
    };
    const sparse = Array.from(stacked.forward(x).stackedOutputs!.toArray());
    expect(calls).toBe(0);
    stacked.sparse = false;
    expect(Array.from(stacked.forward(x).stackedOutputs!.toArray())).toEqual(sparse);
    expect(calls).toBe(1);
  });

  it('fit and evaluate compute every task loss at once and agree with the per-task path', () => {
    const x = randn([40, 3], { rng: new Rng(7) });
    const yRows = randn([40, T], { rng: new Rng(8) });
    const yColumns = Array.from({ length: T }, (_, t) => tensor(Array.from({ length: 40 }, (_, r) => yRows.toArray()[r * T + t]!)));
    const make = (): StackedMMoE => new StackedMMoE({ inputDim: 3, numTasks: T, numExperts: n, gate: { type: 'dselect-k', k: 2, entropyWeight: 0.05 }, expertHidden: [4], expertOutputDim: 3, towerHidden: [3], seed: 4 });
    const stackedRun = fit(make(), { x, y: yRows }, { epochs: 3, batchSize: 16, lr: 0.01, seed: 1 });
    const perTaskRun = fit(make(), { x, y: yColumns }, { epochs: 3, batchSize: 16, lr: 0.01, seed: 1 });
    stackedRun.history.forEach((h, e) => {
      h.taskLosses.forEach((l, t) => expect(l).toBeCloseTo(perTaskRun.history[e]!.taskLosses[t]!, 5));
      expect(h.regularization).toBeCloseTo(perTaskRun.history[e]!.regularization, 6);
    });
    const model = make();
    const fast = evaluate(model, { x, y: yRows });
    const slow = evaluate(model, { x, y: yColumns });
    fast.taskLosses.forEach((l, t) => expect(l).toBeCloseTo(slow.taskLosses[t]!, 6));
  });

  it('follows a per-step entropy schedule through fit, like the DSelect-k gate', () => {
    const model = new StackedMMoE({ inputDim: 3, numTasks: 2, numExperts: 4, gate: { type: 'dselect-k', k: 1, entropyWeight: 1, entropySchedule: Object.assign((step: number, base: number) => base * step, { unit: 'step' as const }) }, expertHidden: [2], expertOutputDim: 2, seed: 1 });
    const seen: number[] = [];
    fit(model, { x: randn([8, 3], { rng: new Rng(1) }), y: randn([8, 2], { rng: new Rng(2) }) }, { epochs: 2, batchSize: 4, onBatch: () => seen.push(model.gates.entropyWeight) });
    expect(seen).toEqual([0, 1, 2, 3]);
  });

  it('reports each task like its own static gate', () => {
    const { mmoe, stacked } = pair({ type: 'dselect-k', k: 2, gamma: 1, entropyWeight: 0.1 }, []);
    const a = mmoe.diagnostics();
    const b = tidy(() => stacked.diagnostics());
    b.forEach((d, t) => {
      expect(d.selectedExperts).toEqual(a[t]!.selectedExperts);
      expect(d.binarySelectorFraction).toBe(a[t]!.binarySelectorFraction);
      d.meanWeights.forEach((w, e) => expect(w).toBeCloseTo(a[t]!.meanWeights[e]!, 12));
    });
  });
});

describe('saving and loading', () => {
  it('saveModel / loadModel rebuild a StackedMMoE and an MMoE with static Top-k gates without their config', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadModel, saveModel } = await import('../src/node/index.js');
    const { parseEntropySchedule } = await import('../src/index.js');
    const dir = mkdtempSync(join(tmpdir(), 'dsk-stacked-'));
    try {
      const x = randn([4, 3], { ...f64, rng: new Rng(9) });
      const stacked = new StackedMMoE({ inputDim: 3, numTasks: 3, numExperts: 4, gate: { type: 'dselect-k', k: 2, gamma: 0.7, entropyWeight: 0.3, entropySchedule: parseEntropySchedule('warmup-steps:50') }, expertHidden: [4], expertOutputDim: 3, towerHidden: [2], seed: 5, dtype: 'float64' });
      saveModel(join(dir, 'stacked.dsk'), stacked);
      const back = loadModel(join(dir, 'stacked.dsk'), StackedMMoE).model;
      expect([back.gates.kind, back.gates.k, back.gates.gamma, back.gates.baseEntropyWeight, back.gates.entropySchedule.unit]).toEqual(['dselect-k', 2, 0.7, 0.3, 'step']);
      expect(Array.from(back.forward(x).stackedOutputs!.toArray())).toEqual(Array.from(stacked.forward(x).stackedOutputs!.toArray()));
      const { mmoe } = pair({ type: 'top-k', k: 2 }, [3]);
      saveModel(join(dir, 'topk.dsk'), mmoe);
      const loaded = loadModel(join(dir, 'topk.dsk')).model as typeof mmoe;
      expect(loaded.gates.at(0).perExample).toBe(false);
      expect(Array.from(loaded.forward(x).outputs[2]!.toArray())).toEqual(Array.from(mmoe.forward(x).outputs[2]!.toArray()));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
