import { afterAll, describe, expect, it } from 'vitest';
import { configureFusion } from '../src/kernels/cpu/fusion.js';
import { configureMatmul } from '../src/kernels/cpu/matmul-config.js';
import { PARALLEL_MIN_ELEMENTS } from '../src/kernels/cpu/simd.js';
import { kernelThreadStats, shutdownKernelThreads } from '../src/kernels/cpu/threads/kernel-threads.js';
import { useWorkerThreads } from '../src/node/worker-threads.js';
import { adamUpdateWasm } from '../src/packs/adam-update/wasm.js';
import { biasActivationWasm, reluGradWasm } from '../src/packs/bias-activation/wasm.js';
import { mixRowsGradWasm } from '../src/packs/expert-mixture/wasm.js';
import { softmaxCrossEntropyGradWasm, softmaxCrossEntropyWasm } from '../src/packs/softmax-cross-entropy/wasm.js';
import { add, exp, logSoftmax, logsumexp, mul, relu, Rng, sigmoid, softmax, tanh, tensor, tidy, type Tensor } from '../src/index.js';

/**
 * Elementwise ops, fused chains and softmax split across worker threads (element ranges and whole
 * rows) against one thread: every element gets the same arithmetic, so results are identical bit
 * for bit; calls below the size threshold stay on the calling thread.
 */
useWorkerThreads();
afterAll(() => {
  configureMatmul({ threads: 1 });
  shutdownKernelThreads();
});

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!(Object.is(a[i], b[i]) || (Number.isNaN(a[i]!) && Number.isNaN(b[i]!)))) return false;
  return true;
}

function onThreads<T>(threads: number, fn: () => T): { value: T; split: number } {
  configureMatmul({ threads });
  const before = kernelThreadStats().splitCalls;
  try {
    return { value: fn(), split: kernelThreadStats().splitCalls - before };
  } finally {
    configureMatmul({ threads: 1 });
  }
}

const rng = new Rng(3);
const big = 4 * PARALLEL_MIN_ELEMENTS + 13;
const x = tensor(Float32Array.from({ length: big }, () => rng.normal() * 4));
const y = tensor(Float32Array.from({ length: big }, () => rng.normal()));

describe('kernels on worker threads', () => {
  const cases: [string, () => Tensor][] = [
    ['exp (unary)', () => exp(x)],
    ['add (binary, same shape)', () => add(x, y)],
    ['mul by a scalar', () => mul(x, 0.75)],
    ['a bias row [rows, 64] + [64]', () => add(x.slice([0], [64 * 2000]).reshape([2000, 64]), y.slice([0], [64]))],
    ['softmax rows [·, 250]', () => softmax(x.slice([0], [250 * 500]).reshape([500, 250]), -1)],
    ['log-softmax rows [·, 64]', () => logSoftmax(x.slice([0], [64 * 2000]).reshape([2000, 64]), -1)],
    ['logsumexp rows [·, 250]', () => logsumexp(x.slice([0], [250 * 500]).reshape([500, 250]), -1)],
    ['a fused chain', () => add(mul(relu(add(mul(x, 1.5), 0.5)), sigmoid(x)), tanh(mul(y, x)))],
  ];
  for (const [name, build] of cases) {
    it(`${name}: 2 threads give exactly the 1-thread result`, () => {
      const one = onThreads(1, () => tidy(build).toArray());
      const two = onThreads(2, () => tidy(build).toArray());
      expect(one.split).toBe(0);
      expect(two.split).toBeGreaterThan(0);
      expect(kernelThreadStats().workers).toBe(1);
      expect(sameBits(two.value, one.value)).toBe(true);
    });
  }

  it('keeps calls below the threshold on the calling thread', () => {
    const small = tensor(Float32Array.from({ length: 2 * PARALLEL_MIN_ELEMENTS - 1 }, (_, i) => i));
    expect(onThreads(2, () => tidy(() => exp(small)).toArray()).split).toBe(0);
    expect(onThreads(2, () => tidy(() => softmax(small.reshape([2 * PARALLEL_MIN_ELEMENTS - 1, 1]), -1)).toArray()).split).toBe(0);
  });

  it('a new fused chain runs on threads without restarting them', () => {
    configureFusion({ enabled: true });
    expect(onThreads(2, () => tidy(() => exp(x)).toArray()).split).toBeGreaterThan(0);
    const starts = kernelThreadStats().poolStarts;
    const fresh = onThreads(2, () => tidy(() => sigmoid(add(tanh(x), exp(mul(y, -0.25))))).toArray());
    expect(fresh.split).toBeGreaterThan(0);
    expect(kernelThreadStats().poolStarts).toBe(starts);
    expect(sameBits(fresh.value, onThreads(1, () => tidy(() => sigmoid(add(tanh(x), exp(mul(y, -0.25))))).toArray()).value)).toBe(true);
  });
});

describe('op-pack kernels on worker threads', () => {
  const f32 = (n: number, scale = 1): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * scale);
  const [rows, cols] = [1024, 100];
  const g = f32(rows * cols);
  const yv = f32(rows * cols);

  /** Runs `fn` (which fills fresh outputs) on 1 and 2 threads; the outputs must agree bit for bit and 2 must split. */
  function same(name: string, fn: () => Float32Array[]): void {
    it(`${name}: 2 threads give exactly the 1-thread result`, () => {
      const one = onThreads(1, fn);
      const two = onThreads(2, fn);
      expect(two.split).toBeGreaterThan(0);
      one.value.forEach((a, i) => expect(sameBits(two.value[i]!, a), `output ${i}`).toBe(true));
    });
  }

  same('bias + ReLU (rows)', () => {
    const out = new Float32Array(rows * cols);
    expect(biasActivationWasm(g, yv.subarray(0, cols), cols, true, out)).toBe(true);
    return [out];
  });
  same('ReLU backward with the bias gradient (column stripes, float64 sums in row order)', () => {
    const [gx, bias] = [new Float32Array(rows * cols), new Float32Array(cols)];
    expect(reluGradWasm(g, yv, cols, gx, bias)).toBe(true);
    return [gx, bias];
  });
  const n = rows * cols + 3;
  const [p, pg, m, v] = [f32(n), f32(n), f32(n, 0.1), Float32Array.from(f32(n), (x) => x * x)];
  same('Adam step (element ranges)', () => {
    const outs = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
    const args = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, step: 3 };
    expect(adamUpdateWasm(p, pg, m, v, args, outs[0]!, outs[1]!, outs[2]!)).toBe(true);
    return outs;
  });
  const [batch, d, experts] = [512, 64, 8];
  const q = f32(batch * experts);
  const terms = Array.from({ length: experts }, (_, e) => ({ f: f32(batch * d), column: e, rows: null }));
  const gm = f32(batch * d);
  same('mixRows backward (whole terms, distinct columns)', () => {
    const gq = new Float32Array(batch * experts);
    const gfs = terms.map(() => new Float32Array(batch * d));
    expect(mixRowsGradWasm(q, experts, terms, gm, batch, d, gq, gfs)).toBe(true);
    return [gq, ...gfs];
  });
  const labels = Int32Array.from({ length: rows }, (_, r) => (r * 37) % cols);
  same('softmax cross-entropy forward (rows)', () => {
    const [loss, lse] = [new Float32Array(rows), new Float32Array(rows)];
    expect(softmaxCrossEntropyWasm(yv, labels, rows, cols, loss, lse)).toBe(true);
    return [loss, lse];
  });
  same('softmax cross-entropy backward (rows)', () => {
    const [loss, lse, dx] = [new Float32Array(rows), new Float32Array(rows), new Float32Array(rows * cols)];
    softmaxCrossEntropyWasm(yv, labels, rows, cols, loss, lse);
    expect(softmaxCrossEntropyGradWasm(g.subarray(0, rows), yv, lse, labels, rows, cols, dx)).toBe(true);
    return [dx];
  });
});
