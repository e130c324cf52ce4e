import type { AdamUpdateArgs, MixTerm } from '../backend.js';
import { assembleModule, FunctionBuilder, I32, uleb, V128, wasmApi, type Local, type WasmMemory } from './wasm/assembler.js';

/**
 * WebAssembly SIMD (f32x4) versions of the float32 fused kernels in fused.ts. On this machine a JS
 * loop costs ~2–4 ns per element, while copying the operands into the module's memory, running 4
 * lanes at a time and copying the result back costs ~0.5 ns per element (measured: bias + ReLU over
 * [256, 128] went from 3.9 to 0.5 ns/element). Each function returns false (touching nothing) when
 * it does not apply (no SIMD, switched off by configureFusedKernels, float64, a row length that is
 * not a multiple of 4, too small to pay for the copies); the caller then runs the JS kernel. Results equal the JS kernels' bit for bit except where noted: mixRows sums and
 * the Adam update run in float32 arithmetic (as BLAS / PyTorch do) instead of doubles.
 */

type Fn = (...args: number[]) => void;

const PAGE = 65536;
const MAX_PAGES = 16384; // 1 GiB: larger calls run in JS

/** The shared assembler plus the opcodes these kernels need (appended to its public code array). */
class Builder extends FunctionBuilder {
  private op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }
  private simd(code: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(code), ...imm);
  }
  ne(): this { return this.op(0x47); }
  i32Load(offset = 0): this { return this.op(0x28, 2, ...uleb(offset)); }
  f64PromoteF32(): this { return this.op(0xbb); }
  f32x4ExtractLane0(): this { return this.simd(0x1f, 0); }
  f32Ne(): this { return this.op(0x5c); }
  f64Add(): this { return this.op(0xa0); }
  f32DemoteF64(): this { return this.op(0xb6); }
  f32Const(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.op(0x43, ...b);
  }
  f32x4Splat(): this { return this.simd(0x13); }
  f32x4Gt(): this { return this.simd(0x44); }
  v128And(): this { return this.simd(0x4e); }
  f32x4Sqrt(): this { return this.simd(0xe3); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Div(): this { return this.simd(0xe7); }
  f32x4Max(): this { return this.simd(0xe9); }
  f64x2PromoteLow(): this { return this.simd(0x5f); }
  f64x2ExtractLane(lane: number): this { return this.simd(0x21, lane); }
  /** while (counter < end) { body; counter += step } (body runs only if counter < end). */
  forRange(counter: Local, end: Local, step: number, body: () => void): this {
    return this.ifElse(
      () => this.get(counter).get(end).ltS(),
      () =>
        this.doWhile(
          () => {
            body();
            this.get(counter).i32(step).add().set(counter);
          },
          () => this.get(counter).get(end).ltS(),
        ),
    );
  }
}

/** bias_act(x, bias, out, rows, rowBytes): out = act(x + bias) row by row (rowBytes a multiple of 16). */
function biasAct(name: string, relu: boolean): Builder {
  const f = new Builder(name, 5);
  const [x, bias, out, rows, rowBytes] = [0, 1, 2, 3, 4];
  const r = f.local(I32);
  const j = f.local(I32);
  const zero = f.local(V128);
  f.v128Zero().set(zero);
  f.i32(0).set(r);
  f.forRange(r, rows, 1, () => {
    f.i32(0).set(j);
    f.forRange(j, rowBytes, 16, () => {
      f.get(out).get(j).add();
      f.get(x).get(j).add().v128Load();
      f.get(bias).get(j).add().v128Load();
      f.f32x4Add();
      if (relu) f.get(zero).f32x4Max();
      f.v128Store();
    });
    f.get(x).get(rowBytes).add().set(x);
    f.get(out).get(rowBytes).add().set(out);
  });
  return f;
}

/**
 * relu_grad(g, y, gx, rows, rowBytes, acc, withBias): gx = g·[y > 0]; with withBias ≠ 0 also
 * acc[j] += gx[r, j] in float64 (acc: rowBytes·2 bytes, zeroed by the caller), rows in order.
 */
function reluGrad(): Builder {
  const f = new Builder('relu_grad', 7);
  const [g, y, gx, rows, rowBytes, acc, withBias] = [0, 1, 2, 3, 4, 5, 6];
  const r = f.local(I32);
  const j = f.local(I32);
  const zero = f.local(V128);
  const one = f.local(V128);
  const a = f.local(I32);
  f.v128Zero().set(zero);
  f.f32Const(1).f32x4Splat().set(one);
  f.i32(0).set(r);
  f.forRange(r, rows, 1, () => {
    f.i32(0).set(j);
    f.forRange(j, rowBytes, 16, () => {
      // gx = g · (mask & 1.0): an exact 0/1 factor, so NaN·0 stays NaN as in the JS kernel.
      f.get(gx).get(j).add();
      f.get(g).get(j).add().v128Load();
      f.get(y).get(j).add().v128Load().get(zero).f32x4Gt().get(one).v128And();
      f.f32x4Mul();
      f.v128Store();
      f.ifElse(
        () => f.get(withBias),
        () => {
          // Two float64 pairs per 4 columns: acc[j..j+1] += gx[j..j+1], acc[j+2..j+3] += gx[j+2..j+3].
          f.get(acc).get(j).i32(2).mul().add().set(a);
          for (const half of [0, 1]) {
            f.get(a);
            f.get(a).v128Load(16 * half);
            f.get(gx).get(j).add().v128Load64Splat(8 * half).f64x2PromoteLow();
            f.f64x2Add();
            f.v128Store(16 * half);
          }
        },
      );
    });
    f.get(g).get(rowBytes).add().set(g);
    f.get(y).get(rowBytes).add().set(y);
    f.get(gx).get(rowBytes).add().set(gx);
  });
  return f;
}

/** i32 fields per mixRows term record: f address, c·4, rows address (−1: row k is row k), row count, gf address (−1: none). */
const TERM_FIELDS = 5;

/** r = rows == −1 ? k : rows[k], into local `r`. */
function rowOf(f: Builder, rowsPtr: Local, k: Local, r: Local): void {
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
function mixRows(): Builder {
  const f = new Builder('mix_rows', 6);
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
function mixRowsGrad(): Builder {
  const f = new Builder('mix_rows_grad', 7);
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

/**
 * adam(p, g, m, v, outP, outM, outV, bytes, params): one Adam/AdamW step over `bytes` (a multiple of
 * 16) in float32; params = [β1, 1−β1, β2, 1−β2, stepSize, 1/√(1−β2ᵗ), eps, λ (L2), shrink] as f32.
 */
function adam(): Builder {
  const f = new Builder('adam', 9);
  const [p, g, m, v, outP, outM, outV, bytes, params] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const k = f.local(I32);
  const c = Array.from({ length: 9 }, () => f.local(V128));
  const [b1, c1, b2, c2, stepSize, invBc2, eps, l2, shrink] = c as [Local, Local, Local, Local, Local, Local, Local, Local, Local];
  const gi = f.local(V128);
  const pi = f.local(V128);
  const mi = f.local(V128);
  const vi = f.local(V128);
  c.forEach((l, idx) => f.get(params).v128Load32Splat(4 * idx).set(l));
  f.i32(0).set(k);
  f.forRange(k, bytes, 16, () => {
    f.get(p).get(k).add().v128Load().set(pi);
    // g' = g + λ·p (λ = 0 for Adam without L2 and for AdamW)
    f.get(g).get(k).add().v128Load().get(pi).get(l2).f32x4Mul().f32x4Add().set(gi);
    f.get(m).get(k).add().v128Load().get(b1).f32x4Mul().get(gi).get(c1).f32x4Mul().f32x4Add().set(mi);
    f.get(v).get(k).add().v128Load().get(b2).f32x4Mul().get(gi).get(gi).f32x4Mul().get(c2).f32x4Mul().f32x4Add().set(vi);
    f.get(outM).get(k).add().get(mi).v128Store();
    f.get(outV).get(k).add().get(vi).v128Store();
    // p' = p·shrink − stepSize·m / (√v·(1/√(1−β2ᵗ)) + eps)
    f.get(outP).get(k).add();
    f.get(pi).get(shrink).f32x4Mul();
    f.get(stepSize).get(mi).f32x4Mul();
    f.get(vi).f32x4Sqrt().get(invBc2).f32x4Mul().get(eps).f32x4Add();
    f.f32x4Div().f32x4Sub();
    f.v128Store();
  });
  return f;
}

interface Kernels {
  memory: WasmMemory;
  f32: Float32Array;
  i32: Int32Array;
  f64: Float64Array;
  biasRelu: Fn;
  biasAdd: Fn;
  reluGrad: Fn;
  mixRows: Fn;
  mixRowsGrad: Fn;
  adam: Fn;
}

let kernels: Kernels | null | undefined;

function instantiate(): Kernels | null {
  if (!wasmApi) return null;
  try {
    const fns = [
      biasAct('bias_relu', true),
      biasAct('bias_add', false),
      reluGrad(),
      mixRows(),
      mixRowsGrad(),
      adam(),
    ];
    const bytes = assembleModule(fns, { shared: false, maximumPages: MAX_PAGES });
    if (!wasmApi.validate(bytes)) return null; // no SIMD in this engine
    const memory = new wasmApi.Memory({ initial: 16, maximum: MAX_PAGES });
    const ex = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { mem: memory } }).exports;
    return {
      memory,
      f32: new Float32Array(memory.buffer),
      i32: new Int32Array(memory.buffer),
      f64: new Float64Array(memory.buffer),
      biasRelu: ex['bias_relu'] as Fn,
      biasAdd: ex['bias_add'] as Fn,
      reluGrad: ex['relu_grad'] as Fn,
      mixRows: ex['mix_rows'] as Fn,
      mixRowsGrad: ex['mix_rows_grad'] as Fn,
      adam: ex['adam'] as Fn,
    };
  } catch {
    return null;
  }
}

let enabled = true;

export interface FusedKernelOptions {
  /** Run the fused float32 kernels on WebAssembly SIMD when the engine has it (default true); false: the JS kernels. */
  simd?: boolean;
}

/** Chooses between the SIMD and JS versions of the fused kernels; returns the choice and whether SIMD runs. */
export function configureFusedKernels(opts: FusedKernelOptions = {}): { simd: boolean; running: 'wasm-simd' | 'js' } {
  if (opts.simd !== undefined) {
    if (typeof opts.simd !== 'boolean') throw new Error(`configureFusedKernels: simd must be true or false, got ${String(opts.simd)}`);
    enabled = opts.simd;
  }
  if (kernels === undefined) kernels = instantiate();
  return { simd: enabled, running: enabled && kernels !== null ? 'wasm-simd' : 'js' };
}

/** The kernels with memory for `bytes`, or null (switched off, no SIMD, or too large). */
function ready(bytes: number): Kernels | null {
  if (!enabled) return null;
  if (kernels === undefined) kernels = instantiate();
  const k = kernels;
  if (!k || bytes > MAX_PAGES * PAGE) return null;
  const have = k.memory.buffer.byteLength;
  if (bytes > have) {
    k.memory.grow(Math.ceil((bytes - have) / PAGE));
    k.f32 = new Float32Array(k.memory.buffer);
    k.i32 = new Int32Array(k.memory.buffer);
    k.f64 = new Float64Array(k.memory.buffer);
  }
  return k;
}

/** Bump layout of one call's buffers in the module memory (16-byte aligned, byte offsets). */
class Layout {
  private next = 0;
  /** Row length in elements, for calls that lay out row blocks (0 when unused). */
  constructor(readonly cols = 0) {}
  take(bytes: number): number {
    const at = this.next;
    this.next += Math.ceil(bytes / 16) * 16;
    return at;
  }
  get size(): number {
    return this.next;
  }
}

function isF32(...arrays: readonly (ArrayLike<number> | null)[]): boolean {
  return arrays.every((a) => a === null || a instanceof Float32Array);
}

/** out = act(x + bias) for float32 with rows of a multiple of 4; false when it does not apply. */
export function biasActivationWasm(x: ArrayLike<number>, bias: ArrayLike<number>, cols: number, relu: boolean, out: Float32Array | Float64Array): boolean {
  if (!isF32(x, bias, out) || cols % 4 !== 0 || cols === 0 || out.length === 0) return false;
  const n = out.length;
  const L = new Layout();
  const [px, pb, po] = [L.take(4 * n), L.take(4 * cols), L.take(4 * n)];
  const k = ready(L.size);
  if (!k) return false;
  k.f32.set(x as Float32Array, px / 4);
  k.f32.set(bias as Float32Array, pb / 4);
  (relu ? k.biasRelu : k.biasAdd)(px, pb, po, n / cols, 4 * cols);
  out.set(k.f32.subarray(po / 4, po / 4 + n));
  return true;
}

/** gx = g·[y > 0] and, with biasOut, Σ_rows gx (float64 sums, row order); float32 only. */
export function reluGradWasm(g: ArrayLike<number>, y: ArrayLike<number>, cols: number, gx: Float32Array | Float64Array, biasOut: Float32Array | Float64Array | null): boolean {
  if (!isF32(g, y, gx, biasOut) || cols % 4 !== 0 || cols === 0 || gx.length === 0) return false;
  const n = gx.length;
  const L = new Layout();
  const [pg, py, pgx, pacc] = [L.take(4 * n), L.take(4 * n), L.take(4 * n), L.take(8 * cols)];
  const k = ready(L.size);
  if (!k) return false;
  k.f32.set(g as Float32Array, pg / 4);
  k.f32.set(y as Float32Array, py / 4);
  if (biasOut) k.f64.fill(0, pacc / 8, pacc / 8 + cols);
  k.reluGrad(pg, py, pgx, n / cols, 4 * cols, pacc, biasOut ? 1 : 0);
  gx.set(k.f32.subarray(pgx / 4, pgx / 4 + n));
  if (biasOut) biasOut.set(k.f64.subarray(pacc / 8, pacc / 8 + cols));
  return true;
}

/** Writes the term records (TERM_FIELDS i32 each) and copies the terms' rows lists (and f, with copyF) in. */
function placeTerms(
  k: Kernels,
  L: Layout,
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
  const L = new Layout(cols);
  const pq = L.take(4 * q.length);
  const pf = terms.map((t) => L.take(4 * t.f.length));
  const pr = terms.map((t) => (t.rows ? L.take(4 * t.rows.length) : -1));
  const pt = L.take(4 * TERM_FIELDS * terms.length);
  const po = L.take(4 * n);
  const k = ready(L.size);
  if (!k) return false;
  k.f32.set(q as Float32Array, pq / 4);
  placeTerms(k, L, terms, true, () => -1, pf, pr, pt);
  k.f32.fill(0, po / 4, po / 4 + n);
  k.mixRows(pq, 4 * qCols, pt, terms.length, 4 * cols, po);
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
  const L = new Layout(cols);
  const pq = L.take(4 * q.length);
  const pg = L.take(4 * rows * cols);
  const pf = terms.map((t) => L.take(4 * t.f.length));
  const pr = terms.map((t) => (t.rows ? L.take(4 * t.rows.length) : -1));
  const pgf = gfs.map((a, i) => (a ? L.take(4 * terms[i]!.f.length) : -1));
  const pgq = gq ? L.take(4 * q.length) : -1;
  const pt = L.take(4 * TERM_FIELDS * terms.length);
  const k = ready(L.size);
  if (!k) return false;
  k.f32.set(q as Float32Array, pq / 4);
  k.f32.set(g as Float32Array, pg / 4);
  placeTerms(k, L, terms, gq !== null, (i) => pgf[i]!, pf, pr, pt);
  if (gq) k.f32.fill(0, pgq / 4, pgq / 4 + q.length);
  k.mixRowsGrad(pq, 4 * qCols, pt, terms.length, pg, 4 * cols, pgq);
  gfs.forEach((a, i) => a?.set(k.f32.subarray(pgf[i]! / 4, pgf[i]! / 4 + a.length)));
  gq?.set(k.f32.subarray(pgq / 4, pgq / 4 + q.length));
  return true;
}

/** One Adam/AdamW step in float32 arithmetic; false for float64. */
export function adamUpdateWasm(
  p: ArrayLike<number>,
  g: ArrayLike<number>,
  m: ArrayLike<number>,
  v: ArrayLike<number>,
  args: AdamUpdateArgs,
  outP: Float32Array | Float64Array,
  outM: Float32Array | Float64Array,
  outV: Float32Array | Float64Array,
): boolean {
  if (!isF32(p, g, m, v, outP, outM, outV) || outP.length === 0) return false;
  const n = outP.length;
  // Padded to whole vectors: the tail lanes compute on zeros and are not copied back.
  const bytes = Math.ceil(n / 4) * 16;
  const L = new Layout();
  const ptr = Array.from({ length: 7 }, () => L.take(bytes));
  const pp = L.take(9 * 4);
  const k = ready(L.size);
  if (!k) return false;
  [p, g, m, v].forEach((a, i) => {
    k.f32.set(a as Float32Array, ptr[i]! / 4);
    k.f32.fill(0, ptr[i]! / 4 + n, ptr[i]! / 4 + bytes / 4);
  });
  const { lr, beta1, beta2, eps, weightDecay, decoupled, step } = args;
  const params = [beta1, 1 - beta1, beta2, 1 - beta2, lr / (1 - beta1 ** step), 1 / Math.sqrt(1 - beta2 ** step), eps, decoupled ? 0 : weightDecay, decoupled ? 1 - lr * weightDecay : 1];
  k.f32.set(params, pp / 4);
  k.adam(ptr[0]!, ptr[1]!, ptr[2]!, ptr[3]!, ptr[4]!, ptr[5]!, ptr[6]!, bytes, pp);
  outP.set(k.f32.subarray(ptr[4]! / 4, ptr[4]! / 4 + n));
  outM.set(k.f32.subarray(ptr[5]! / 4, ptr[5]! / 4 + n));
  outV.set(k.f32.subarray(ptr[6]! / 4, ptr[6]! / 4 + n));
  return true;
}
