import { describe, expect, it } from 'vitest';
import { arange, eye, fromTypedArray, full, ones, rand, randn, Rng, seed, tensor, zeros } from '../src/index.js';

describe('tensor()', () => {
  it('builds from nested arrays, inferring the shape; float32 by default', () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.size).toBe(6);
    expect(t.toArray()).toBeInstanceOf(Float32Array);
    expect(Array.from(t.toArray())).toEqual([1, 2, 3, 4, 5, 6]);
    const cube = tensor([[[1], [2]], [[3], [4]]]);
    expect(cube.shape).toEqual([2, 2, 1]);
    expect(cube.toNested()).toEqual([[[1], [2]], [[3], [4]]]);
  });

  it('builds a 0-d tensor from a number and an empty tensor from []', () => {
    const s = tensor(3.5, { dtype: 'float64' });
    expect(s.shape).toEqual([]);
    expect(s.size).toBe(1);
    expect(s.item()).toBe(3.5);
    expect(s.toNested()).toBe(3.5);
    const e = tensor([]);
    expect(e.shape).toEqual([0]);
    expect(e.size).toBe(0);
  });

  it('takes a flat array with a shape', () => {
    const t = tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2], dtype: 'float64' });
    expect(t.shape).toEqual([3, 2]);
    expect(t.dtype).toBe('float64');
    expect(t.toNested()).toEqual([[1, 2], [3, 4], [5, 6]]);
  });

  it('takes typed arrays: dtype inferred, data copied, converted on request', () => {
    const src = new Float64Array([0.1, 0.2, 0.3, 0.4]);
    const t = tensor(src, { shape: [2, 2] });
    expect(t.dtype).toBe('float64');
    src[0] = 99;
    expect(t.toArray()[0]).toBe(0.1); // copied, not aliased
    const f32 = tensor(new Float64Array([0.1]), { dtype: 'float32' });
    expect(f32.dtype).toBe('float32');
    expect(f32.item()).toBe(Math.fround(0.1));
    const up = tensor(new Float32Array([1.5, 2.5]), { dtype: 'float64' });
    expect(up.dtype).toBe('float64');
    expect(Array.from(up.toArray())).toEqual([1.5, 2.5]);
  });

  it('rounds float32 data to float32 and keeps float64 data exact', () => {
    expect(tensor([0.1]).item()).toBe(Math.fround(0.1));
    expect(tensor([0.1], { dtype: 'float64' }).item()).toBe(0.1);
  });

  it('fromTypedArray takes the array over without copying', () => {
    const data = new Float32Array([1, 2, 3]);
    const t = fromTypedArray(data, [3]);
    expect(t.storage.readSync()).toBe(data);
  });

  it('honours requiresGrad', () => {
    expect(tensor([1], { requiresGrad: true }).requiresGrad).toBe(true);
    expect(tensor([1]).requiresGrad).toBe(false);
    expect(zeros([2], { requiresGrad: true }).requiresGrad).toBe(true);
  });
});

describe('filled tensors', () => {
  it('zeros / ones / full with shape and dtype', () => {
    const z = zeros([2, 3]);
    expect(z.shape).toEqual([2, 3]);
    expect(z.dtype).toBe('float32');
    expect(Array.from(z.toArray())).toEqual([0, 0, 0, 0, 0, 0]);
    const o = ones([4], { dtype: 'float64' });
    expect(o.dtype).toBe('float64');
    expect(Array.from(o.toArray())).toEqual([1, 1, 1, 1]);
    const f = full([2, 2], -2.5);
    expect(Array.from(f.toArray())).toEqual([-2.5, -2.5, -2.5, -2.5]);
    expect(zeros([]).shape).toEqual([]);
    expect(zeros([]).size).toBe(1);
    expect(zeros([3, 0]).size).toBe(0);
  });

  it('arange like numpy.arange', () => {
    expect(Array.from(arange(5).toArray())).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(arange(2, 5).toArray())).toEqual([2, 3, 4]);
    expect(Array.from(arange(0, 1, 0.25, { dtype: 'float64' }).toArray())).toEqual([0, 0.25, 0.5, 0.75]);
    expect(Array.from(arange(5, 0, -2).toArray())).toEqual([5, 3, 1]);
    expect(arange(3, 1).shape).toEqual([0]);
    expect(arange(4, undefined, 1, { dtype: 'float64' }).dtype).toBe('float64');
  });

  it('eye, square and rectangular', () => {
    expect(eye(3).toNested()).toEqual([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    expect(eye(2, 3).toNested()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(eye(3, 2, { dtype: 'float64' }).toNested()).toEqual([[1, 0], [0, 1], [0, 0]]);
  });
});

describe('random tensors', () => {
  it('rand is uniform in [low, high)', () => {
    const r = rand([10_000], { low: -2, high: 3, dtype: 'float64', rng: new Rng(1) });
    const v = r.toArray();
    let lo = Infinity;
    let hi = -Infinity;
    let total = 0;
    for (const x of v) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
      total += x;
    }
    expect(lo).toBeGreaterThanOrEqual(-2);
    expect(hi).toBeLessThan(3);
    expect(lo).toBeLessThan(-1.99);
    expect(hi).toBeGreaterThan(2.99);
    expect(total / v.length).toBeCloseTo(0.5, 1);
  });

  it('randn has the requested mean and std', () => {
    const v = Array.from(randn([20_000], { mean: 3, std: 2, dtype: 'float64', rng: new Rng(2) }).toArray());
    const m = v.reduce((p, x) => p + x, 0) / v.length;
    const sd = Math.sqrt(v.reduce((p, x) => p + (x - m) ** 2, 0) / v.length);
    expect(Math.abs(m - 3)).toBeLessThan(0.05);
    expect(Math.abs(sd - 2)).toBeLessThan(0.05);
  });

  it('seed(n) reproduces the global stream bit for bit', () => {
    seed(42);
    const a = [rand([50]).toArray(), randn([3, 7], { dtype: 'float64' }).toArray()];
    seed(42);
    const b = [rand([50]).toArray(), randn([3, 7], { dtype: 'float64' }).toArray()];
    expect(b[0]).toEqual(a[0]);
    expect(b[1]).toEqual(a[1]);
    seed(43);
    expect(rand([50]).toArray()).not.toEqual(a[0]);
  });

  it('an explicit Rng reproduces bit for bit and leaves the global stream alone', () => {
    seed(7);
    const globalFirst = rand([5], { dtype: 'float64' }).toArray();
    const x = randn([100], { dtype: 'float64', rng: new Rng(123) }).toArray();
    const y = randn([100], { dtype: 'float64', rng: new Rng(123) }).toArray();
    for (let i = 0; i < x.length; i++) expect(Object.is(x[i], y[i])).toBe(true);
    seed(7);
    rand([3], { rng: new Rng(9) }); // must not advance the global generator
    expect(rand([5], { dtype: 'float64' }).toArray()).toEqual(globalFirst);
  });

  it('Rng helpers: int in range, permutation is a permutation, reseed restarts', () => {
    const rng = new Rng(5);
    for (let i = 0; i < 1000; i++) {
      const k = rng.int(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
    const p = Array.from(rng.permutation(20));
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    rng.reseed(11);
    const first = rng.uniform();
    rng.reseed(11);
    expect(rng.uniform()).toBe(first);
  });
});

describe('reading values', () => {
  it('toArray returns a copy in the tensor dtype', () => {
    const t = tensor([1, 2, 3], { dtype: 'float64' });
    const arr = t.toArray();
    expect(arr).toBeInstanceOf(Float64Array);
    arr[0] = 100;
    expect(t.toArray()[0]).toBe(1);
  });

  it('item reads a one-element tensor of any rank', () => {
    expect(tensor([[7]]).item()).toBe(7);
    expect(tensor(2).item()).toBe(2);
  });

  it('toNested mirrors the shape', () => {
    expect(tensor([1, 2, 3, 4, 5, 6], { shape: [2, 1, 3] }).toNested()).toEqual([[[1, 2, 3]], [[4, 5, 6]]]);
    expect(tensor([], { shape: [0] }).toNested()).toEqual([]);
  });
});
