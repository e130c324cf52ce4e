import { I32, V128, type Local } from './assembler.js';
import { Builder, F32 } from './conv-builder.js';

/**
 * Backward of the fused conv → max-pool 2×2 → bias → ReLU layer (stride 1). The conv output's
 * gradient is nonzero at one position per window (its argmax, code d = 2dy + dx), so it is never
 * materialised; both gradients work on the window's REGION, the (kH+1)×(kW+1) input patch under its
 * four conv positions, stored compactly (RS floats, rounded up to whole vectors):
 *  - dW: for each filter f and code d, Σ g·region over the windows whose maximum sat at d, into
 *    dWsh[f][d][c] (RS floats per channel). The host then reads dW[f][c][kh][kw] back as
 *    Σ_d dWsh[f][d][c][(dy + kh)·(kW+1) + dx + kw]. Lists of (region, g) run over a block of images, so
 *    the accumulators stay in registers for dozens of windows.
 *  - dX: per window, Σ_f g·Wsh[f][c][code_f], with Wsh the host's copies of each filter placed at the
 *    four offsets of a region, added into the input gradient's region.
 * About a quarter of the multiply-adds of a dense conv backward (plus the region's padding).
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
  block: 14, // images per block
  needW: 15,
  regions: 16, // scratch: C slabs of block·Q regions
  lists: 17, // scratch: F·4 lists of block·Q (pointer, g) entries, then F·4 i32 end pointers
  dwsh: 18, // [F][4][C][RS] f32, added into
  db: 19, // [F] f32, added into
  needX: 20,
  wsh: 21, // [C][F][4][RS] f32
  dx: 22, // input gradient (prepared layout, zeroed), image 0
  dxImage: 23,
  dxPlane: 24,
  dxRow: 25,
  scratch: 26, // RS floats, Q i32 end pointers, Q lists of F (pointer, g) entries
} as const;
export const BPARAM_WORDS = 27;

/** Widest accumulator block of the list kernels (12 accumulators + a splat + a load fit 16 registers). */
export const MAX_CHUNK = 12;

/**
 * chunk_W(list, listEnd, off, dst): acc = Σ_entries g·v128[ptr + off + 16i] for i < W, then
 * dst[i] += acc[i] (add) or dst[i] = acc[i]. Entries are (ptr: i32, g: f32), 8 bytes.
 */
export function listChunk(width: number, add: boolean): Builder {
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
  acc.forEach((l, i) => {
    f.get(dst);
    if (add) f.get(dst).v128Load(16 * i).get(l).f32x4Add();
    else f.get(l);
    f.v128Store(16 * i);
  });
  return f;
}

/** Function indices of the chunk kernels: add[w] and set[w] for w = 1..MAX_CHUNK. */
export interface ChunkIndex {
  add: number[];
  set: number[];
}

/** cpr_bwd(params, n0, n1): adds dW (as dWsh) and db of images [n0, n1) into the block's buffers; writes their dX. */
export function convPoolBackward(chunks: ChunkIndex): Builder {
  const f = new Builder('cpr_bwd', 3);
  const [params, n0, n1] = [0, 1, 2];
  const L = (): Local => f.local(I32);
  const P = {} as Record<keyof typeof BPARAM, Local>;
  for (const name of Object.keys(BPARAM) as (keyof typeof BPARAM)[]) {
    P[name] = L();
    f.param32(params, BPARAM[name], P[name]);
  }
  const [nb, ne, n, q, qh, qw, c, a, src, dst, fl, at, gImg, yImg, cImg, planeQ, listCap, ends, e, off, t, vecs, listEnd, slab, cOff, rowBytes] =
    Array.from({ length: 26 }, L);
  const [gp, yp, cp, gEnd, rp] = Array.from({ length: 5 }, L);
  const ep = Array.from({ length: 4 }, L);
  const gv = f.local(F32);
  const dbSum = f.local(F32);

  f.get(P.windows).i32(4).mul().set(planeQ);
  f.get(P.regionW).i32(3).add().i32(2).shrU().set(vecs); // vectors per region row copy
  f.get(P.regionW).i32(4).mul().set(rowBytes);

  const windowOf = (): void => {
    f.get(q).get(P.pooledW).divS().set(qh);
    f.get(q).get(qh).get(P.pooledW).mul().sub().set(qw);
  };
  /** Image n's g / y / codes planes. */
  const imagePlanes = (): void => {
    f.get(n).get(P.filters).mul().get(planeQ).mul().set(t);
    f.get(P.g).get(t).add().set(gImg);
    f.get(P.y).get(t).add().set(yImg);
    f.get(P.codes).get(t).add().set(cImg);
  };
  /** For off in [0, regionBytes) by chunks of ≤ MAX_CHUNK vectors: chunk(list e, listEnd, cOff + off, dst + off). */
  const chunked = (kind: 'add' | 'set'): void => {
    f.i32(0).set(off);
    const big = (): void => void f.get(off).i32(16 * MAX_CHUNK).add().get(P.regionBytes).leS();
    const call = (fn: number): void => {
      f.get(e).get(listEnd).get(cOff).get(off).add().get(dst).get(off).add().call(fn);
    };
    f.ifElse(big, () =>
      f.doWhile(
        () => {
          call(chunks[kind][MAX_CHUNK]!);
          f.addTo(off, () => f.i32(16 * MAX_CHUNK));
        },
        big,
      ),
    );
    // The remaining 0..MAX_CHUNK−1 vectors.
    f.get(P.regionBytes).get(off).sub().i32(4).shrU().set(t);
    for (let w = 1; w < MAX_CHUNK; w++) f.ifElse(() => f.get(t).i32(w).eq(), () => call(chunks[kind][w]!));
  };

  f.loop(nb, () => f.get(n0), n1, 0, () => {
    f.get(nb).get(P.block).add().set(ne);
    f.ifElse(() => f.get(ne).get(n1).gtS(), () => f.get(n1).set(ne));

    f.ifElse(
      () => f.get(P.needW),
      () => {
        // Regions as [c][image of the block][window], in memory order (a row's last vector may spill
        // into the next row's place: it is overwritten right after).
        f.get(P.block).get(P.windows).mul().get(P.regionBytes).mul().set(slab);
        f.get(P.block).get(P.windows).mul().i32(8).mul().set(listCap);
        f.get(P.lists).get(P.filters).i32(4).mul().get(listCap).mul().add().set(ends); // [F][4] end pointers
        f.get(P.regions).set(dst);
        f.loop(c, () => f.i32(0), P.channels, 1, () => {
          f.loop(n, () => f.get(nb), ne, 1, () => {
            f.get(P.regions).get(c).get(slab).mul().add().get(n).get(nb).sub().get(P.windows).mul().get(P.regionBytes).mul().add().set(dst);
            f.loop(q, () => f.i32(0), P.windows, 1, () => {
              windowOf();
              f.get(P.x).get(n).get(P.xImage).mul().add().get(c).get(P.xPlane).mul().add();
              f.get(qh).i32(1).shl().get(P.xRow).mul().add().get(qw).i32(8).mul().add().set(src);
              f.get(dst).set(at);
              f.loop(a, () => f.i32(0), P.regionH, 1, () => {
                // Row copies of 1–3 whole vectors unrolled, longer rows by a loop.
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
              f.addTo(dst, () => f.get(P.regionBytes));
            });
          });
        });
        // Lists (region of channel 0, g) per (filter, code), and the bias gradient.
        f.loop(fl, () => f.i32(0), P.filters, 1, () => {
          f.get(P.lists).get(fl).i32(4).mul().get(listCap).mul().add().set(ep[0]!);
          for (let d = 1; d < 4; d++) f.get(ep[d - 1]!).get(listCap).add().set(ep[d]!);
          f.f32Const(0).set(dbSum);
          f.get(P.regions).set(rp);
          f.loop(n, () => f.get(nb), ne, 1, () => {
            f.get(n).get(P.filters).mul().get(fl).add().get(planeQ).mul().set(t);
            f.get(P.g).get(t).add().set(gp);
            f.get(P.y).get(t).add().set(yp);
            f.get(P.codes).get(t).add().set(cp);
            f.get(gp).get(planeQ).add().set(gEnd);
            f.doWhile(
              () => {
                f.get(gp).f32Load().get(yp).f32Load().f32Const(0).f32Gt().f32ConvertI32S().f32Mul().set(gv);
                f.get(dbSum).get(gv).f32Add().set(dbSum);
                f.ifElse(
                  () => f.get(gv).f32Const(0).f32Ne(),
                  () => {
                    f.get(cp).f32Load().i32TruncF32S().set(t);
                    const push = (d: number): void => {
                      f.get(ep[d]!).get(rp).i32Store();
                      f.get(ep[d]!).get(gv).f32Store(4);
                      f.addTo(ep[d]!, () => f.i32(8));
                    };
                    f.ifElse(
                      () => f.get(t).i32(2).ltS(),
                      () => f.ifElse(() => f.get(t), () => push(1), () => push(0)),
                      () => f.ifElse(() => f.get(t).i32(3).eq(), () => push(3), () => push(2)),
                    );
                  },
                );
                f.addTo(gp, () => f.i32(4));
                f.addTo(yp, () => f.i32(4));
                f.addTo(cp, () => f.i32(4));
                f.addTo(rp, () => f.get(P.regionBytes));
              },
              () => f.get(gp).get(gEnd).ltU(),
            );
          });
          for (let d = 0; d < 4; d++) f.get(ends).get(fl).i32(16).mul().add().get(ep[d]!).i32Store(4 * d);
          f.get(P.db).get(fl).i32(4).mul().add().set(at);
          f.get(at).get(at).f32Load().get(dbSum).f32Add().f32Store();
        });
        // dWsh[f][d][c] += Σ g·region[c], channel by channel so that its slab stays in L1.
        f.loop(c, () => f.i32(0), P.channels, 1, () => {
          f.get(c).get(slab).mul().set(cOff);
          f.loop(fl, () => f.i32(0), P.filters, 1, () => {
            for (let d = 0; d < 4; d++) {
              f.get(ends).get(fl).i32(16).mul().add().i32Load(4 * d).set(listEnd);
              f.get(P.lists).get(fl).i32(4).mul().i32(d).add().get(listCap).mul().add().set(e);
              f.ifElse(
                () => f.get(listEnd).get(e).gtS(),
                () => {
                  f.get(P.dwsh).get(fl).i32(4).mul().i32(d).add().get(P.channels).mul().get(c).add().get(P.regionBytes).mul().add().set(dst);
                  chunked('add');
                },
              );
            }
          });
        });
      },
    );

    f.ifElse(
      () => f.get(P.needX),
      () => {
        // Per image: the list of every window (Wsh[c=0][f][code], g), then channel by channel
        // region = Σ g·Wsh[c][f][code], added into dX under the window.
        f.get(P.scratch).get(P.regionBytes).add().set(ends); // [Q] end pointers, then the lists
        f.get(P.filters).i32(8).mul().set(listCap);
        f.loop(n, () => f.get(nb), ne, 1, () => {
          imagePlanes();
          f.loop(q, () => f.i32(0), P.windows, 1, () => {
            f.get(ends).get(planeQ).add().get(q).get(listCap).mul().add().set(listEnd);
            f.get(q).i32(4).mul().set(t);
            f.get(gImg).get(t).add().set(gp);
            f.get(yImg).get(t).add().set(yp);
            f.get(cImg).get(t).add().set(cp);
            f.get(P.wsh).set(rp);
            f.loop(fl, () => f.i32(0), P.filters, 1, () => {
              f.get(gp).f32Load().get(yp).f32Load().f32Const(0).f32Gt().f32ConvertI32S().f32Mul().set(gv);
              f.ifElse(
                () => f.get(gv).f32Const(0).f32Ne(),
                () => {
                  f.get(listEnd).get(rp).get(cp).f32Load().i32TruncF32S().get(P.regionBytes).mul().add().i32Store();
                  f.get(listEnd).get(gv).f32Store(4);
                  f.addTo(listEnd, () => f.i32(8));
                },
              );
              f.addTo(gp, () => f.get(planeQ));
              f.addTo(yp, () => f.get(planeQ));
              f.addTo(cp, () => f.get(planeQ));
              f.addTo(rp, () => f.get(P.regionBytes).i32(4).mul());
            });
            f.get(ends).get(q).i32(4).mul().add().get(listEnd).i32Store();
          });
          f.loop(c, () => f.i32(0), P.channels, 1, () => {
            f.get(c).get(P.filters).mul().get(P.regionBytes).mul().i32(4).mul().set(cOff);
            f.loop(q, () => f.i32(0), P.windows, 1, () => {
              f.get(ends).get(planeQ).add().get(q).get(listCap).mul().add().set(e);
              f.get(ends).get(q).i32(4).mul().add().i32Load().set(listEnd);
              f.ifElse(
                () => f.get(listEnd).get(e).gtS(),
                () => {
                  f.get(P.scratch).set(dst);
                  chunked('set');
                  windowOf();
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
                },
              );
            });
          });
        });
      },
    );
    f.get(ne).set(nb);
  });
  return f;
}
