import { describe, expect, it } from 'vitest';
import { bceWithLogitsLoss, glorotUniform, heUniform, Linear, MLP, Module, mseLoss, Rng, softmaxCrossEntropy, tensor, type Tensor } from '../src/index.js';
import { initContext, withParameters } from '../src/advanced.js';

const arr = (t: Tensor): number[] => Array.from(t.toArray());

describe('Module', () => {
  it('names parameters with dotted paths in registration order', () => {
    const mlp = new MLP({ inputDim: 3, hidden: [4], outputDim: 2, rng: new Rng(0) });
    expect(mlp.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['layers.0.weight', [4, 3]],
      ['layers.0.bias', [4]],
      ['layers.1.weight', [2, 4]],
      ['layers.1.bias', [2]],
    ]);
    expect(mlp.parameterCount()).toBe(4 * 3 + 4 + 2 * 4 + 2);
    expect(mlp.parameters().every((p) => p.requiresGrad)).toBe(true);
  });

  it('propagates train()/eval() to every descendant', () => {
    const mlp = new MLP({ inputDim: 3, hidden: [4], outputDim: 2 });
    expect(mlp.modules().every((m) => m.training)).toBe(true);
    mlp.eval();
    expect(mlp.modules().every((m) => !m.training)).toBe(true);
    expect(mlp.modules().length).toBe(4); // MLP, its ModuleList, two Linear layers
    mlp.train();
    expect(mlp.layers.at(1).training).toBe(true);
  });

  it('stateDict copies, loadStateDict restores values in place', () => {
    const a = new Linear(3, 2, { rng: new Rng(1) });
    const b = new Linear(3, 2, { rng: new Rng(2) });
    const weightTensor = b.weight;
    const sd = a.stateDict();
    expect(sd['weight']!.storage).not.toBe(a.weight.storage);
    b.loadStateDict(sd);
    expect(b.weight).toBe(weightTensor);
    expect(arr(b.weight)).toEqual(arr(a.weight));
    // Later changes to a do not reach the snapshot.
    a.weight.setStorage(tensor(new Float32Array(6), { shape: [2, 3] }).storage);
    expect(arr(sd['weight']!)).toEqual(arr(b.weight));
  });

  it('loadStateDict names missing, unexpected and mis-shaped entries with both shapes', () => {
    const layer = new Linear(3, 2);
    const sd = layer.stateDict();
    expect(() => layer.loadStateDict({ weight: sd['weight']! })).toThrow("missing parameter 'bias' [2]");
    expect(() => layer.loadStateDict({ ...sd, extra: tensor([1]) })).toThrow("unexpected entry 'extra' [1]");
    expect(() => layer.loadStateDict({ ...sd, weight: tensor(new Float32Array(8), { shape: [2, 4] }) })).toThrow(
      "parameter 'weight' has shape [2,4] in the state dict but [2,3] in the model",
    );
    // Non-strict loading ignores missing and unexpected entries but still checks shapes.
    layer.loadStateDict({ bias: tensor([5, 6]), extra: tensor([1]) }, { strict: false });
    expect(arr(layer.bias!)).toEqual([5, 6]);
  });

  it('withParameters swaps parameters for one call and restores them', () => {
    const layer = new Linear(2, 1, { dtype: 'float64' });
    const original = layer.parameters();
    const w = tensor([[2, 3]], { dtype: 'float64' });
    const b = tensor([1], { dtype: 'float64' });
    const y = withParameters(layer, [w, b], () => layer.forward(tensor([[1, 1]], { dtype: 'float64' })));
    expect(y.item()).toBe(6);
    expect(layer.parameters()).toEqual(original);
    expect(() => withParameters(layer, [w], () => 0)).toThrow('withParameters: Linear has 2 parameters, got 1 tensors');
  });

  it('rejects clashing or dotted names', () => {
    class Bad extends Module {
      constructor(name: string) {
        super();
        this.addParameter('w', tensor([1]));
        this.addParameter(name, tensor([1]));
      }
    }
    expect(() => new Bad('w')).toThrow("Bad: 'w' is already registered");
    expect(() => new Bad('a.b')).toThrow("contain no '.'");
  });
});

describe('initialisers', () => {
  it('are seeded and stay within their Glorot / He bounds', () => {
    const ctx = (seed: number) => initContext(30, 10, { rng: new Rng(seed) });
    const g1 = arr(glorotUniform([10, 30], ctx(4)));
    expect(g1).toEqual(arr(glorotUniform([10, 30], ctx(4))));
    expect(g1).not.toEqual(arr(glorotUniform([10, 30], ctx(5))));
    const glorotLimit = Math.sqrt(6 / 40);
    expect(Math.max(...g1.map(Math.abs))).toBeLessThanOrEqual(glorotLimit);
    expect(Math.max(...g1.map(Math.abs))).toBeGreaterThan(0.8 * glorotLimit);
    const h = arr(heUniform([10, 30], ctx(4)));
    expect(Math.max(...h.map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / 30));
  });
});

describe('Linear and MLP', () => {
  it('Linear computes x Wᵀ + b', () => {
    const layer = new Linear(3, 2, { dtype: 'float64' });
    layer.loadStateDict({ weight: tensor([[1, 2, 3], [-1, 0, 1]], { dtype: 'float64' }), bias: tensor([0.5, -0.5], { dtype: 'float64' }) });
    const y = layer.forward(tensor([[1, 1, 1], [2, 0, -1]], { dtype: 'float64' }));
    expect(y.toNested()).toEqual([[6.5, -0.5], [-0.5, -3.5]]);
    const noBias = new Linear(3, 2, { bias: false });
    expect(noBias.bias).toBeNull();
    expect(noBias.namedParameters().map(([n]) => n)).toEqual(['weight']);
  });

  it('Linear names the layer and both sizes on bad input', () => {
    expect(() => new Linear(3, 2).forward(tensor([[1, 2]]))).toThrow('Linear: input [1,2] must end in inDim = 3 features');
    expect(() => new Linear(0, 2)).toThrow('Linear: inDim must be a positive integer, got 0');
    expect(() => new MLP({ inputDim: 3, hidden: [4, -1], outputDim: 1 })).toThrow('MLP: hidden[1] must be a positive integer, got -1');
    expect(() => new MLP({ inputDim: 3, hidden: [], outputDim: 1, activation: 'gelu' as never })).toThrow("unknown activation 'gelu'");
  });

  it('MLP applies the activation between layers only', () => {
    const mlp = new MLP({ inputDim: 2, hidden: [2], outputDim: 1, activation: 'relu', dtype: 'float64' });
    mlp.loadStateDict({
      'layers.0.weight': tensor([[1, 0], [0, 1]], { dtype: 'float64' }),
      'layers.0.bias': tensor([0, 0], { dtype: 'float64' }),
      'layers.1.weight': tensor([[1, -1]], { dtype: 'float64' }),
      'layers.1.bias': tensor([-10], { dtype: 'float64' }),
    });
    // relu([3, -2]) = [3, 0] → 3 − 0 − 10 = −7 (no activation on the output).
    expect(mlp.forward(tensor([[3, -2]], { dtype: 'float64' })).item()).toBe(-7);
  });
});

describe('losses', () => {
  it('mseLoss is the mean squared error and accepts [B] targets for [B, 1] predictions', () => {
    const p = tensor([[1], [2], [4]]);
    expect(mseLoss(p, tensor([1, 0, 1])).item()).toBeCloseTo((0 + 4 + 9) / 3, 6);
    expect(mseLoss(p, tensor([1, 0, 1]), 'sum').item()).toBeCloseTo(13, 6);
    expect(() => mseLoss(p, tensor([1, 2]))).toThrow('mseLoss: prediction [3,1] and target [2] differ in shape');
  });

  it('bceWithLogitsLoss is exact and stays finite for huge logits', () => {
    const logits = tensor([0, 2, -1], { dtype: 'float64' });
    const t = tensor([1, 0, 1], { dtype: 'float64' });
    const expected = (Math.log(2) + Math.log(1 + Math.exp(2)) + Math.log(1 + Math.exp(1))) / 3;
    expect(bceWithLogitsLoss(logits, t).item()).toBeCloseTo(expected, 12);
    const extreme = bceWithLogitsLoss(tensor([1000, -1000, 1000]), tensor([1, 0, 0]), 'sum');
    expect(extreme.item()).toBe(1000);
  });

  it('softmaxCrossEntropy matches −log softmax at the label and validates labels', () => {
    const logits = tensor([[1, 2, 3], [0, 0, 0]], { dtype: 'float64' });
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    const expected = ((lse - 1) + Math.log(3)) / 2;
    expect(softmaxCrossEntropy(logits, [0, 2]).item()).toBeCloseTo(expected, 12);
    expect(softmaxCrossEntropy(logits, Int32Array.from([0, 2])).item()).toBeCloseTo(expected, 12);
    expect(softmaxCrossEntropy(logits, tensor([0, 2], { dtype: 'float64' })).item()).toBeCloseTo(expected, 12);
    expect(() => softmaxCrossEntropy(logits, [0, 3])).toThrow('softmaxCrossEntropy: label 1 is 3; labels must be integers in [0, 3)');
    expect(() => softmaxCrossEntropy(logits, [0.5, 1])).toThrow('label 0 is 0.5');
    expect(() => softmaxCrossEntropy(logits, [0])).toThrow('softmaxCrossEntropy: 1 labels for a batch of 2 logits rows');
  });

  it('loss gradients flow to the prediction', () => {
    const p = tensor([[0.5, -1]], { requiresGrad: true, dtype: 'float64' });
    mseLoss(p, tensor([[0, 0]], { dtype: 'float64' })).backward();
    expect(arr(p.grad!)).toEqual([0.5, -1]); // 2·(p − t)/2
    const logits = tensor([[0, 0]], { requiresGrad: true, dtype: 'float64' });
    softmaxCrossEntropy(logits, [1]).backward();
    expect(arr(logits.grad!)).toEqual([0.5, -0.5]);
  });
});
