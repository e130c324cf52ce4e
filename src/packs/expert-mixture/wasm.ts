import { I32, V128, type Local } from '../../kernels/cpu/wasm/assembler.js';
import { CallLayout, isF32, KernelBuilder, WasmKernelModule, type ReadyKernels } from '../../kernels/cpu/wasm/kernel-module.js';
import type { MixTerm } from './kernels.js';

/** WebAssembly SIMD (f32x4) versions of cpu.ts's float32 kernels; sums run in float32 arithmetic (as BLAS does) instead of doubles. */

/** i32 fields per mixRows term record: f address, c·4, rows address (−1: row k is row k), row count, gf address (−1: none). */
const TERM_FIELDS = 5;

/** r = rows == −1 ? k : rows[k], into local `r`. */
function rowOf(f: KernelBuilder, rowsPtr: Local, k: Local, r: Local): void {
  f.ifElse(
    () => f.get(rowsPtr).i32(-1).eq(),
    () => f.get(k).set(r),
    () => f.get(rowsPtr).get(k).i32(4).mul().add().i32Load().set(r),
  );
}

/**
 * mix_rows(q, qRowBytes, terms, count, rowBytes, out): for each term (see TERM_FIELDS) and each of
 * its rows k, with r its batch row: out[r, :] += q[r, c]·f[k, :] in float32, terms in order, zero
 * weights skipped. out is zeroed by the caller.
 */
function mixRows(): KernelBuilder {
  const f = new KernelBuilder('mix_rows', 6);
  const [q, qRowBytes, terms, count, rowBytes, out] = [0, 1, 2, 3, 4, 5];
  const i = f.local(I32);
  const termEnd = f.local(I32);
  const src = f.local(I32);
  const rowsPtr = f.local(I32);
  const n = f.local(I32);
  const k = f.local(I32);
  const r = f.local(I32);
  const j = f.local(I32);
  const dst = f.local(I32);
  const from = f.local(I32);
  const w = f.local(V128);
  f.get(terms).get(count).i32(4 * TERM_FIELDS).mul().add().set(termEnd);
  f.get(terms).set(i);
  f.forRange(i, termEnd, 4 * TERM_FIELDS, () => {
    f.get(i).i32Load(0).set(src);
    f.get(i).i32Load(8).set(rowsPtr);
    f.get(i).i32Load(12).set(n);
    f.i32(0).set(k);
    f.forRange(k, n, 1, () => {
      rowOf(f, rowsPtr, k, r);
      f.get(q).get(r).get(qRowBytes).mul().add().get(i).i32Load(4).add().v128Load32Splat().set(w);
      f.ifElse(
        () => f.get(w).f32x4ExtractLane0().f32Const(0).f32Ne(),
        () => {
          f.get(out).get(r).get(rowBytes).mul().add().set(dst);
          f.get(src).get(k).get(rowBytes).mul().add().set(from);
          f.i32(0).set(j);
          f.forRange(j, rowBytes, 16, () => {
            f.get(dst).get(j).add();
            f.get(dst).get(j).add().v128Load();
            f.get(from).get(j).add().v128Load().get(w).f32x4Mul();
            f.f32x4Add();
            f.v128Store();
          });
        },
      );
    });
  });
  return f;
}

/**
 * mix_rows_grad(q, qRowBytes, terms, count, g, rowBytes, gq): for each term and row k (batch row r):
 * gf[k, :] = q[r, c]·g[r, :] unless gf is −1, and when gq ≠ −1, gq[r, c] += Σ_j g[r, j]·f[k, j]
 * (summed in float64; gq zeroed by the caller).
 */
function mixRowsGrad(): KernelBuilder {
  const f = new KernelBuilder('mix_rows_grad', 7);
  const [q, qRowBytes, terms, count, g, rowBytes, gq] = [0, 1, 2, 3, 4, 5, 6];
  const i = f.local(I32);
  const termEnd = f.local(I32);
  const src = f.local(I32);
  const rowsPtr = f.local(I32);
  const n = f.local(I32);
  const gf = f.local(I32);
  const k = f.local(I32);
  const r = f.local(I32);
  const j = f.local(I32);
  const gRow = f.local(I32);
  const fRow = f.local(I32);
  const cell = f.local(I32);
  const w = f.local(V128);
  const dot = f.local(V128);
  f.get(terms).get(count).i32(4 * TERM_FIELDS).mul().add().set(termEnd);
  f.get(terms).set(i);
  f.forRange(i, termEnd, 4 * TERM_FIELDS, () => {
    f.get(i).i32Load(0).set(src);
    f.get(i).i32Load(8).set(rowsPtr);
    f.get(i).i32Load(12).set(n);
    f.get(i).i32Load(16).set(gf);
    f.i32(0).set(k);
    f.forRange(k, n, 1, () => {
      rowOf(f, rowsPtr, k, r);
      f.get(g).get(r).get(rowBytes).mul().add().set(gRow);
      f.get(k).get(rowBytes).mul().set(fRow);
      f.ifElse(
        () => f.get(gf).i32(-1).ne(),
        () => {
          f.get(q).get(r).get(qRowBytes).mul().add().get(i).i32Load(4).add().v128Load32Splat().set(w);
          f.i32(0).set(j);
          f.forRange(j, rowBytes, 16, () => {
            f.get(gf).get(fRow).add().get(j).add();
            f.get(gRow).get(j).add().v128Load().get(w).f32x4Mul();
            f.v128Store();
          });
        },
      );
      f.ifElse(
        () => f.get(gq).i32(-1).ne(),
        () => {
          f.v128Zero().set(dot);
          f.i32(0).set(j);
          f.forRange(j, rowBytes, 8, () => {
            f.get(dot);
            f.get(gRow).get(j).add().v128Load64Splat().f64x2PromoteLow();
            f.get(src).get(fRow).add().get(j).add().v128Load64Splat().f64x2PromoteLow();
            f.f64x2Mul().f64x2Add().set(dot);
          });
          // gq[r, c] += demote(dot₀ + dot₁)
          f.get(gq).get(r).get(qRowBytes).mul().add().get(i).i32Load(4).add().set(cell);
          f.get(cell);
          f.get(cell).f32Load();
          f.f64PromoteF32();
          f.get(dot).f64x2ExtractLane(0).get(dot).f64x2ExtractLane(1).f64Add();
          f.f64Add().f32DemoteF64();
          f.f32Store();
        },
      );
    });
  });
  return f;
}

const module = new WasmKernelModule(['mix_rows', 'mix_rows_grad'], () => [mixRows(), mixRowsGrad()]);

/** Writes the term records (TERM_FIELDS i32 each) and copies the terms' rows lists (and f, with copyF) in. */
function placeTerms(
  k: ReadyKernels<string>,
  L: CallLayout,
  terms: readonly MixTerm<ArrayLike<number>>[],
  copyF: boolean,
  gfAddress: (i: number) => number,
  pf: readonly number[],
  pr: readonly number[],
  pt: number,
): void {
  terms.forEach((t, i) => {
    if (copyF) k.f32.set(t.f as Float32Array, pf[i]! / 4);
    if (t.rows) k.i32.set(t.rows, pr[i]! / 4);
    const at = pt / 4 + TERM_FIELDS * i;
    k.i32[at] = pf[i]!;
    k.i32[at + 1] = 4 * t.column;
    k.i32[at + 2] = t.rows ? pr[i]! : -1;
    k.i32[at + 3] = t.f.length / Math.max(1, L.cols);
    k.i32[at + 4] = gfAddress(i);
  });
}

/** out[r, :] = Σ_i q[r, c_i]·f_i[k, :] in float32 (zero weights skipped); see mixRowsInto. */
export function mixRowsWasm(q: ArrayLike<number>, qCols: number, terms: readonly MixTerm<ArrayLike<number>>[], rows: number, cols: number, out: Float32Array | Float64Array): boolean {
  if (!isF32(q, out, ...terms.map((t) => t.f)) || cols % 4 !== 0 || cols === 0 || rows === 0) return false;
  const n = rows * cols;
  const L = new CallLayout(cols);
  const pq = L.take(4 * q.length);
  const pf = terms.map((t) => L.take(4 * t.f.length));
  const pr = terms.map((t) => (t.rows ? L.take(4 * t.rows.length) : -1));
  const pt = L.take(4 * TERM_FIELDS * terms.length);
  const po = L.take(4 * n);
  const k = module.ready(L.size);
  if (!k) return false;
  k.f32.set(q as Float32Array, pq / 4);
  placeTerms(k, L, terms, true, () => -1, pf, pr, pt);
  k.f32.fill(0, po / 4, po / 4 + n);
  k.fns.mix_rows(pq, 4 * qCols, pt, terms.length, 4 * cols, po);
  out.set(k.f32.subarray(po / 4, po / 4 + n));
  return true;
}

/** mixRows' backward (see mixRowsGradInto); q's dots summed in float64. */
export function mixRowsGradWasm(
  q: ArrayLike<number>,
  qCols: number,
  terms: readonly MixTerm<ArrayLike<number>>[],
  g: ArrayLike<number>,
  rows: number,
  cols: number,
  gq: Float32Array | Float64Array | null,
  gfs: readonly (Float32Array | Float64Array | null)[],
): boolean {
  if (!isF32(q, g, gq, ...terms.map((t) => t.f), ...gfs) || cols % 4 !== 0 || cols === 0 || rows === 0) return false;
  const L = new CallLayout(cols);
  const pq = L.take(4 * q.length);
  const pg = L.take(4 * rows * cols);
  const pf = terms.map((t) => L.take(4 * t.f.length));
  const pr = terms.map((t) => (t.rows ? L.take(4 * t.rows.length) : -1));
  const pgf = gfs.map((a, i) => (a ? L.take(4 * terms[i]!.f.length) : -1));
  const pgq = gq ? L.take(4 * q.length) : -1;
  const pt = L.take(4 * TERM_FIELDS * terms.length);
  const k = module.ready(L.size);
  if (!k) return false;
  k.f32.set(q as Float32Array, pq / 4);
  k.f32.set(g as Float32Array, pg / 4);
  placeTerms(k, L, terms, gq !== null, (i) => pgf[i]!, pf, pr, pt);
  if (gq) k.f32.fill(0, pgq / 4, pgq / 4 + q.length);
  k.fns.mix_rows_grad(pq, 4 * qCols, pt, terms.length, pg, 4 * cols, pgq);
  gfs.forEach((a, i) => a?.set(k.f32.subarray(pgf[i]! / 4, pgf[i]! / 4 + a.length)));
  gq?.set(k.f32.subarray(pgq / 4, pgq / 4 + q.length));
  return true;
}
