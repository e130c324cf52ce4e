import { assembleModule, FunctionBuilder, I32, uleb, V128, type Local, type MemoryImport } from './assembler.js';

/**
 * The WebAssembly SIMD module of the fused conv → max-pool 2×2 → bias → ReLU layer (stride-1
 * convolution, the CNN experts' block). Every pointer is a byte offset into the imported memory;
 * each kernel reads its geometry from a block of i32 parameters (PARAM below) so that a job for the
 * worker pool is just (params, first image, end image).
 *
 * Forward (`cpr_fwd`): direct convolution vectorised over output positions. A tile is R = 5 filters
 * × 2 conv rows × 4 conv columns (10 f32x4 accumulators); the K = C·kH·kW loop reads two input
 * vectors through a table of per-k byte offsets (no im2col) and five weight splats. The tile is
 * exactly 2 pooling windows wide, so the epilogue pools in registers: first maximum in scan order
 * (NaN wins, as in the JS kernel), + bias, ReLU, and stores the value and the window code (dy·2 + dx)
 * of each window. The conv output never reaches memory.
 *
 * Backward (`cpr_bwd_v1..v4`): the conv output's gradient is nonzero at one position per window
 * (the argmax), so it is never materialised:
 *  - dW[f, :] += g·field(position) over windows with g ≠ 0, where a field is the K input values under
 *    the kernel at a conv position (built once per image, 4 per window). Accumulated in registers,
 *    8 vectors of K at a time, over a per-filter list of (field, g) — 1/4 of a dense product.
 *  - dX: per window and code d, Σ g·W[f] over the filters whose maximum sat at d, added into the
 *    input gradient under the kernel (rows of kW padded to whole vectors: v = ceil(kW/4) vectors).
 */

/** i32 slots of the parameter block (byte offset = 4·slot). */
export const PARAM = {
  // forward and backward
  x: 0, // prepared input, image 0
  xImage: 1, // bytes per prepared input image
  xRow: 2, // bytes per prepared input row
  // forward
  offsets: 3, // i32 byte offsets from a conv position's input origin: of each tap, or of each kernel row
  k: 4, // entries in that table
  weights: 5, // [groups][K][R] f32
  groups: 6,
  biasPairs: 7, // [groups][ceil(R/2)] vectors (b_a, b_a, b_b, b_b)
  y: 8, // pooled output [N][groups·R][PH][2·PWV]
  codes: 9, // same layout as y
  yImage: 10, // bytes per output image
  yPlane: 11, // bytes per output plane (PH·2·PWV·4)
  pooledH: 12,
  pairCols: 13, // PWV: pooled column pairs per row
  // backward (exact layouts [N][F][Q] for g, y, codes)
  g: 14,
  yExact: 15,
  codesExact: 16,
  filters: 17,
  windows: 18, // Q = PH·PW
  pooledW: 19,
  kernelW: 20,
  rows: 21, // C·kH
  xRowOffsets: 22, // [rows] i32: c·plane + kh·row of the prepared input
  paddedK: 23, // KP: K rounded up to 4 (floats per field / per dW row)
  needW: 24,
  fields: 25, // scratch: Q·4 fields of KP floats (tails stay zero)
  list: 26, // scratch: F entries of (pointer, g) … or Q entries
  dw: 27, // [F][KP] f32, added into
  db: 28, // [F] f32, added into
  needX: 29,
  wx: 30, // [F][rows][v·4] f32: weights with kW padded to whole vectors
  dx: 31, // input gradient, prepared layout of its own (zeroed), image 0
  dxImage: 32,
  dxRow: 33,
  dxRowOffsets: 34, // [rows] i32
  buckets: 35, // scratch: 4 lists of F (pointer, g) entries, then 4 i32 end pointers
} as const;
export const PARAM_WORDS = 36;

/** Filters per forward tile. */
export const TILE_FILTERS = 5;
/** Vectors per row of the padded weights of the input-gradient kernels (kW ≤ 4·MAX_ROW_VECTORS). */
export const MAX_ROW_VECTORS = 4;

/** Export names, in the order the worker pool refers to them. */
/** kW values with a forward kernel of their own (taps unrolled); other kW use the generic one. */
export const UNROLLED_KERNEL_WIDTHS = [1, 2, 3, 4, 5, 6, 7] as const;

export const CONV_EXPORTS = ['cpr_fwd', 'cpr_fwd_k1', 'cpr_fwd_k2', 'cpr_fwd_k3', 'cpr_fwd_k4', 'cpr_fwd_k5', 'cpr_fwd_k6', 'cpr_fwd_k7', 'cpr_bwd_v1', 'cpr_bwd_v2', 'cpr_bwd_v3', 'cpr_bwd_v4', 'copy_planes'] as const;

/** The shared assembler plus the opcodes these kernels use (kept here so assembler.ts stays as is). */
class Builder extends FunctionBuilder {
  private op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }
  private simd(code: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(code), ...imm);
  }
  i32Load(offset = 0): this { return this.op(0x28, 2, ...uleb(offset)); }
  i32Store(offset = 0): this { return this.op(0x36, 2, ...uleb(offset)); }
  ne(): this { return this.op(0x47); }
  divS(): this { return this.op(0x6d); }
  leS(): this { return this.op(0x4c); }
  gtS(): this { return this.op(0x4a); }
  and(): this { return this.op(0x71); }
  shl(): this { return this.op(0x74); }
  f32Add(): this { return this.op(0x92); }
  f32Mul(): this { return this.op(0x94); }
  f32Gt(): this { return this.op(0x5e); }
  f32Ne(): this { return this.op(0x5c); }
  i32TruncF32S(): this { return this.op(0xa8); }
  f32ConvertI32S(): this { return this.op(0xb2); }
  f32Const(v: number): this { return this.op(0x43, ...new Uint8Array(new Float32Array([v]).buffer)); }
  i32x4Splat(): this { return this.simd(0x11); }
  f32x4Splat(): this { return this.simd(0x13); }
  f32x4Eq(): this { return this.simd(0x41); }
  f32x4Ne(): this { return this.simd(0x42); }
  f32x4Gt(): this { return this.simd(0x44); }
  v128And(): this { return this.simd(0x4e); }
  v128Or(): this { return this.simd(0x50); }
  v128Bitselect(): this { return this.simd(0x52); }
  f32x4ConvertI32x4S(): this { return this.simd(0xfa); }
  v128Store64Lane(offset: number, lane: number): this { return this.simd(0x5b, 3, ...uleb(offset), lane); }
  /** i8x16.shuffle picking f32 lanes (0–3 from the first operand, 4–7 from the second). */
  f32Shuffle(lanes: readonly [number, number, number, number]): this {
    return this.simd(0x0d, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
  }
  param32(params: Local, slot: number, into: Local): this {
    return this.get(params).i32Load(4 * slot).set(into);
  }
  /** for (counter = from; counter < end; counter += step) body — `from`/`end` pushed by callbacks. */
  loop(counter: Local, from: () => void, end: Local, step: number, body: () => void): this {
    from();
    this.set(counter);
    return this.ifElse(
      () => this.get(counter).get(end).ltS(),
      () =>
        this.doWhile(
          () => {
            body();
            this.addTo(counter, () => this.i32(step));
          },
          () => this.get(counter).get(end).ltS(),
        ),
    );
  }
}

/**
 * cpr_fwd(params, n0, n1): pooled values and codes of images [n0, n1). With `taps` (= kW) the table
 * holds one offset per kernel row (c, kh) and the kW taps of a row are unrolled with constant
 * offsets (fewer integer ops competing with the vector ones for the same ports); without, one offset
 * per tap (any kW).
 */
function forward(taps: number | null): Builder {
  const R = TILE_FILTERS;
  const pairs = Math.ceil(R / 2);
  const perEntry = taps ?? 1;
  const f = new Builder(taps === null ? 'cpr_fwd' : `cpr_fwd_k${taps}`, 3);
  const [params, n0, n1] = [0, 1, 2];
  const L = (): Local => f.local(I32);
  const [x, xImage, xRow, offsets, k, weights, groups, biasPairs, y, codes, yImage, yPlane, pooledH, pairCols] = Array.from({ length: 14 }, L);
  const [n, g, qh, j, xImg, yImg, cImg, wg, bg, yg, cg, xr, yr, cr, b0, b1, tp, tEnd, wp, o, rowOut, xa, xb] = Array.from({ length: 23 }, L);
  const acc: Local[][] = Array.from({ length: R }, () => [f.local(V128), f.local(V128)]);
  const [bv0, bv1, a] = [f.local(V128), f.local(V128), f.local(V128)];
  const [c1, c2, c3, best, idx, m, v] = Array.from({ length: 7 }, () => f.local(V128));
  const slots: [Local, number][] = [
    [x, PARAM.x], [xImage, PARAM.xImage], [xRow, PARAM.xRow], [offsets, PARAM.offsets], [k, PARAM.k], [weights, PARAM.weights],
    [groups, PARAM.groups], [biasPairs, PARAM.biasPairs], [y, PARAM.y], [codes, PARAM.codes], [yImage, PARAM.yImage],
    [yPlane, PARAM.yPlane], [pooledH, PARAM.pooledH], [pairCols, PARAM.pairCols],
  ];
  for (const [l, s] of slots) f.param32(params, s, l);
  f.get(offsets).get(k).i32(4).mul().add().set(tEnd);
  f.get(pairCols).i32(8).mul().set(rowOut);

  f.loop(n, () => f.get(n0), n1, 1, () => {
    f.get(x).get(n).get(xImage).mul().add().set(xImg);
    f.get(y).get(n).get(yImage).mul().add().set(yImg);
    f.get(codes).get(n).get(yImage).mul().add().set(cImg);
    f.loop(g, () => f.i32(0), groups, 1, () => {
      f.get(weights).get(g).get(k).mul().i32(4 * R * perEntry).mul().add().set(wg);
      f.get(biasPairs).get(g).i32(16 * pairs).mul().add().set(bg);
      f.get(g).i32(R).mul().get(yPlane).mul().set(o);
      f.get(yImg).get(o).add().set(yg);
      f.get(cImg).get(o).add().set(cg);
      f.loop(qh, () => f.i32(0), pooledH, 1, () => {
        f.get(xImg).get(qh).get(xRow).mul().i32(1).shl().add().set(xr);
        f.get(qh).get(rowOut).mul().set(o);
        f.get(yg).get(o).add().set(yr);
        f.get(cg).get(o).add().set(cr);
        f.loop(j, () => f.i32(0), pairCols, 1, () => {
          f.get(xr).get(j).i32(16).mul().add().set(b0);
          f.get(b0).get(xRow).add().set(b1);
          for (const row of acc) for (const l of row) f.v128Zero().set(l);
          f.get(offsets).set(tp);
          f.get(wg).set(wp);
          f.doWhile(
            () => {
              f.get(tp).i32Load().set(o);
              f.get(b0).get(o).add().set(xa);
              f.get(b1).get(o).add().set(xb);
              for (let kw = 0; kw < perEntry; kw++) {
                f.get(xa).v128Load(4 * kw).set(bv0);
                f.get(xb).v128Load(4 * kw).set(bv1);
                for (let r = 0; r < R; r++) {
                  f.get(wp).v128Load32Splat(4 * (kw * R + r)).set(a);
                  for (const [q, bv] of [[0, bv0], [1, bv1]] as const) {
                    f.get(acc[r]![q]!).get(a).get(bv).f32x4Mul().f32x4Add().set(acc[r]![q]!);
                  }
                }
              }
              f.addTo(wp, () => f.i32(4 * R * perEntry));
              f.addTo(tp, () => f.i32(4));
            },
            () => f.get(tp).get(tEnd).ltU(),
          );
          // Pool filters (ra, rb) together: lanes = (ra window 0, ra window 1, rb window 0, rb window 1).
          for (let p = 0; p < pairs; p++) {
            const ra = 2 * p;
            const rb = Math.min(2 * p + 1, R - 1);
            const candidate = (q: 0 | 1, odd: boolean, into: Local): void => {
              f.get(acc[ra]![q]!).get(acc[rb]![q]!).f32Shuffle(odd ? [1, 3, 5, 7] : [0, 2, 4, 6]).set(into);
            };
            candidate(0, false, best);
            candidate(0, true, c1);
            candidate(1, false, c2);
            candidate(1, true, c3);
            f.v128Zero().set(idx);
            [c1, c2, c3].forEach((c, i) => {
              // take c when c > best, or c is NaN and best is not (the JS kernel's first-max rule)
              f.get(c).get(best).f32x4Gt();
              f.get(c).get(c).f32x4Ne().get(best).get(best).f32x4Eq().v128And();
              f.v128Or().set(m);
              f.get(c).get(best).get(m).v128Bitselect().set(best);
              f.i32(i + 1).i32x4Splat().get(idx).get(m).v128Bitselect().set(idx);
            });
            // v = best + b; ReLU keeps v where v > 0 or v is NaN (as the JS relu)
            f.get(best).get(bg).v128Load(16 * p).f32x4Add().set(v);
            f.get(v).get(v).v128Zero().f32x4Gt().get(v).get(v).f32x4Ne().v128Or().v128And().set(v);
            f.get(idx).f32x4ConvertI32x4S().set(idx);
            const store = (base: Local, value: Local): void => {
              for (const [r, lane] of rb === ra ? [[ra, 0]] : [[ra, 0], [rb, 1]]) {
                f.get(base).get(j).i32(8).mul().add().get(yPlane).i32(r!).mul().add().get(value).v128Store64Lane(0, lane!);
              }
            };
            store(yr, v);
            store(cr, idx);
          }
        });
      });
    });
  });
  return f;
}

/**
 * dw_chunk_W(list, listEnd, off, dst): acc = Σ_entries g·v128[ptr + off + 16i] for i < W, then
 * dst[i] += acc[i]. Entries are (ptr: i32, g: f32).
 */
function dwChunk(width: number): Builder {
  const f = new Builder(null, 4);
  const [list, listEnd, off, dst] = [0, 1, 2, 3];
  const e = f.local(I32);
  const p = f.local(I32);
  const a = f.local(V128);
  const acc = Array.from({ length: width }, () => f.local(V128));
  for (const l of acc) f.v128Zero().set(l);
  f.get(list).set(e);
  f.doWhile(
    () => {
      f.get(e).i32Load().get(off).add().set(p);
      f.get(e).v128Load32Splat(4).set(a);
      acc.forEach((l, i) => f.get(l).get(a).get(p).v128Load(16 * i).f32x4Mul().f32x4Add().set(l));
      f.addTo(e, () => f.i32(8));
    },
    () => f.get(e).get(listEnd).ltU(),
  );
  acc.forEach((l, i) => f.get(dst).get(dst).v128Load(16 * i).get(l).f32x4Add().v128Store(16 * i));
  return f;
}

/**
 * dx_chunk(list, listEnd, wOff, base, rowTable): for `rows` weight rows of `vpr` vectors each,
 * acc = Σ_entries g·v128[ptr + wOff + …], then adds row i's vectors at base + rowTable[i].
 */
function dxChunk(vpr: number, rows: number): Builder {
  const f = new Builder(null, 5);
  const [list, listEnd, wOff, base, rowTable] = [0, 1, 2, 3, 4];
  const e = f.local(I32);
  const p = f.local(I32);
  const at = f.local(I32);
  const a = f.local(V128);
  const acc = Array.from({ length: vpr * rows }, () => f.local(V128));
  for (const l of acc) f.v128Zero().set(l);
  f.get(list).set(e);
  f.doWhile(
    () => {
      f.get(e).i32Load().get(wOff).add().set(p);
      f.get(e).v128Load32Splat(4).set(a);
      acc.forEach((l, i) => f.get(l).get(a).get(p).v128Load(16 * i).f32x4Mul().f32x4Add().set(l));
      f.addTo(e, () => f.i32(8));
    },
    () => f.get(e).get(listEnd).ltU(),
  );
  for (let r = 0; r < rows; r++) {
    f.get(base).get(rowTable).i32Load(4 * r).add().set(at);
    for (let q = 0; q < vpr; q++) f.get(at).get(at).v128Load(16 * q).get(acc[r * vpr + q]!).f32x4Add().v128Store(16 * q);
  }
  return f;
}

/** Function indices of the helpers in the module (see buildConvModule). */
interface HelperIndex {
  dw: Record<8 | 4 | 2 | 1, number>;
  /** [vpr] → [chunk function for rowsPerChunk(vpr) rows, chunk function for one row] */
  dx: Record<number, [number, number]>;
}

/** Weight rows the dX kernel accumulates per pass for `vpr` vectors per row (≤ 8 accumulators). */
export function rowsPerChunk(vpr: number): number {
  return Math.max(1, Math.floor(8 / vpr));
}


const F32 = 0x7d;
const BWD_PARAMS = [
  'x', 'xImage', 'xRow', 'g', 'yExact', 'codesExact', 'filters', 'windows', 'pooledW', 'kernelW', 'rows', 'xRowOffsets',
  'paddedK', 'needW', 'fields', 'list', 'dw', 'db', 'needX', 'wx', 'dx', 'dxImage', 'dxRow', 'dxRowOffsets', 'buckets',
] as const;

/** cpr_bwd_vV(params, n0, n1): adds dW and db of images [n0, n1) into the block's buffers and writes their dX. */
function backward(vpr: number, helpers: HelperIndex): Builder {
  const f = new Builder(`cpr_bwd_v${vpr}`, 3);
  const [params, n0, n1] = [0, 1, 2];
  const L = (): Local => f.local(I32);
  const P = {} as Record<(typeof BWD_PARAMS)[number], Local>;
  for (const name of BWD_PARAMS) {
    P[name] = L();
    f.param32(params, PARAM[name], P[name]);
  }
  const [n, xImg, gImg, yImg, cImg, q, qh, qw, src, dst, r, t, fl, e, start, end, gAt, off, kpBytes, planeQ, ends, dxImg, wxBytes, base, kwBytes, dwRow, at] =
    Array.from({ length: 27 }, L);
  const gv = f.local(F32 as unknown as typeof I32);
  const dbSum = f.local(F32 as unknown as typeof I32);
  const rpc = rowsPerChunk(vpr);
  const whileLoop = (cond: () => void, body: () => void): void => {
    f.ifElse(cond, () => f.doWhile(body, cond));
  };

  f.get(P.paddedK).i32(4).mul().set(kpBytes);
  f.get(P.windows).i32(4).mul().set(planeQ);
  f.get(P.kernelW).i32(4).mul().set(kwBytes);
  f.get(P.rows).i32(vpr * 16).mul().set(wxBytes);
  f.get(P.buckets).get(P.filters).i32(32).mul().add().set(ends);

  /** gv = gy·[y > 0] for (filter fl, window q); gAt = its byte offset within the image's planes. */
  const gradAt = (): void => {
    f.get(fl).get(planeQ).mul().get(q).i32(4).mul().add().set(gAt);
    f.get(gImg).get(gAt).add().f32Load();
    f.get(yImg).get(gAt).add().f32Load().f32Const(0).f32Gt().f32ConvertI32S();
    f.f32Mul().set(gv);
  };
  const codeAt = (): void => {
    f.get(cImg).get(gAt).add().f32Load().i32TruncF32S();
  };
  const windowOf = (): void => {
    f.get(q).get(P.pooledW).divS().set(qh);
    f.get(q).get(qh).get(P.pooledW).mul().sub().set(qw);
  };
  /** into = image + (2qh + dy)·rowBytes + (2qw + dx)·4 for window code d = 2dy + dx. */
  const origin = (image: Local, rowBytes: Local, d: number, into: Local): void => {
    f.get(image);
    f.get(qh).i32(1).shl().i32(d >> 1).add().get(rowBytes).mul().add();
    f.get(qw).i32(1).shl().i32(d & 1).add().i32(4).mul().add();
    f.set(into);
  };
  /** Copies kernelW floats from src to dst (whole vectors, the last one overlapping; scalars when kW < 4). */
  const copyRow = (): void => {
    f.ifElse(
      () => f.get(P.kernelW).i32(4).geS(),
      () => {
        f.i32(0).set(t);
        f.doWhile(
          () => {
            f.get(dst).get(t).add().get(src).get(t).add().v128Load().v128Store();
            f.addTo(t, () => f.i32(16));
          },
          () => f.get(t).i32(16).add().get(kwBytes).leS(),
        );
        f.ifElse(
          () => f.get(kwBytes).i32(15).and(),
          () => f.get(dst).get(kwBytes).add().i32(16).sub().get(src).get(kwBytes).add().i32(16).sub().v128Load().v128Store(),
        );
      },
      () => {
        f.i32(0).set(t);
        f.doWhile(
          () => {
            f.get(dst).get(t).add().get(src).get(t).add().f32Load().f32Store();
            f.addTo(t, () => f.i32(4));
          },
          () => f.get(t).get(kwBytes).ltS(),
        );
      },
    );
  };

  f.loop(n, () => f.get(n0), n1, 1, () => {
    f.get(P.x).get(n).get(P.xImage).mul().add().set(xImg);
    f.get(n).get(P.filters).mul().get(planeQ).mul().set(t);
    f.get(P.g).get(t).add().set(gImg);
    f.get(P.yExact).get(t).add().set(yImg);
    f.get(P.codesExact).get(t).add().set(cImg);

    f.ifElse(
      () => f.get(P.needW),
      () => {
        // The field (kernel-sized input patch) of every conv position under a window.
        f.loop(q, () => f.i32(0), P.windows, 1, () => {
          windowOf();
          for (let d = 0; d < 4; d++) {
            origin(xImg, P.xRow, d, base);
            f.get(P.fields).get(q).i32(4).mul().i32(d).add().get(kpBytes).mul().add().set(dst);
            f.loop(r, () => f.i32(0), P.rows, 1, () => {
              f.get(base).get(P.xRowOffsets).get(r).i32(4).mul().add().i32Load().add().set(src);
              copyRow();
              f.addTo(dst, () => f.get(kwBytes));
            });
          }
        });
        f.loop(fl, () => f.i32(0), P.filters, 1, () => {
          f.get(P.list).set(e);
          f.f32Const(0).set(dbSum);
          f.loop(q, () => f.i32(0), P.windows, 1, () => {
            gradAt();
            f.get(dbSum).get(gv).f32Add().set(dbSum);
            f.ifElse(
              () => f.get(gv).f32Const(0).f32Ne(),
              () => {
                f.get(e).get(P.fields).get(q).i32(4).mul();
                codeAt();
                f.add().get(kpBytes).mul().add().i32Store();
                f.get(e).get(gv).f32Store(4);
                f.addTo(e, () => f.i32(8));
              },
            );
          });
          f.get(P.db).get(fl).i32(4).mul().add().set(at);
          f.get(at).get(at).f32Load().get(dbSum).f32Add().f32Store();
          f.ifElse(
            () => f.get(e).get(P.list).gtS(),
            () => {
              f.get(P.dw).get(fl).get(kpBytes).mul().add().set(dwRow);
              f.i32(0).set(off);
              const chunk = (width: 8 | 4 | 2 | 1): void => {
                f.get(P.list).get(e).get(off).get(dwRow).get(off).add().call(helpers.dw[width]);
                f.addTo(off, () => f.i32(16 * width));
              };
              whileLoop(() => f.get(off).i32(128).add().get(kpBytes).leS(), () => chunk(8));
              for (const width of [4, 2, 1] as const) f.ifElse(() => f.get(off).i32(16 * width).add().get(kpBytes).leS(), () => chunk(width));
            },
          );
        });
      },
    );

    f.ifElse(
      () => f.get(P.needX),
      () => {
        f.get(P.dx).get(n).get(P.dxImage).mul().add().set(dxImg);
        f.loop(q, () => f.i32(0), P.windows, 1, () => {
          windowOf();
          // Bucket the filters by where their window maximum sat.
          for (let d = 0; d < 4; d++) f.get(ends).get(P.buckets).get(P.filters).i32(8 * d).mul().add().i32Store(4 * d);
          f.loop(fl, () => f.i32(0), P.filters, 1, () => {
            gradAt();
            f.ifElse(
              () => f.get(gv).f32Const(0).f32Ne(),
              () => {
                f.get(ends);
                codeAt();
                f.i32(4).mul().add().set(base); // address of this bucket's end pointer
                f.get(base).i32Load().set(at);
                f.get(at).get(P.wx).get(fl).get(wxBytes).mul().add().i32Store();
                f.get(at).get(gv).f32Store(4);
                f.get(base).get(at).i32(8).add().i32Store();
              },
            );
          });
          for (let d = 0; d < 4; d++) {
            f.get(P.buckets).get(P.filters).i32(8 * d).mul().add().set(start);
            f.get(ends).i32Load(4 * d).set(end);
            f.ifElse(
              () => f.get(end).get(start).gtS(),
              () => {
                origin(dxImg, P.dxRow, d, base);
                f.i32(0).set(r);
                const chunk = (rows: number, fn: number): void => {
                  f.get(start).get(end).get(r).i32(vpr * 16).mul().get(base).get(P.dxRowOffsets).get(r).i32(4).mul().add().call(fn);
                  f.addTo(r, () => f.i32(rows));
                };
                whileLoop(() => f.get(r).i32(rpc).add().get(P.rows).leS(), () => chunk(rpc, helpers.dx[vpr]![0]));
                if (rpc > 1) whileLoop(() => f.get(r).get(P.rows).ltS(), () => chunk(1, helpers.dx[vpr]![1]));
              },
            );
          }
        });
      },
    );
  });
  return f;
}

/**
 * copy_planes(src, srcPlane, srcRow, dst, dstPlane, dstRow, planes, rows, rowBytes): copies `rows`
 * rows of rowBytes (a multiple of 4) from each of `planes` planes, all strides in bytes.
 */
function copyPlanes(): Builder {
  const f = new Builder('copy_planes', 9);
  const [src, srcPlane, srcRow, dst, dstPlane, dstRow, planes, rows, rowBytes] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [p, h, t, s, d] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  f.loop(p, () => f.i32(0), planes, 1, () => {
    f.get(src).get(p).get(srcPlane).mul().add().set(s);
    f.get(dst).get(p).get(dstPlane).mul().add().set(d);
    f.loop(h, () => f.i32(0), rows, 1, () => {
      f.i32(0).set(t);
      const vectors = (): void => void f.get(t).i32(16).add().get(rowBytes).leS();
      f.ifElse(vectors, () =>
        f.doWhile(
          () => {
            f.get(d).get(t).add().get(s).get(t).add().v128Load().v128Store();
            f.addTo(t, () => f.i32(16));
          },
          vectors,
        ),
      );
      const scalars = (): void => void f.get(t).get(rowBytes).ltS();
      f.ifElse(scalars, () =>
        f.doWhile(
          () => {
            f.get(d).get(t).add().get(s).get(t).add().f32Load().f32Store();
            f.addTo(t, () => f.i32(4));
          },
          scalars,
        ),
      );
      f.addTo(s, () => f.get(srcRow));
      f.addTo(d, () => f.get(dstRow));
    });
  });
  return f;
}

/** The module: exports CONV_EXPORTS (plus unexported helpers). */
export function buildConvModule(memory: MemoryImport): Uint8Array {
  const fns: Builder[] = [forward(null), ...UNROLLED_KERNEL_WIDTHS.map((kw) => forward(kw))];
  const helpers: HelperIndex = { dw: { 8: 0, 4: 0, 2: 0, 1: 0 }, dx: {} };
  for (const width of [8, 4, 2, 1] as const) {
    helpers.dw[width] = fns.length;
    fns.push(dwChunk(width));
  }
  for (let vpr = 1; vpr <= MAX_ROW_VECTORS; vpr++) {
    helpers.dx[vpr] = [fns.length, fns.length + 1];
    fns.push(dxChunk(vpr, rowsPerChunk(vpr)), dxChunk(vpr, 1));
  }
  for (let vpr = 1; vpr <= MAX_ROW_VECTORS; vpr++) fns.push(backward(vpr, helpers));
  fns.push(copyPlanes());
  return assembleModule(fns, memory);
}
