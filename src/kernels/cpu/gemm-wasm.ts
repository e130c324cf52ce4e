import type { TypedArray } from '../../tensor/dtype.js';
import { KernelCall } from './kernel-call.js';
import { kernelSpace } from './kernel-space.js';
import { runParts, shutdownKernelThreads, threadsFor } from './threads/kernel-threads.js';
import { WasmKernelModule } from './wasm/kernel-module.js';
import { GEMM_F32, GEMM_F64, gemmFunctions, packBytes, type GemmDtypeSpec } from './wasm/gemm-module.js';

/**
 * Runs gemm (strided-operand convention of gemm-js.ts) on the WebAssembly SIMD kernels of
 * wasm/gemm-module.ts, on the kernel space: float32 operands in the heap are read and C written
 * where they are; others (float64, user arrays, a full heap) are copied in for the call and C
 * copied back (KernelCall). Large products are split across worker threads by rows or columns of
 * C (threads/kernel-threads.ts). Float32 products are summed in float32 (as BLAS does), each
 * element in the same order on any number of threads.
 */
const module = new WasmKernelModule(['gemm_f32', 'gemm_f64'], () => gemmFunctions(), false);

/**
 * Multiply-adds per thread from which a product is split: a hand-off to a worker and the wait
 * cost ~5–10 µs here, ~2^17 multiply-adds of the SIMD kernel; 2^18 keeps that under ~5%.
 */
export const PARALLEL_MIN_MACS = 1 << 18;

/** Whether this JS engine runs the WebAssembly SIMD kernels (built on first call). */
export function wasmGemmAvailable(): boolean {
  return module.available();
}

/** Stops the worker threads (they are re-created on the next parallel product). */
export function shutdownGemmWorkers(): void {
  shutdownKernelThreads();
}

function roundUp(x: number, multiple: number): number {
  return Math.ceil(x / multiple) * multiple;
}

/**
 * C = op(A)·op(B) on the SIMD kernels with up to `threads` threads. Returns false (touching
 * nothing) when WebAssembly SIMD is unavailable or there is no room for the operands that must be
 * copied; m, n, k ≥ 1. Returns the number of threads that ran (≥ 1) otherwise.
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
  const inst = module.instance();
  if (!inst) return false;
  if (k === 0) {
    for (let i = 0; i < m; i++) c.fill(0, cOff + i * ldc, cOff + i * ldc + n);
    return 1;
  }
  const f64 = a instanceof Float64Array;
  const spec: GemmDtypeSpec = f64 ? GEMM_F64 : GEMM_F32;
  const esz = spec.bytes;
  const parts = threadsFor(m * n * k, PARALLEL_MIN_MACS, inst.poolIndex, threads);
  // Split the longer side of C into tile-aligned slices, one per thread (columns in whole 16-float
  // lines, so that threads never write the same cache line).
  const byColumns = n >= m;
  const step = byColumns ? roundUp(Math.ceil(n / parts), Math.max(spec.nr, 64 / esz)) : roundUp(Math.ceil(m / parts), spec.mr);
  const slices = Math.ceil((byColumns ? n : m) / step);

  const call = new KernelCall(kernelSpace()!);
  const pa = call.input(a as Float32Array, aOff, (m - 1) * ars + (k - 1) * acs + 1);
  const pb = call.input(b as Float32Array, bOff, (k - 1) * brs + (n - 1) * bcs + 1);
  const cLen = (m - 1) * ldc + n;
  const pc = ldc === n ? call.output(c as Float32Array, cOff, cLen) : call.inout(c as Float32Array, cOff, cLen);
  const packSize = roundUp(packBytes(spec), 64);
  const pack = call.scratch(slices * packSize);
  if (!call.ok) return call.abandon(), false;

  const name = f64 ? 'gemm_f64' : 'gemm_f32';
  const args = (s: number): number[] => {
    const start = s * step;
    const len = Math.min(step, (byColumns ? n : m) - start);
    const p = pack + s * packSize;
    return byColumns
      ? [m, len, k, pa, ars * esz, acs * esz, pb + start * bcs * esz, brs * esz, bcs * esz, pc + start * esz, ldc * esz, p]
      : [len, n, k, pa + start * ars * esz, ars * esz, acs * esz, pb, brs * esz, bcs * esz, pc + start * ldc * esz, ldc * esz, p];
  };
  const fn = inst.fns[name];
  const run = (p: readonly number[]): void => fn(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, p[8]!, p[9]!, p[10]!, p[11]!);
  if (slices === 1) run(args(0));
  else runParts(inst.poolIndex, inst.exportIndex[name], Array.from({ length: slices }, (_, s) => args(s)), run);
  call.finish();
  return slices;
}
