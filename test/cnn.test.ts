import { describe, expect, it } from 'vitest';
import '../src/index.js';
import { CnnExpert } from '../src/nn/cnn-expert.js';
import { mul, relu } from '../src/autograd/ops/elementwise.js';
import { sum } from '../src/autograd/ops/reduce.js';
import { Conv2d, convPoolRelu, Flatten, MaxPool2d } from '../src/nn/conv2d.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { buildMMoE } from '../src/moe/build-mmoe.js';
import { rand, randn } from '../src/tensor/creation.js';
import { Rng } from '../src/tensor/random.js';

describe('Conv2d / MaxPool2d / Flatten modules', () => {
  it('has a He-initialised [F, C, kH, kW] weight, a zero bias and the conv output shape', () => {
    const conv = new Conv2d(3, 4, { kernelSize: [3, 2], stride: 2, padding: 1, rng: new Rng(1) });
    expect(conv.weight.shape).toEqual([4, 3, 3, 2]);
    expect([...conv.bias!.toArray()]).toEqual([0, 0, 0, 0]);
    const limit = Math.sqrt(6 / (3 * 3 * 2));
    const w = conv.weight.toArray();
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(limit);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.5 * limit);
    const y = conv.forward(randn([2, 3, 7, 6], { rng: new Rng(2) }));
    expect(y.shape).toEqual([2, 4, ...conv.outputSize(7, 6)]);
    expect(y.shape).toEqual([2, 4, 4, 4]);
    expect(conv.parameters()).toHaveLength(2);
  });

  it('rejects a channel mismatch and non-image inputs with the shapes', () => {
    const conv = new Conv2d(3, 4, { kernelSize: 3 });
    expect(() => conv.forward(rand([2, 1, 8, 8]))).toThrow(/Conv2d: input \[2,\s?1,\s?8,\s?8\] has 1 channels but the layer expects 3/);
    expect(() => conv.forward(rand([2, 8, 8]))).toThrow(/Conv2d: input must be \[N, C, H, W\], got \[2,\s?8,\s?8\]/);
    expect(() => new Conv2d(0, 4, { kernelSize: 3 })).toThrow(/inChannels must be a positive integer, got 0/);
    expect(() => new Conv2d(1, 4, { kernelSize: 3, padding: -1 })).toThrow(/padding must be an integer ≥ 0, got -1/);
  });

  it('convPoolRelu = relu(maxPool(conv(x) + b)) exactly, gradients included', () => {
    const conv = new Conv2d(2, 3, { kernelSize: 3, rng: new Rng(7), dtype: 'float64' });
    conv.bias!.setStorage(randn([3], { rng: new Rng(8), dtype: 'float64' }).storage);
    const pool = new MaxPool2d(2);
    const x = randn([2, 2, 9, 9], { rng: new Rng(9), dtype: 'float64' });
    const fast = convPoolRelu(conv, pool, x);
    const reference = relu(pool.forward(conv.forward(x)));
    expect([...fast.toArray()]).toEqual([...reference.toArray()]);
    const g = randn(fast.shape, { rng: new Rng(10), dtype: 'float64' });
    const grads = (y: Tensor): number[] => {
      conv.zeroGrad();
      sum(mul(y, g)).backward();
      return [...conv.weight.grad!.toArray(), ...conv.bias!.grad!.toArray()];
    };
    const a = grads(convPoolRelu(conv, pool, x));
    const b = grads(relu(pool.forward(conv.forward(x))));
    a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 12));
  });

  it('pools and flattens', () => {
    const x = rand([2, 3, 6, 5], { rng: new Rng(3) });
    const pooled = new MaxPool2d(2).forward(x);
    expect(pooled.shape).toEqual([2, 3, 3, 2]);
    expect(new Flatten().forward(pooled).shape).toEqual([2, 18]);
  });
});

describe('CnnExpert (the paper expert: conv5×10, pool, conv5×20, pool, dense 50, dense 50)', () => {
  it('maps 36×36 canvases (or their flattened rows) to 50 features, with the paper layer sizes', () => {
    const expert = new CnnExpert({ rng: new Rng(4) });
    expect(expert.flatFeatures).toBe(20 * 6 * 6);
    expect(expert.namedParameters().map(([n, p]) => `${n}:${p.shape.join('x')}`)).toEqual([
      'convs.0.weight:10x1x5x5',
      'convs.0.bias:10',
      'convs.1.weight:20x10x5x5',
      'convs.1.bias:20',
      'dense.0.weight:50x720',
      'dense.0.bias:50',
      'dense.1.weight:50x50',
      'dense.1.bias:50',
    ]);
    const x = rand([3, 1, 36, 36], { rng: new Rng(5) });
    const y = expert.forward(x);
    expect(y.shape).toEqual([3, 50]);
    expect(y.toArray().every((v) => v >= 0)).toBe(true); // ReLU output
    const flat = expert.forward(x.reshape([3, 36 * 36]));
    expect([...flat.toArray()]).toEqual([...y.toArray()]);
  });

  it('rejects images of the wrong size with their shape', () => {
    const expert = new CnnExpert();
    expect(() => expert.forward(rand([2, 1, 28, 28]))).toThrow(/CnnExpert: input \[2,\s?1,\s?28,\s?28\] does not match the expert's images \[N, 1, 36, 36\]/);
    expect(() => new CnnExpert({ inputShape: [1, 10, 10] })).toThrow(/input \[1,\s?10,\s?10\] is too small/);
    expect(() => new CnnExpert({ filters: [] })).toThrow(/at least one conv block/);
  });

  it('serves as the expert factory of buildMMoE: two task towers over shared CNN experts', () => {
    const model = buildMMoE({
      inputDim: 36 * 36,
      numTasks: 2,
      numExperts: 3,
      gate: { type: 'top-k', k: 2 },
      expertOutputDim: 50,
      taskOutputDims: 10,
      expertFactory: (_i, rng) => new CnnExpert({ rng }),
      seed: 1,
    });
    const { outputs, gateWeights } = model.forward(rand([4, 1, 36, 36], { rng: new Rng(6) }));
    expect(outputs.map((o) => o.shape)).toEqual([
      [4, 10],
      [4, 10],
    ]);
    expect(gateWeights[0]!.shape).toEqual([4, 3]);
  });
});
