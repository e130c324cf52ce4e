import { I32, V128 } from './assembler.js';
import { loadPartial, storePartial } from './math-module.js';
import { SimdBuilder } from './simd-builder.js';
import { VectorMath } from './vector-math.js';

/**
 * softmax_rows / log_softmax_rows(x, out, rows, cols): numerically stable (log-)softmax of each contiguous row of
 * `cols` float32 values (byte addresses, as in math-module.ts). Per row, in three sweeps that stay in
 * L1: the max m (four vector accumulators); e = exp(x − m), stored for softmax, summed in float32
 * over blocks of 64 values and the block sums in float64; then out = e·(1/Σ) or out = x − (m + ln Σ).
 * NaN anywhere in a row, a row of −∞, or +∞ in a row gives a row of NaN, as the JS kernel does
 * (the max ignores NaN but the sum does not).
 */
const BLOCK_BYTES = 256; // 64 floats summed in float32 before joining the float64 total

export function softmaxRows(log: boolean): SimdBuilder {
  const f = new SimdBuilder(log ? 'log_softmax_rows' : 'softmax_rows', 4);
  const [x, out, rows, cols] = [0, 1, 2, 3];
  const math = new VectorMath(f);
  const r = f.local(I32);
  const p = f.local(I32);
  const q = f.local(I32);
  const end16 = f.local(I32);
  const end4 = f.local(I32);
  const blockEnd = f.local(I32);
  const rem = f.local(I32);
  const rowBytes = f.local(I32);
  const [m0, m1, m2, m3] = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const v = f.local(V128);
  const acc = f.local(V128);
  const total = f.local(V128);
  const scale = f.local(V128);
  const negInf = f.local(V128);
  f.f32x4(-Infinity).set(negInf);
  f.get(cols).i32(3).and().set(rem);
  f.get(cols).i32(4).mul().set(rowBytes);
  f.i32(0).set(r);

  /** v ← exp(v − m0) */
  const expShifted = (): void => {
    f.get(v).get(m0).f32x4Sub().set(v);
    math.expNonPositiveFlush(v);
    f.set(v);
  };
  /** total (f64x2) += the four float32 lanes of acc */
  const flush = (): void => {
    f.get(total).get(acc).f64x2PromoteLow().f64x2Add();
    f.get(acc).get(acc).i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]).f64x2PromoteLow().f64x2Add().set(total);
  };

  f.forRange(r, rows, 1, () => {
    f.get(x).get(cols).i32(~15).and().i32(4).mul().add().set(end16);
    f.get(x).get(cols).i32(~3).and().i32(4).mul().add().set(end4);
    // Sweep 1: the max, with four accumulators to hide the latency of max.
    for (const l of [m0, m1, m2, m3]) f.get(negInf).set(l);
    f.get(x).set(p);
    f.forRange(p, end16, 64, () => {
      [m0, m1, m2, m3].forEach((l, i) => f.get(l).get(p).v128Load(16 * i).f32x4Pmax().set(l));
    });
    f.forRange(p, end4, 16, () => f.get(m0).get(p).v128Load().f32x4Pmax().set(m0));
    f.ifElse(
      () => f.get(rem),
      () => {
        loadPartial(f, p, rem, v, negInf);
        f.get(m0).get(v).f32x4Pmax().set(m0);
      },
    );
    f.get(m0).get(m1).f32x4Pmax().get(m2).get(m3).f32x4Pmax().f32x4Pmax().set(m0);
    f.get(m0).get(m0).get(m0).i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]).f32x4Pmax().set(m0);
    f.get(m0).get(m0).get(m0).i8x16Shuffle([4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11]).f32x4Pmax().set(m0);

    // Sweep 2: e = exp(x − m) (stored for softmax) and Σ e.
    f.v128Zero().set(total);
    f.get(x).set(p);
    f.get(out).set(q);
    f.forRange(p, end4, 0, () => {
      f.get(p).i32(BLOCK_BYTES).add().set(blockEnd);
      f.get(blockEnd).get(end4).get(blockEnd).get(end4).ltS().select().set(blockEnd);
      f.v128Zero().set(acc);
      f.forRange(p, blockEnd, 16, () => {
        f.get(p).v128Load().set(v);
        expShifted();
        if (!log) f.get(q).get(v).v128Store();
        f.get(acc).get(v).f32x4Add().set(acc);
        f.get(q).i32(16).add().set(q);
      });
      flush();
    });
    f.ifElse(
      () => f.get(rem),
      () => {
        // Lanes past the row load −∞, whose exp is 0.
        loadPartial(f, p, rem, v, negInf);
        expShifted();
        if (!log) storePartial(f, q, rem, v);
        f.get(v).set(acc);
        flush();
      },
    );
    f.get(total).f64x2ExtractLane(0).get(total).f64x2ExtractLane(1).f64Add().f64x2Splat().set(total);

    // Sweep 3: scale the stored e by 1/Σ, or write x − (m + ln Σ).
    if (!log) {
        f.f64Const(1).get(total).f64x2ExtractLane(0).f64Div().f32DemoteF64().f32x4Splat().set(scale);
        f.get(out).set(q);
        f.get(out).get(end4).get(x).sub().add().set(end4);
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
        f.get(m0).f32x4Add().set(scale);
        f.get(x).set(p);
        f.get(out).set(q);
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
    f.get(x).get(rowBytes).add().set(x);
    f.get(out).get(rowBytes).add().set(out);
  });
  return f;
}
