import { describe, expect, it } from 'vitest';
import { configureFusion } from '../src/kernels/cpu/fusion.js';
import { configureHeap } from '../src/kernels/cpu/heap.js';
import { configureSimdKernels } from '../src/kernels/cpu/simd.js';
import {
  abs,
  add,
  div,
  eq,
  exp,
  ge,
  gt,
  le,
  log,
  lt,
  matmul,
  maximum,
  minimum,
  mul,
  ne,
  neg,
  reciprocal,
  relu,
  Rng,
  sigmoid,
  sign,
  softplus,
  sqrt,
  square,
  sub,
  sum,
  tanh,
  tensor,
  tidy,
  type Tensor,
} from '../src/index.js';

/**
 * Elementwise fusion (src/kernels/cpu/fusion.ts) against the same ops run one kernel at a time:
 * every stored value must be bit for bit the unfused one (both run the same SIMD emitters on the
 * same float32 values), and the deferral must be invisible except in speed: results, gradients,
 * error messages, and which values get computed at all.
 */
const UNARY: Record<string, (x: Tensor) => Tensor> = { neg, exp, log, sqrt, abs, tanh, sigmoid, relu, softplus, square, reciprocal, sign };
const BINARY: Record<string, (a: Tensor | number, b: Tensor | number) => Tensor> = { add, sub, mul, div, maximum, minimum, eq, ne, lt, le, gt, ge };
const EDGES = [0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 3.4e38, -3.4e38, 88.7, -104, 1, -1, 0.5];
const N = 5003; // above the deferral threshold, not a multiple of 4

function sameBits(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

function data(seed: number, n = N): Tensor {
  const rng = new Rng(seed);
  return tensor(Float32Array.from({ length: n }, (_, i) => (i % 13 === seed % 13 ? EDGES[(i + seed) % EDGES.length]! : rng.normal() * 3)));
}

function withFusion<T>(enabled: boolean, fn: () => T): T {
  const before = configureFusion().enabled;
  configureFusion({ enabled });
  try {
    return fn();
  } finally {
    configureFusion({ enabled: before });
  }
}

function expectSameBits(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) if (!sameBits(got[i]!, want[i]!)) expect.fail(`${what}: element ${i} is ${got[i]} fused, ${want[i]} unfused`);
}

/** A random expression over the leaves and scalars, as a function (run once fused, once not). */
function randomChain(seed: number, leaves: Tensor[]): { build: () => Tensor; text: string } {
  const rng = new Rng(seed);
  const unary = Object.keys(UNARY);
  const binary = Object.keys(BINARY);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rng.uniform() * xs.length)]!;
  type Node = { text: string; build: () => Tensor };
  const grow = (depth: number): Node => {
    if (depth === 0) {
      const i = Math.floor(rng.uniform() * leaves.length);
      return { text: `x${i}`, build: () => leaves[i]! };
    }
    if (rng.uniform() < 0.45) {
      const op = pick(unary);
      const a = grow(depth - 1);
      return { text: `${op}(${a.text})`, build: () => UNARY[op]!(a.build()) };
    }
    const op = pick(binary);
    const a = grow(depth - 1);
    if (rng.uniform() < 0.25) {
      const s = pick([1.5, -0.5, 0, 2, 1e-3]);
      const left = rng.uniform() < 0.5;
      return { text: left ? `${op}(${s}, ${a.text})` : `${op}(${a.text}, ${s})`, build: () => (left ? BINARY[op]!(s, a.build()) : BINARY[op]!(a.build(), s)) };
    }
    const b = grow(Math.floor(rng.uniform() * depth));
    return { text: `${op}(${a.text}, ${b.text})`, build: () => BINARY[op]!(a.build(), b.build()) };
  };
  return grow(2 + Math.floor(rng.uniform() * 4));
}

export function fusionSuite(heapMode: 'shared' | 'fixed' | 'off'): void {
  describe(`elementwise fusion (heap ${heapMode})`, () => {
    it('runs here', () => {
      expect(configureHeap().mode).toBe(heapMode);
      expect(configureFusion().enabled).toBe(true);
    });

    it('random chains of every fusable op: each result bit for bit the unfused one', () => {
      const leaves = [data(1), data(2), data(3)];
      for (let seed = 1; seed <= 60; seed++) {
        const chain = randomChain(seed, leaves);
        const fused = tidy(() => chain.build()).toArray();
        const unfused = withFusion(false, () => tidy(() => chain.build()).toArray());
        expectSameBits(fused, unfused, chain.text);
      }
    });

    it('defers results and computes a chain in one pass when read, storing only what is held', () => {
      const x = data(4);
      const before = configureFusion().passes;
      const y = add(mul(relu(add(mul(x, 1.5), 0.5)), sigmoid(x)), exp(neg(mul(x, x))));
      expect(y.storage.deferred).toBe(true);
      expect(configureFusion().passes).toBe(before);
      const values = y.toArray();
      expect(y.storage.deferred).toBe(false);
      expect(configureFusion().passes).toBe(before + 1);
      expectSameBits(values, withFusion(false, () => tidy(() => add(mul(relu(add(mul(x, 1.5), 0.5)), sigmoid(x)), exp(neg(mul(x, x))))).toArray()), 'chain');
    });

    it('writes intermediates still held by live tensors in the same pass', () => {
      const [x, z] = [data(5), data(6)];
      const before = configureFusion().passes;
      const a = sigmoid(x); // held, as a saved-for-backward output would be
      const b = tidy(() => add(mul(a, z), 1)); // the intermediate mul(a, z) is held by nothing
      expect(b.storage.deferred).toBe(false);
      expect(a.storage.deferred).toBe(false);
      expect(configureFusion().passes).toBe(before + 1);
      const [aRef, bRef] = withFusion(false, () => {
        const a2 = sigmoid(x);
        return [a2.toArray(), add(mul(a2, z), 1).toArray()];
      });
      expectSameBits(a.toArray(), aRef, 'held intermediate');
      expectSameBits(b.toArray(), bRef, 'result');
    });

    it('never computes a pending result that is disposed unread', () => {
      const x = data(7);
      const before = configureFusion().passes;
      const a = exp(x);
      const b = mul(a, 2);
      b.dispose();
      a.dispose();
      tidy(() => {
        tanh(sqrt(abs(x)));
      });
      expect(configureFusion().passes).toBe(before);
    });

    it('tidy computes what it returns after disposing the rest; other kernels and reads compute their operands', () => {
      const x = data(8);
      const before = configureFusion().passes;
      const kept = tidy(() => [softplus(x), { nested: tanh(x) }] as const);
      expect(kept[0].storage.deferred).toBe(false);
      expect(kept[1].nested.storage.deferred).toBe(false);
      expect(configureFusion().passes).toBe(before + 2);
      const m = tensor(Array.from({ length: 64 * 64 }, (_, i) => Math.sin(i)), { shape: [64, 64] });
      const viaMatmul = tidy(() => matmul(exp(m), m)).toArray();
      const ref = withFusion(false, () => tidy(() => matmul(exp(m), m)).toArray());
      expectSameBits(viaMatmul, ref, 'matmul of a pending operand');
      expect(tidy(() => sum(square(x)).item())).toBe(withFusion(false, () => tidy(() => sum(square(x)).item())));
    });

    it('runs float64 and small tensors at once, as before', () => {
      const x64 = tensor(Array.from({ length: N }, (_, i) => i / N), { dtype: 'float64' });
      expect(exp(x64).storage.deferred).toBe(false);
      expect(exp(data(9, 100)).storage.deferred).toBe(false);
      // A broadcast other than a scalar (a bias row) runs at once too.
      const rows = tensor(Array.from({ length: 64 * 100 }, (_, i) => i), { shape: [64, 100] });
      expect(add(rows, tensor(Array.from({ length: 100 }, (_, i) => i))).storage.deferred).toBe(false);
    });

    it('reports shape errors at the call, with the eager message', () => {
      const x = data(10);
      const y = data(11, 7);
      const message = withFusion(false, () => {
        try {
          add(x, y);
        } catch (e) {
          return (e as Error).message;
        }
        return 'no error';
      });
      expect(message).toContain('add');
      expect(() => add(exp(x), y)).toThrow(message);
    });

    it('gives gradients bit for bit equal to the unfused ones (the backward chains are fused too)', () => {
      const run = (): number[][] => {
        const x = data(12);
        const y = data(13);
        x.requiresGrad = true;
        y.requiresGrad = true;
        tidy(() => sum(mul(tanh(add(mul(x, y), 0.5)), sigmoid(sub(y, x)))).backward());
        return [Array.from(x.grad!.toArray()), Array.from(y.grad!.toArray())];
      };
      const fused = run();
      const unfused = withFusion(false, run);
      expectSameBits(fused[0]!, unfused[0]!, 'x.grad');
      expectSameBits(fused[1]!, unfused[1]!, 'y.grad');
    });

    it('cuts chains that would outgrow one kernel: long accumulations and wide sums stay exact', () => {
      const leaves = Array.from({ length: 12 }, (_, i) => data(20 + i));
      const build = (): Tensor => {
        let acc = leaves[0]!;
        for (let i = 0; i < 200; i++) acc = add(mul(acc, 0.5), leaves[i % leaves.length]!);
        return acc;
      };
      expectSameBits(tidy(build).toArray(), withFusion(false, () => tidy(build).toArray()), '200-step accumulation');
      // Eight leaves and every intermediate held: more outputs than one call takes.
      const held: Tensor[] = [];
      const wide = (): Tensor => {
        let acc = leaves[0]!;
        for (let i = 1; i < 8; i++) held.push((acc = add(acc, exp(leaves[i]!))));
        return acc;
      };
      const fused = wide().toArray();
      const heldFused = held.splice(0).map((t) => t.toArray());
      const unfused = withFusion(false, () => wide().toArray());
      const heldUnfused = held.splice(0).map((t) => t.toArray());
      expectSameBits(fused, unfused, 'wide chain');
      heldFused.forEach((h, i) => expectSameBits(h, heldUnfused[i]!, `held intermediate ${i}`));
    });

    it('a chain deferred before the SIMD kernels are switched off is computed by the JS kernels', () => {
      const x = data(40);
      const before = configureFusion().passes;
      const y = tanh(add(mul(x, 0.5), 1));
      expect(y.storage.deferred).toBe(true);
      configureSimdKernels({ simd: false });
      try {
        const viaJs = y.toArray();
        expect(configureFusion().passes).toBe(before);
        const ref = Float32Array.from(x.toArray(), (v) => Math.tanh(Math.fround(Math.fround(v * 0.5) + 1)));
        expectSameBits(viaJs, ref, 'JS chain');
      } finally {
        configureSimdKernels({ simd: true });
      }
    });

    it('rejects bad settings with a message naming them', () => {
      expect(() => configureFusion({ enabled: 'yes' as never })).toThrow('configureFusion: enabled must be true or false, got yes');
      expect(() => configureFusion({ minElements: 0 })).toThrow('configureFusion: minElements must be an integer ≥ 1, got 0');
    });
  });
}
