import type { MatmulArgs } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import { stridesOf } from '../../tensor/shape.js';
import { gemmDirect } from './gemm-direct.js';
import { gemmJs } from './gemm-js.js';
import { gemmWasm } from './gemm-wasm.js';
import { matmulSettings } from './matmul-config.js';

/**
 * Below this many multiply-adds the unpacked loop wins (measured: at 8×8×8 the SIMD kernel is
 * already 3× faster, at 4×4×4 the loop is 2× faster).
 */
const DIRECT_MAX_MACS = 128;

/**
 * One matrix product C[m×n] = op(A)·op(B) on typed arrays at the given offsets, where A is stored
 * [m,k] (or [k,m] when transA) and B is stored [k,n] (or [n,k] when transB). C is overwritten.
 * Transposed operands are read through strides (packed straight from their storage).
 */
export function gemm(
  m: number,
  n: number,
  k: number,
  a: TypedArray,
  aOff: number,
  transA: boolean,
  b: TypedArray,
  bOff: number,
  transB: boolean,
  c: TypedArray,
  cOff: number,
): void {
  const ars = transA ? 1 : k;
  const acs = transA ? m : 1;
  const brs = transB ? 1 : n;
  const bcs = transB ? k : 1;
  gemmStrided(m, n, k, a, aOff, ars, acs, b, bOff, brs, bcs, c, cOff, n);
}

/** gemm on strided operands (see gemm-js.ts for the convention); picks the kernel by shape and settings. */
export function gemmStrided(
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
): void {
  const macs = m * n * k;
  if (macs <= DIRECT_MAX_MACS) {
    gemmDirect(m, n, k, a, aOff, ars, acs, b, bOff, brs, bcs, c, cOff, ldc);
    return;
  }
  const { kernel, threads } = matmulSettings();
  if (kernel !== 'js' && gemmWasm(m, n, k, a, aOff, ars, acs, b, bOff, brs, bcs, c, cOff, ldc, threads) !== false) return;
  // Plain JS: packing does not pay for matrix–vector shapes.
  if (m === 1 || n === 1) gemmDirect(m, n, k, a, aOff, ars, acs, b, bOff, brs, bcs, c, cOff, ldc);
  else gemmJs(m, n, k, a, aOff, ars, acs, b, bOff, brs, bcs, c, cOff, ldc);
}

/** Batched matmul with NumPy-style broadcasting of the batch dims. */
export function matmulInto(a: TypedArray, b: TypedArray, args: MatmulArgs, out: TypedArray): void {
  const { aShape, bShape, transA, transB, outShape } = args;
  const ra = aShape.length;
  const rb = bShape.length;
  const m = transA ? aShape[ra - 1]! : aShape[ra - 2]!;
  const k = transA ? aShape[ra - 2]! : aShape[ra - 1]!;
  const n = transB ? bShape[rb - 2]! : bShape[rb - 1]!;
  const batchShape = outShape.slice(0, -2);
  const batchCount = batchShape.reduce((p, d) => p * d, 1);
  if (batchCount === 1) {
    gemm(m, n, k, a, 0, transA, b, 0, transB, out, 0);
    return;
  }
  // A batch of A's against one shared, non-transposed B is one tall product: fold it.
  if (!transA && bShape.slice(0, -2).every((d) => d === 1) && aShape.slice(0, -2).reduce((p, d) => p * d, 1) === batchCount) {
    gemm(batchCount * m, n, k, a, 0, false, b, 0, transB, out, 0);
    return;
  }
  const aBatchStrides = broadcastBatchStrides(aShape.slice(0, -2), batchShape);
  const bBatchStrides = broadcastBatchStrides(bShape.slice(0, -2), batchShape);
  const outStrides = stridesOf(batchShape);
  for (let t = 0; t < batchCount; t++) {
    let aIndex = 0;
    let bIndex = 0;
    let rest = t;
    for (let d = 0; d < batchShape.length; d++) {
      const coord = Math.floor(rest / outStrides[d]!);
      rest -= coord * outStrides[d]!;
      aIndex += coord * aBatchStrides[d]!;
      bIndex += coord * bBatchStrides[d]!;
    }
    gemm(m, n, k, a, aIndex * m * k, transA, b, bIndex * k * n, transB, out, t * m * n);
  }
}

/** Strides (in matrices) of `batch` aligned right against `outBatch`, 0 on broadcast dims. */
function broadcastBatchStrides(batch: readonly number[], outBatch: readonly number[]): number[] {
  const padded = [...new Array<number>(outBatch.length - batch.length).fill(1), ...batch];
  const st = stridesOf(padded);
  return padded.map((d, i) => (d === 1 && outBatch[i] !== 1 ? 0 : st[i]!));
}
