import type { MatmulArgs } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import { stridesOf } from '../../tensor/shape.js';

/**
 * One matrix product C[m×n] = op(A)·op(B) on typed arrays at the given offsets, where A is stored
 * [m,k] (or [k,m] when transA) and B is stored [k,n] (or [n,k] when transB). C is overwritten.
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
  const aRow = transA ? 1 : k;
  const aCol = transA ? m : 1;
  for (let i = 0; i < m * n; i++) c[cOff + i] = 0;
  if (!transB) {
    for (let i = 0; i < m; i++) {
      const cRow = cOff + i * n;
      for (let p = 0; p < k; p++) {
        const av = a[aOff + i * aRow + p * aCol]!;
        if (av === 0) continue;
        const bRow = bOff + p * n;
        for (let j = 0; j < n; j++) c[cRow + j]! += av * b[bRow + j]!;
      }
    }
  } else {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        const bRow = bOff + j * k;
        for (let p = 0; p < k; p++) acc += a[aOff + i * aRow + p * aCol]! * b[bRow + p]!;
        c[cOff + i * n + j] = acc;
      }
    }
  }
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
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const aBatchStrides = broadcastBatchStrides(aBatch, batchShape);
  const bBatchStrides = broadcastBatchStrides(bBatch, batchShape);
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
