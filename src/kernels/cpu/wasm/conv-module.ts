import { assembleModule, I32, V128, type Local, type MemoryImport } from './assembler.js';
import { convPoolBackward, dwPass, dxPass, FIXED_REGION_VECTORS, gatherFilterGrads, MAX_CHUNK, shiftFilters, type PassIndex } from './conv-backward.js';
import { Builder, emitFirstMax, emitRelu } from './conv-builder.js';
import { imageColumns, maxPool, maxPoolBackward } from './conv-layout.js';
import { fromLanes, toLanes, WINOGRAD, winogradFilters, winogradForward } from './conv-winograd.js';

/**
 * The WebAssembly SIMD module of the fused conv → max-pool 2×2 → bias → ReLU layer (stride-1
 * convolution, the CNN experts' block). Every pointer is a byte offset into the imported memory;
 * each kernel reads its geometry from a block of i32 parameters so that a job for the worker pool is
 * just (params, first image or image group, end).
 *
 * Direct forward (`cpr_fwd`, `cpr_fwd_kW`, this file): convolution vectorised over output positions.
 * A tile is R = 5 filters × 2 conv rows × 4 conv columns (10 f32x4 accumulators); the K = C·kH·kW
 * loop reads two input vectors through a table of byte offsets (no im2col) and five weight splats.
 * The tile is exactly 2 pooling windows wide, so the epilogue pools in registers: first maximum in
 * scan order (NaN wins, as in the JS kernel), + bias, ReLU, and stores each window's value and code
 * (dy·2 + dx). The conv output never reaches memory.
 * Winograd forward: conv-winograd.ts. Backward: conv-backward.ts.
 */

/** i32 slots of the direct forward's parameter block (byte offset = 4·slot). */
export const PARAM = {
  x: 0, // prepared input, image 0
  xImage: 1, // bytes per prepared input image
  xRow: 2, // bytes per prepared input row
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
} as const;
export const PARAM_WORDS = 14;

/** Filters per forward tile. */
export const TILE_FILTERS = 5;

/** Export names, in the order the worker pool refers to them. */
/** kW values with a forward kernel of their own (taps unrolled); other kW use the generic one. */
export const UNROLLED_KERNEL_WIDTHS = [1, 2, 3, 4, 5, 6, 7] as const;

export const CONV_EXPORTS = ['cpr_fwd', 'cpr_fwd_k1', 'cpr_fwd_k2', 'cpr_fwd_k3', 'cpr_fwd_k4', 'cpr_fwd_k5', 'cpr_fwd_k6', 'cpr_fwd_k7', 'cpr_bwd', 'cpr_bwd_r4', 'cpr_bwd_r9', 'shift_filters', 'gather_dw', 'copy_planes', 'wino_fwd_r3', 'wino_fwd_r5', 'wino_filters_r3', 'wino_filters_r5', 'to_lanes', 'from_lanes', 'im2col_f32', 'col2im_f32', 'maxpool_f32', 'maxpool_bwd_f32'] as const;

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
            emitFirstMax(f, [best, c1, c2, c3], best, idx, m);
            f.get(best).get(bg).v128Load(16 * p).f32x4Add().set(v);
            emitRelu(f, v);
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
  return assembleModule(convModuleFunctions(), memory);
}

/** The module's functions, in order (CONV_EXPORTS in export order). */
export function convModuleFunctions(): Builder[] {
  const fns: Builder[] = [forward(null), ...UNROLLED_KERNEL_WIDTHS.map((kw) => forward(kw))];
  const passes: PassIndex = { dw: [], dx: [] };
  for (let w = 1; w <= MAX_CHUNK; w++) {
    passes.dw[w] = fns.length;
    fns.push(dwPass(w));
    passes.dx[w] = fns.length;
    fns.push(dxPass(w));
  }
  fns.push(convPoolBackward(passes, null), ...FIXED_REGION_VECTORS.map((v) => convPoolBackward(passes, v)), shiftFilters(), gatherFilterGrads(), copyPlanes(), winogradForward(WINOGRAD[3]), winogradForward(WINOGRAD[5]), winogradFilters(WINOGRAD[3]), winogradFilters(WINOGRAD[5]), toLanes(), fromLanes());
  fns.push(imageColumns(false), imageColumns(true), maxPool(), maxPoolBackward());
  return fns;
}
