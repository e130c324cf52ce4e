import type { TypedArray } from '../../tensor/dtype.js';
import { WasmWorkerPool } from './threads/pool.js';
import { workerSpawner } from './threads/spawner.js';
import { buildGemmModule, GEMM_F32, GEMM_F64, packBytes, type GemmDtypeSpec } from './wasm/gemm-module.js';
import { wasmApi, type WasmMemory } from './wasm/assembler.js';

/**
 * Runs gemm (strided-operand convention of gemm-js.ts) on the WebAssembly SIMD kernels of
 * wasm/gemm-module.ts, optionally split across worker threads. The operands are copied into the
 * module's memory (memcpy, O(n²) against the O(n³) product) and C comes back the same way. The
 * memory grows to the largest product seen and is reused, never allocated per call. Float32
 * products are summed in float32 here (as BLAS does).
 */
type GemmExport = (m: number, n: number, k: number, a: number, ars: number, acs: number, b: number, brs: number, bcs: number, c: number, ldc: number, pack: number) => void;

interface WasmGemm {
  module: object;
  memory: WasmMemory;
  /** Shared memory (threads possible) or a plain one (SharedArrayBuffer unavailable). */
  shared: boolean;
  fns: [GemmExport, GemmExport];
  /** Views of memory.buffer, renewed when the memory grows. */
  view32: Float32Array;
  view64: Float64Array;
  pool: WasmWorkerPool | null;
  /** Workers asked for last time; a failed pool is not retried. */
  poolFailed: boolean;
}

const PAGE = 65536;
/** The pool runs export 0 or 1 (fn below): float32 and float64 gemm. */
const GEMM_EXPORTS = ['gemm_f32', 'gemm_f64'] as const;
/** Products needing more module memory than this run on the JS kernel instead. */
const MAX_PAGES = 16384; // 1 GiB
/** Below this many multiply-adds a product is not worth splitting across threads. */
const PARALLEL_MIN_MACS = 1 << 19;

let state: WasmGemm | null | undefined;

function instantiate(): WasmGemm | null {
  if (!wasmApi) return null;
  for (const shared of [true, false]) {
    try {
      const bytes = buildGemmModule({ shared, maximumPages: MAX_PAGES });
      if (!wasmApi.validate(bytes)) return null; // no SIMD in this engine
      const memory = new wasmApi.Memory({ initial: 16, maximum: MAX_PAGES, shared });
      const module = new wasmApi.Module(bytes);
      const ex = new wasmApi.Instance(module, { env: { mem: memory } }).exports;
      return {
        module,
        memory,
        shared,
        fns: [ex['gemm_f32'] as GemmExport, ex['gemm_f64'] as GemmExport],
        view32: new Float32Array(memory.buffer),
        view64: new Float64Array(memory.buffer),
        pool: null,
        poolFailed: false,
      };
    } catch {
      // shared memory needs SharedArrayBuffer (cross-origin isolation in browsers): try plain
    }
  }
  return null;
}

function wasm(): WasmGemm | null {
  if (state === undefined) state = instantiate();
  return state;
}

/** Whether this JS engine runs the WebAssembly SIMD kernels (built on first call). */
export function wasmGemmAvailable(): boolean {
  return wasm() !== null;
}

/** Threads a product may use here: 1 + the workers that exist or can be started for `threads`. */
function workersFor(w: WasmGemm, threads: number): number {
  const want = threads - 1;
  if (want <= 0 || !w.shared || w.poolFailed) return 0;
  if (!w.pool || w.pool.size < want) {
    w.pool?.terminate();
    w.pool = WasmWorkerPool.create(w.module, w.memory, GEMM_EXPORTS, want);
    // A spawner that fails is not retried; without one, threads come once one is installed.
    if (!w.pool && workerSpawner()) w.poolFailed = true;
  }
  return w.pool ? want : 0;
}

/** Stops the worker threads (they are re-created on the next parallel product). */
export function shutdownGemmWorkers(): void {
  state?.pool?.terminate();
  if (state) state.pool = null;
}

function roundUp(x: number, multiple: number): number {
  return Math.ceil(x / multiple) * multiple;
}

/**
 * C = op(A)·op(B) on the SIMD kernels with up to `threads` threads. Returns false (touching
 * nothing) when WebAssembly SIMD is unavailable or the product needs more than 1 GiB of module
 * memory; m, n, k ≥ 1. Returns the number of threads that ran (≥ 1) otherwise.
 */
export function gemmWasm(
  m: number,
  n: number,
  k: number,
  a: TypedArray,
  aOff: number,
  ars: number,
  acs: number,
  b: TypedArray,
  bOff: number,
  brs: number,
  bcs: number,
  c: TypedArray,
  cOff: number,
  ldc: number,
  threads = 1,
): number | false {
  const w = wasm();
  if (!w) return false;
  const f64 = a instanceof Float64Array;
  const spec: GemmDtypeSpec = f64 ? GEMM_F64 : GEMM_F32;
  const esz = spec.bytes;
  const parts = m * n * k >= PARALLEL_MIN_MACS ? 1 + workersFor(w, threads) : 1;
  // Split the longer side of C into tile-aligned slices, one per thread.
  const byColumns = n >= m;
  const step = byColumns ? roundUp(Math.ceil(n / parts), spec.nr) : roundUp(Math.ceil(m / parts), spec.mr);
  const slices = Math.ceil((byColumns ? n : m) / step);

  // Layout: A and B extents (last element + 1), C padded to whole tiles, one pack block per slice.
  const aLen = (m - 1) * ars + (k - 1) * acs + 1;
  const bLen = (k - 1) * brs + (n - 1) * bcs + 1;
  const nPad = roundUp(n, spec.nr);
  const cLen = roundUp(m, spec.mr) * nPad;
  const bytes = (elements: number): number => roundUp(elements * esz, 16);
  const aPtr = 0;
  const bPtr = aPtr + bytes(aLen);
  const cPtr = bPtr + bytes(bLen);
  const packPtr = cPtr + bytes(cLen);
  const packSize = roundUp(packBytes(spec), 16);
  const total = packPtr + slices * packSize;
  if (total > MAX_PAGES * PAGE) return false;
  const have = w.memory.buffer.byteLength;
  if (total > have) w.memory.grow(Math.ceil((total - have) / PAGE));
  if (w.view32.buffer.byteLength !== w.memory.buffer.byteLength) {
    w.view32 = new Float32Array(w.memory.buffer);
    w.view64 = new Float64Array(w.memory.buffer);
  }

  const view = f64 ? w.view64 : w.view32;
  view.set(a.subarray(aOff, aOff + aLen), aPtr / esz);
  view.set(b.subarray(bOff, bOff + bLen), bPtr / esz);
  const c0 = cPtr / esz;
  view.fill(0, c0, c0 + cLen);

  const fn = f64 ? 1 : 0;
  const args = (s: number): number[] => {
    const start = s * step;
    const len = Math.min(step, (byColumns ? n : m) - start);
    const pack = packPtr + s * packSize;
    return byColumns
      ? [m, len, k, aPtr, ars * esz, acs * esz, bPtr + start * bcs * esz, brs * esz, bcs * esz, cPtr + start * esz, nPad * esz, pack]
      : [len, n, k, aPtr + start * ars * esz, ars * esz, acs * esz, bPtr, brs * esz, bcs * esz, cPtr + start * nPad * esz, nPad * esz, pack];
  };
  const pool = w.pool;
  for (let s = 1; s < slices; s++) pool!.post(s - 1, fn, args(s));
  const run = (s: number): void => {
    const p = args(s);
    w.fns[fn](p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, p[8]!, p[9]!, p[10]!, p[11]!);
  };
  run(0);
  for (let s = 1; s < slices; s++) {
    if (!pool!.wait(s - 1)) {
      // A worker failed: do its slice here and stop using threads.
      run(s);
      w.poolFailed = true;
    }
  }
  if (w.poolFailed && w.pool) shutdownGemmWorkers();

  copyOut(view, c0, nPad, c, cOff, ldc, m, n);
  return slices;
}

/** C's valid m×n corner from the padded module buffer into `c` (row stride ldc). */
function copyOut(view: TypedArray, from: number, nPad: number, c: TypedArray, cOff: number, ldc: number, m: number, n: number): void {
  if (nPad === n && ldc === n) {
    c.set(view.subarray(from, from + m * n), cOff);
  } else if (n >= 32) {
    for (let i = 0; i < m; i++) c.set(view.subarray(from + i * nPad, from + i * nPad + n), cOff + i * ldc);
  } else {
    // Narrow rows: an element loop beats a subarray object per row.
    for (let i = 0; i < m; i++) {
      const src = from + i * nPad;
      const dst = cOff + i * ldc;
      for (let j = 0; j < n; j++) c[dst + j] = view[src + j]!;
    }
  }
}
