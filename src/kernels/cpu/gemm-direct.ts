import type { TypedArray } from '../../tensor/dtype.js';

/**
 * Unpacked matrix product for shapes where packing costs more than it saves: tiny products and
 * matrix–vector ones (m = 1 or n = 1). Same strided-operand convention as gemmJs; C is overwritten.
 * Sums run in doubles and are rounded once when stored.
 */
export function gemmDirect(
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
  if (bcs === 1 && n > 1) {
    // Rows of B are contiguous: C row i = Σ_p A[i,p]·B row p (axpy form), summed in a double row.
    const row = rowScratch(n);
    for (let i = 0; i < m; i++) {
      row.fill(0, 0, n);
      const aRow = aOff + i * ars;
      for (let p = 0; p < k; p++) {
        const av = a[aRow + p * acs]!; // no skip of zeros: 0·Inf must stay NaN
        const bRow = bOff + p * brs;
        for (let j = 0; j < n; j++) row[j]! += av * b[bRow + j]!;
      }
      const cRow = cOff + i * ldc;
      for (let j = 0; j < n; j++) c[cRow + j] = row[j]!;
    }
    return;
  }
  // Dot-product form: good when B is transposed (its columns contiguous) or n = 1.
  for (let i = 0; i < m; i++) {
    const aRow = aOff + i * ars;
    const cRow = cOff + i * ldc;
    for (let j = 0; j < n; j++) {
      const bCol = bOff + j * bcs;
      let acc = 0;
      for (let p = 0; p < k; p++) acc += a[aRow + p * acs]! * b[bCol + p * brs]!;
      c[cRow + j] = acc;
    }
  }
}

let row = new Float64Array(0);
function rowScratch(n: number): Float64Array {
  if (row.length < n) row = new Float64Array(n);
  return row;
}
