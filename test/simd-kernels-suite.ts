import { describe, expect, it } from 'vitest';
import { binaryKernel, planBroadcast, unaryKernel } from '../src/kernels/cpu/elementwise.js';
import { configureHeap, heapFloat32, isHeapArray } from '../src/kernels/cpu/heap.js';
import { softmaxInto } from '../src/kernels/cpu/reduce.js';
import { binaryPlanSimd, configureSimdKernels, logsumexpRowsSimd, softmaxRowsSimd, unarySimd } from '../src/kernels/cpu/simd.js';
import { CpuBackend } from '../src/kernels/cpu/backend.js';
import { wrap } from '../src/kernels/cpu/host.js';
import { logsumexpComposed } from '../src/kernels/logsumexp.js';
import { BINARY_SIMD_OPS, UNARY_SIMD_OPS } from '../src/kernels/cpu/wasm/math-module.js';
import type { BinaryOp, UnaryOp } from '../src/kernels/backend.js';

/**
 * The WebAssembly SIMD float32 kernels against the scalar JS kernels and Math.*.
 *
 * Accuracy of the vector math, in float32 ulps of the exact result (Math.* in double precision),
 * measured over every 64th float32 bit pattern (67 million inputs, both signs) and the special
 * values below; the bounds tested here are those maxima rounded up:
 *
 * | function | max error measured | bound tested |
 * |----------|--------------------|--------------|
 * | exp      | 0.95 ulp           | 1 ulp        |
 * | log      | 0.81 ulp           | 1 ulp        |
 * | tanh     | 1.29 ulp           | 1.5 ulp      |
 * | sigmoid  | 2.40 ulp           | 2.5 ulp      |
 * | softplus | 1.93 ulp           | 2 ulp        |
 *
 * (0.5 ulp is correct rounding.) Subnormal results count in units of the smallest subnormal.
 * Every other op (neg, abs, sqrt, square, reciprocal, relu, sign, step, and all binary ops) is
 * bit-identical to the JS kernel, NaN, ±0 and ±∞ included.
 */
const ULP_BOUND: Record<string, number> = { exp: 1, log: 1, tanh: 1.5, sigmoid: 2.5, softplus: 2 };
const APPROXIMATE = new Set(Object.keys(ULP_BOUND));

const REFERENCE: Record<string, (x: number) => number> = {
  exp: Math.exp,
  log: Math.log,
  tanh: Math.tanh,
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  softplus: (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))),
};

const SPECIALS = [
  0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 1.1754942e-38, -1.1754942e-38, 1.1754944e-38, 1e-30, -1e-30,
  3.4028235e38, -3.4028235e38, 88.72283, 88.72284, 88.7229, 89, -87.33654, -87.34, -103.27, -103.98, -104, -150, -1e6, 1e6,
  0.625, -0.625, 0.62499994, 0.6250001, 1, -1, 0.5, 2, 0.6931472, 1.4142135, 0.70710677, 17, -17, 16.635532, -16.635532,
];

/** |got − exact| in float32 ulps at the exact value's magnitude (subnormals: the smallest one). */
function ulpError(got: number, exact: number): number {
  const rounded = Math.fround(exact);
  if (Number.isNaN(rounded) || Number.isNaN(got)) return Number.isNaN(rounded) && Number.isNaN(got) ? 0 : Infinity;
  if (!Number.isFinite(rounded) || !Number.isFinite(got)) return got === rounded ? 0 : Infinity;
  if (rounded === 0 && got === 0) return Object.is(rounded, got) ? 0 : Infinity;
  const a = Math.abs(exact);
  const e = a < 2 ** -126 ? -126 : Math.floor(Math.log2(a));
  return Math.abs(got - exact) / 2 ** (e - 23);
}

function sameBits(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

/** Every `step`-th float32 bit pattern, then the special values. */
function sweep(step: number): Float32Array {
  const n = Math.floor(2 ** 32 / step);
  const out = new Float32Array(n + SPECIALS.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) bits[i] = (i * step + 1013) >>> 0;
  out.set(SPECIALS, n);
  return out;
}

/** A copy of `a` in the heap (or an ordinary copy when there is no heap). */
function heapCopy(a: Float32Array): Float32Array {
  const h = heapFloat32(Math.max(1, a.length))?.subarray(0, a.length) ?? new Float32Array(a.length);
  h.set(a);
  return h;
}

/** The whole suite, for the heap as configured by the calling test file. */
export function simdKernelSuite(heapMode: 'shared' | 'fixed' | 'off'): void {
  describe('SIMD unary kernels', () => {
    const inputs = sweep(4096);

    it(`run on this engine (WebAssembly SIMD, heap ${heapMode})`, () => {
      expect(configureSimdKernels().running).toBe('wasm-simd');
      expect(configureHeap().mode).toBe(heapMode);
      expect(heapFloat32(64) !== null && isHeapArray(heapFloat32(64)!)).toBe(heapMode !== 'off');
    });

    for (const op of UNARY_SIMD_OPS) {
      it(`${op} over every 4096th float32 bit pattern and the special values`, () => {
        const out = new Float32Array(inputs.length);
        expect(unarySimd(op, inputs, out)).toBe(true);
        if (APPROXIMATE.has(op)) {
          const ref = REFERENCE[op]!;
          let worst = 0;
          let worstAt = 0;
          for (let i = 0; i < inputs.length; i++) {
            const e = ulpError(out[i]!, ref(inputs[i]!));
            if (e > worst) [worst, worstAt] = [e, inputs[i]!];
          }
          expect(worst, `${op}: ${worst.toFixed(3)} ulp at x = ${worstAt}`).toBeLessThanOrEqual(ULP_BOUND[op]!);
        } else {
          const ref = new Float32Array(inputs.length);
          unaryKernel(op as UnaryOp)(inputs, ref);
          for (let i = 0; i < inputs.length; i++) {
            if (!sameBits(out[i]!, ref[i]!)) expect.fail(`${op}(${inputs[i]}) = ${out[i]}, JS kernel: ${ref[i]}`);
          }
        }
      });
    }

    it('special values come out exactly as Math.* gives them (rounded to float32)', () => {
      const x = Float32Array.from(SPECIALS);
      for (const op of APPROXIMATE) {
        const out = new Float32Array(x.length);
        unarySimd(op, x, out, true);
        x.forEach((v, i) => {
          const want = Math.fround(REFERENCE[op]!(v));
          // Non-finite, zero and NaN results must match exactly (sign of zero included).
          if (!Number.isFinite(want) || want === 0) expect(sameBits(out[i]!, want), `${op}(${v}) = ${out[i]}, want ${want}`).toBe(true);
        });
      }
    });

    it('every length from 0 to 37 (partial vectors at the end), in the heap and outside it', () => {
      for (let n = 0; n <= 37; n++) {
        const x = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3.25 + i / 10);
        for (const op of UNARY_SIMD_OPS) {
          const ref = new Float32Array(n);
          unaryKernel(op as UnaryOp)(x, ref);
          for (const [src, dst] of [
            [x, new Float32Array(n)],
            [heapCopy(x), heapCopy(new Float32Array(n).fill(42))],
          ] as const) {
            expect(unarySimd(op, src, dst, true)).toBe(true);
            for (let i = 0; i < n; i++) {
              const ok = APPROXIMATE.has(op) ? ulpError(dst[i]!, REFERENCE[op]!(x[i]!)) <= ULP_BOUND[op]! : sameBits(dst[i]!, ref[i]!);
              if (!ok) expect.fail(`${op} length ${n} element ${i}: ${dst[i]} vs ${ref[i]}`);
            }
          }
        }
      }
    });

    it('leaves float64 and tiny arrays to the JS kernels', () => {
      expect(unarySimd('exp', new Float64Array(100), new Float64Array(100))).toBe(false);
      expect(unarySimd('exp', new Float32Array(3), new Float32Array(3))).toBe(false);
      // Copied operands (no heap) pay only from a few hundred elements on.
      expect(unarySimd('exp', new Float32Array(100), new Float32Array(100))).toBe(heapMode !== 'off');
      expect(unarySimd('pow', new Float32Array(100), new Float32Array(100))).toBe(false);
    });
  });

  function broadcastShapes(a: number[], b: number[]): number[] {
    const rank = Math.max(a.length, b.length);
    const pad = (s: number[]): number[] => [...new Array<number>(rank - s.length).fill(1), ...s];
    const [pa, pb] = [pad(a), pad(b)];
    return pa.map((d, i) => (d === 1 ? pb[i]! : d));
  }

  describe('SIMD binary kernels', () => {
    // Values with every kind of edge: ±0, ±∞, NaN, subnormals, ties for max/min.
    const EDGES = [0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 3.4e38, -3.4e38, -2.5, 2.5, 3, -3, 1, 0.1];
    const value = (i: number, salt: number): number =>
      i % 5 === salt % 5 ? EDGES[(i * 7 + salt) % EDGES.length]! : Math.fround(Math.sin(i * 1.3 + salt) * 4 * 10 ** ((i % 7) - 3));
    const fill = (n: number, salt: number): Float32Array => Float32Array.from({ length: n }, (_, i) => value(i, salt));
    // [a shape, b shape]: same, scalars, a bias row, a column, an outer sum, leading 1s, rank 3 that collapses.
    const CASES: [number[], number[]][] = [];
    for (const c of [1, 2, 3, 4, 5, 7, 33]) {
      CASES.push([[3, c], [3, c]], [[3, c], [1]], [[1], [3, c]], [[3, c], [c]], [[c], [3, c]], [[3, c], [3, 1]], [[3, 1], [3, c]], [[3, 1], [1, c]], [[1, c], [3, 1]]);
    }
    CASES.push([[2, 3, 8], [8]], [[2, 3, 8], [2, 3, 8]], [[1, 1, 40], [1]], [[0, 4], [4]], [[2051], [2051]]);

    for (const op of BINARY_SIMD_OPS) {
      it(`${op} is bit-identical to the JS kernel for same-shape, scalar and row/column broadcasts`, () => {
        for (const [aShape, bShape] of CASES) {
          const outShape = broadcastShapes(aShape, bShape);
          const n = outShape.reduce((p, d) => p * d, 1);
          const a = fill(aShape.reduce((p, d) => p * d, 1), 1);
          const b = fill(bShape.reduce((p, d) => p * d, 1), 2);
          const plan = planBroadcast([aShape, bShape], outShape);
          const ref = new Float32Array(n);
          binaryKernel(op as BinaryOp)(a, b, ref, plan);
          for (const [pa, pb, out] of [
            [a, b, new Float32Array(n)],
            [heapCopy(a), heapCopy(b), heapCopy(new Float32Array(n).fill(42))],
          ] as const) {
            expect(binaryPlanSimd(op, pa, pb, out, plan, true), `${op} [${aShape}] [${bShape}] runs on SIMD`).toBe(true);
            for (let i = 0; i < n; i++) {
              if (!sameBits(out[i]!, ref[i]!)) expect.fail(`${op} [${aShape}] with [${bShape}], element ${i}: ${out[i]} vs JS ${ref[i]}`);
            }
          }
        }
      });
    }

    it('declines plans it has no loop for (rank > 2 after collapsing, strided inner runs)', () => {
      const plan = planBroadcast([[2, 1, 3], [1, 4, 3]], [2, 4, 3]);
      expect(plan.kind).toBe('general');
      expect(binaryPlanSimd('add', new Float32Array(6), new Float32Array(12), new Float32Array(24), plan, true)).toBe(false);
    });
  });

  describe('SIMD softmax rows', () => {
    function check(rows: number, cols: number, x: Float32Array, log: boolean, where: string): void {
      const ref = new Float32Array(rows * cols);
      softmaxInto(x, [rows, cols], 1, log, ref);
      for (const [src, out] of [
        [x, new Float32Array(rows * cols)],
        [heapCopy(x), heapCopy(new Float32Array(rows * cols).fill(42))],
      ] as const) {
        expect(softmaxRowsSimd(src, out, rows, cols, log, true)).toBe(true);
        for (let i = 0; i < out.length; i++) {
          const [got, want] = [out[i]!, ref[i]!];
          // float32 softmax: x − max is rounded once (the JS kernel subtracts in doubles), so allow
          // 1e-6 relative plus what that rounding does to e^(x − max); log-softmax is absolute.
          const tol = log ? 2e-6 * Math.max(1, Math.abs(x[i]!), Math.abs(want)) : 1e-6 * Math.abs(want) + 1e-7 * Math.max(1, Math.abs(x[i]!)) * Math.abs(want) + 1e-30;
          const ok = Number.isNaN(want) ? Number.isNaN(got) : got === want || Math.abs(got - want) <= tol;
          if (!ok) expect.fail(`${log ? 'log-' : ''}softmax ${where} [${rows},${cols}] element ${i}: ${got} vs JS ${want}`);
        }
      }
    }

    for (const log of [false, true]) {
      it(`${log ? 'log-softmax' : 'softmax'} matches the JS kernel for every row length 1–70 and long rows`, () => {
        for (const cols of [...Array.from({ length: 70 }, (_, i) => i + 1), 127, 1000, 4099]) {
          const rows = cols > 100 ? 3 : 5;
          const x = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.77) * 9);
          check(rows, cols, x, log, 'random');
        }
      });

      it(`${log ? 'log-softmax' : 'softmax'} is stable and propagates NaN as the JS kernel does`, () => {
        const rows: number[][] = [
          [1000, 999, -1000, 0, 1000, 998.5, 997],
          [-1000, -1001, -1002, -999.5, -1000, -1003, -1001],
          [NaN, 1, 2, 3, 4, 5, 6],
          [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity],
          [Infinity, 1, 2, 3, 4, 5, 6],
          [-Infinity, 0, -Infinity, 1, -Infinity, 2, -Infinity],
          [0, -80, -86, -88, -90, -100, -200],
          [3e38, -3e38, 0, 1, 2, 3, 4],
        ];
        const x = Float32Array.from(rows.flat());
        check(rows.length, 7, x, log, 'edge rows');
        // A masked (−∞) entry next to finite ones is exactly 0 (log: −∞), as top-k gates rely on.
        const out = new Float32Array(x.length);
        softmaxRowsSimd(x, out, rows.length, 7, log, true);
        for (const i of [35, 37, 39, 41]) expect(out[i]).toBe(log ? -Infinity : 0);
      });
    }
  });

  describe('SIMD logsumexp rows', () => {
    /**
     * The row kernel against the composed kernels (max, shift, exp, sum, log, add: the reference twin,
     * float32) and against the exact value (float64 from the same float32 inputs). Bound, both:
     * |got − want| ≤ 2e-6 + 2.5e-7·|want| — two float32 ulps of the result (the final m + ln Σ is
     * rounded in each) plus 2e-6 for ln Σ (float32 exp and log of ≤ 1 ulp, the sum in float32
     * blocks of 64). Non-finite results must be identical.
     */
    const cpu = new CpuBackend();
    const close = (got: number, want: number): boolean =>
      Number.isNaN(want) ? Number.isNaN(got) : !Number.isFinite(want) ? got === want : Math.abs(got - want) <= 2e-6 + 2.5e-7 * Math.abs(want);
    function exact(x: Float32Array, r: number, cols: number): number {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
      if (row.some(Number.isNaN)) return NaN;
      const m = Math.max(...row);
      if (!Number.isFinite(m)) return m;
      return m + Math.log(row.reduce((p, v) => p + Math.exp(v - m), 0));
    }
    function check(rows: number, cols: number, x: Float32Array, where: string): void {
      const composed = logsumexpComposed(cpu, wrap(x.slice()), [rows, cols], [1]).readSync();
      for (const [src, out] of [
        [x, new Float32Array(rows)],
        [heapCopy(x), heapCopy(new Float32Array(rows).fill(42))],
      ] as const) {
        expect(logsumexpRowsSimd(src, out, rows, cols, true), `logsumexp ${where} [${rows},${cols}] runs on SIMD`).toBe(true);
        for (let r = 0; r < rows; r++) {
          const [got, want, twin] = [out[r]!, exact(x, r, cols), composed[r]!];
          if (!close(got, want)) expect.fail(`logsumexp ${where} [${rows},${cols}] row ${r}: ${got} vs exact ${want}`);
          if (!close(got, twin)) expect.fail(`logsumexp ${where} [${rows},${cols}] row ${r}: ${got} vs composed ${twin}`);
        }
      }
    }

    it('matches the composed kernels and the exact value for every row length 1–70 and long rows', () => {
      for (const cols of [...Array.from({ length: 70 }, (_, i) => i + 1), 127, 1000, 4099]) {
        const rows = cols > 100 ? 3 : 5;
        check(rows, cols, Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.77) * 9), 'random');
      }
    });

    it('is stable for ±1000 and gives −∞, +∞ and NaN rows as the composed kernels do', () => {
      const rows: number[][] = [
        [1000, 999, -1000, 0, 1000, 998.5, 997],
        [-1000, -1001, -1002, -999.5, -1000, -1003, -1001],
        [NaN, 1, 2, 3, 4, 5, 6],
        [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity],
        [Infinity, 1, 2, 3, 4, 5, 6],
        [-Infinity, 0, -Infinity, 1, -Infinity, 2, -Infinity],
        [0, -80, -86, -88, -90, -100, -200],
        [3e38, -3e38, 0, 1, 2, 3, 4],
        [-Infinity, -Infinity, NaN, -Infinity, -Infinity, -Infinity, -Infinity],
        [Infinity, -Infinity, 1, Infinity, 0, 0, 0],
        [Infinity, 1, 2, 3, 4, 5, NaN],
        [3e38, 3e38, 3e38, 3e38, 3e38, 3e38, 3e38],
      ];
      check(rows.length, 7, Float32Array.from(rows.flat()), 'edge rows');
      const out = new Float32Array(rows.length);
      logsumexpRowsSimd(Float32Array.from(rows.flat()), out, rows.length, 7, true);
      expect(Array.from(out.slice(2, 5))).toEqual([NaN, -Infinity, Infinity]);
      expect(Array.from(out.slice(8, 11))).toEqual([NaN, Infinity, NaN]);
      // One column: the value itself (non-finite ones too).
      const single = Float32Array.from([3, -Infinity, Infinity, NaN, -1000]);
      const one = new Float32Array(5);
      expect(logsumexpRowsSimd(single, one, 5, 1, true)).toBe(true);
      expect(Array.from(one)).toEqual([3, -Infinity, Infinity, NaN, -1000]);
    });

    it('leaves float64, mismatched lengths and tiny rows to the composed path', () => {
      expect(logsumexpRowsSimd(new Float64Array(100), new Float64Array(1), 1, 100)).toBe(false);
      expect(logsumexpRowsSimd(new Float32Array(100), new Float32Array(2), 1, 100)).toBe(false);
      expect(logsumexpRowsSimd(new Float32Array(3), new Float32Array(1), 1, 3)).toBe(false);
    });
  });
}
