import { I32, V128, type Local } from './assembler.js';
import { loadPartial, storePartial } from './math-module.js';
import { SimdBuilder } from './simd-builder.js';
import { VectorMath } from './vector-math.js';

/**
 * softmax_rows / log_softmax_rows(x, out, rows, cols): numerically stable (log-)softmax of each
 * contiguous row of `cols` float32 values (byte addresses, as in math-module.ts). Per row:
 *   1. m = max of the row;
 *   2. e = exp(x − m), stored (softmax only) and summed: in float32 over blocks of 64 values, the
 *      block sums in float64;
 *   3. out = e·(1/Σ), or out = x − (m + ln Σ).
 * Sweep 2 is compute-bound and runs from L1, while the max sweep streams the row in from memory;
 * so the max of row r + 1 is taken inside row r's sweep 2 (its loads overlap the exp arithmetic),
 * and only row 0 has a sweep of its own. That took [1024, 1024] from 0.95 to ~0.8 ms here.
 * NaN anywhere in a row, a row of −∞, or +∞ in a row gives a row of NaN, as the JS kernel does (the
 * max ignores NaN but the sum does not). Values whose exp is below 2^−126 count as 0.
 */
const BLOCK_BYTES = 256; // 64 floats summed in float32 before joining the float64 total
const HALVES = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const PAIRS = [4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11];

export function softmaxRows(log: boolean): SimdBuilder {
  const f = new SimdBuilder(log ? 'log_softmax_rows' : 'softmax_rows', 4);
  const [x, out, rows, cols] = [0, 1, 2, 3];
  const math = new VectorMath(f);
  const r = f.local(I32);
  const p = f.local(I32);
  const q = f.local(I32);
  const next = f.local(I32);
  const end4 = f.local(I32);
  const blockEnd = f.local(I32);
  const rem = f.local(I32);
  const rowBytes = f.local(I32);
  const vecBytes = f.local(I32);
  const m = f.local(V128);
  const mNext = f.local(V128);
  const [m1, m2, m3] = [f.local(V128), f.local(V128), f.local(V128)];
  const v = f.local(V128);
  const acc = f.local(V128);
  const total = f.local(V128);
  const scale = f.local(V128);
  const negInf = f.local(V128);
  f.ifElse(
    () => f.get(rows).eqz(),
    () => f.ret(),
  );
  f.f32x4(-Infinity).set(negInf);
  f.get(cols).i32(3).and().set(rem);
  f.get(cols).i32(4).mul().set(rowBytes);
  f.get(cols).i32(~3).and().i32(4).mul().set(vecBytes);

  /** Every lane of `l` ← the max of its four lanes. */
  const horizontalMax = (l: Local): void => {
    f.get(l).get(l).get(l).i8x16Shuffle(HALVES).f32x4Pmax().set(l);
    f.get(l).get(l).get(l).i8x16Shuffle(PAIRS).f32x4Pmax().set(l);
  };
  /** total (f64x2) += the four float32 lanes of acc */
  const flush = (): void => {
    f.get(total).get(acc).f64x2PromoteLow().f64x2Add();
    f.get(acc).get(acc).i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]).f64x2PromoteLow().f64x2Add().set(total);
  };
  /** Row r + 1, or row r itself for the last row (its max is then computed and never used). */
  const setNext = (): void => {
    f.get(x).get(rowBytes).add().get(x).get(r).i32(1).add().get(rows).ltS().select().set(next);
  };

  // Sweep 1 for row 0 alone, with four accumulators to hide the latency of max.
  for (const l of [m, m1, m2, m3]) f.get(negInf).set(l);
  f.get(x).set(p);
  f.get(x).get(cols).i32(~15).and().i32(4).mul().add().set(end4);
  f.forRange(p, end4, 64, () => {
    [m, m1, m2, m3].forEach((l, i) => f.get(l).get(p).v128Load(16 * i).f32x4Pmax().set(l));
  });
  f.get(x).get(vecBytes).add().set(end4);
  f.forRange(p, end4, 16, () => f.get(m).get(p).v128Load().f32x4Pmax().set(m));
  f.ifElse(
    () => f.get(rem),
    () => {
      loadPartial(f, p, rem, v, negInf);
      f.get(m).get(v).f32x4Pmax().set(m);
    },
  );
  f.get(m).get(m1).f32x4Pmax().get(m2).get(m3).f32x4Pmax().f32x4Pmax().set(m);
  horizontalMax(m);

  f.i32(0).set(r);
  f.forRange(r, rows, 1, () => {
    setNext();
    f.get(x).get(vecBytes).add().set(end4);
    // Sweep 2: e = exp(x − m) (stored for softmax), Σ e, and the next row's max.
    f.v128Zero().set(total);
    f.get(negInf).set(mNext);
    f.get(x).set(p);
    f.get(out).set(q);
    f.forRange(p, end4, 0, () => {
      f.get(p).i32(BLOCK_BYTES).add().set(blockEnd);
      f.get(blockEnd).get(end4).get(blockEnd).get(end4).ltS().select().set(blockEnd);
      f.v128Zero().set(acc);
      f.forRange(p, blockEnd, 16, () => {
        f.get(mNext).get(next).v128Load().f32x4Pmax().set(mNext);
        f.get(p).v128Load().get(m).f32x4Sub().set(v);
        math.expNonPositiveFlush(v);
        f.set(v);
        if (!log) f.get(q).get(v).v128Store();
        f.get(acc).get(v).f32x4Add().set(acc);
        f.get(q).i32(16).add().set(q);
        f.get(next).i32(16).add().set(next);
      });
      flush();
    });
    f.ifElse(
      () => f.get(rem),
      () => {
        loadPartial(f, next, rem, v, negInf);
        f.get(mNext).get(v).f32x4Pmax().set(mNext);
        // Lanes past the row load −∞, whose exp is 0.
        loadPartial(f, p, rem, v, negInf);
        f.get(v).get(m).f32x4Sub().set(v);
        math.expNonPositiveFlush(v);
        f.set(v);
        if (!log) storePartial(f, q, rem, v);
        f.get(v).set(acc);
        flush();
      },
    );
    f.get(total).f64x2ExtractLane(0).get(total).f64x2ExtractLane(1).f64Add().f64x2Splat().set(total);

    // Sweep 3: scale the stored e by 1/Σ, or write x − (m + ln Σ).
    f.get(out).set(q);
    if (!log) {
      f.f64Const(1).get(total).f64x2ExtractLane(0).f64Div().f32DemoteF64().f32x4Splat().set(scale);
      f.get(out).get(vecBytes).add().set(end4);
      f.forRange(q, end4, 16, () => f.get(q).get(q).v128Load().get(scale).f32x4Mul().v128Store());
      f.ifElse(
        () => f.get(rem),
        () => {
          loadPartial(f, q, rem, v);
          f.get(v).get(scale).f32x4Mul().set(v);
          storePartial(f, q, rem, v);
        },
      );
    } else {
      f.get(total).f64x2ExtractLane(0).f32DemoteF64().f32x4Splat().set(v);
      math.log(v);
      f.get(m).f32x4Add().set(scale);
      f.get(x).set(p);
      f.forRange(p, end4, 16, () => {
        f.get(q).get(p).v128Load().get(scale).f32x4Sub().v128Store();
        f.get(q).i32(16).add().set(q);
      });
      f.ifElse(
        () => f.get(rem),
        () => {
          loadPartial(f, p, rem, v);
          f.get(v).get(scale).f32x4Sub().set(v);
          storePartial(f, q, rem, v);
        },
      );
    }
    horizontalMax(mNext);
    f.get(mNext).set(m);
    f.get(x).get(rowBytes).add().set(x);
    f.get(out).get(rowBytes).add().set(out);
  });
  return f;
}
