import { recordOp } from '../../autograd/engine.js';
import { assertSameDType, assertTensor, storageOf } from '../../autograd/ops/util.js';
import { formatShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { expertMixtureKernels, type MixTerm } from './kernels.js';

/**
 * Gate-weighted sum of expert outputs: out[r, :] = Σ_i q[r, columns[i]] · fs[i][k, :], where row k of
 * fs[i] belongs to batch row r = rows[i][k] (an expert run on a subset of the batch), or r = k when
 * rows[i] is null/omitted. q is [R, n]; fs[i] is [rows[i].length or R, d]. One kernel per direction
 * replaces, per term, a column slice, a row gather, a broadcast multiply, a scatter and an add. Backward:
 * fs[i] gets q[r, columns[i]]·g[r, :] in row k; q gets Σ_j g[r, j]·fs[i][k, j] at (r, columns[i]).
 */
export function mixRows(q: Tensor, fs: readonly Tensor[], columns: readonly number[], rows?: readonly (Int32Array | null)[]): Tensor {
  assertTensor('mixRows', q, 'q');
  if (q.ndim !== 2) throw new Error(`mixRows: q must be [rows, n], got ${formatShape(q.shape)}`);
  const [batch, qCols] = q.shape as [number, number];
  if (!Array.isArray(fs) || fs.length === 0 || fs.length !== columns.length || (rows !== undefined && rows.length !== fs.length)) {
    throw new Error(
      `mixRows: needs one column index (and row list, if given) per term, got ${Array.isArray(fs) ? fs.length : 'no'} terms, ${columns.length} columns` +
        (rows ? ` and ${rows.length} row lists` : ''),
    );
  }
  const d = fs[0]!.ndim === 2 ? fs[0]!.shape[1]! : -1;
  const terms = fs.map((f, i) => {
    assertTensor('mixRows', f, `fs[${i}]`);
    assertSameDType('mixRows', q, f);
    const index = rows?.[i] ?? null;
    const n = index ? index.length : batch;
    if (f.ndim !== 2 || f.shape[0] !== n || f.shape[1] !== d) {
      throw new Error(`mixRows: fs[${i}] ${formatShape(f.shape)} must be [${n}, ${d}]${index ? ` (one row per listed row)` : ''}, with q ${formatShape(q.shape)} and fs[0] ${formatShape(fs[0]!.shape)}`);
    }
    const c = columns[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= qCols) throw new Error(`mixRows: column ${c} for fs[${i}] is outside [0, ${qCols})`);
    if (index) {
      for (const r of index) if (!Number.isInteger(r) || r < 0 || r >= batch) throw new Error(`mixRows: row ${r} for fs[${i}] is outside [0, ${batch})`);
    }
    return { f, column: c, rows: index };
  });
  const storages = (): MixTerm[] => terms.map((t) => ({ f: storageOf(t.f), column: t.column, rows: t.rows }));
  const storage = expertMixtureKernels.current().forward(storageOf(q), qCols, storages(), batch, d);
  return recordOp('mixRows', storage, [batch, d], [q, ...fs], (g) => {
    const r = expertMixtureKernels.current().backward(storageOf(q), qCols, storages(), storageOf(g), batch, d, q.requiresGrad, fs.map((f) => f.requiresGrad));
    return [r.q && new Tensor(r.q, q.shape), ...r.fs.map((s, i) => s && new Tensor(s, fs[i]!.shape))];
  });
}
