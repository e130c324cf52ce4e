import { I32, V128, type Local } from './assembler.js';
import { loadPartial, storePartial } from './math-module.js';
import { SimdBuilder } from './simd-builder.js';
import { VectorMath } from './vector-math.js';

/**
 * softmax_rows / log_softmax_rows(x, out, rows, cols): numerically stable (log-)softmax of each
 * contiguous row of `cols` float32 values (byte addresses, as in math-module.ts); logsumexp_rows,
 * one value per row (out[r] = m + ln Σ). Per row:
 *   1. m = max of the row;
 *   2. e = exp(x − m), stored (softmax only) and summed: in float32 over blocks of 64 values, the
 *      block sums in float64;
 *   3. out = e·(1/Σ), or out = x − (m + ln Σ).
 * Sweep 2 is compute-bound and runs from L1, while the max sweep streams the row in from memory;
 * so the max of row r + 1 is taken inside row r's sweep 2 (its loads overlap the exp arithmetic),
 * and only row 0 has a sweep of its own. That took [1024, 1024] from 0.95 to ~0.8 ms here.
 * Softmax: NaN anywhere in a row, a row of −∞, or +∞ in a row gives a row of NaN, as the JS kernel
 * does (the max ignores NaN but the sum does not); logsumexp: see RowSweeps.logSumExp. Values whose
 * exp is below 2^−126 count as 0.
 */
const BLOCK_BYTES = 256; // 64 floats summed in float32 before joining the float64 total
const HALVES = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const PAIRS = [4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11];

/**
 * What the row kernels share (parameters x, _, rows, cols at 0–3): per row of `cols` floats at x its
 * max m in every lane of a vector — NaN never wins (pmax) — and sweep 2, Σ exp(x − m) in float64.
 * The max of row r + 1 is taken inside row r's sweep 2, so only row 0 has a max sweep of its own.
 */
export class RowSweeps {
  readonly math: VectorMath;
  readonly x = 0;
  readonly rows = 2;
  readonly cols = 3;
  readonly r: Local;
  readonly p: Local;
  readonly next: Local;
  readonly end4: Local;
  readonly blockEnd: Local;
  readonly rem: Local;
  readonly rowBytes: Local;
  readonly vecBytes: Local;
  readonly m: Local;
  readonly mNext: Local;
  readonly v: Local;
  readonly acc: Local;
  readonly total: Local;
  readonly negInf: Local;

  constructor(readonly f: SimdBuilder) {
    this.math = new VectorMath(f);
    [this.r, this.p, this.next, this.end4, this.blockEnd, this.rem, this.rowBytes, this.vecBytes] = Array.from({ length: 8 }, () => f.local(I32)) as [Local, Local, Local, Local, Local, Local, Local, Local];
    [this.m, this.mNext, this.v, this.acc, this.total, this.negInf] = Array.from({ length: 6 }, () => f.local(V128)) as [Local, Local, Local, Local, Local, Local];
  }

  /** Every lane of `l` ← the max of its four lanes. */
  horizontalMax(l: Local): void {
    const f = this.f;
    f.get(l).get(l).get(l).i8x16Shuffle(HALVES).f32x4Pmax().set(l);
    f.get(l).get(l).get(l).i8x16Shuffle(PAIRS).f32x4Pmax().set(l);
  }

  /**
   * Runs `body` once per row with x at the row, m its max and end4 the end of its whole vectors;
   * the body leaves mNext as the next row's max (expSum takes it) and advances its own pointers.
   */
  forEachRow(body: () => void): void {
    const { f, x, rows, cols, r, p, next, end4, rem, rowBytes, vecBytes, m, mNext, v, negInf } = this;
    f.ifElse(
      () => f.get(rows).eqz(),
      () => f.ret(),
    );
    f.f32x4(-Infinity).set(negInf);
    f.get(cols).i32(3).and().set(rem);
    f.get(cols).i32(4).mul().set(rowBytes);
    f.get(cols).i32(~3).and().i32(4).mul().set(vecBytes);

    // Sweep 1 for row 0 alone, with four accumulators to hide the latency of max.
    const [m1, m2, m3] = [f.local(V128), f.local(V128), f.local(V128)];
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
    this.horizontalMax(m);

    f.i32(0).set(r);
    f.forRange(r, rows, 1, () => {
      // Row r + 1, or row r itself for the last row (its max is then computed and never used).
      f.get(x).get(rowBytes).add().get(x).get(r).i32(1).add().get(rows).ltS().select().set(next);
      f.get(x).get(vecBytes).add().set(end4);
      body();
      this.horizontalMax(mNext);
      f.get(mNext).set(m);
      f.get(x).get(rowBytes).add().set(x);
    });
  }

  /**
   * Sweep 2: e = exp(x − m), stored at q (advanced past the row) when given, and summed — in float32
   * over blocks of 64 values, the block sums in float64 — into every lane of total; also the next
   * row's max into mNext. Values whose exp is below 2^−126 count as 0; lanes past the row load −∞.
   */
  expSum(q: Local | null): void {
    const { f, math, x, p, next, end4, blockEnd, rem, m, mNext, v, acc, total, negInf } = this;
    /** total (f64x2) += the four float32 lanes of acc */
    const flush = (): void => {
      f.get(total).get(acc).f64x2PromoteLow().f64x2Add();
      f.get(acc).get(acc).i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]).f64x2PromoteLow().f64x2Add().set(total);
    };
    f.v128Zero().set(total);
    f.get(negInf).set(mNext);
    f.get(x).set(p);
    f.forRange(p, end4, 0, () => {
      f.get(p).i32(BLOCK_BYTES).add().set(blockEnd);
      f.get(blockEnd).get(end4).get(blockEnd).get(end4).ltS().select().set(blockEnd);
      f.v128Zero().set(acc);
      f.forRange(p, blockEnd, 16, () => {
        f.get(mNext).get(next).v128Load().f32x4Pmax().set(mNext);
        f.get(p).v128Load().get(m).f32x4Sub().set(v);
        math.expNonPositiveFlush(v);
        f.set(v);
        if (q !== null) f.get(q).get(v).v128Store();
        f.get(acc).get(v).f32x4Add().set(acc);
        if (q !== null) f.get(q).i32(16).add().set(q);
        f.get(next).i32(16).add().set(next);
      });
      flush();
    });
    f.ifElse(
      () => f.get(rem),
      () => {
        loadPartial(f, next, rem, v, negInf);
        f.get(mNext).get(v).f32x4Pmax().set(mNext);
        loadPartial(f, p, rem, v, negInf);
        f.get(v).get(m).f32x4Sub().set(v);
        math.expNonPositiveFlush(v);
        f.set(v);
        if (q !== null) storePartial(f, q, rem, v);
        f.get(v).set(acc);
        flush();
      },
    );
    f.get(total).f64x2ExtractLane(0).get(total).f64x2ExtractLane(1).f64Add().f64x2Splat().set(total);
  }

  /**
   * out (a v128 local) ← log Σ exp of the row in every lane, after expSum: m + ln Σ where m is
   * finite; where it is not (a row of −∞ and NaN, or one holding +∞), m itself — −∞ or +∞ — unless
   * the row holds a NaN, then NaN: what the composed m′ + log Σ exp(x − m′), m′ = 0, gives.
   */
  logSumExp(out: Local): void {
    const { f, math, x, p, end4, rem, m, v, acc } = this;
    f.get(this.total).f64x2ExtractLane(0).f32DemoteF64().f32x4Splat().set(v);
    math.log(v);
    f.get(m).f32x4Add().set(out);
    f.ifElse(
      () => f.get(m).f32x4Abs().f32x4(Infinity).f32x4Eq().v128AnyTrue(),
      () => {
        // Rare: a second sweep that only looks for NaN (x ≠ x).
        f.v128Zero().set(acc);
        f.get(x).set(p);
        f.forRange(p, end4, 16, () => f.get(acc).get(p).v128Load().tee(v).get(v).f32x4Ne().v128Or().set(acc));
        f.ifElse(
          () => f.get(rem),
          () => {
            loadPartial(f, p, rem, v);
            f.get(acc).get(v).get(v).f32x4Ne().v128Or().set(acc);
          },
        );
        f.ifElse(
          () => f.get(acc).v128AnyTrue(),
          () => f.f32x4(NaN).set(out),
          () => f.get(m).set(out),
        );
      },
    );
  }
}

/**
 * softmax_rows / log_softmax_rows(x, out, rows, cols): per row, sweep 2 (e = exp(x − m) stored for
 * softmax, and Σ), then sweep 3: out = e·(1/Σ), or out = x − (m + ln Σ).
 */
export function softmaxRows(log: boolean): SimdBuilder {
  const f = new SimdBuilder(log ? 'log_softmax_rows' : 'softmax_rows', 4);
  const s = new RowSweeps(f);
  const { x, rem, vecBytes, m, v, total: sum } = s;
  const out = 1;
  const q = f.local(I32);
  const end = f.local(I32);
  const scale = f.local(V128);
  s.forEachRow(() => {
    f.get(out).set(q);
    s.expSum(log ? null : q);
    // Sweep 3: scale the stored e by 1/Σ, or write x − (m + ln Σ).
    f.get(out).set(q);
    if (!log) {
      f.f64Const(1).get(sum).f64x2ExtractLane(0).f64Div().f32DemoteF64().f32x4Splat().set(scale);
      f.get(out).get(vecBytes).add().set(end);
      f.forRange(q, end, 16, () => f.get(q).get(q).v128Load().get(scale).f32x4Mul().v128Store());
      f.ifElse(
        () => f.get(rem),
        () => {
          loadPartial(f, q, rem, v);
          f.get(v).get(scale).f32x4Mul().set(v);
          storePartial(f, q, rem, v);
        },
      );
    } else {
      f.get(sum).f64x2ExtractLane(0).f32DemoteF64().f32x4Splat().set(v);
      s.math.log(v);
      f.get(m).f32x4Add().set(scale);
      const p = s.p;
      f.get(x).set(p);
      f.forRange(p, s.end4, 16, () => {
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
    f.get(out).get(s.rowBytes).add().set(out);
  });
  return f;
}

/**
 * logsumexp_rows(x, out, rows, cols): out[r] = log Σ_j exp(x[r, j]) per row (RowSweeps.logSumExp:
 * the max-shifted sum, −∞ for a row of −∞, +∞ for a row holding +∞, NaN for a row holding NaN).
 */
export function logsumexpRows(): SimdBuilder {
  const f = new SimdBuilder('logsumexp_rows', 4);
  const s = new RowSweeps(f);
  const out = 1;
  const lse = f.local(V128);
  s.forEachRow(() => {
    s.expSum(null);
    s.logSumExp(lse);
    f.get(out).get(lse).v128Store32Lane(0);
    f.get(out).i32(4).add().set(out);
  });
  return f;
}
