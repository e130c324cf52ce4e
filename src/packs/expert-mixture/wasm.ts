import { I32, V128, type Local } from '../../kernels/cpu/wasm/assembler.js';
import { KernelCall } from '../../kernels/cpu/kernel-call.js';
import { kernelSpace } from '../../kernels/cpu/kernel-space.js';
import { PARALLEL_MIN_ELEMENTS, splitRun } from '../../kernels/cpu/simd.js';
import { isF32, KernelBuilder, WasmKernelModule } from '../../kernels/cpu/wasm/kernel-module.js';
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

/**
 * Places the terms (their f unless `withF` is false, their rows lists) and writes the term records
 * (TERM_FIELDS i32 each); returns the records' address. gfAddress(i): term i's gf (−1: none).
 */
function placeTerms(call: KernelCall, terms: readonly MixTerm<ArrayLike<number>>[], cols: number, withF: boolean, gfAddress: (i: number) => number): number {
  const pf = terms.map((t) => (withF ? call.input(t.f as Float32Array) : 0));
  const pr = terms.map((t) => (t.rows ? call.input(t.rows) : -1));
  const pt = call.scratch(4 * TERM_FIELDS * terms.length);
  if (!call.ok) return -1;
  const i32 = call.views.i32;
  terms.forEach((t, i) => {
    const at = pt / 4 + TERM_FIELDS * i;
    i32[at] = pf[i]!;
    i32[at + 1] = 4 * t.column;
    i32[at + 2] = pr[i]!;
    i32[at + 3] = t.f.length / cols;
    i32[at + 4] = gfAddress(i);
  });
  return pt;
}

/** out[r, :] = Σ_i q[r, c_i]·f_i[k, :] in float32 (zero weights skipped); see mixRowsInto. */
export function mixRowsWasm(q: ArrayLike<number>, qCols: number, terms: readonly MixTerm<ArrayLike<number>>[], rows: number, cols: number, out: Float32Array | Float64Array): boolean {
  if (!isF32(q, out, ...terms.map((t) => t.f)) || cols % 4 !== 0 || cols === 0 || rows === 0) return false;
  const k = module.ready();
  if (!k) return false;
  out.fill(0, 0, rows * cols); // the kernel accumulates into out
  const call = new KernelCall(kernelSpace()!);
  const pq = call.input(q as Float32Array);
  const po = call.inout(out as Float32Array, 0, rows * cols);
  const pt = placeTerms(call, terms, cols, true, () => -1);
  if (!call.ok) return call.abandon(), false;
  k.fns.mix_rows(pq, 4 * qCols, pt, terms.length, 4 * cols, po);
  call.finish();
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
  const k = module.ready();
  if (!k) return false;
  gq?.fill(0); // the kernel accumulates into gq
  const call = new KernelCall(kernelSpace()!);
  const pq = call.input(q as Float32Array);
  const pg = call.input(g as Float32Array, 0, rows * cols);
  const pgf = gfs.map((a) => (a ? call.output(a as Float32Array) : -1));
  const pgq = gq ? call.inout(gq as Float32Array) : -1;
  const pt = placeTerms(call, terms, cols, gq !== null, (i) => pgf[i]!);
  if (!call.ok) return call.abandon(), false;
  // Threads take whole terms when no two terms share a column of q (each writes its own gf and
  // its own cells of gq, every dot in the same order); otherwise one thread.
  const distinct = new Set(terms.map((t) => t.column)).size === terms.length;
  const work = terms.reduce((p, t) => p + t.f.length, 0);
  const minTerms = distinct ? (PARALLEL_MIN_ELEMENTS * terms.length) / Math.max(1, work) : Infinity;
  splitRun(k, 'mix_rows_grad', terms.length, minTerms, 1, (t0, count) => [pq, 4 * qCols, pt + 4 * TERM_FIELDS * t0, count, pg, 4 * cols, pgq]);
  call.finish();
  return true;
}
