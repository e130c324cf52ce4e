import { describe, expect, it } from 'vitest';
import type { MatmulArgs } from '../src/kernels/backend.js';
import { gemmDirect } from '../src/kernels/cpu/gemm-direct.js';
import { gemmJs } from '../src/kernels/cpu/gemm-js.js';
import { gemmWasm, shutdownGemmWorkers, wasmGemmAvailable } from '../src/kernels/cpu/gemm-wasm.js';
import { gemm, gemmStrided, matmulInto } from '../src/kernels/cpu/matmul.js';
import { configureMatmul, matmulInfo } from '../src/kernels/cpu/matmul-config.js';
import type { DType, TypedArray } from '../src/tensor/dtype.js';
import { useWorkerThreads } from '../src/node/worker-threads.js';

useWorkerThreads();

/** Kernel-level checks of the matmul kernels against a float64 triple loop (no timings here). */

type StridedGemm = typeof gemmJs;

const wasmOrThrow: StridedGemm = (...args) => {
  if (!gemmWasm(...args)) throw new Error('gemmWasm declined the product');
};

const wasmTwoThreads: StridedGemm = (...args) => {
  if (!gemmWasm(...args, 2)) throw new Error('gemmWasm declined the product');
};

const KERNELS: Record<string, StridedGemm> = {
  'blocked js': gemmJs,
  'wasm simd': wasmOrThrow,
  'wasm simd, 2 threads': wasmTwoThreads,
  direct: gemmDirect,
  dispatch: gemmStrided,
};

it('WebAssembly SIMD kernels are available in this Node', () => {
  expect(wasmGemmAvailable()).toBe(true);
});
const DTYPES: DType[] = ['float32', 'float64'];
const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

// Deterministic data without the engine's RNG: an LCG, values in [-1, 1), a few exact zeros.
function filled(dtype: DType, length: number, seed: number): TypedArray {
  const out = dtype === 'float64' ? new Float64Array(length) : new Float32Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = i % 11 === 5 ? 0 : s / 2 ** 31 - 1;
  }
  return out;
}

interface Reference {
  values: Float64Array;
  /** Σ_p |A[i,p]·B[p,j]| per element: the scale rounding errors are measured against. */
  magnitude: Float64Array;
}

function reference(m: number, n: number, k: number, a: TypedArray, aOff: number, ars: number, acs: number, b: TypedArray, bOff: number, brs: number, bcs: number): Reference {
  const values = new Float64Array(m * n);
  const magnitude = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let mag = 0;
      for (let p = 0; p < k; p++) {
        const prod = a[aOff + i * ars + p * acs]! * b[bOff + p * brs + j * bcs]!;
        s += prod;
        mag += Math.abs(prod);
      }
      values[i * n + j] = s;
      magnitude[i * n + j] = mag;
    }
  }
  return { values, magnitude };
}

/** Asserts every element within rounding error: float64 1e-12, float32 2e-6 relative to Σ|a·b|. */
function expectClose(got: TypedArray, gotOff: number, ldc: number, ref: Reference, m: number, n: number, dtype: DType, label: string): void {
  const rel = dtype === 'float64' ? 1e-12 : 2e-6;
  let worst = 0;
  let where = '';
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const g = got[gotOff + i * ldc + j]!;
      const r = ref.values[i * n + j]!;
      const excess = Math.abs(g - r) - (rel * ref.magnitude[i * n + j]! + 1e-30);
      if (!(excess <= worst)) {
        worst = Number.isNaN(excess) ? Infinity : excess;
        where = `[${i},${j}] got ${g} want ${r}`;
      }
    }
  }
  expect(where, `${label}: worst element ${where}`).toBe('');
}

function stridesFor(m: number, n: number, k: number, transA: boolean, transB: boolean): [number, number, number, number] {
  return [transA ? 1 : k, transA ? m : 1, transB ? 1 : n, transB ? k : 1];
}

function checkProduct(kernel: StridedGemm, dtype: DType, m: number, n: number, k: number, transA: boolean, transB: boolean, label: string): void {
  const a = filled(dtype, m * k, m * 131 + k * 7 + 1);
  const b = filled(dtype, k * n, n * 173 + k * 3 + 2);
  const [ars, acs, brs, bcs] = stridesFor(m, n, k, transA, transB);
  const c = dtype === 'float64' ? new Float64Array(m * n) : new Float32Array(m * n);
  c.fill(Number.NaN); // C must be overwritten, not accumulated into
  kernel(m, n, k, a, 0, ars, acs, b, 0, brs, bcs, c, 0, n);
  expectClose(c, 0, n, reference(m, n, k, a, 0, ars, acs, b, 0, brs, bcs), m, n, dtype, label);
}

const ODD = [1, 3, 7, 17, 65];

describe.each(Object.entries(KERNELS))('matmul kernel: %s', (name, kernel) => {
  it.each(DTYPES)('matches the naive loop on odd sizes, every transpose combination (%s)', (dtype) => {
    for (const [transA, transB] of TRANSPOSES) {
      for (const m of ODD) {
        for (const n of ODD) {
          for (const k of ODD) {
            checkProduct(kernel, dtype, m, n, k, transA, transB, `${name} ${dtype} m=${m} n=${n} k=${k} tA=${transA} tB=${transB}`);
          }
        }
      }
    }
  });

  it.each(DTYPES)('matches on sizes past one cache block (130, 300, 1030) (%s)', (dtype) => {
    for (const [transA, transB] of TRANSPOSES) {
      checkProduct(kernel, dtype, 130, 65, 300, transA, transB, `${name} ${dtype} 130×300·300×65 tA=${transA} tB=${transB}`);
    }
    checkProduct(kernel, dtype, 7, 1030, 17, false, true, `${name} ${dtype} n past one column block`);
    checkProduct(kernel, dtype, 130, 130, 130, false, false, `${name} ${dtype} 130³`);
  });

  it('writes zeros for an empty inner dimension and leaves other memory alone', () => {
    const c = new Float32Array(3 * 4 + 2).fill(7);
    kernel(3, 4, 0, new Float32Array(0), 0, 0, 1, new Float32Array(0), 0, 4, 1, c, 1, 4);
    expect(Array.from(c)).toEqual([7, ...new Array<number>(12).fill(0), 7]);
  });

  it('propagates NaN and Inf as IEEE arithmetic does (0·Inf = NaN)', () => {
    for (const dtype of DTYPES) {
      const m = 5, n = 9, k = 6;
      const a = filled(dtype, m * k, 31);
      const b = filled(dtype, k * n, 32);
      a[0 * k + 2] = 0; // row 0 meets the Inf below with a zero
      b[2 * n + 4] = Infinity;
      a[3 * k + 1] = Number.NaN; // row 3 is NaN everywhere
      const c = dtype === 'float64' ? new Float64Array(m * n) : new Float32Array(m * n);
      kernel(m, n, k, a, 0, k, 1, b, 0, n, 1, c, 0, n);
      expect(c[0 * n + 4]).toBeNaN();
      for (let j = 0; j < n; j++) expect(c[3 * n + j]).toBeNaN();
      expect(Number.isFinite(c[1 * n + 0]!)).toBe(true);
    }
  });

  it('honours offsets and a wider ldc (the sub-block form worker threads use)', () => {
    for (const dtype of DTYPES) {
      const m = 19, n = 23, k = 29, ldc = 40, cOff = 5, aOff = 3, bOff = 11;
      const a = filled(dtype, aOff + m * k, 9);
      const b = filled(dtype, bOff + k * n, 10);
      const c = dtype === 'float64' ? new Float64Array(cOff + m * ldc) : new Float32Array(cOff + m * ldc);
      c.fill(-5);
      kernel(m, n, k, a, aOff, k, 1, b, bOff, n, 1, c, cOff, ldc);
      expectClose(c, cOff, ldc, reference(m, n, k, a, aOff, k, 1, b, bOff, n, 1), m, n, dtype, `${name} ${dtype} offsets`);
      for (let i = 0; i < m; i++) for (let j = n; j < ldc && cOff + i * ldc + j < c.length; j++) expect(c[cOff + i * ldc + j]).toBe(-5);
      expect(c[0]).toBe(-5);
    }
  });
});

describe('matmul kernel: buffer reuse', () => {
  it('stays correct when dtypes and sizes alternate between calls', () => {
    const sizes: [number, number, number][] = [
      [65, 130, 17],
      [7, 3, 300],
      [130, 65, 65],
      [3, 7, 1],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [m, n, k] of sizes) {
        for (const dtype of DTYPES) checkProduct(gemmStrided, dtype, m, n, k, round === 1, false, `reuse ${dtype} ${m}×${k}·${k}×${n}`);
      }
    }
  });

  it('rounds float32 results once from double sums', () => {
    // e is below half an ulp of 1, 2e above: summed in float32 1 + e + e stays 1, in double it rounds up.
    const e = 3 * 2 ** -26;
    const a = new Float32Array([1, e, e, 0, 0, 0, 0, 0, 0]);
    const b = new Float32Array([1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const c = new Float32Array(9);
    gemmJs(3, 3, 3, a, 0, 3, 1, b, 0, 3, 1, c, 0, 3);
    expect(c[0]).toBe(1 + 2 ** -23);
  });
});

describe('matmulInto (batched, broadcast batch dims)', () => {
  function batchedReference(dtype: DType, args: MatmulArgs): void {
    const { aShape, bShape, transA, transB, outShape } = args;
    const size = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);
    const a = filled(dtype, size(aShape), 21);
    const b = filled(dtype, size(bShape), 22);
    const out = dtype === 'float64' ? new Float64Array(size(outShape)) : new Float32Array(size(outShape));
    out.fill(Number.NaN);
    matmulInto(a, b, args, out);
    const ra = aShape.length;
    const m = outShape[outShape.length - 2]!;
    const n = outShape[outShape.length - 1]!;
    const k = transA ? aShape[ra - 2]! : aShape[ra - 1]!;
    const batch = outShape.slice(0, -2);
    const aBatch = aShape.slice(0, -2);
    const bBatch = bShape.slice(0, -2);
    // Matrix index of a batch coordinate in an operand whose batch dims broadcast against `batch`.
    const matrixIndex = (coord: number[], own: readonly number[]): number => {
      let idx = 0;
      const shift = batch.length - own.length;
      for (let d = 0; d < own.length; d++) idx = idx * own[d]! + (own[d] === 1 ? 0 : coord[d + shift]!);
      return idx;
    };
    const total = size(batch);
    for (let t = 0; t < total; t++) {
      const coord: number[] = [];
      let rest = t;
      for (let d = batch.length - 1; d >= 0; d--) {
        coord[d] = rest % batch[d]!;
        rest = Math.floor(rest / batch[d]!);
      }
      const [ars, acs, brs, bcs] = stridesFor(m, n, k, transA, transB);
      const ref = reference(m, n, k, a, matrixIndex(coord, aBatch) * m * k, ars, acs, b, matrixIndex(coord, bBatch) * k * n, brs, bcs);
      expectClose(out, t * m * n, n, ref, m, n, dtype, `batched ${JSON.stringify(args)} at batch ${t}`);
    }
  }

  const cases: MatmulArgs[] = [
    { aShape: [4, 7, 5], bShape: [4, 5, 3], transA: false, transB: false, outShape: [4, 7, 3] },
    { aShape: [4, 17, 65], bShape: [65, 17], transA: false, transB: false, outShape: [4, 17, 17] },
    { aShape: [4, 17, 65], bShape: [17, 65], transA: false, transB: true, outShape: [4, 17, 17] },
    { aShape: [65, 17], bShape: [3, 65, 7], transA: true, transB: false, outShape: [3, 17, 7] },
    { aShape: [2, 1, 7, 9], bShape: [3, 9, 5], transA: false, transB: false, outShape: [2, 3, 7, 5] },
    { aShape: [1, 3, 9, 7], bShape: [2, 1, 5, 9], transA: true, transB: true, outShape: [2, 3, 7, 5] },
    { aShape: [5, 1, 1], bShape: [5, 1, 1], transA: false, transB: false, outShape: [5, 1, 1] },
    { aShape: [2, 33, 40], bShape: [1, 40, 31], transA: false, transB: false, outShape: [2, 33, 31] },
    { aShape: [2, 40, 33], bShape: [2, 31, 40], transA: true, transB: true, outShape: [2, 33, 31] },
  ];
  for (const dtype of DTYPES) {
    it.each(cases)(`${dtype}: %j`, (args) => batchedReference(dtype, args));
  }

  it('gemm (unstrided entry) agrees with the reference for all four transposes', () => {
    for (const [transA, transB] of TRANSPOSES) {
      const m = 20, n = 21, k = 22;
      const a = filled('float64', m * k, 3);
      const b = filled('float64', k * n, 4);
      const c = new Float64Array(m * n);
      gemm(m, n, k, a, 0, transA, b, 0, transB, c, 0);
      const [ars, acs, brs, bcs] = stridesFor(m, n, k, transA, transB);
      expectClose(c, 0, n, reference(m, n, k, a, 0, ars, acs, b, 0, brs, bcs), m, n, 'float64', `gemm tA=${transA} tB=${transB}`);
    }
  });
});

describe('matmul kernel: threads and settings', () => {
  it('splits large products across 2 threads (rows or columns) and matches the reference', () => {
    const shapes: [number, number, number][] = [
      [257, 65, 67], // m > n: split by rows
      [65, 257, 67], // n ≥ m: split by columns
      [130, 131, 33],
      [1030, 9, 61],
    ];
    try {
      for (const dtype of DTYPES) {
        for (const [m, n, k] of shapes) {
          for (const [transA, transB] of TRANSPOSES) {
            const a = filled(dtype, m * k, m + n);
            const b = filled(dtype, k * n, k + 7);
            const [ars, acs, brs, bcs] = stridesFor(m, n, k, transA, transB);
            const c = dtype === 'float64' ? new Float64Array(m * n) : new Float32Array(m * n);
            c.fill(Number.NaN);
            expect(gemmWasm(m, n, k, a, 0, ars, acs, b, 0, brs, bcs, c, 0, n, 2)).toBe(2);
            expectClose(c, 0, n, reference(m, n, k, a, 0, ars, acs, b, 0, brs, bcs), m, n, dtype, `2 threads ${dtype} ${m}×${k}·${k}×${n} tA=${transA} tB=${transB}`);
          }
        }
      }
    } finally {
      shutdownGemmWorkers();
    }
  });

  it('gives bit-identical results on 1 and 2 threads (each element is summed in the same order)', () => {
    try {
      for (const dtype of DTYPES) {
        const m = 300, n = 200, k = 150;
        const a = filled(dtype, m * k, 5);
        const b = filled(dtype, k * n, 6);
        const one = dtype === 'float64' ? new Float64Array(m * n) : new Float32Array(m * n);
        const two = dtype === 'float64' ? new Float64Array(m * n) : new Float32Array(m * n);
        expect(gemmWasm(m, n, k, a, 0, k, 1, b, 0, n, 1, one, 0, n, 1)).toBe(1);
        expect(gemmWasm(m, n, k, a, 0, k, 1, b, 0, n, 1, two, 0, n, 2)).toBe(2);
        expect(Array.from(two)).toEqual(Array.from(one));
      }
    } finally {
      shutdownGemmWorkers();
    }
  });

  it('keeps small products on one thread', () => {
    const c = new Float32Array(20 * 20);
    expect(gemmWasm(20, 20, 20, filled('float32', 400, 1), 0, 20, 1, filled('float32', 400, 2), 0, 20, 1, c, 0, 20, 2)).toBe(1);
  });

  it('routes gemm through the configured kernel and reports what runs', () => {
    try {
      expect(configureMatmul({ kernel: 'js' }).running).toBe('js');
      checkProduct(gemmStrided, 'float32', 65, 67, 130, true, false, 'forced js');
      checkProduct(gemmStrided, 'float64', 1, 65, 130, false, true, 'forced js, row vector');
      checkProduct(gemmStrided, 'float32', 65, 1, 130, true, false, 'forced js, column vector');
      expect(configureMatmul({ kernel: 'auto', threads: 2 })).toEqual({ kernel: 'auto', threads: 2, running: 'wasm-simd' });
      checkProduct(gemmStrided, 'float64', 130, 67, 130, false, true, 'auto, 2 threads');
    } finally {
      configureMatmul({ kernel: 'auto', threads: 1 });
      shutdownGemmWorkers();
    }
    expect(matmulInfo()).toEqual({ kernel: 'auto', threads: 1, running: 'wasm-simd' });
  });

  it('rejects bad settings with a message naming them', () => {
    expect(() => configureMatmul({ threads: 0 })).toThrow('configureMatmul: threads must be an integer ≥ 1, got 0');
    expect(() => configureMatmul({ threads: 1.5 })).toThrow('threads must be an integer');
    expect(() => configureMatmul({ kernel: 'gpu' as never })).toThrow(`configureMatmul: unknown kernel "gpu"`);
  });
});
