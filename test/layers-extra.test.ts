import { describe, expect, it } from 'vitest';
import { Activation, buildMMoE, Dropout, Embedding, LayerNorm, Linear, MLP, ones, randn, Rng, Sequential, summary, tensor, type Tensor } from '../src/index.js';

const arr = (t: Tensor): number[] => Array.from(t.toArray());

describe('Sequential', () => {
  it('applies its layers in order and names them 0, 1, … like PyTorch', () => {
    const rng = new Rng(1);
    const a = new Linear(3, 4, { rng });
    const b = new Linear(4, 2, { rng });
    const seq = new Sequential([a, new Activation('relu'), b]);
    expect(seq.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    const x = randn([5, 3], { rng: new Rng(2) });
    expect(arr(seq.forward(x))).toEqual(arr(b.forward(a.forward(x).relu())));
    expect(arr(new Sequential([]).forward(x))).toEqual(arr(x));
  });

  it('rejects a layer that is not a module, naming its position', () => {
    expect(() => new Sequential([new Linear(2, 2), {} as never])).toThrow(/Sequential: layer 1 is not a Module/);
  });
});

describe('Dropout', () => {
  it('zeroes about p of the elements in training, scales the rest by 1/(1 − p), and is the identity in eval', () => {
    const dropout = new Dropout(0.25, { seed: 3 });
    const y = arr(dropout.forward(ones([200, 50])));
    const zeros = y.filter((v) => v === 0).length / y.length;
    expect(zeros).toBeGreaterThan(0.23);
    expect(zeros).toBeLessThan(0.27);
    expect(new Set(y.filter((v) => v !== 0))).toEqual(new Set([Math.fround(1 / 0.75)]));
    dropout.eval();
    const x = randn([4, 4], { rng: new Rng(1) });
    expect(dropout.forward(x)).toBe(x);
  });

  it('is seeded: the same seed gives the same masks, and an epoch start reseeds from (seed, epoch)', () => {
    const a = new Dropout(0.5, { seed: 9 });
    const b = new Dropout(0.5, { seed: 9 });
    const x = ones([10, 10]);
    expect(arr(a.forward(x))).toEqual(arr(b.forward(x)));
    a.onEpochStart(3);
    const first = arr(a.forward(x));
    a.forward(x);
    a.onEpochStart(3);
    expect(arr(a.forward(x))).toEqual(first);
    a.onEpochStart(4);
    expect(arr(a.forward(x))).not.toEqual(first);
  });

  it('rejects p outside [0, 1)', () => {
    expect(() => new Dropout(1)).toThrow(/Dropout: p must be a probability in \[0, 1\), got 1/);
    expect(() => new Dropout(-0.1)).toThrow(/got -0.1/);
  });
});

describe('LayerNorm', () => {
  it('matches (x − mean) / √(var + eps) · weight + bias computed by hand, over the last dims', () => {
    const norm = new LayerNorm([2, 3], { eps: 1e-5, dtype: 'float64' });
    norm.loadStateDict({ weight: tensor([[1, 2, 3], [-1, 0.5, 1]], { dtype: 'float64' }), bias: tensor([[0, 1, 0], [0.5, 0, -1]], { dtype: 'float64' }) });
    const x = randn([4, 2, 3], { rng: new Rng(5), dtype: 'float64' });
    const y = arr(norm.forward(x));
    const xs = arr(x);
    const w = [1, 2, 3, -1, 0.5, 1];
    const b = [0, 1, 0, 0.5, 0, -1];
    for (let r = 0; r < 4; r++) {
      const row = xs.slice(r * 6, r * 6 + 6);
      const mean = row.reduce((a, v) => a + v, 0) / 6;
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / 6;
      row.forEach((v, i) => expect(y[r * 6 + i]).toBeCloseTo(((v - mean) / Math.sqrt(variance + 1e-5)) * w[i]! + b[i]!, 12));
    }
  });

  it('names the shapes when the input does not end in the normalised shape', () => {
    expect(() => new LayerNorm(4).forward(ones([2, 3]))).toThrow('LayerNorm: input [2,3] must end in the normalised shape [4]');
    expect(() => new LayerNorm(0)).toThrow(/normalizedShape\[0\] must be a positive integer, got 0/);
  });
});

describe('Embedding', () => {
  it('looks up rows for indices of any shape', () => {
    const emb = new Embedding(4, 3, { rng: new Rng(2) });
    const w = arr(emb.weight);
    expect(emb.forward([2, 0]).shape).toEqual([2, 3]);
    const y = emb.forward(tensor([[3, 1], [1, 1]]));
    expect(y.shape).toEqual([2, 2, 3]);
    expect(arr(y).slice(0, 3)).toEqual(w.slice(9, 12));
    expect(arr(y).slice(9, 12)).toEqual(w.slice(3, 6));
  });

  it('sums the gradient of repeated indices onto their row', () => {
    const emb = new Embedding(3, 2, { rng: new Rng(2) });
    emb.forward([1, 1, 2]).sum().backward();
    expect(arr(emb.weight.grad!)).toEqual([0, 0, 2, 2, 1, 1]);
  });

  it('rejects an index out of range or not whole, naming it and its position', () => {
    const emb = new Embedding(3, 2);
    expect(() => emb.forward([0, 3])).toThrow('Embedding: index 3 at position 1 is not a whole number in [0, numEmbeddings = 3)');
    expect(() => emb.forward(tensor([0.5]))).toThrow(/index 0.5 at position 0/);
  });
});

describe('summary', () => {
  it('lists every module with its own parameter shapes and counts, and the total', () => {
    const mlp = new MLP({ inputDim: 4, hidden: [5], outputDim: 2, rng: new Rng(0) });
    const text = summary(mlp);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^module\s+type\s+own parameters\s+parameters$/);
    expect(lines[2]).toMatch(/^\(root\)\s+MLP\s+37$/);
    expect(lines[4]).toMatch(/^ {4}layers\.0\s+Linear\s+weight \[5,4\], bias \[5\]\s+25$/);
    expect(lines.at(-1)).toBe('total: 37 trainable parameters in 4 tensors (148 B)');
    expect(String(mlp)).toBe(text);
  });

  it('counts an MMoE per expert, gate and tower, and stops at maxDepth', () => {
    const model = buildMMoE({ inputDim: 6, numTasks: 2, numExperts: 3, expertHidden: [4], expertOutputDim: 2, gate: { type: 'dselect-k', k: 2 }, seed: 1 });
    const text = summary(model, { maxDepth: 2 });
    expect(text).toMatch(/\n {4}gates\.0\s+DSelectKGate\s+z \[2,2\], alpha \[2\]\s+6\n/);
    expect(text).toMatch(/\n {4}experts\.2\s+MLP\s+38\n/);
    expect(text).not.toMatch(/experts\.0\.layers/);
    expect(text).toContain(`total: ${model.parameterCount().toLocaleString('en-US')} trainable parameters`);
  });
});

describe('Tensor toString', () => {
  it('prints values with one aligned format, PyTorch style', () => {
    expect(String(tensor([[0.1, -2], [3, 4.25]]))).toBe('tensor([[ 0.1000, -2.0000],\n        [ 3.0000,  4.2500]])');
    expect(String(tensor([1, 2, 3]))).toBe('tensor([1., 2., 3.])');
    expect(String(tensor(3.5))).toBe('tensor(3.5000)');
    expect(String(tensor([1e-6, 1, 2000], { dtype: 'float64' }))).toBe('tensor([1.0000e-06, 1.0000e+00, 2.0000e+03], dtype=float64)');
    expect(String(tensor([NaN, Infinity, 1.5]))).toBe('tensor([   nan,    inf, 1.5000])');
    const t = tensor([1, 2]);
    t.requiresGrad = true;
    expect(`${t}`).toBe('tensor([1., 2.], requiresGrad=true)');
  });

  it('separates the blocks of a 3-D tensor with a blank line', () => {
    expect(String(tensor([[[1, 2]], [[3, 4]]]))).toBe('tensor([[[1., 2.]],\n\n        [[3., 4.]]])');
  });

  it('summarises tensors above 1000 elements with ... and adds their shape', () => {
    const text = String(tensor(Array.from({ length: 2000 }, (_, i) => i), { shape: [40, 50] }));
    const lines = text.split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[0]).toBe('tensor([[   0.,    1.,    2., ...,   47.,   48.,   49.],');
    expect(lines[3]).toBe('        ...,');
    expect(lines[6]).toBe('        [1950., 1951., 1952., ..., 1997., 1998., 1999.]], shape=[40, 50])');
  });

  it('wraps long rows at 80 characters and never throws for a disposed tensor', () => {
    const text = String(tensor(Array.from({ length: 30 }, (_, i) => i / 7)));
    expect(text.split('\n').every((l) => l.length <= 80)).toBe(true);
    expect(text.split('\n')).toHaveLength(4); // 9 cells of 6 characters per line
    const t = tensor([1, 2]);
    t.dispose();
    expect(String(t)).toBe('tensor(<disposed>, shape=[2], dtype=float32)');
  });
});
