import type { Backend } from '../../kernels/backend.js';
import { PackKernels } from '../../kernels/pack-kernels.js';
import type { Storage } from '../../tensor/storage.js';

/** One term of a mix: expert output f (row k = batch row rows[k], or k when null) weighted by q's column. */
export interface MixTerm<S = Storage> {
  f: S;
  column: number;
  rows: Int32Array | null;
}

export interface MixRowsGrad {
  q: Storage | null;
  fs: (Storage | null)[];
}

export interface ExpertMixtureKernels {
  /**
   * Gate-weighted sum of expert outputs: out[r, :] = Σ_i q[r, c_i] · f_i[k, :] over the terms
   * (f_i, c_i, rows_i) and their rows k, with r = rows_i[k] (r = k when rows_i is null). q is
   * [rows, qCols]; f_i is [rows_i.length or rows, cols]. Each output row sums its terms in order.
   */
  forward(q: Storage, qCols: number, terms: readonly MixTerm[], rows: number, cols: number): Storage;
  /**
   * The backward for upstream g [rows, cols]: q's gradient [rows, qCols] (Σ_j g[r, j]·f_i[k, j] at
   * (r, c_i), 0 elsewhere) when `needQ`, and f_i's, q[r, c_i]·g[r, :] in row k, where `needF[i]`.
   */
  backward(q: Storage, qCols: number, terms: readonly MixTerm[], g: Storage, rows: number, cols: number, needQ: boolean, needF: readonly boolean[]): MixRowsGrad;
}

// The generic version: per term a column slice, a row gather, a broadcast multiply, a scatter and an add.

/** Column `c` of q [rows, qCols] as [rows, 1]. */
function column(b: Backend, q: Storage, qCols: number, rows: number, c: number): Storage {
  return b.slice(q, [rows, qCols], [0, c], [rows, 1]);
}

/** q[rows_t, c_t] as [n, 1] for a term (all rows when rows_t is null). */
function termWeights(b: Backend, q: Storage, qCols: number, rows: number, t: MixTerm): Storage {
  const col = column(b, q, qCols, rows, t.column);
  if (!t.rows) return col;
  const picked = b.gather(col, [rows, 1], t.rows, 0);
  col.dispose();
  return picked;
}

function mixRowsByParts(b: Backend, q: Storage, qCols: number, terms: readonly MixTerm[], rows: number, cols: number): Storage {
  const shape = [rows, cols];
  let out = b.fill(rows * cols, 0, q.dtype);
  for (const t of terms) {
    const n = t.rows ? t.rows.length : rows;
    const w = termWeights(b, q, qCols, rows, t);
    let term = b.binary('mul', t.f, [n, cols], w, [n, 1], [n, cols]);
    w.dispose();
    if (t.rows) {
      const placed = b.scatterAdd(term, [n, cols], t.rows, 0, shape);
      term.dispose();
      term = placed;
    }
    const sum = b.binary('add', out, shape, term, shape, shape);
    out.dispose();
    term.dispose();
    out = sum;
  }
  return out;
}

function mixRowsGradByParts(
  b: Backend,
  q: Storage,
  qCols: number,
  terms: readonly MixTerm[],
  g: Storage,
  rows: number,
  cols: number,
  needQ: boolean,
  needF: readonly boolean[],
): MixRowsGrad {
  let gq: Storage | null = needQ ? b.fill(rows * qCols, 0, q.dtype) : null;
  const gfs = terms.map((t, i) => {
    const n = t.rows ? t.rows.length : rows;
    const shape = [n, cols];
    const gRows = t.rows ? b.gather(g, [rows, cols], t.rows, 0) : g;
    const w = termWeights(b, q, qCols, rows, t);
    const gf = needF[i] ? b.binary('mul', gRows, shape, w, [n, 1], shape) : null;
    w.dispose();
    if (gq !== null) {
      const prod = b.binary('mul', gRows, shape, t.f, shape, shape);
      const dots = b.reduce('sum', prod, shape, [1]);
      const inRows = t.rows ? b.scatterAdd(dots, [n, 1], t.rows, 0, [rows, 1]) : dots;
      const placed = b.pad(inRows, [rows, 1], [0, t.column], [rows, qCols]);
      const sum: Storage = b.binary('add', gq, [rows, qCols], placed, [rows, qCols], [rows, qCols]);
      for (const s of new Set([prod, dots, inRows, placed, gq])) s.dispose();
      gq = sum;
    }
    if (gRows !== g) gRows.dispose();
    return gf;
  });
  return { q: gq, fs: gfs };
}

export const expertMixtureKernels = new PackKernels<ExpertMixtureKernels>('expert-mixture', (b) => ({
  forward: (q, qCols, terms, rows, cols) => mixRowsByParts(b, q, qCols, terms, rows, cols),
  backward: (q, qCols, terms, g, rows, cols, needQ, needF) => mixRowsGradByParts(b, q, qCols, terms, g, rows, cols, needQ, needF),
}));
