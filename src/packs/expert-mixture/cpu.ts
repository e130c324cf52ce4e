import { alloc, allocOverwritten, dataOf, wrapOutput } from '../../kernels/cpu/host.js';
import type { TypedArray } from '../../tensor/dtype.js';
import type { ExpertMixtureKernels, MixTerm } from './kernels.js';
import { mixRowsGradWasm, mixRowsWasm } from './wasm.js';

/**
 * out[r, :] = Σ_i q[r, c_i] · f_i[k, :] with r = rows_i[k] (or k), accumulated in doubles, each
 * output row's terms in order; a weight that is exactly 0 is skipped (it adds exactly 0), so results
 * equal a sum over the non-zero terms.
 */
export function mixRowsInto(q: TypedArray, qCols: number, terms: readonly MixTerm<TypedArray>[], rows: number, cols: number, out: TypedArray): void {
  const acc = scratch(rows * cols);
  acc.fill(0, 0, rows * cols);
  for (const { f, column, rows: index } of terms) {
    const count = index ? index.length : rows;
    for (let k = 0; k < count; k++) {
      const r = index ? index[k]! : k;
      const w = q[r * qCols + column]!;
      if (w === 0) continue;
      const src = k * cols;
      const dst = r * cols;
      for (let j = 0; j < cols; j++) acc[dst + j] = acc[dst + j]! + w * f[src + j]!;
    }
  }
  for (let i = 0; i < rows * cols; i++) out[i] = acc[i]!;
}

let scratchArray = new Float64Array(0);
function scratch(n: number): Float64Array {
  if (scratchArray.length < n) scratchArray = new Float64Array(n);
  return scratchArray;
}

/**
 * mixRows' backward: gq[r, c_i] += Σ_j g[r, j]·f_i[k, j] (gq starts at 0; dots in doubles) and
 * gfs[i][k, :] = q[r, c_i]·g[r, :], with r = rows_i[k] (or k). Null entries are not computed.
 */
export function mixRowsGradInto(
  q: TypedArray,
  qCols: number,
  terms: readonly MixTerm<TypedArray>[],
  g: TypedArray,
  rows: number,
  cols: number,
  gq: TypedArray | null,
  gfs: readonly (TypedArray | null)[],
): void {
  terms.forEach(({ f, column, rows: index }, i) => {
    const gf = gfs[i];
    const count = index ? index.length : rows;
    for (let k = 0; k < count; k++) {
      const r = index ? index[k]! : k;
      const src = k * cols;
      const gRow = r * cols;
      if (gf) {
        const w = q[r * qCols + column]!;
        for (let j = 0; j < cols; j++) gf[src + j] = w * g[gRow + j]!;
      }
      if (gq) {
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += g[gRow + j]! * f[src + j]!;
        gq[r * qCols + column] = gq[r * qCols + column]! + dot;
      }
    }
  });
}

function hostTerms(terms: readonly MixTerm[]): MixTerm<TypedArray>[] {
  return terms.map((t) => ({ f: dataOf(t.f), column: t.column, rows: t.rows }));
}

export const cpuExpertMixture: ExpertMixtureKernels = {
  forward(q, qCols, terms, rows, cols) {
    const out = allocOverwritten(q.dtype, rows * cols);
    const [qs, ts] = [dataOf(q), hostTerms(terms)];
    if (!mixRowsWasm(qs, qCols, ts, rows, cols, out)) mixRowsInto(qs, qCols, ts, rows, cols, out);
    return wrapOutput(out);
  },
  backward(q, qCols, terms, g, rows, cols, needQ, needF) {
    const gq = needQ ? alloc(q.dtype, rows * qCols) : null;
    const gfs = terms.map((t, i) => (needF[i] ? allocOverwritten(q.dtype, t.f.size) : null));
    const [qs, ts, gs] = [dataOf(q), hostTerms(terms), dataOf(g)];
    if (!mixRowsGradWasm(qs, qCols, ts, gs, rows, cols, gq, gfs)) mixRowsGradInto(qs, qCols, ts, gs, rows, cols, gq, gfs);
    return { q: gq && wrapOutput(gq), fs: gfs.map((a) => a && wrapOutput(a)) };
  },
};
