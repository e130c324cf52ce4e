import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Activation,
  Adam,
  buildFromArchitecture,
  buildMMoE,
  CnnExpert,
  describeArchitecture,
  DSelectKGate,
  Dropout,
  Embedding,
  fit,
  LayerNorm,
  linearWarmupSchedule,
  Linear,
  MMoE,
  Module,
  randn,
  registerModuleType,
  Rng,
  Sequential,
  SGD,
  tensor,
  type GateSpec,
  type Tensor,
} from '../src/index.js';
import { loadModel, saveCheckpoint, saveModel } from '../src/node/index.js';

const dir = mkdtempSync(join(tmpdir(), 'dselect-k-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const arr = (t: Tensor): number[] => Array.from(t.toArray());

function outputs(model: MMoE, x: Tensor): number[][] {
  model.eval();
  const out = model.forward(x);
  return [...out.outputs.map(arr), ...out.gateWeights.map(arr)];
}

const GATES: [string, GateSpec][] = [
  ['DSelect-k static (warm-up schedule)', { type: 'dselect-k', k: 2, gamma: 0.8, entropyWeight: 0.03, entropySchedule: linearWarmupSchedule(3) }],
  ['DSelect-k per-example, 5 experts (reachability)', { type: 'dselect-k', k: 3, perExample: true, regularizerReduction: 'sum', reachabilityWeight: 0.5 }],
  ['softmax per-example', { type: 'softmax' }],
  ['softmax static', { type: 'softmax', perExample: false }],
  ['top-k', { type: 'top-k', k: 2 }],
  ['noisy top-k', { type: 'noisy-top-k', k: 2, balanceWeight: 0.05, noiseSeed: 17 }],
];

describe('saveModel / loadModel', () => {
  for (const [name, gate] of GATES) {
    it(`restores an MMoE with ${name} gates and MLP experts without its config`, () => {
      const numExperts = name.includes('5 experts') ? 5 : 4;
      const model = buildMMoE({ inputDim: 6, numTasks: 2, numExperts, expertHidden: [8, 5], expertOutputDim: 4, expertActivation: 'tanh', towerHidden: [3], taskOutputDims: [1, 3], gate, seed: 2 });
      const x = randn([7, 6], { rng: new Rng(3) });
      const path = saveModel(join(dir, name.replace(/\W+/g, '-')), model, { meta: { note: name } });
      const loaded = loadModel(path, MMoE);
      expect(loaded.meta).toEqual({ note: name });
      expect(loaded.optimizer).toBeNull();
      expect(loaded.model.namedParameters().map(([n, p]) => [n, p.shape])).toEqual(model.namedParameters().map(([n, p]) => [n, p.shape]));
      expect(outputs(loaded.model, x)).toEqual(outputs(model, x));
      expect(describeArchitecture(loaded.model)).toEqual(describeArchitecture(model));
    });
  }

  it('restores CNN experts, and the optimiser: training continues exactly as without the save', () => {
    const build = (): MMoE =>
      buildMMoE({
        inputDim: 1 * 12 * 12,
        numTasks: 2,
        numExperts: 2,
        expertOutputDim: 6,
        gate: { type: 'dselect-k', k: 1, perExample: true },
        expertFactory: (_i, rng) => new CnnExpert({ inputShape: [1, 12, 12], filters: [3, 4], kernelSize: 3, pool: 2, dense: [5, 6], rng }),
        seed: 5,
      });
    const data = { x: randn([16, 144], { rng: new Rng(1) }), y: randn([16, 2], { rng: new Rng(2) }) };
    const a = build();
    const optA = new Adam(a, { lr: 0.01 });
    fit(a, data, { epochs: 1, batchSize: 8, optimizer: optA, seed: 3 });
    const path = saveModel(join(dir, 'cnn.dsk'), a, { optimizer: optA });
    fit(a, data, { epochs: 2, initialEpoch: 1, batchSize: 8, optimizer: optA, seed: 3 });
    const loaded = loadModel(path, MMoE);
    expect(loaded.optimizer).toBeInstanceOf(Adam);
    fit(loaded.model, data, { epochs: 2, initialEpoch: 1, batchSize: 8, optimizer: loaded.optimizer!, seed: 3 });
    expect(loaded.model.parameters().map(arr)).toEqual(a.parameters().map(arr));
  });

  it('restores Sequential models of the new layers (LayerNorm, Dropout, Embedding, Activation) and SGD with momentum', () => {
    const rng = new Rng(4);
    const model = new Sequential([new Embedding(10, 4, { rng }), new LayerNorm(4, { eps: 1e-3 }), new Dropout(0.3, { seed: 11 }), new Activation('sigmoid'), new Linear(4, 2, { rng, bias: false })]);
    const sgd = new SGD(model, { lr: 0.1, momentum: 0.9, nesterov: true });
    model.forward(tensor([1, 2, 3])).sum().backward();
    sgd.step();
    const loaded = loadModel(saveModel(join(dir, 'seq'), model, { optimizer: sgd }), Sequential);
    model.eval();
    loaded.model.eval();
    const indices = tensor([[5, 9], [0, 1]]);
    expect(arr(loaded.model.forward(indices))).toEqual(arr(model.forward(indices)));
    const dropout = loaded.model.layers[2] as Dropout;
    expect([dropout.p, dropout.seed]).toEqual([0.3, 11]);
    expect(loaded.optimizer!.stateDict().hyperparameters).toEqual(sgd.stateDict().hyperparameters);
  });

  it('keeps float64 models float64', () => {
    const gate = new DSelectKGate({ numExperts: 3, k: 2, dtype: 'float64' });
    const loaded = loadModel(saveModel(join(dir, 'f64'), gate));
    expect(loaded.model.parameters().every((p) => p.dtype === 'float64')).toBe(true);
  });

  it('names what it cannot save or load', () => {
    class Custom extends Module {
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    expect(() => saveModel(join(dir, 'bad'), new Sequential([new Linear(2, 2), new Custom()]))).toThrow(/describeArchitecture: 1 is a Custom, which cannot be described .*registerModuleType/);
    const gate = new DSelectKGate({ numExperts: 4, k: 2, entropySchedule: (e, b) => b * e });
    expect(() => saveModel(join(dir, 'bad'), gate)).toThrow(/\(root\) \(DSelectKGate\): its entropy schedule is a hand-written function/);
    saveCheckpoint(join(dir, 'weights-only'), { model: new Linear(2, 2) });
    expect(() => loadModel(join(dir, 'weights-only'))).toThrow(/holds weights but no architecture/);
    expect(() => loadModel(saveModel(join(dir, 'lin'), new Linear(2, 2)), MMoE)).toThrow(/holds a Linear, not a MMoE/);
    expect(() => buildFromArchitecture({ type: 'MMoE', experts: [{ type: 'Linear', inDim: 2, outDim: 'x' }] })).toThrow(
      `buildFromArchitecture: experts.0 (Linear): setting 'outDim' must be an integer, got "x"`,
    );
  });

  it('saves layer classes registered by the user', () => {
    class Scale extends Module {
      constructor(readonly factor: number) {
        super();
      }
      forward(x: Tensor): Tensor {
        return x.mul(this.factor);
      }
    }
    registerModuleType('Scale', { moduleClass: Scale, describe: (m) => ({ factor: m.factor }), build: (s) => new Scale(s['factor'] as number) });
    const loaded = loadModel(saveModel(join(dir, 'scale'), new Sequential([new Scale(3)])), Sequential);
    expect((loaded.model.layers[0] as Scale).factor).toBe(3);
    expect(() => registerModuleType('Scale', { moduleClass: Scale, describe: () => ({}), build: () => new Scale(1) })).toThrow(/already registered/);
  });
});
