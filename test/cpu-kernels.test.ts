import { describe, expect, it } from 'vitest';
import type { BinaryOp, ReduceOp, UnaryOp } from '../src/advanced.js';
import { logSoftmax, logsumexp, matmul, max, min, Rng, softmax, sum, tensor, type DType, type TypedArray } from '../src/index.js';
import { CpuBackend } from '../src/kernels/cpu/backend.js';
import { configureSimdKernels } from '../src/kernels/cpu/simd.js';
import type { Storage } from '../src/tensor/storage.js';

/** Every cpu kernel here is compared against an obviously-correct loop over multi-indices. */
const cpu = new CpuBackend();
const DTYPES: readonly DType[] = ['float32', 'float64'];

const sizeOf = (shape: readonly number[]): number => shape.reduce((p, d) => p * d, 1);

function stridesOf(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = s;
    s *= shape[i]!;
  }
  return st;
}

function unravel(index: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = index % shape[i]!;
    index = Math.floor(index / shape[i]!);
  }
  return out;
}

/** Flat index into `shape` (right-aligned, size-1 dims broadcast) of the output multi-index `idx`. */
function broadcastIndex(idx: readonly number[], shape: readonly number[]): number {
  const st = stridesOf(shape);
  const lead = idx.length - shape.length;
  let flat = 0;
  for (let i = 0; i < shape.length; i++) flat += (shape[i] === 1 ? 0 : idx[lead + i]!) * st[i]!;
  return flat;
}

function array(dtype: DType, n: number, value: (i: number) => number): TypedArray {
  const a = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = value(i);
  return a;
}

const store = (a: TypedArray): Storage => cpu.fromHost(a);

function randomShape(rng: Rng, minRank: number, maxRank: number, maxDim = 4): number[] {
  const rank = minRank + rng.int(maxRank - minRank + 1);
  return Array.from({ length: rank }, () => 1 + rng.int(maxDim));
}

/** A random shape that broadcasts to `out`: some dims set to 1, some leading dims dropped. */
function broadcastableTo(rng: Rng, out: readonly number[]): number[] {
  const drop = rng.int(out.length + 1);
  return out.slice(drop).map((d) => (rng.uniform() < 0.35 ? 1 : d));
}

/** Rounds a double the way the output array stores it. */
const stored = (dtype: DType, v: number): number => (dtype === 'float32' ? Math.fround(v) : v);

function expectClose(actual: number, expected: number, rel: number, abs: number, what: string): void {
  if (Number.isNaN(expected)) {
    expect(actual, what).toBeNaN();
    return;
  }
  if (!Number.isFinite(expected)) {
    expect(actual, what).toBe(expected);
    return;
  }
  const err = Math.abs(actual - expected);
  if (!(err <= abs + rel * Math.abs(expected))) expect.fail(`${what}: got ${actual}, expected ${expected} (error ${err})`);
}

const BINARY_REF: Record<BinaryOp, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
  pow: (x, y) => Math.pow(x, y),
  maximum: (x, y) => Math.max(x, y),
  minimum: (x, y) => Math.min(x, y),
  eq: (x, y) => Number(x === y),
  ne: (x, y) => Number(x !== y),
  lt: (x, y) => Number(x < y),
  le: (x, y) => Number(x <= y),
  gt: (x, y) => Number(x > y),
  ge: (x, y) => Number(x >= y),
};

const UNARY_REF: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  abs: Math.abs,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  relu: (x) => Math.max(x, 0),
  softplus: (x) => Math.log1p(Math.exp(x)),
  sign: Math.sign,
  step: (x) => (x > 0 ? 1 : 0),
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
};

describe('elementwise kernels', () => {
  for (const dtype of DTYPES) {
    it(`unary ops match the reference (${dtype})`, () => {
      const rng = new Rng(1);
      // Small integers and exact zeros too, so sign/step/relu/abs see their edge values.
      const x = array(dtype, 200, (i) => (i % 10 === 0 ? 0 : i % 7 === 0 ? rng.int(5) - 2 : 4 * rng.normal()));
      for (const op of Object.keys(UNARY_REF) as UnaryOp[]) {
        const input = op === 'log' || op === 'sqrt' ? x.map(Math.abs) : x;
        const out = cpu.unary(op, store(input as TypedArray)).readSync();
        expect(out.constructor).toBe(x.constructor);
        const rel = dtype === 'float32' ? 2e-7 : 1e-14;
        for (let i = 0; i < x.length; i++) {
          expectClose(out[i]!, stored(dtype, UNARY_REF[op](input[i]!)), rel, 1e-300, `${op}(${input[i]})`);
        }
      }
    });

    it(`binary ops with random broadcasting match the reference exactly (${dtype})`, () => {
      const rng = new Rng(2);
      for (let trial = 0; trial < 60; trial++) {
        const outShape = randomShape(rng, 0, 4);
        const aShape = broadcastableTo(rng, outShape);
        const bShape = broadcastableTo(rng, outShape);
        // The true broadcast shape of a and b (it may drop dims that both dropped).
        const rank = Math.max(aShape.length, bShape.length);
        const shape = Array.from({ length: rank }, (_, i) =>
          Math.max(aShape[aShape.length - rank + i] ?? 1, bShape[bShape.length - rank + i] ?? 1),
        );
        const a = array(dtype, sizeOf(aShape), () => rng.normal());
        const b = array(dtype, sizeOf(bShape), () => (rng.uniform() < 0.2 ? 0.5 : rng.normal()));
        const aPos = a.map((v) => Math.abs(v) + 0.1) as TypedArray;
        for (const op of Object.keys(BINARY_REF) as BinaryOp[]) {
          const left = op === 'pow' ? aPos : a;
          const out = cpu.binary(op, store(left), aShape, store(b), bShape, shape).readSync();
          expect(out.length).toBe(sizeOf(shape));
          for (let o = 0; o < out.length; o++) {
            const idx = unravel(o, shape);
            const expected = stored(dtype, BINARY_REF[op](left[broadcastIndex(idx, aShape)]!, b[broadcastIndex(idx, bShape)]!));
            if (!Object.is(out[o], expected)) {
              expect.fail(`${op} [${aShape}] ⊕ [${bShape}] → [${shape}] at ${o}: got ${out[o]}, expected ${expected}`);
            }
          }
        }
      }
    });

    it(`where with three-way broadcasting (${dtype})`, () => {
      const rng = new Rng(3);
      for (let trial = 0; trial < 40; trial++) {
        const shape = randomShape(rng, 1, 4);
        const cShape = broadcastableTo(rng, shape);
        const aShape = broadcastableTo(rng, shape);
        const bShape = shape.slice(rng.int(2));
        const c = array(dtype, sizeOf(cShape), () => rng.int(2));
        const a = array(dtype, sizeOf(aShape), () => rng.normal());
        const b = array(dtype, sizeOf(bShape), () => rng.normal());
        const out = cpu.where(store(c), cShape, store(a), aShape, store(b), bShape, shape).readSync();
        for (let o = 0; o < out.length; o++) {
          const idx = unravel(o, shape);
          const expected = c[broadcastIndex(idx, cShape)] !== 0 ? a[broadcastIndex(idx, aShape)] : b[broadcastIndex(idx, bShape)];
          expect(out[o]).toBe(expected);
        }
      }
    });

    it(`clamp (${dtype})`, () => {
      const x = array(dtype, 7, (i) => [-3, -0.5, -0.25, 0, 0.25, 0.5, 3][i]!);
      expect(Array.from(cpu.clamp(store(x), -0.5, 0.25).readSync())).toEqual([-0.5, -0.5, -0.25, 0, 0.25, 0.25, 0.25]);
      expect(Array.from(cpu.clamp(store(x), -Infinity, 0).readSync())).toEqual([-3, -0.5, -0.25, 0, 0, 0, 0]);
    });
  }

  it('maximum/minimum propagate NaN from either side; sigmoid/softplus do not overflow', () => {
    const nan = store(new Float64Array([NaN, 1]));
    const one = store(new Float64Array([1, NaN]));
    for (const op of ['maximum', 'minimum'] as const) {
      const out = cpu.binary(op, nan, [2], one, [2], [2]).readSync();
      expect(out[0]).toBeNaN();
      expect(out[1]).toBeNaN();
    }
    const big = store(new Float64Array([-800, 800]));
    expect(Array.from(cpu.unary('sigmoid', big).readSync())).toEqual([0, 1]);
    expect(Array.from(cpu.unary('softplus', big).readSync())).toEqual([0, 800]);
  });
});

/** Naive reduction: walks every input element and folds it into the output at its kept indices. */
function referenceReduce(op: ReduceOp, x: TypedArray, shape: readonly number[], axes: readonly number[]): Float64Array {
  const keptShape = shape.filter((_, i) => !axes.includes(i));
  const out = new Float64Array(sizeOf(keptShape)).fill(op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity);
  const keptStrides = stridesOf(keptShape);
  for (let i = 0; i < x.length; i++) {
    const idx = unravel(i, shape);
    let o = 0;
    let k = 0;
    for (let d = 0; d < shape.length; d++) if (!axes.includes(d)) o += idx[d]! * keptStrides[k++]!;
    const v = x[i]!;
    out[o] = op === 'sum' ? out[o]! + v : op === 'max' ? Math.max(out[o]!, v) : Math.min(out[o]!, v);
  }
  return out;
}

function randomAxes(rng: Rng, rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => i).filter(() => rng.uniform() < 0.5);
}

describe('reduction kernels', () => {
  for (const dtype of DTYPES) {
    it(`sum/max/min over random axis sets match the reference (${dtype})`, () => {
      const rng = new Rng(4);
      for (let trial = 0; trial < 80; trial++) {
        const shape = randomShape(rng, 1, 4, 5);
        const axes = trial % 10 === 0 ? shape.map((_, i) => i) : randomAxes(rng, shape.length);
        const x = array(dtype, sizeOf(shape), () => rng.normal());
        let absTotal = 0;
        for (const v of x) absTotal += Math.abs(v);
        for (const op of ['sum', 'max', 'min'] as const) {
          const out = cpu.reduce(op, store(x), shape, axes).readSync();
          const ref = referenceReduce(op, x, shape, axes);
          expect(out.length).toBe(ref.length);
          for (let i = 0; i < ref.length; i++) {
            if (op === 'sum') expectClose(out[i]!, ref[i]!, 0, (dtype === 'float32' ? 1e-6 : 1e-13) * (absTotal + 1), `sum [${shape}] axes [${axes}]`);
            else expect(out[i], `${op} [${shape}] axes [${axes}]`).toBe(ref[i]);
          }
        }
      }
    });
  }

  it('reduces a middle axis and several axes, with and without keepDims (through the ops)', () => {
    const x = tensor(Array.from({ length: 24 }, (_, i) => i), { shape: [2, 3, 4], dtype: 'float64' });
    const mid = sum(x, 1);
    expect(mid.shape).toEqual([2, 4]);
    expect(mid.toNested()).toEqual([[12, 15, 18, 21], [48, 51, 54, 57]]);
    expect(sum(x, 1, true).shape).toEqual([2, 1, 4]);
    const outer = sum(x, [0, 2], true);
    expect(outer.shape).toEqual([1, 3, 1]);
    expect(Array.from(outer.toArray())).toEqual([60, 92, 124]);
    expect(max(x, [0, 1]).toNested()).toEqual([20, 21, 22, 23]);
    expect(min(x, -1, true).toNested()).toEqual([[[0], [4], [8]], [[12], [16], [20]]]);
    expect(sum(x).shape).toEqual([]);
    expect(sum(x, undefined, true).shape).toEqual([1, 1, 1]);
  });

  it('float32 sums accumulate in float64 (no drift over a million terms)', () => {
    const n = 1_000_000;
    const x = new Float32Array(2 * n).fill(0.1);
    const expected = n * Math.fround(0.1);
    const cols = cpu.reduce('sum', store(x), [n, 2], [0]).readSync();
    const rows = cpu.reduce('sum', store(x), [2, n], [1]).readSync();
    for (const v of [...cols, ...rows]) expect(Math.abs(v - expected)).toBeLessThan(0.01);
  });

  it('max/min propagate NaN; empty reductions give the identity', () => {
    const x = store(new Float64Array([1, NaN, 3, 4, 5, 6]));
    expect(Array.from(cpu.reduce('max', x, [2, 3], [1]).readSync())).toEqual([NaN, 6]);
    expect(Array.from(cpu.reduce('min', x, [2, 3], [0]).readSync())).toEqual([1, NaN, 3]);
    expect(Array.from(cpu.reduce('sum', store(new Float64Array(0)), [0, 2], [0]).readSync())).toEqual([0, 0]);
  });

  for (const dtype of DTYPES) {
    it(`argmax takes the first maximum along any axis (${dtype})`, () => {
      const rng = new Rng(5);
      for (let trial = 0; trial < 40; trial++) {
        const shape = randomShape(rng, 1, 4);
        const axis = rng.int(shape.length);
        const x = array(dtype, sizeOf(shape), () => rng.int(3)); // many ties
        const out = cpu.argmax(store(x), shape, axis).readSync();
        const outShape = shape.filter((_, i) => i !== axis);
        expect(out.length).toBe(sizeOf(outShape));
        const st = stridesOf(shape);
        for (let o = 0; o < out.length; o++) {
          const idx = unravel(o, outShape);
          idx.splice(axis, 0, 0);
          const base = idx.reduce((p, v, i) => p + v * st[i]!, 0);
          let best = 0;
          for (let k = 1; k < shape[axis]!; k++) if (x[base + k * st[axis]!]! > x[base + best * st[axis]!]!) best = k;
          expect(out[o]).toBe(best);
        }
      }
    });
  }
});

/** Naive softmax along `axis`, lane by lane, in doubles. */
function referenceSoftmax(x: TypedArray, shape: readonly number[], axis: number, log: boolean): Float64Array {
  const out = new Float64Array(x.length);
  const st = stridesOf(shape);
  const n = shape[axis]!;
  for (let i = 0; i < x.length; i++) {
    if (unravel(i, shape)[axis] !== 0) continue; // i is the first element of a lane
    const lane = Array.from({ length: n }, (_, k) => x[i + k * st[axis]!]!);
    const m = Math.max(...lane);
    const total = lane.reduce((p, v) => p + Math.exp(v - m), 0);
    lane.forEach((v, k) => (out[i + k * st[axis]!] = log ? v - m - Math.log(total) : Math.exp(v - m) / total));
  }
  return out;
}

describe('softmax kernels', () => {
  for (const dtype of DTYPES) {
    it(`softmax/logSoftmax along random axes match the reference (${dtype})`, () => {
      const rng = new Rng(6);
      for (let trial = 0; trial < 50; trial++) {
        const shape = randomShape(rng, 1, 4, 5);
        const axis = rng.int(shape.length);
        const x = array(dtype, sizeOf(shape), () => 3 * rng.normal());
        for (const log of [false, true]) {
          const out = cpu.softmax(store(x), shape, axis, log).readSync();
          const ref = referenceSoftmax(x, shape, axis, log);
          const rel = dtype === 'float32' ? 1e-6 : 1e-13;
          for (let i = 0; i < ref.length; i++) expectClose(out[i]!, ref[i]!, rel, rel, `${log ? 'log' : ''}softmax [${shape}] axis ${axis}`);
        }
      }
    });

    it(`softmax, logSoftmax and logsumexp stay finite and exact for inputs of ±1000 (${dtype})`, () => {
      const x = tensor([[1000, 0, -1000], [1000, 1000, 1000], [-1000, -1000, -1000]], { dtype });
      const p = softmax(x).toArray();
      expect(p.every(Number.isFinite)).toBe(true);
      expect(Array.from(p.slice(0, 3))).toEqual([1, 0, 0]);
      for (let i = 3; i < 9; i++) expect(p[i]).toBeCloseTo(1 / 3, 6);
      const lp = logSoftmax(x).toArray();
      expect(lp.every(Number.isFinite)).toBe(true);
      expect(Array.from(lp.slice(0, 3))).toEqual([0, -1000, -2000]);
      for (let i = 3; i < 9; i++) expect(lp[i]).toBeCloseTo(-Math.log(3), 5);
      const lse = logsumexp(x, -1).toArray();
      expect(lse[0]).toBe(1000);
      expect(lse[1]).toBeCloseTo(1000 + Math.log(3), 4);
      expect(lse[2]).toBeCloseTo(-1000 + Math.log(3), 4);
      // The same along the first axis (the strided kernel path).
      const pt = softmax(x, 0).toArray();
      expect(pt.every(Number.isFinite)).toBe(true);
      expect(logsumexp(x, 0).toArray().every(Number.isFinite)).toBe(true);
    });
  }

  it('logsumexp over random axis sets matches a reference, and handles ±∞ lanes', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 30; trial++) {
      const shape = randomShape(rng, 1, 4, 4);
      const axes = randomAxes(rng, shape.length);
      const data = array('float64', sizeOf(shape), () => 50 * rng.normal());
      const got = logsumexp(tensor(data, { shape }), axes).toArray();
      const m = referenceReduce('max', data, shape, axes);
      const shifted = data.map((v, i) => {
        const idx = unravel(i, shape);
        const kept = shape.filter((_, d) => !axes.includes(d));
        const o = broadcastIndex(idx.filter((_, d) => !axes.includes(d)), kept);
        return Math.exp(v - m[o]!);
      }) as Float64Array;
      const s = referenceReduce('sum', shifted, shape, axes);
      for (let i = 0; i < s.length; i++) expectClose(got[i]!, m[i]! + Math.log(s[i]!), 1e-13, 1e-12, `logsumexp [${shape}] axes [${axes}]`);
    }
    const special = logsumexp(tensor([[-Infinity, -Infinity], [Infinity, 1], [0, -Infinity]], { dtype: 'float64' }), 1).toArray();
    expect(Array.from(special)).toEqual([-Infinity, Infinity, 0]);
  });

  /** `fn` with the SIMD elementwise/softmax kernels off: logsumexp takes the composed path. */
  function withoutSimd<T>(fn: () => T): T {
    configureSimdKernels({ simd: false });
    try {
      return fn();
    } finally {
      configureSimdKernels({ simd: true });
    }
  }

  it('float32 logsumexp over trailing axes (the SIMD row kernel) matches the composed kernels, keepDims either way', () => {
    // Bound as in test/simd-kernels-suite.ts: two float32 ulps of the result plus 2e-6.
    const rng = new Rng(8);
    const cases: [number[], number | number[]][] = [[[5, 37], -1], [[3, 4, 9], -1], [[3, 4, 9], [1, 2]], [[2, 3, 1], 1], [[6, 130], [0, 1]], [[40, 1], -1], [[2, 257], 1]];
    for (const [shape, axis] of cases) {
      const x = tensor(Float32Array.from({ length: sizeOf(shape) }, () => 20 * rng.normal()), { shape });
      for (const keepDims of [false, true]) {
        const fast = logsumexp(x, axis, keepDims);
        const ref = withoutSimd(() => logsumexp(x, axis, keepDims));
        expect(fast.shape, `[${shape}] axis ${axis}`).toEqual(ref.shape);
        const [a, b] = [fast.toArray(), ref.toArray()];
        for (let i = 0; i < b.length; i++) expect(Math.abs(a[i]! - b[i]!), `[${shape}] axis ${axis} keepDims ${keepDims} element ${i}`).toBeLessThanOrEqual(2e-6 + 2.5e-7 * Math.abs(b[i]!));
      }
    }
    // The gradient is still softmax·g.
    const x = tensor(Float32Array.from({ length: 3 * 37 }, () => 3 * rng.normal()), { shape: [3, 37], requiresGrad: true });
    logsumexp(x, -1).sum().backward();
    const p = softmax(x.detach(), -1).toArray();
    Array.from(x.grad!.toArray()).forEach((v, i) => expect(Math.abs(v - p[i]!)).toBeLessThanOrEqual(1e-6));
  });
});

describe('matmul through the op', () => {
  function referenceMatmul(a: TypedArray, aShape: number[], b: TypedArray, bShape: number[], transA: boolean, transB: boolean): Float64Array {
    const m = transA ? aShape.at(-1)! : aShape.at(-2)!;
    const k = transA ? aShape.at(-2)! : aShape.at(-1)!;
    const n = transB ? bShape.at(-2)! : bShape.at(-1)!;
    const batchA = aShape.slice(0, -2);
    const batchB = bShape.slice(0, -2);
    const rank = Math.max(batchA.length, batchB.length);
    const batch = Array.from({ length: rank }, (_, i) => Math.max(batchA[batchA.length - rank + i] ?? 1, batchB[batchB.length - rank + i] ?? 1));
    const out = new Float64Array(sizeOf(batch) * m * n);
    for (let t = 0; t < sizeOf(batch); t++) {
      const idx = unravel(t, batch);
      const ao = broadcastIndex(idx, batchA) * m * k;
      const bo = broadcastIndex(idx, batchB) * k * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let p = 0; p < k; p++) acc += a[ao + (transA ? p * m + i : i * k + p)]! * b[bo + (transB ? j * k + p : p * n + j)]!;
          out[t * m * n + i * n + j] = acc;
        }
      }
    }
    return out;
  }

  for (const dtype of DTYPES) {
    it(`matches a naive triple loop with batch broadcasting and transposes (${dtype})`, () => {
      const rng = new Rng(8);
      for (let trial = 0; trial < 40; trial++) {
        const [m, k, n] = [1 + rng.int(9), 1 + rng.int(9), 1 + rng.int(9)];
        const transA = rng.uniform() < 0.5;
        const transB = rng.uniform() < 0.5;
        const batch = randomShape(rng, 0, 2, 3);
        const aShape = [...broadcastableTo(rng, batch), ...(transA ? [k, m] : [m, k])];
        const bShape = [...broadcastableTo(rng, batch), ...(transB ? [n, k] : [k, n])];
        const a = array(dtype, sizeOf(aShape), () => rng.normal());
        const b = array(dtype, sizeOf(bShape), () => rng.normal());
        const got = matmul(tensor(a, { shape: aShape }), tensor(b, { shape: bShape }), { transA, transB }).toArray();
        const ref = referenceMatmul(a, aShape, b, bShape, transA, transB);
        expect(got.length).toBe(ref.length);
        const tol = dtype === 'float32' ? 1e-5 : 1e-12;
        for (let i = 0; i < ref.length; i++) expectClose(got[i]!, ref[i]!, tol, tol * k, `matmul [${aShape}] @ [${bShape}]`);
      }
    });
  }
});
