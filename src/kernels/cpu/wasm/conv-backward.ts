import { I32, V128, type Local } from './assembler.js';
import { Builder, F32 } from './conv-builder.js';

/**
 * Backward of the fused conv → max-pool 2×2 → bias → ReLU layer (stride 1). The conv output's
 * gradient is nonzero at one position per window (its argmax, code d = 2dy + dx), so it is never
 * materialised; both gradients work on the window's REGION, the (kH+1)×(kW+1) input patch under its
 * four conv positions, stored compactly (RS floats, rounded up to whole vectors). Per image, a table
 * holds for every (window, filter) g = gy·[y > 0] and the byte offset (f·4 + code)·RS·4; then
 * channel by channel (so the channel's weights or accumulators stay in L1):
 *  - dW: each window's region is loaded once and added, times g, into dWsh[c][f][code] (RS floats)
 *    for every filter. The host reads dW[f][c][kh][kw] back as Σ_code dWsh[c][f][code][(dy + kh)·(kW+1) + dx + kw].
 *  - dX: per window, Σ_f g·Wsh[c][f][code], with Wsh the host's copies of each filter placed at the
 *    four offsets of a region, is added into the input gradient under the window.
 * That is about a quarter of the multiply-adds of a dense conv backward (plus the region's padding),
 * with no branch on the data (a zero g adds zeros).
 */
export const BPARAM = {
  x: 0, // input (prepared layout: padded planes), image 0
  xImage: 1,
  xPlane: 2,
  xRow: 3,
  channels: 4,
  regionH: 5, // kH + 1
  regionW: 6, // kW + 1
  regionBytes: 7, // RS·4, RS = regionH·regionW rounded up to 4
  pooledW: 8,
  windows: 9,
  filters: 10,
  g: 11, // [N][F][Q] upstream gradient, values and codes (exact layouts)
  y: 12,
  codes: 13,
  table: 14, // scratch: Q·F (offset, g) entries
  needW: 15,
  dwsh: 16, // [C][F][4][RS] f32, added into
  db: 17, // [F] f32, added into
  needX: 18,
  wsh: 19, // [C][F][4][RS] f32
  dx: 20, // input gradient (prepared layout, zeroed), image 0
  dxImage: 21,
  dxPlane: 22,
  dxRow: 23,
  scratch: 24, // RS floats (+ 16 bytes: row copies may spill)
} as const;
export const BPARAM_WORDS = 25;

/** Widest block of region vectors one pass keeps in registers (12 + a splat + a temporary fit 16 registers). */
export const MAX_CHUNK = 12;

/**
 * dw_pass_W(table, tableEnd, region, base): loads W region vectors, then for each entry (off, g)
 * adds g·region into the W vectors at base + off.
 */
export function dwPass(width: number): Builder {
  const f = new Builder(null, 4);
  const [table, tableEnd, region, base] = [0, 1, 2, 3];
  const [e, p] = [f.local(I32), f.local(I32)];
  const a = f.local(V128);
  const r = Array.from({ length: width }, () => f.local(V128));
  r.forEach((l, i) => f.get(region).v128Load(16 * i).set(l));
  f.get(table).set(e);
  f.doWhile(
    () => {
      f.get(base).get(e).i32Load().add().set(p);
      f.get(e).v128Load32Splat(4).set(a);
      r.forEach((l, i) => f.get(p).get(p).v128Load(16 * i).get(a).get(l).f32x4Mul().f32x4Add().v128Store(16 * i));
      f.addTo(e, () => f.i32(8));
    },
    () => f.get(e).get(tableEnd).ltU(),
  );
  return f;
}

/** dx_pass_W(table, tableEnd, base, dst): dst[i] = Σ_entries g·v128[base + off + 16i] for i < W. */
export function dxPass(width: number): Builder {
  const f = new Builder(null, 4);
  const [table, tableEnd, base, dst] = [0, 1, 2, 3];
  const [e, p] = [f.local(I32), f.local(I32)];
  const a = f.local(V128);
  const acc = Array.from({ length: width }, () => f.local(V128));
  for (const l of acc) f.v128Zero().set(l);
  f.get(table).set(e);
  f.doWhile(
    () => {
      f.get(base).get(e).i32Load().add().set(p);
      f.get(e).v128Load32Splat(4).set(a);
      acc.forEach((l, i) => f.get(l).get(a).get(p).v128Load(16 * i).f32x4Mul().f32x4Add().set(l));
      f.addTo(e, () => f.i32(8));
    },
    () => f.get(e).get(tableEnd).ltU(),
  );
  acc.forEach((l, i) => f.get(dst).get(l).v128Store(16 * i));
  return f;
}

/** Function indices of the passes: dw[w] and dx[w] for w = 1..MAX_CHUNK. */
export interface PassIndex {
  dw: number[];
  dx: number[];
}

/** Region sizes (in vectors) with a backward of their own: 3×3 kernels (4×4 regions) and 5×5 (6×6). */
export const FIXED_REGION_VECTORS = [4, 9] as const;

/**
 * cpr_bwd(params, n0, n1): adds dWsh and db of images [n0, n1) into the block's buffers; writes their
 * dX. `cpr_bwd_rV` is the same for regions of exactly V vectors (V ≤ MAX_CHUNK), calling its passes
 * directly instead of splitting the region at run time.
 */
export function convPoolBackward(passes: PassIndex, regionVectors: number | null): Builder {
  const f = new Builder(regionVectors === null ? 'cpr_bwd' : `cpr_bwd_r${regionVectors}`, 3);
  const [params, n0, n1] = [0, 1, 2];
  const L = (): Local => f.local(I32);
  const P = {} as Record<keyof typeof BPARAM, Local>;
  for (const name of Object.keys(BPARAM) as (keyof typeof BPARAM)[]) {
    P[name] = L();
    f.param32(params, BPARAM[name], P[name]);
  }
  const [n, q, qh, qw, c, a, src, dst, fl, at, t, gp, yp, cp, e, tabEnd, off, rowBytes, vecs, cBase, entryBytes, planeQ, slab] = Array.from({ length: 23 }, L);
  const [gv, g1] = [f.local(F32), f.local(F32)];
  const [dbv, fOff, g4, o4, lo, hi, one, rsBytes] = Array.from({ length: 8 }, () => f.local(V128));
  const pooledH = L();

  f.get(P.windows).get(P.pooledW).divS().set(pooledH);
  f.f32Const(1).f32x4Splat().set(one);
  f.get(P.regionBytes).i32x4Splat().set(rsBytes);
  f.get(P.windows).i32(4).mul().set(planeQ);
  f.get(P.regionW).i32(3).add().i32(2).shrU().set(vecs); // vectors per region row copy
  f.get(P.regionW).i32(4).mul().set(rowBytes);
  f.get(P.filters).i32(8).mul().set(entryBytes); // table bytes per window
  f.get(P.filters).i32(4).mul().get(P.regionBytes).mul().set(slab); // bytes per channel of dWsh / Wsh

  /** body() for every window (qh, qw), q = qh·PW + qw counting along. */
  const forWindows = (body: () => void): void => {
    f.i32(0).set(q);
    f.loop(qh, () => f.i32(0), pooledH, 1, () =>
      f.loop(qw, () => f.i32(0), P.pooledW, 1, () => {
        body();
        f.addTo(q, () => f.i32(1));
      }),
    );
  };
  /** Calls pass(table of window q, its end, a + off, b + off) over the region by blocks of ≤ MAX_CHUNK vectors. */
  const passes_ = (which: number[], first: () => void, second: () => void): void => {
    f.get(P.table).get(q).get(entryBytes).mul().add().set(e);
    f.get(e).get(entryBytes).add().set(tabEnd);
    f.i32(0).set(off);
    if (regionVectors !== null) {
      f.get(e).get(tabEnd);
      first();
      second();
      f.call(which[regionVectors]!);
      return;
    }
    const call = (fn: number): void => {
      f.get(e).get(tabEnd);
      first();
      f.get(off).add();
      second();
      f.get(off).add().call(fn);
    };
    const big = (): void => void f.get(off).i32(16 * MAX_CHUNK).add().get(P.regionBytes).leS();
    f.ifElse(big, () =>
      f.doWhile(
        () => {
          call(which[MAX_CHUNK]!);
          f.addTo(off, () => f.i32(16 * MAX_CHUNK));
        },
        big,
      ),
    );
    f.get(P.regionBytes).get(off).sub().i32(4).shrU().set(t);
    for (let w = 1; w < MAX_CHUNK; w++) f.ifElse(() => f.get(t).i32(w).eq(), () => call(which[w]!));
  };

  f.loop(n, () => f.get(n0), n1, 1, () => {
    // The table: for each window, its filters' (offset (f·4 + code)·RS·4, g); db[f] += g. Four
    // windows of one filter at a time (g, y and codes are contiguous along the windows).
    f.get(n).get(P.filters).mul().get(planeQ).mul().set(t);
    f.loop(fl, () => f.i32(0), P.filters, 1, () => {
      f.get(fl).get(planeQ).mul().get(t).add().set(at);
      f.get(P.g).get(at).add().set(gp);
      f.get(P.y).get(at).add().set(yp);
      f.get(P.codes).get(at).add().set(cp);
      f.get(P.table).get(fl).i32(8).mul().add().set(e);
      f.v128Zero().set(dbv);
      f.get(fl).i32(4).mul().i32x4Splat().set(fOff);
      f.i32(0).set(q);
      const vectors = (): void => void f.get(q).i32(4).add().get(P.windows).leS();
      f.ifElse(vectors, () =>
        f.doWhile(
          () => {
            f.get(gp).v128Load().get(yp).v128Load().v128Zero().f32x4Gt().get(one).v128And().f32x4Mul().set(g4);
            f.get(dbv).get(g4).f32x4Add().set(dbv);
            f.get(cp).v128Load().i32x4TruncSatF32x4S().get(fOff).i32x4Add().get(rsBytes).i32x4Mul().set(o4);
            f.get(o4).get(g4).f32Shuffle([0, 4, 1, 5]).set(lo);
            f.get(o4).get(g4).f32Shuffle([2, 6, 3, 7]).set(hi);
            f.get(e).get(lo).v128Store64Lane(0, 0);
            f.get(e).get(entryBytes).add().get(lo).v128Store64Lane(0, 1);
            f.get(e).get(entryBytes).i32(2).mul().add().get(hi).v128Store64Lane(0, 0);
            f.get(e).get(entryBytes).i32(3).mul().add().get(hi).v128Store64Lane(0, 1);
            f.addTo(e, () => f.get(entryBytes).i32(4).mul());
            for (const ptr of [gp, yp, cp]) f.addTo(ptr, () => f.i32(16));
            f.addTo(q, () => f.i32(4));
          },
          vectors,
        ),
      );
      f.get(dbv).f32x4ExtractLane(0).get(dbv).f32x4ExtractLane(1).f32Add().get(dbv).f32x4ExtractLane(2).get(dbv).f32x4ExtractLane(3).f32Add().f32Add().set(gv);
      f.loop(q, () => f.get(q), P.windows, 1, () => {
        f.get(gp).f32Load().get(yp).f32Load().f32Const(0).f32Gt().f32ConvertI32S().f32Mul().set(g1);
        f.get(gv).get(g1).f32Add().set(gv);
        f.get(e).get(fl).i32(2).shl().get(cp).f32Load().i32TruncF32S().add().get(P.regionBytes).mul().i32Store();
        f.get(e).get(g1).f32Store(4);
        f.addTo(e, () => f.get(entryBytes));
        for (const ptr of [gp, yp, cp]) f.addTo(ptr, () => f.i32(4));
      });
      f.get(P.db).get(fl).i32(4).mul().add().set(at);
      f.get(at).get(at).f32Load().get(gv).f32Add().f32Store();
    });

    f.ifElse(
      () => f.get(P.needW),
      () =>
        f.loop(c, () => f.i32(0), P.channels, 1, () => {
          f.get(P.dwsh).get(c).get(slab).mul().add().set(cBase);
          forWindows(() => {
            // The region of (channel c, window q) into the scratch (a row's last vector may spill
            // into the next row's place: it is overwritten right after).
            f.get(P.x).get(n).get(P.xImage).mul().add().get(c).get(P.xPlane).mul().add();
            f.get(qh).i32(1).shl().get(P.xRow).mul().add().get(qw).i32(8).mul().add().set(src);
            f.get(P.scratch).set(at);
            f.loop(a, () => f.i32(0), P.regionH, 1, () => {
              f.ifElse(
                () => f.get(vecs).i32(3).leS(),
                () => {
                  f.get(at).get(src).v128Load().v128Store();
                  f.ifElse(() => f.get(vecs).i32(2).geS(), () => f.get(at).get(src).v128Load(16).v128Store(16));
                  f.ifElse(() => f.get(vecs).i32(3).eq(), () => f.get(at).get(src).v128Load(32).v128Store(32));
                },
                () =>
                  f.loop(t, () => f.i32(0), vecs, 1, () => {
                    f.get(at).get(t).i32(16).mul().add().get(src).get(t).i32(16).mul().add().v128Load().v128Store();
                  }),
              );
              f.addTo(src, () => f.get(P.xRow));
              f.addTo(at, () => f.get(rowBytes));
            });
            passes_(passes.dw, () => f.get(P.scratch), () => f.get(cBase));
          });
        }),
    );

    f.ifElse(
      () => f.get(P.needX),
      () =>
        f.loop(c, () => f.i32(0), P.channels, 1, () => {
          f.get(P.wsh).get(c).get(slab).mul().add().set(cBase);
          forWindows(() => {
            // region = Σ_f g·Wsh[c][f][code], then added into dX under the window.
            passes_(passes.dx, () => f.get(cBase), () => f.get(P.scratch));
            f.get(P.dx).get(n).get(P.dxImage).mul().add().get(c).get(P.dxPlane).mul().add();
            f.get(qh).i32(1).shl().get(P.dxRow).mul().add().get(qw).i32(8).mul().add().set(dst);
            f.get(P.scratch).set(src);
            f.loop(a, () => f.i32(0), P.regionH, 1, () => {
              f.i32(0).set(t);
              const vec = (): void => void f.get(t).i32(16).add().get(rowBytes).leS();
              f.ifElse(vec, () =>
                f.doWhile(
                  () => {
                    f.get(dst).get(t).add().set(at);
                    f.get(at).get(at).v128Load().get(src).get(t).add().v128Load().f32x4Add().v128Store();
                    f.addTo(t, () => f.i32(16));
                  },
                  vec,
                ),
              );
              f.ifElse(
                () => f.get(t).i32(8).add().get(rowBytes).leS(),
                () => {
                  f.get(dst).get(t).add().set(at);
                  f.get(at).get(at).v128Load64Zero().get(src).get(t).add().v128Load64Zero().f32x4Add().v128Store64Lane(0, 0);
                  f.addTo(t, () => f.i32(8));
                },
              );
              f.ifElse(
                () => f.get(t).get(rowBytes).ltS(),
                () => {
                  f.get(dst).get(t).add().set(at);
                  f.get(at).get(at).f32Load().get(src).get(t).add().f32Load().f32Add().f32Store();
                },
              );
              f.addTo(src, () => f.get(rowBytes));
              f.addTo(dst, () => f.get(P.dxRow));
            });
          });
        }),
    );
  });
  return f;
}

/**
 * shift_filters(w, wsh, filters, channels, kh, kw, regionW, regionBytes): Wsh[c][f][d] = filter (f, c)
 * of w [F][C][kh][kw] placed at offset (d >> 1, d & 1) of a region; wsh is zeroed by the caller.
 */
export function shiftFilters(): Builder {
  const f = new Builder('shift_filters', 8);
  const [w, wsh, filters, channels, kh, kw, regionW, regionBytes] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [fi, c, y, x, src, dst, s] = Array.from({ length: 7 }, () => f.local(I32));
  f.get(w).set(src);
  f.loop(fi, () => f.i32(0), filters, 1, () => {
    f.loop(c, () => f.i32(0), channels, 1, () => {
      for (let d = 0; d < 4; d++) {
        f.get(wsh).get(c).get(filters).mul().get(fi).add().i32(4).mul().i32(d).add().get(regionBytes).mul().add();
        f.i32(d >> 1).get(regionW).mul().i32(d & 1).add().i32(4).mul().add().set(dst);
        f.get(src).set(s);
        f.loop(y, () => f.i32(0), kh, 1, () => {
          f.loop(x, () => f.i32(0), kw, 1, () => {
            f.get(dst).get(x).i32(4).mul().add().get(s).get(x).i32(4).mul().add().f32Load().f32Store();
          });
          f.addTo(dst, () => f.get(regionW).i32(4).mul());
          f.addTo(s, () => f.get(kw).i32(4).mul());
        });
      }
      f.addTo(src, () => f.get(kh).get(kw).mul().i32(4).mul());
    });
  });
  return f;
}

/** gather_dw(dwsh, dw, filters, channels, kh, kw, regionW, regionBytes): dw[f][c][y][x] += Σ_d dWsh[c][f][d][(dy + y)·regionW + dx + x]. */
export function gatherFilterGrads(): Builder {
  const f = new Builder('gather_dw', 8);
  const [dwsh, dw, filters, channels, kh, kw, regionW, regionBytes] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [fi, c, y, x, base, at, dst] = Array.from({ length: 7 }, () => f.local(I32));
  f.get(dw).set(dst);
  f.loop(fi, () => f.i32(0), filters, 1, () => {
    f.loop(c, () => f.i32(0), channels, 1, () => {
      f.get(dwsh).get(c).get(filters).mul().get(fi).add().i32(4).mul().get(regionBytes).mul().add().set(base);
      f.loop(y, () => f.i32(0), kh, 1, () => {
        f.loop(x, () => f.i32(0), kw, 1, () => {
          f.get(base).get(y).get(regionW).mul().get(x).add().i32(4).mul().add().set(at);
          f.get(dst).get(dst).f32Load();
          for (let d = 0; d < 4; d++) {
            f.get(at).get(regionBytes).i32(d).mul().add();
            if (d >> 1) f.get(regionW).i32(4).mul().add();
            f.f32Load(4 * (d & 1)).f32Add();
          }
          f.f32Store();
          f.addTo(dst, () => f.i32(4));
        });
      });
    });
  });
  return f;
}
