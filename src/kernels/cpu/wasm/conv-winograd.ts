import { I32, V128, type Local } from './assembler.js';
import { Builder, emitFirstMax, emitRelu, F32 } from './conv-builder.js';

/**
 * Winograd F(2×2, r×r) forward of the fused conv → max-pool 2×2 → bias → ReLU layer (stride 1).
 * A 2×2 Winograd output tile is exactly one pooling window, so the output transform hands its four
 * conv values straight to the pool: the conv output never reaches memory here either.
 *
 * Four images share a vector (layout "lanes": [image/4][C][H][W][4], one f32x4 per pixel), so any
 * spatial size fills every lane. Per group of 4 images:
 *  1. input transform V = Bᵀ d B of every (channel, 2×2 tile)'s α×α patch (α = r + 1);
 *  2. for each block of R filters × T tiles: the α² products M[ξν] = Σ_c U[ξν][c][f]·V[ξν][c][t]
 *     (U = G w Gᵀ, computed by the host) into an L1 scratch, then
 *  3. per (filter, tile): Y = Aᵀ M A (2×2), max-pool with the first-maximum rule, + bias, ReLU.
 * For r = 5 that is 36 multiplies per output tile and channel instead of 100. The transforms use the
 * points 0, ±1, ±2, ∞ with Bᵀ's rows scaled to small integers (the scale is folded into G).
 * Measured error against float64 sums: ~3e-6 relative (direct float32 sums: ~4e-7).
 */
export interface WinogradSpec {
  readonly r: number;
  readonly alpha: number;
  /** Bᵀ (α×α), rows scaled to integers. */
  readonly bt: readonly (readonly number[])[];
  /** G (α×r) with the inverse row scales of Bᵀ. */
  readonly g: readonly (readonly number[])[];
  /** Aᵀ (2×α). */
  readonly at: readonly (readonly number[])[];
}

export const WINOGRAD: Readonly<Record<3 | 5, WinogradSpec>> = {
  5: {
    r: 5,
    alpha: 6,
    bt: [[4, 0, -5, 0, 1, 0], [0, 4, 4, -1, -1, 0], [0, -4, 4, 1, -1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
    g: [[1 / 4, 0, 0, 0, 0], [1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6], [1 / 6, -1 / 6, 1 / 6, -1 / 6, 1 / 6], [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3], [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3], [0, 0, 0, 0, 1]],
    at: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1]],
  },
  3: {
    r: 3,
    alpha: 4,
    bt: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, -1, 0, 1]],
    g: [[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]],
    at: [[1, 1, 1, 0], [0, 1, -1, 1]],
  },
};

/** Filters × tiles of one product block (R·T accumulators). */
export const WINO_FILTERS = 4;
export const WINO_TILES = 3;

/** i32 slots of the Winograd kernel's parameter block. */
export const WPARAM = {
  x: 0, // lanes-layout input, group 0, padded planes of hp × wr pixels
  groupBytes: 1,
  planeBytes: 2,
  rowBytes: 3,
  channels: 4,
  pooledH: 5,
  pooledW: 6,
  tilesPad: 7, // tiles rounded up to WINO_TILES
  v: 8, // scratch: α² × C × tilesPad vectors
  u: 9, // [α²][C][filtersPad] f32
  filtersPad: 10,
  filters: 11,
  m: 12, // scratch: α² × R × T vectors
  tmp: 13, // scratch: α² vectors
  bias: 14, // [filters] f32
  values: 15, // [groups][F][tiles] vectors
  codes: 16,
  outGroupBytes: 17,
} as const;
export const WPARAM_WORDS = 18;

/** out = Σ_j coefs[j]·inputs[j] (coefficients grouped by magnitude; ±1 as adds). */
function combine(f: Builder, coefs: readonly number[], inputs: readonly Local[], consts: ReadonlyMap<number, Local>, into: Local): void {
  const groups = new Map<number, { pos: Local[]; neg: Local[] }>();
  coefs.forEach((c, j) => {
    if (c === 0) return;
    const k = Math.abs(c);
    if (!groups.has(k)) groups.set(k, { pos: [], neg: [] });
    groups.get(k)![c > 0 ? 'pos' : 'neg'].push(inputs[j]!);
  });
  let first = true;
  for (const [k, { pos, neg }] of groups) {
    const subtractAll = pos.length === 0 && !first;
    let started = false;
    for (const x of subtractAll ? neg : pos) {
      f.get(x);
      if (started) f.f32x4Add();
      started = true;
    }
    if (!subtractAll) {
      for (const x of neg) {
        f.get(x);
        if (started) f.f32x4Sub();
        else f.f32x4Neg();
        started = true;
      }
    }
    if (k !== 1) f.get(consts.get(k)!).f32x4Mul();
    if (!first) subtractAll ? f.f32x4Sub() : f.f32x4Add();
    first = false;
  }
  if (first) f.v128Zero();
  f.set(into);
}

function constants(f: Builder, spec: WinogradSpec): Map<number, Local> {
  const out = new Map<number, Local>();
  for (const row of [...spec.bt, ...spec.at]) {
    for (const c of row) {
      const k = Math.abs(c);
      if (k !== 0 && k !== 1 && !out.has(k)) {
        const l = f.local(V128);
        f.f32Const(k).f32x4Splat().set(l);
        out.set(k, l);
      }
    }
  }
  return out;
}

/** wino_fwd_rR(params, g0, g1): pooled values and codes (lanes layout) of image groups [g0, g1). */
export function winogradForward(spec: WinogradSpec): Builder {
  const { alpha: a } = spec;
  const R = WINO_FILTERS;
  const T = WINO_TILES;
  const f = new Builder(`wino_fwd_r${spec.r}`, 3);
  const [params, g0, g1] = [0, 1, 2];
  const L = (): Local => f.local(I32);
  const P = {} as Record<keyof typeof WPARAM, Local>;
  for (const name of Object.keys(WPARAM) as (keyof typeof WPARAM)[]) {
    P[name] = L();
    f.param32(params, WPARAM[name], P[name]);
  }
  const [g, xg, c, th, tw, t, tiles, origin, rowPtr, vBase, vStride, fb, tb, xn, up, vp, mp, r, tt, fi, ti, out, blocksF, blocksT, uStride, vStep, squares, rCount, tCount] =
    Array.from({ length: 29 }, L);
  const consts = constants(f, spec);
  const d = Array.from({ length: a }, () => f.local(V128));
  const e = Array.from({ length: a }, () => f.local(V128));
  const acc = Array.from({ length: R * T }, () => f.local(V128));
  const bv = Array.from({ length: T }, () => f.local(V128));
  const splat = f.local(V128);
  const s0 = Array.from({ length: a }, () => f.local(V128));
  const s1 = Array.from({ length: a }, () => f.local(V128));
  const y = Array.from({ length: 4 }, () => f.local(V128));
  const [best, idx, mask] = [f.local(V128), f.local(V128), f.local(V128)];

  f.get(P.pooledH).get(P.pooledW).mul().set(tiles);
  f.get(P.channels).get(P.tilesPad).mul().i32(16).mul().set(vStride); // bytes between (ξν) planes of V
  f.get(P.filtersPad).i32(R).divS().set(blocksF);
  f.get(P.tilesPad).i32(T).divS().set(blocksT);
  f.get(P.channels).get(P.filtersPad).mul().i32(4).mul().set(uStride); // bytes between (ξν) planes of U
  f.get(P.tilesPad).i32(16).mul().set(vStep);
  f.i32(a * a).set(squares);
  f.i32(R).set(rCount);
  f.i32(T).set(tCount);

  f.loop(g, () => f.get(g0), g1, 1, () => {
    f.get(P.x).get(g).get(P.groupBytes).mul().add().set(xg);
    // 1. Input transform of every (channel, tile).
    f.loop(c, () => f.i32(0), P.channels, 1, () => {
      f.loop(th, () => f.i32(0), P.pooledH, 1, () => {
        f.loop(tw, () => f.i32(0), P.pooledW, 1, () => {
          f.get(th).get(P.pooledW).mul().get(tw).add().set(t);
          f.get(xg).get(c).get(P.planeBytes).mul().add();
          f.get(th).i32(1).shl().get(P.rowBytes).mul().add();
          f.get(tw).i32(32).mul().add().set(origin);
          f.get(origin).set(rowPtr);
          for (let i = 0; i < a; i++) {
            for (let j = 0; j < a; j++) f.get(rowPtr).v128Load(16 * j).set(d[j]!);
            for (let nu = 0; nu < a; nu++) {
              combine(f, spec.bt[nu]!, d, consts, e[nu]!);
              f.get(P.tmp).get(e[nu]!).v128Store(16 * (i * a + nu));
            }
            f.addTo(rowPtr, () => f.get(P.rowBytes));
          }
          f.get(P.v).get(c).get(P.tilesPad).mul().get(t).add().i32(16).mul().add().set(vBase);
          for (let nu = 0; nu < a; nu++) {
            for (let i = 0; i < a; i++) f.get(P.tmp).v128Load(16 * (i * a + nu)).set(d[i]!);
            for (let xi = 0; xi < a; xi++) {
              combine(f, spec.bt[xi]!, d, consts, e[xi]!);
              f.get(vBase).get(vStride).i32(xi * a + nu).mul().add().get(e[xi]!).v128Store();
            }
          }
        });
      });
    });
    // 2 + 3. Products per block of R filters × T tiles, then the output transforms and the pool.
    f.loop(fb, () => f.i32(0), blocksF, 1, () => {
      f.loop(tb, () => f.i32(0), blocksT, 1, () => {
        f.loop(xn, () => f.i32(0), squares, 1, () => {
          for (const l of acc) f.v128Zero().set(l);
          f.get(P.u).get(xn).get(uStride).mul().add().get(fb).i32(4 * R).mul().add().set(up);
          f.get(P.v).get(xn).get(vStride).mul().add().get(tb).i32(16 * T).mul().add().set(vp);
          f.loop(c, () => f.i32(0), P.channels, 1, () => {
            for (let k = 0; k < T; k++) f.get(vp).v128Load(16 * k).set(bv[k]!);
            for (let q = 0; q < R; q++) {
              f.get(up).v128Load32Splat(4 * q).set(splat);
              for (let k = 0; k < T; k++) f.get(acc[q * T + k]!).get(splat).get(bv[k]!).f32x4Mul().f32x4Add().set(acc[q * T + k]!);
            }
            f.addTo(up, () => f.get(P.filtersPad).i32(4).mul());
            f.addTo(vp, () => f.get(vStep));
          });
          f.get(P.m).get(xn).i32(16 * R * T).mul().add().set(mp);
          acc.forEach((l, k) => f.get(mp).get(l).v128Store(16 * k));
        });
        f.loop(r, () => f.i32(0), rCount, 1, () => {
          f.get(fb).i32(R).mul().get(r).add().set(fi);
          f.ifElse(
            () => f.get(fi).get(P.filters).ltS(),
            () =>
              f.loop(tt, () => f.i32(0), tCount, 1, () => {
                f.get(tb).i32(T).mul().get(tt).add().set(ti);
                f.ifElse(
                  () => f.get(ti).get(tiles).ltS(),
                  () => {
                    f.get(P.m).get(r).i32(T).mul().get(tt).add().i32(16).mul().add().set(mp);
                    // s_a[ν] = Σ_ξ Aᵀ[a][ξ]·M[ξ][ν]; then y[a][b] = Σ_ν Aᵀ[b][ν]·s_a[ν]
                    for (let nu = 0; nu < a; nu++) {
                      for (let xi = 0; xi < a; xi++) f.get(mp).v128Load(16 * R * T * (xi * a + nu)).set(d[xi]!);
                      combine(f, spec.at[0]!, d, consts, s0[nu]!);
                      combine(f, spec.at[1]!, d, consts, s1[nu]!);
                    }
                    combine(f, spec.at[0]!, s0, consts, y[0]!);
                    combine(f, spec.at[1]!, s0, consts, y[1]!);
                    combine(f, spec.at[0]!, s1, consts, y[2]!);
                    combine(f, spec.at[1]!, s1, consts, y[3]!);
                    emitFirstMax(f, y, best, idx, mask);
                    f.get(best).get(P.bias).get(fi).i32(4).mul().add().v128Load32Splat().f32x4Add().set(best);
                    emitRelu(f, best);
                    f.get(P.values).get(g).get(P.outGroupBytes).mul().add().get(fi).get(tiles).mul().get(ti).add().i32(16).mul().add().set(out);
                    f.get(out).get(best).v128Store();
                    f.get(P.codes).get(out).add().get(P.values).sub().get(idx).f32x4ConvertI32x4S().v128Store();
                  },
                );
              }),
          );
        });
      });
    });
  });
  return f;
}


/** Pushes the 4×4 transpose of rows a, b, c, d (lane l of the result k = element k of row l) into out. */
function transpose4(f: Builder, rows: readonly Local[], tmp: readonly Local[], out: readonly Local[]): void {
  const [a, b, c, d] = rows as [Local, Local, Local, Local];
  f.get(a).get(b).f32Shuffle([0, 4, 1, 5]).set(tmp[0]!);
  f.get(a).get(b).f32Shuffle([2, 6, 3, 7]).set(tmp[1]!);
  f.get(c).get(d).f32Shuffle([0, 4, 1, 5]).set(tmp[2]!);
  f.get(c).get(d).f32Shuffle([2, 6, 3, 7]).set(tmp[3]!);
  f.get(tmp[0]!).get(tmp[2]!).f32Shuffle([0, 1, 4, 5]).set(out[0]!);
  f.get(tmp[0]!).get(tmp[2]!).f32Shuffle([2, 3, 6, 7]).set(out[1]!);
  f.get(tmp[1]!).get(tmp[3]!).f32Shuffle([0, 1, 4, 5]).set(out[2]!);
  f.get(tmp[1]!).get(tmp[3]!).f32Shuffle([2, 3, 6, 7]).set(out[3]!);
}

/**
 * to_lanes(src, dst, groups, channels, h, w, pad, hp, wr): images [4·groups][C][h][w] → lanes layout
 * [groups][C][hp][wr][4] at offset (pad, pad) of each plane; dst is zeroed by the caller.
 */
export function toLanes(): Builder {
  const f = new Builder('to_lanes', 9);
  const [src, dst, groups, channels, h, w, pad, hp, wr] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [g, c, y, x, imageBytes, s, o, w4] = Array.from({ length: 8 }, () => f.local(I32));
  const rows = Array.from({ length: 4 }, () => f.local(V128));
  const tmp = Array.from({ length: 4 }, () => f.local(V128));
  const out = Array.from({ length: 4 }, () => f.local(V128));
  f.get(channels).get(h).mul().get(w).mul().i32(4).mul().set(imageBytes);
  f.get(w).i32(-4).and().set(w4);
  f.loop(g, () => f.i32(0), groups, 1, () => {
    f.loop(c, () => f.i32(0), channels, 1, () => {
      f.loop(y, () => f.i32(0), h, 1, () => {
        // s = image 4g's row (c, y); o = pixel (y + pad, pad) of plane (g, c)
        f.get(src).get(g).i32(4).mul().get(imageBytes).mul().add().get(c).get(h).mul().get(y).add().get(w).mul().i32(4).mul().add().set(s);
        f.get(dst).get(g).get(channels).mul().get(c).add().get(hp).mul().get(y).add().get(pad).add().get(wr).mul().get(pad).add().i32(16).mul().add().set(o);
        f.loop(x, () => f.i32(0), w4, 4, () => {
          rows.forEach((l, k) => f.get(s).get(imageBytes).i32(k).mul().add().get(x).i32(4).mul().add().v128Load().set(l));
          transpose4(f, rows, tmp, out);
          out.forEach((l, k) => f.get(o).get(x).i32(16).mul().add().get(l).v128Store(16 * k));
        });
        f.loop(x, () => f.get(w4), w, 1, () => {
          for (let k = 0; k < 4; k++) {
            f.get(o).get(x).i32(16).mul().add();
            f.get(s).get(imageBytes).i32(k).mul().add().get(x).i32(4).mul().add().f32Load();
            f.f32Store(4 * k);
          }
        });
      });
    });
  });
  return f;
}

/** from_lanes(src, dst, groups, len): [groups][len][4] → [4·groups][len] (len elements per image). */
export function fromLanes(): Builder {
  const f = new Builder('from_lanes', 4);
  const [src, dst, groups, len] = [0, 1, 2, 3];
  const [g, j, s, o, imageBytes, len4] = Array.from({ length: 6 }, () => f.local(I32));
  const rows = Array.from({ length: 4 }, () => f.local(V128));
  const tmp = Array.from({ length: 4 }, () => f.local(V128));
  const out = Array.from({ length: 4 }, () => f.local(V128));
  f.get(len).i32(4).mul().set(imageBytes);
  f.get(len).i32(-4).and().set(len4);
  f.loop(g, () => f.i32(0), groups, 1, () => {
    f.get(src).get(g).get(len).mul().i32(16).mul().add().set(s);
    f.get(dst).get(g).i32(4).mul().get(imageBytes).mul().add().set(o);
    f.loop(j, () => f.i32(0), len4, 4, () => {
      rows.forEach((l, k) => f.get(s).get(j).i32(16).mul().add().v128Load(16 * k).set(l));
      transpose4(f, rows, tmp, out);
      out.forEach((l, k) => f.get(o).get(imageBytes).i32(k).mul().add().get(j).i32(4).mul().add().get(l).v128Store());
    });
    f.loop(j, () => f.get(len4), len, 1, () => {
      for (let k = 0; k < 4; k++) {
        f.get(o).get(imageBytes).i32(k).mul().add().get(j).i32(4).mul().add();
        f.get(s).get(j).i32(16).mul().add().f32Load(4 * k);
        f.f32Store();
      }
    });
  });
  return f;
}

/**
 * wino_filters_rR(w, u, filters, channels, filtersPad): U[ξν][c][f] = (G·w[f][c]·Gᵀ)[ξ][ν] in float32,
 * w as [F][C][r][r]. Straight-line per (f, c), zero coefficients skipped.
 */
export function winogradFilters(spec: WinogradSpec): Builder {
  const { alpha: a, r, g } = spec;
  const f = new Builder(`wino_filters_r${spec.r}`, 5);
  const [w, u, filters, channels, filtersPad] = [0, 1, 2, 3, 4];
  const [fi, c, src, planeBytes, dst] = Array.from({ length: 5 }, () => f.local(I32));
  const wv = Array.from({ length: r * r }, () => f.local(F32));
  const tmp = Array.from({ length: a * r }, () => f.local(F32));
  /** Pushes Σ_k coefs[k]·terms[k] (at least one coefficient is nonzero). */
  const dot = (coefs: readonly number[], terms: readonly Local[]): void => {
    let first = true;
    coefs.forEach((k, i) => {
      if (k === 0) return;
      f.get(terms[i]!);
      if (k !== 1) f.f32Const(k).f32Mul();
      if (!first) f.f32Add();
      first = false;
    });
  };
  f.get(channels).get(filtersPad).mul().i32(4).mul().set(planeBytes);
  f.get(w).set(src);
  f.loop(fi, () => f.i32(0), filters, 1, () => {
    f.loop(c, () => f.i32(0), channels, 1, () => {
      wv.forEach((l, i) => f.get(src).f32Load(4 * i).set(l));
      for (let i = 0; i < a; i++) {
        for (let l = 0; l < r; l++) {
          dot(g[i]!, Array.from({ length: r }, (_, k) => wv[k * r + l]!));
          f.set(tmp[i * r + l]!);
        }
      }
      f.get(u).get(c).get(filtersPad).mul().get(fi).add().i32(4).mul().add().set(dst);
      for (let i = 0; i < a; i++) {
        for (let j = 0; j < a; j++) {
          f.get(dst).get(planeBytes).i32(i * a + j).mul().add();
          dot(g[j]!, tmp.slice(i * r, i * r + r));
          f.f32Store();
        }
      }
      f.addTo(src, () => f.i32(4 * r * r));
    });
  });
  return f;
}
