import type { MatmulArgs } from '../backend.js';
import type { SourceSpec } from './elementwise.js';
import { broadcastStrides, collapseWalk, kernelSource, lit, offsetExpr, splitIndex } from './source.js';

/**
 * C = op(A)·op(B) with broadcast batch dims: one thread per output element, the inner dimension a
 * literal loop bound. Transposes are strides, never copies: the backward's Aᵀ·G and G·Bᵀ read the
 * stored operands directly.
 */
export function matmulSource(args: MatmulArgs): SourceSpec {
  const { aShape, bShape, transA, transB, outShape } = args;
  const ra = aShape.length;
  const rb = bShape.length;
  const aRows = aShape[ra - 2]!;
  const aCols = aShape[ra - 1]!;
  const bRows = bShape[rb - 2]!;
  const bCols = bShape[rb - 1]!;
  const k = transA ? aRows : aCols;
  const rank = outShape.length;
  const m = outShape[rank - 2]!;
  const n = outShape[rank - 1]!;
  const batch = outShape.slice(0, rank - 2);
  const aBatch = broadcastStrides(aShape.slice(0, ra - 2), batch).map((s) => s * aRows * aCols);
  const bBatch = broadcastStrides(bShape.slice(0, rb - 2), batch).map((s) => s * bRows * bCols);
  // Per output coordinate (batch…, i, j): where A's row i and B's column j start.
  const aRowStride = transA ? 1 : aCols;
  const aKStride = transA ? aCols : 1;
  const bColStride = transB ? bCols : 1;
  const bKStride = transB ? 1 : bCols;
  const walk = collapseWalk([...batch, m, n], [
    [...aBatch, aRowStride, 0],
    [...bBatch, 0, bColStride],
  ]);
  const key = `matmul:${walk.dims.join('x')}:${walk.strides.map((s) => s.join(',')).join(';')}:k${k}:${aKStride},${bKStride}`;
  const term = (stride: number): string => (stride === 1 ? 'i' : `i * ${lit(stride)}`);
  const body = (flat: string): string =>
    kernelSource(
      ['a', 'b'],
      `const t = ${flat};\n` +
        splitIndex('t', walk.dims, 'c') +
        `const aBase = ${offsetExpr('c', walk.strides[0]!)};\n` +
        `const bBase = ${offsetExpr('c', walk.strides[1]!)};\n` +
        'let sum = 0;\n' +
        `for (let i = 0; i < ${lit(k)}; i++) {\n` +
        `sum += a[aBase + ${term(aKStride)}] * b[bBase + ${term(bKStride)}];\n` +
        '}\nreturn sum;\n',
    );
  // webgpu: one thread per output in 8×8 tiles of rows × columns (a tile's threads share 8 rows of A
  // and 8 columns of B), instead of 64 neighbours along one row.
  const rows = (batch.reduce((p, d) => p * d, 1) * m);
  return {
    key,
    source: () => body('this.thread.x'),
    ...(n >= 8 && rows >= 8 ? { grid: { width: n, height: rows, source: () => body(`this.thread.y * ${lit(n)} + this.thread.x`) } } : {}),
  };
}
