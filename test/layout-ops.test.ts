import { describe, expect, it } from 'vitest';
import {
  arange,
  concat,
  conv2d,
  gather,
  maxPool2d,
  oneHot,
  permute,
  randn,
  Rng,
  slice,
  squeeze,
  stack,
  sum,
  tensor,
  transpose,
  unsqueeze,
  type Tensor,
} from '../src/index.js';
import { stridesOf, type Shape } from '../src/tensor/shape.js';

const values = (t: Tensor): number[] => Array.from(t.toArray());

/** Reads element `idx` of a row-major array of `shape`. */
function at(data: ArrayLike<number>, shape: Shape, idx: readonly number[]): number {
  const st = stridesOf(shape);
  return data[idx.reduce((p, v, i) => p + v * st[i]!, 0)]!;
}

/** Every multi-index of `shape` in row-major order. */
function* indices(shape: Shape): Generator<number[]> {
  const total = shape.reduce((p, d) => p * d, 1);
  const st = stridesOf(shape);
  for (let flat = 0; flat < total; flat++) yield shape.map((d, i) => Math.floor(flat / st[i]!) % d);
}

function naivePermute(x: Tensor, perm: readonly number[]): number[] {
  const data = x.toArray();
  const outShape = perm.map((p) => x.shape[p]!);
  const out: number[] = [];
  for (const o of indices(outShape)) {
    const src = new Array<number>(x.ndim);
    perm.forEach((p, i) => (src[p] = o[i]!));
    out.push(at(data, x.shape, src));
  }
  return out;
}

function naiveConv2d(x: Tensor, w: Tensor, b: Tensor | null, stride: number, padding: number): { shape: number[]; data: number[] } {
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [f, , kh, kw] = w.shape as [number, number, number, number];
  const oh = Math.floor((h + 2 * padding - kh) / stride) + 1;
  const ow = Math.floor((wd + 2 * padding - kw) / stride) + 1;
  const xd = x.toArray();
  const wdta = w.toArray();
  const bd = b?.toArray();
  const data: number[] = [];
  for (let i = 0; i < n; i++)
    for (let o = 0; o < f; o++)
      for (let y = 0; y < oh; y++)
        for (let z = 0; z < ow; z++) {
          let acc = bd ? bd[o]! : 0;
          for (let ch = 0; ch < c; ch++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kw; q++) {
                const iy = y * stride - padding + p;
                const ix = z * stride - padding + q;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += at(xd, x.shape, [i, ch, iy, ix]) * at(wdta, w.shape, [o, ch, p, q]);
              }
          data.push(acc);
        }
  return { shape: [n, f, oh, ow], data };
}

function naiveMaxPool(x: Tensor, k: number, s: number): { shape: number[]; data: number[] } {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const oh = Math.floor((h - k) / s) + 1;
  const ow = Math.floor((w - k) / s) + 1;
  const xd = x.toArray();
  const data: number[] = [];
  for (let i = 0; i < n; i++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < oh; y++)
        for (let z = 0; z < ow; z++) {
          let best = -Infinity;
          for (let p = 0; p < k; p++) for (let q = 0; q < k; q++) best = Math.max(best, at(xd, x.shape, [i, ch, y * s + p, z * s + q]));
          data.push(best);
        }
  return { shape: [n, c, oh, ow], data };
}

const rng = (seedValue: number): Rng => new Rng(seedValue);

describe('permute / transpose', () => {
  it('permutes a rank-4 tensor like a naive index walk', () => {
    const x = arange(0, 120, 1, { dtype: 'float64' }).reshape([2, 3, 4, 5]);
    for (const perm of [[2, 0, 3, 1], [3, 2, 1, 0], [0, 1, 3, 2], [1, 0, 2, 3], [0, 3, 1, 2]]) {
      const y = permute(x, perm);
      expect(y.shape).toEqual(perm.map((p) => x.shape[p]));
      expect(values(y)).toEqual(naivePermute(x, perm));
    }
  });

  it('transposes larger matrices across tile edges and in batches', () => {
    const x = randn([3, 37, 70], { dtype: 'float64', rng: rng(1) });
    expect(values(permute(x, [0, 2, 1]))).toEqual(naivePermute(x, [0, 2, 1]));
    expect(values(transpose(x))).toEqual(naivePermute(x, [2, 1, 0]));
    expect(values(permute(x, [1, 2, 0]))).toEqual(naivePermute(x, [1, 2, 0]));
  });

  it('transpose reverses dims by default and accepts negative axes in perm', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(transpose(x).toNested()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(permute(x, [-1, -2]).toNested()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(permute(x, [0, 1])).toBe(x);
  });

  it('float32 stays float32', () => {
    const y = permute(tensor([[1, 2], [3, 4]]), [1, 0]);
    expect(y.dtype).toBe('float32');
    expect(values(y)).toEqual([1, 3, 2, 4]);
  });

  it('rejects bad permutations naming the perm and the shape', () => {
    const x = tensor([[1, 2], [3, 4]]);
    expect(() => permute(x, [0, 0])).toThrow('permute: [0,0] is not a permutation of the 2 dims of [2,2]');
    expect(() => permute(x, [0])).toThrow('permute: [0] is not a permutation of the 2 dims of [2,2]');
    expect(() => transpose(x, [0, 2])).toThrow('transpose: [0,2] is not a permutation');
  });
});

describe('squeeze / unsqueeze / stack', () => {
  it('squeezes and unsqueezes shapes', () => {
    const x = tensor([1, 2, 3, 4, 5, 6], { shape: [1, 3, 1, 2] });
    expect(squeeze(x).shape).toEqual([3, 2]);
    expect(squeeze(x, -2).shape).toEqual([1, 3, 2]);
    expect(squeeze(x, [0, 2]).shape).toEqual([3, 2]);
    expect(unsqueeze(squeeze(x), -1).shape).toEqual([3, 2, 1]);
    expect(unsqueeze(squeeze(x), 0).shape).toEqual([1, 3, 2]);
    expect(values(squeeze(x))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => squeeze(x, 1)).toThrow('squeeze: axis 1 of [1,3,1,2] has size 3, not 1');
    expect(() => unsqueeze(squeeze(x), 3)).toThrow('unsqueeze: axis 3 is out of range');
  });

  it('stacks along a new axis', () => {
    const a = tensor([[1, 2], [3, 4]]);
    const b = tensor([[5, 6], [7, 8]]);
    expect(stack([a, b]).toNested()).toEqual([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]);
    expect(stack([a, b], -1).toNested()).toEqual([[[1, 5], [2, 6]], [[3, 7], [4, 8]]]);
    expect(stack([a, b], 1).toNested()).toEqual([[[1, 2], [5, 6]], [[3, 4], [7, 8]]]);
    expect(() => stack([a, tensor([1, 2])])).toThrow('stack: shapes [2,2] and [2] differ');
  });
});

describe('slice', () => {
  const x = arange(0, 60, 1, { dtype: 'float64' }).reshape([3, 4, 5]);

  it('takes boxes with explicit sizes, -1 and omitted sizes', () => {
    const data = x.toArray();
    const box = slice(x, [1, 2, 1], [2, 2, 3]);
    expect(box.shape).toEqual([2, 2, 3]);
    const expected: number[] = [];
    for (const [i, j, k] of indices([2, 2, 3])) expected.push(at(data, x.shape, [1 + i!, 2 + j!, 1 + k!]));
    expect(values(box)).toEqual(expected);
    expect(slice(x, [0, 1, 3], [-1, 1, -1]).toNested()).toEqual([[[8, 9]], [[28, 29]], [[48, 49]]]);
    expect(slice(x, [2]).shape).toEqual([1, 4, 5]);
    expect(values(slice(x, [2]))).toEqual(Array.from({ length: 20 }, (_, i) => 40 + i));
    expect(slice(x, [0, 0, 0])).toBe(x);
    expect(slice(x, [1, 0], [0, -1]).shape).toEqual([0, 4, 5]);
  });

  it('gradient is the gradient padded with zeros', () => {
    const y = tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
    sum(slice(y, [0, 1], [2, 1])).backward();
    expect(values(y.grad!)).toEqual([0, 1, 0, 0, 1, 0]);
  });

  it('rejects boxes out of bounds naming the box, shape and axis', () => {
    expect(() => slice(x, [1, 3], [1, 2])).toThrow('slice: begin [1,3] size [1,2] is out of bounds for [3,4,5] on axis 1 (3 + 2 > 4 or negative)');
    expect(() => slice(x, [-1])).toThrow('slice: begin [-1] is out of bounds for [3,4,5] on axis 0');
    expect(() => slice(x, [0, 0, 0, 0])).toThrow('slice: begin [0,0,0,0] must have one entry per leading dim of [3,4,5]');
    expect(() => slice(x, [0, 0], [1])).toThrow(/size as many as begin/);
  });
});

describe('concat', () => {
  it('concatenates along every axis like a naive copy', () => {
    const shapes: [number, number, number][] = [[2, 3, 4], [2, 3, 4], [2, 3, 4]];
    const r = rng(7);
    const parts = shapes.map((s) => randn(s, { dtype: 'float64', rng: r }));
    for (const axis of [0, 1, 2, -1]) {
      const a = axis < 0 ? axis + 3 : axis;
      // Different extents along the joined axis.
      const xs = parts.map((p, k) => slice(p, [0, 0, 0], p.shape.map((d, i) => (i === a ? d - k : d))));
      const y = concat(xs, axis);
      const outShape = [2, 3, 4];
      outShape[a] = xs.reduce((p, t) => p + t.shape[a]!, 0);
      expect(y.shape).toEqual(outShape);
      const got = y.toArray();
      for (const idx of indices(outShape)) {
        let pos = idx[a]!;
        let k = 0;
        while (pos >= xs[k]!.shape[a]!) pos -= xs[k++]!.shape[a]!;
        const src = [...idx];
        src[a] = pos;
        expect(at(got, outShape, idx)).toBe(at(xs[k]!.toArray(), xs[k]!.shape, src));
      }
    }
  });

  it('splits the gradient back to each input', () => {
    const a = tensor([[1, 2]], { requiresGrad: true });
    const b = tensor([[3, 4], [5, 6]], { requiresGrad: true });
    const w = tensor([[1, 2], [3, 4], [5, 6]]);
    sum(concat([a, b]).mul(w)).backward();
    expect(values(a.grad!)).toEqual([1, 2]);
    expect(values(b.grad!)).toEqual([3, 4, 5, 6]);
  });

  it('rejects mismatched shapes naming both, empty lists and mixed dtypes', () => {
    expect(() => concat([tensor([[1, 2, 3]]), tensor([[1, 2]])], 0)).toThrow('concat: shapes [1,3] and [1,2] differ outside axis 0');
    expect(() => concat([tensor([[1, 2, 3]]), tensor([1, 2, 3])], 0)).toThrow('concat: shapes [1,3] and [3] differ outside axis 0');
    expect(() => concat([])).toThrow('concat: expected a non-empty array of tensors');
    expect(() => concat([tensor([1]), tensor([1], { dtype: 'float64' })])).toThrow('concat: dtype mismatch: float32 [1] and float64 [1]');
    expect(() => concat([tensor([1])], 1)).toThrow('concat: axis 1 is out of range for a tensor of rank 1');
  });
});

describe('gather', () => {
  const x = tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]]);

  it('selects rows (axis 0) and columns (axis 1), repeats allowed', () => {
    expect(gather(x, [2, 0, 2]).toNested()).toEqual([[7, 8, 9], [1, 2, 3], [7, 8, 9]]);
    expect(gather(x, Int32Array.from([2, 2, 0, 1]), 1).toNested()).toEqual([
      [3, 3, 1, 2],
      [6, 6, 4, 5],
      [9, 9, 7, 8],
      [12, 12, 10, 11],
    ]);
    expect(gather(x, [1], -1).shape).toEqual([4, 1]);
    expect(gather(x, []).shape).toEqual([0, 3]);
  });

  it('gathers long runs (set/subarray path) correctly', () => {
    const big = arange(0, 200, 1).reshape([4, 50]);
    expect(values(gather(big, [3, 1]))).toEqual([...Array.from({ length: 50 }, (_, i) => 150 + i), ...Array.from({ length: 50 }, (_, i) => 50 + i)]);
  });

  it('accumulates the gradient of repeated indices', () => {
    const y = tensor([[1, 2], [3, 4], [5, 6]], { requiresGrad: true });
    sum(gather(y, [2, 0, 2, 2])).backward();
    expect(values(y.grad!)).toEqual([1, 1, 0, 0, 3, 3]);
    const z = tensor([[1, 2, 3]], { requiresGrad: true });
    sum(gather(z, [0, 0, 2], 1).mul(tensor([[1, 10, 100]]))).backward();
    expect(values(z.grad!)).toEqual([11, 0, 100]);
  });

  it('copies the indices so later mutation cannot change the gradient', () => {
    const y = tensor([1, 2, 3], { requiresGrad: true });
    const idx = Int32Array.from([0, 1]);
    const out = sum(gather(y, idx));
    idx[0] = 2;
    out.backward();
    expect(values(y.grad!)).toEqual([1, 1, 0]);
  });

  it('rejects out-of-range, negative and non-integer indices naming the index and the axis size', () => {
    expect(() => gather(x, [0, 4])).toThrow('gather: index 4 at position 1 is out of range for axis 0 of size 4 (shape [4,3])');
    expect(() => gather(x, [-1], 1)).toThrow('gather: index -1 at position 0 is out of range for axis 1 of size 3 (shape [4,3])');
    expect(() => gather(x, [0.5])).toThrow('gather: index 0.5 at position 0 is not an integer');
    expect(() => gather(x, [0], 2)).toThrow('gather: axis 2 is out of range for a tensor of rank 2');
  });
});

describe('oneHot', () => {
  it('builds one-hot rows in the requested dtype', () => {
    const y = oneHot([2, 0, 1], 4);
    expect(y.shape).toEqual([3, 4]);
    expect(y.dtype).toBe('float32');
    expect(y.toNested()).toEqual([[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]]);
    expect(oneHot(Int32Array.from([1]), 2, 'float64').dtype).toBe('float64');
    expect(oneHot([], 3).shape).toEqual([0, 3]);
  });

  it('rejects indices ≥ depth, negative or non-integer indices and a bad depth', () => {
    expect(() => oneHot([0, 3], 3)).toThrow('oneHot: index 3 at position 1 is out of range for depth 3');
    expect(() => oneHot([-1], 3)).toThrow('oneHot: index -1 at position 0 is out of range for depth 3');
    expect(() => oneHot([1.5], 3)).toThrow('oneHot: index 1.5 at position 0 is not an integer');
    expect(() => oneHot([0], 0)).toThrow('oneHot: depth must be an integer ≥ 1, got 0');
  });
});

describe('conv2d', () => {
  const configs: { x: number[]; w: number[]; stride: number; padding: number; bias: boolean }[] = [
    { x: [2, 3, 7, 6], w: [4, 3, 3, 3], stride: 1, padding: 0, bias: true },
    { x: [2, 3, 7, 6], w: [4, 3, 3, 3], stride: 1, padding: 1, bias: false },
    { x: [1, 2, 9, 8], w: [3, 2, 3, 2], stride: 2, padding: 0, bias: true },
    { x: [2, 2, 8, 9], w: [2, 2, 5, 5], stride: 2, padding: 1, bias: true },
    { x: [1, 1, 4, 4], w: [2, 1, 1, 1], stride: 3, padding: 2, bias: false },
    { x: [3, 1, 12, 12], w: [5, 1, 5, 5], stride: 1, padding: 0, bias: true },
  ];
  for (const [k, cfg] of configs.entries()) {
    it(`matches a direct convolution loop: x ${JSON.stringify(cfg.x)} w ${JSON.stringify(cfg.w)} stride ${cfg.stride} padding ${cfg.padding}`, () => {
      const r = rng(100 + k);
      const x = randn(cfg.x, { dtype: 'float64', rng: r });
      const w = randn(cfg.w, { dtype: 'float64', rng: r });
      const b = cfg.bias ? randn([cfg.w[0]!], { dtype: 'float64', rng: r }) : null;
      const y = conv2d(x, w, b, { stride: cfg.stride, padding: cfg.padding });
      const ref = naiveConv2d(x, w, b, cfg.stride, cfg.padding);
      expect(y.shape).toEqual(ref.shape);
      const got = y.toArray();
      ref.data.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 12));
    });
  }

  it('works in float32 and as a method', () => {
    const x = tensor([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]);
    const w = tensor([[[[1, 0], [0, -1]]]]);
    const y = x.conv2d(w, tensor([10]));
    expect(y.dtype).toBe('float32');
    expect(y.toNested()).toEqual([[[[6, 6], [6, 6]]]]);
  });

  it('rejects bad geometry with messages naming the op and the shapes', () => {
    const x = tensor(new Float32Array(2 * 3 * 5 * 5), { shape: [2, 3, 5, 5] });
    const w = tensor(new Float32Array(4 * 2 * 3 * 3), { shape: [4, 2, 3, 3] });
    expect(() => conv2d(x, w)).toThrow('conv2d: input has 3 channels but weight expects 2: input [2,3,5,5], weight [4,2,3,3]');
    const w6 = tensor(new Float32Array(3 * 6 * 6), { shape: [1, 3, 6, 6] });
    expect(() => conv2d(x, w6)).toThrow('conv2d: kernel 6×6 does not fit the input padded by 0 (5×5): input [2,3,5,5], weight [1,3,6,6]');
    expect(conv2d(x, w6, null, { padding: 1 }).shape).toEqual([2, 1, 2, 2]);
    const w3 = tensor(new Float32Array(4 * 3 * 3 * 3), { shape: [4, 3, 3, 3] });
    expect(() => conv2d(x, w3, null, { stride: 1.5 })).toThrow('conv2d: stride must be an integer ≥ 1, got 1.5');
    expect(() => conv2d(x, w3, null, { stride: 0 })).toThrow('conv2d: stride must be an integer ≥ 1, got 0');
    expect(() => conv2d(x, w3, null, { padding: -1 })).toThrow('conv2d: padding must be an integer ≥ 0, got -1');
    expect(() => conv2d(x, w3, tensor([1, 2]))).toThrow('conv2d: bias must have shape [4] (one per filter), got [2]');
    expect(() => conv2d(tensor([[1, 2]]), w3)).toThrow('conv2d: expected input [N,C,H,W] and weight [F,C,kH,kW], got input [1,2], weight [4,3,3,3]');
  });
});

describe('maxPool2d', () => {
  for (const [k, cfg] of [
    { shape: [2, 3, 6, 6], kernel: 2, stride: 2 },
    { shape: [1, 2, 7, 5], kernel: 2, stride: 2 },
    { shape: [2, 1, 7, 7], kernel: 3, stride: 2 },
    { shape: [1, 2, 5, 6], kernel: 2, stride: 1 },
  ].entries()) {
    it(`matches a naive max: ${JSON.stringify(cfg.shape)} kernel ${cfg.kernel} stride ${cfg.stride}`, () => {
      const x = randn(cfg.shape, { dtype: 'float64', rng: rng(200 + k) });
      const y = maxPool2d(x, cfg.kernel, cfg.stride);
      const ref = naiveMaxPool(x, cfg.kernel, cfg.stride);
      expect(y.shape).toEqual(ref.shape);
      expect(values(y)).toEqual(ref.data);
    });
  }

  it('routes the gradient to the maximum (first one on ties), adding over overlapping windows', () => {
    const x = tensor([[[[1, 5, 2], [3, 4, 0], [9, 9, 1]]]], { requiresGrad: true });
    const y = maxPool2d(x, 2, 1);
    expect(y.toNested()).toEqual([[[[5, 5], [9, 9]]]]);
    sum(y).backward();
    // Window (1,0) holds the tie 9, 9 and sends its gradient to the first; window (1,1) to the second 9.
    expect(x.grad!.toNested()).toEqual([[[[0, 2, 0], [0, 0, 0], [1, 1, 0]]]]);
  });

  it('rejects bad geometry', () => {
    const x = tensor(new Float32Array(16), { shape: [1, 1, 4, 4] });
    expect(() => maxPool2d(x, 5)).toThrow('maxPool2d: kernel 5 is larger than the input [1,1,4,4]');
    expect(() => maxPool2d(x, 2, 0.5)).toThrow('maxPool2d: stride must be an integer ≥ 1, got 0.5');
    expect(() => maxPool2d(tensor([1, 2]), 1)).toThrow('maxPool2d: expected input [N,C,H,W], got [2]');
  });
});
