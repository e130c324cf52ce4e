import { FunctionBuilder, I32, V128, type Local } from './assembler.js';

/**
 * The WebAssembly SIMD matrix-product functions, generated for float32 (f32x4) and float64 (f64x2).
 * Exports `gemm_f32` and `gemm_f64`, each
 *   gemm(m, n, k, a, ars, acs, b, brs, bcs, c, ldc, pack)
 * with every pointer and stride in BYTES into the imported memory: element (i,p) of op(A) at
 * a + i·ars + p·acs, (p,j) of op(B) at b + p·brs + j·bcs. C (m×n, row stride ldc) is OVERWRITTEN
 * in place and nothing outside it is touched: whole MR×NR tiles go straight from the registers to
 * C; a tile at the bottom or right edge is computed into scratch and its valid part copied. `pack`
 * is scratch of packBytes(spec) bytes (a packed B block, an A panel, an edge tile); m, n, k ≥ 1.
 * Each element of C is summed in the same order whatever part of C a call covers (over p within a
 * KC block, then the blocks in order), so splitting C between threads changes no result.
 *
 * Blocking: NC-wide column blocks, KC-deep blocks whose B part is packed into NR-wide panels (hot
 * in L2), then for each MR rows of A (packed into one contiguous panel straight from A's strides,
 * so a transposed A costs nothing extra) every B panel: an MR×NR tile of vector accumulators that
 * stays in registers over KC.
 */
export interface GemmDtypeSpec {
  readonly bytes: 4 | 8;
  readonly mr: number;
  readonly nr: number;
  readonly kc: number;
  readonly nc: number;
  /** Copy each MR×KC block of A into a contiguous panel first when A is transposed (else, and always when false, read A in place). */
  readonly packA: boolean;
}

const VECTORS_PER_ROW = 2; // NR = 2 vectors: 4×2 vector accumulators + 3 operands fit 16 registers

export const GEMM_F32: GemmDtypeSpec = { bytes: 4, mr: 4, nr: 8, kc: 256, nc: 256, packA: true };
export const GEMM_F64: GemmDtypeSpec = { bytes: 8, mr: 4, nr: 4, kc: 256, nc: 128, packA: true };

interface Ops {
  /** Scalar add of the two values on the stack. */
  sadd(f: FunctionBuilder): void;
  splat(f: FunctionBuilder): void;
  vadd(f: FunctionBuilder): void;
  vmul(f: FunctionBuilder): void;
  load(f: FunctionBuilder): void;
  store(f: FunctionBuilder, offset: number): void;
  zero(f: FunctionBuilder): void;
}

const OPS: Record<4 | 8, Ops> = {
  4: {
    sadd: (f) => f.f32Add(),
    splat: (f) => f.v128Load32Splat(),
    vadd: (f) => f.f32x4Add(),
    vmul: (f) => f.f32x4Mul(),
    load: (f) => f.f32Load(),
    store: (f, o) => f.f32Store(o),
    zero: (f) => f.f32Zero(),
  },
  8: {
    sadd: (f) => f.f64Add(),
    splat: (f) => f.v128Load64Splat(),
    vadd: (f) => f.f64x2Add(),
    vmul: (f) => f.f64x2Mul(),
    load: (f) => f.f64Load(),
    store: (f, o) => f.f64Store(o),
    zero: (f) => f.f64Zero(),
  },
};

/**
 * kern(kc, r0, r1, r2, r3, acs, bPanel, cTile, ldc, accumulate): C tile = A rows r0..r3 (kc deep) ·
 * B panel, added to the tile's old values when accumulate ≠ 0 (the second and later KC blocks).
 */
function microKernel(spec: GemmDtypeSpec): FunctionBuilder {
  if (spec.mr !== 4 || spec.nr * spec.bytes !== 16 * VECTORS_PER_ROW) throw new Error('gemm module: the micro-kernel is written for 4 rows of 2 vectors');
  const ops = OPS[spec.bytes];
  const f = new FunctionBuilder(null, 10);
  const [kc, , , , , acs, bp, cp, ldc, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] as const;
  const rowPtr = [1, 2, 3, 4];
  const acc: Local[][] = [];
  for (let r = 0; r < spec.mr; r++) {
    acc.push([]);
    for (let v = 0; v < VECTORS_PER_ROW; v++) acc[r]!.push(f.local(V128));
  }
  const bv = [f.local(V128), f.local(V128)];
  const av = f.local(V128);
  const end = f.local(I32);
  for (const row of acc) for (const l of row) f.v128Zero().set(l);
  f.get(bp).get(kc).i32(spec.nr * spec.bytes).mul().add().set(end);
  f.doWhile(
    () => {
      for (let v = 0; v < VECTORS_PER_ROW; v++) f.get(bp).v128Load(16 * v).set(bv[v]!);
      for (let r = 0; r < spec.mr; r++) {
        f.get(rowPtr[r]!);
        ops.splat(f);
        f.set(av);
        for (let v = 0; v < VECTORS_PER_ROW; v++) {
          f.get(acc[r]![v]!).get(av).get(bv[v]!);
          ops.vmul(f);
          ops.vadd(f);
          f.set(acc[r]![v]!);
        }
      }
      for (const p of rowPtr) f.addTo(p, () => f.get(acs));
      f.addTo(bp, () => f.i32(spec.nr * spec.bytes));
    },
    () => f.get(bp).get(end).ltU(),
  );
  f.ifElse(
    () => f.get(accumulate),
    () => {
      for (let r = 0; r < spec.mr; r++) {
        for (let v = 0; v < VECTORS_PER_ROW; v++) {
          f.get(cp).get(cp).v128Load(16 * v).get(acc[r]![v]!);
          ops.vadd(f);
          f.v128Store(16 * v);
        }
        f.addTo(cp, () => f.get(ldc));
      }
    },
    () => {
      for (let r = 0; r < spec.mr; r++) {
        for (let v = 0; v < VECTORS_PER_ROW; v++) f.get(cp).get(acc[r]![v]!).v128Store(16 * v);
        f.addTo(cp, () => f.get(ldc));
      }
    },
  );
  return f;
}

/**
 * edge(tile, c, ldc, rows, cols, accumulate): the valid rows × cols corner of a computed edge tile
 * (rows of NR elements) into C, replacing or (accumulate ≠ 0) adding to what is there.
 */
function edgeCopy(spec: GemmDtypeSpec): FunctionBuilder {
  const ops = OPS[spec.bytes];
  const f = new FunctionBuilder(null, 6);
  const [tile, c, ldc, rows, cols, accumulate] = [0, 1, 2, 3, 4, 5] as const;
  const r = f.local(I32);
  const j = f.local(I32);
  const rowBytes = f.local(I32);
  f.get(cols).i32(spec.bytes).mul().set(rowBytes);
  const copy = (add: boolean): void => {
    f.i32(0).set(r);
    f.doWhile(
      () => {
        f.i32(0).set(j);
        f.doWhile(
          () => {
            f.get(c).get(j).add();
            f.get(tile).get(j).add();
            ops.load(f);
            if (add) {
              f.get(c).get(j).add();
              ops.load(f);
              ops.sadd(f);
            }
            ops.store(f, 0);
            f.addTo(j, () => f.i32(spec.bytes));
          },
          () => f.get(j).get(rowBytes).ltS(),
        );
        f.addTo(tile, () => f.i32(spec.nr * spec.bytes));
        f.addTo(c, () => f.get(ldc));
        f.addTo(r, () => f.i32(1));
      },
      () => f.get(r).get(rows).ltS(),
    );
  };
  f.ifElse(
    () => f.get(accumulate),
    () => copy(true),
    () => copy(false),
  );
  return f;
}

/** pack(kc, nc, src, rs, cs, dst): B[kc×nc] → NR-wide panels, p-major, zero columns past nc. */
function packB(spec: GemmDtypeSpec): FunctionBuilder {
  const ops = OPS[spec.bytes];
  const f = new FunctionBuilder(null, 6);
  const [kc, nc, src, rs, cs, dst] = [0, 1, 2, 3, 4, 5] as const;
  const j0 = f.local(I32);
  const p = f.local(I32);
  const rowPtr = f.local(I32);
  const e = f.local(I32);
  const width = f.local(I32);
  const panelBytes = spec.nr * spec.bytes;
  f.i32(0).set(j0);
  f.doWhile(
    () => {
      f.get(nc).get(j0).sub().set(width);
      f.get(src).set(rowPtr);
      f.i32(0).set(p);
      const nextRow = (): void => {
        f.addTo(dst, () => f.i32(panelBytes));
        f.addTo(rowPtr, () => f.get(rs));
        f.addTo(p, () => f.i32(1));
      };
      const rowLoop = (copyRow: () => void): void => {
        f.doWhile(
          () => {
            copyRow();
            nextRow();
          },
          () => f.get(p).get(kc).ltS(),
        );
      };
      const scalarRow = (partial: boolean): void => {
        f.get(rowPtr).set(e);
        for (let jj = 0; jj < spec.nr; jj++) {
          const copy = (): void => {
            f.get(dst).get(e);
            ops.load(f);
            ops.store(f, jj * spec.bytes);
          };
          if (partial) {
            f.ifElse(
              () => f.i32(jj).get(width).ltS(),
              copy,
              () => {
                f.get(dst);
                ops.zero(f);
                ops.store(f, jj * spec.bytes);
              },
            );
          } else {
            copy();
          }
          f.addTo(e, () => f.get(cs));
        }
      };
      f.ifElse(
        () => f.get(width).i32(spec.nr).geS(),
        () =>
          // Full panel: contiguous rows (B not transposed) move as vectors.
          f.ifElse(
            () => f.get(cs).i32(spec.bytes).eq(),
            () =>
              rowLoop(() => {
                for (let v = 0; v < VECTORS_PER_ROW; v++) f.get(dst).get(rowPtr).v128Load(16 * v).v128Store(16 * v);
              }),
            () => rowLoop(() => scalarRow(false)),
          ),
        () => rowLoop(() => scalarRow(true)),
      );
      f.addTo(src, () => f.get(cs).i32(spec.nr).mul());
      f.addTo(j0, () => f.i32(spec.nr));
    },
    () => f.get(j0).get(nc).ltS(),
  );
  return f;
}

/**
 * packA(kc, rows, src, rs, cs, dst): MR rows of A (kc deep) → one panel, p-major (MR values per p);
 * rows past `rows` repeat the last one. Contiguous groups (A transposed) move as vectors.
 */
function packA(spec: GemmDtypeSpec): FunctionBuilder {
  const ops = OPS[spec.bytes];
  const f = new FunctionBuilder(null, 6);
  const [kc, rows, src, rs, cs, dst] = [0, 1, 2, 3, 4, 5] as const;
  const end = f.local(I32);
  const last = f.local(I32);
  const t = f.local(I32);
  const r = [src, f.local(I32), f.local(I32), f.local(I32)];
  const stepBytes = spec.mr * spec.bytes;
  f.get(dst).get(kc).i32(stepBytes).mul().add().set(end);
  f.ifElse(
    () => f.get(rows).i32(spec.mr).eq().get(rs).i32(spec.bytes).eq().mul(),
    () =>
      f.doWhile(
        () => {
          for (let v = 0; v < stepBytes / 16; v++) f.get(dst).get(src).v128Load(16 * v).v128Store(16 * v);
          f.addTo(src, () => f.get(cs));
          f.addTo(dst, () => f.i32(stepBytes));
        },
        () => f.get(dst).get(end).ltU(),
      ),
    () => {
      f.get(rows).i32(1).sub().set(last);
      for (let q = 1; q < spec.mr; q++) {
        f.get(src);
        f.i32(q).get(last).i32(q).get(last).ltS().select().set(t);
        f.get(t).get(rs).mul().add().set(r[q]!);
      }
      f.doWhile(
        () => {
          for (let q = 0; q < spec.mr; q++) {
            f.get(dst).get(r[q]!);
            ops.load(f);
            ops.store(f, q * spec.bytes);
            f.addTo(r[q]!, () => f.get(cs));
          }
          f.addTo(dst, () => f.i32(stepBytes));
        },
        () => f.get(dst).get(end).ltU(),
      );
    },
  );
  return f;
}

/** Bytes of `pack` scratch one gemm call needs: a B block, then an A panel, then an edge tile. */
export function packBytes(spec: GemmDtypeSpec): number {
  return (spec.kc * Math.ceil(spec.nc / spec.nr) * spec.nr + spec.kc * spec.mr + spec.mr * spec.nr) * spec.bytes;
}

/** The blocked driver; calls the micro-kernel, packers and edge copy at the given function indices. */
function driver(spec: GemmDtypeSpec, exportName: string, kernIndex: number, packIndex: number, packAIndex: number, edgeIndex: number): FunctionBuilder {
  const f = new FunctionBuilder(exportName, 12);
  const [m, n, k, a, ars, acs, b, brs, bcs, c, ldc, pack] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] as const;
  const jc = f.local(I32);
  const ncb = f.local(I32);
  const pc = f.local(I32);
  const kcb = f.local(I32);
  const i0 = f.local(I32);
  const last = f.local(I32);
  const aRow = f.local(I32);
  const r = [aRow, f.local(I32), f.local(I32), f.local(I32)];
  const jr = f.local(I32);
  const bPanel = f.local(I32);
  const cTile = f.local(I32);
  const panelBytes = f.local(I32);
  const t = f.local(I32);
  const aPanel = f.local(I32);
  const aStep = f.local(I32);
  const edgeTile = f.local(I32);
  const rowsLeft = f.local(I32);
  const colsLeft = f.local(I32);
  const minConst = (target: Local, limit: number, x: Local): void => {
    f.i32(limit).get(x).i32(limit).get(x).ltS().select().set(target);
  };
  f.get(pack).i32(spec.kc * Math.ceil(spec.nc / spec.nr) * spec.nr * spec.bytes).add().set(aPanel);
  f.get(aPanel).i32(spec.kc * spec.mr * spec.bytes).add().set(edgeTile);
  f.i32(0).set(jc);
  f.doWhile(
    () => {
      f.get(n).get(jc).sub().set(t);
      minConst(ncb, spec.nc, t);
      f.i32(0).set(pc);
      f.doWhile(
        () => {
          f.get(k).get(pc).sub().set(t);
          minConst(kcb, spec.kc, t);
          f.get(kcb).get(ncb).get(b).get(pc).get(brs).mul().add().get(jc).get(bcs).mul().add().get(brs).get(bcs).get(pack).call(packIndex);
          f.get(kcb).i32(spec.nr * spec.bytes).mul().set(panelBytes);
          f.i32(0).set(i0);
          f.doWhile(
            () => {
              f.get(a).get(i0).get(ars).mul().add().get(pc).get(acs).mul().add().set(aRow);
              // Rows past m repeat the last row (their results land in C's padding).
              f.get(m).get(i0).sub().i32(1).sub().set(last);
              const inPlace = (): void => {
                for (let q = 1; q < spec.mr; q++) {
                  f.get(aRow);
                  minConst(t, q, last);
                  f.get(t).get(ars).mul().add().set(r[q]!);
                }
                f.get(acs).set(aStep);
              };
              const packed = (): void => {
                f.get(kcb).get(last).i32(1).add().get(aRow).get(ars).get(acs).get(aPanel).call(packAIndex);
                for (let q = 0; q < spec.mr; q++) f.get(aPanel).i32(q * spec.bytes).add().set(r[q]!);
                f.i32(spec.mr * spec.bytes).set(aStep);
              };
              // Rows of A that are contiguous along k are read where they are (four streams the
              // micro-kernel walks as fast as a packed panel); a transposed A is packed first.
              if (spec.packA) f.ifElse(() => f.get(acs).i32(spec.bytes).eq(), inPlace, packed);
              else inPlace();
              f.get(c).get(i0).get(ldc).mul().add().get(jc).i32(spec.bytes).mul().add().set(cTile);
              f.get(m).get(i0).sub().set(rowsLeft);
              f.get(pack).set(bPanel);
              f.i32(0).set(jr);
              f.doWhile(
                () => {
                  f.get(ncb).get(jr).sub().set(colsLeft);
                  const kernel = (tile: Local, ld: () => void, accumulate: () => void): void => {
                    f.get(kcb).get(r[0]!).get(r[1]!).get(r[2]!).get(r[3]!).get(aStep).get(bPanel).get(tile);
                    ld();
                    accumulate();
                    f.call(kernIndex);
                  };
                  f.ifElse(
                    () => f.get(rowsLeft).i32(spec.mr).geS().get(colsLeft).i32(spec.nr).geS().mul(),
                    // A whole tile: straight into C (added to it after the first KC block).
                    () => kernel(cTile, () => f.get(ldc), () => f.get(pc)),
                    // An edge tile: computed into scratch, then its valid corner into C.
                    () => {
                      kernel(edgeTile, () => f.i32(spec.nr * spec.bytes), () => f.i32(0));
                      f.get(edgeTile).get(cTile).get(ldc);
                      minConst(t, spec.mr, rowsLeft);
                      f.get(t);
                      minConst(t, spec.nr, colsLeft);
                      f.get(t).get(pc).call(edgeIndex);
                    },
                  );
                  f.addTo(bPanel, () => f.get(panelBytes));
                  f.addTo(cTile, () => f.i32(spec.nr * spec.bytes));
                  f.addTo(jr, () => f.i32(spec.nr));
                },
                () => f.get(jr).get(ncb).ltS(),
              );
              f.addTo(i0, () => f.i32(spec.mr));
            },
            () => f.get(i0).get(m).ltS(),
          );
          f.addTo(pc, () => f.i32(spec.kc));
        },
        () => f.get(pc).get(k).ltS(),
      );
      f.addTo(jc, () => f.i32(spec.nc));
    },
    () => f.get(jc).get(n).ltS(),
  );
  return f;
}

/** The module's functions: [kern, packB, packA, edge, gemm] for float32, then the same for float64. */
export function gemmFunctions(f32: GemmDtypeSpec = GEMM_F32, f64: GemmDtypeSpec = GEMM_F64): FunctionBuilder[] {
  return [
    microKernel(f32),
    packB(f32),
    packA(f32),
    edgeCopy(f32),
    driver(f32, 'gemm_f32', 0, 1, 2, 3),
    microKernel(f64),
    packB(f64),
    packA(f64),
    edgeCopy(f64),
    driver(f64, 'gemm_f64', 5, 6, 7, 8),
  ];
}
