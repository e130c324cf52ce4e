import { V128, type Local } from './assembler.js';
import type { SimdBuilder } from './simd-builder.js';

/**
 * Inline f32x4 code for exp, log, tanh, sigmoid and softplus (no FMA: WebAssembly SIMD128 has
 * none without relaxed-simd). Each emitter reads its input from a v128 local and leaves the result
 * on the stack. Measured maximum errors against Math.* (rounded to float32) are in the table of
 * test/simd-math.test.ts; all are branch-free, handle ±0, ±∞, NaN and subnormals exactly like the
 * JS kernels of elementwise.ts, and never trap.
 */
export class VectorMath {
  private readonly temps = new Map<string, Local>();

  constructor(private readonly f: SimdBuilder) {}

  /** A v128 local reserved for `name` (one per name and function). */
  private t(name: string): Local {
    let l = this.temps.get(name);
    if (l === undefined) {
      l = this.f.local(V128);
      this.temps.set(name, l);
    }
    return l;
  }

  /**
   * e^x. Range reduction x = n·ln2 + r (|r| ≤ ln2/2, Cody–Waite with two constants), then
   * e^r = 1 + r + r²·Q(r) with Q a degree-4 minimax fit (relative error 3.5e-9), and 2^n applied
   * as two factors 2^⌊n/2⌋·2^⌈n/2⌉ so that n ∈ [−150, 128] never leaves the normal exponents:
   * results that overflow become +∞ and those below 2^−126 are rounded once, as subnormals.
   * `nonPositive`: the caller guarantees x ≤ 0 or NaN (softmax, sigmoid), which skips one clamp.
   */
  exp(x: Local, nonPositive = false): void {
    const f = this.f;
    const [xc, v, n, r, z] = [this.t('exp.x'), this.t('exp.v'), this.t('exp.n'), this.t('exp.r'), this.t('exp.z')];
    // Clamp to [−104, 88.8]: beyond it the result is 0 or +∞ anyway. pmin/pmax keep a NaN in x.
    f.get(x);
    if (!nonPositive) f.f32x4(88.8).f32x4Pmin();
    f.f32x4(-104).f32x4Pmax().set(xc);
    // v = x·log2(e) + (1.5·2²³ + 254): rounds to an integer n held in v's low mantissa bits.
    f.get(xc).f32x4(Math.LOG2E).f32x4Mul().f32x4(MAGIC).f32x4Add().tee(v);
    f.f32x4(MAGIC).f32x4Sub().set(n);
    // r = x − n·ln2, with ln2 = C1 + C2 (C1 has 9 bits, so n·C1 is exact).
    f.get(xc).get(n).f32x4(LN2_C1).f32x4Mul().f32x4Sub();
    f.get(n).f32x4(LN2_C2).f32x4Mul().f32x4Sub().set(r);
    f.get(r).get(r).f32x4Mul().set(z);
    f.f32x4(EXP_Q[4]);
    for (let i = 3; i >= 0; i--) f.get(r).f32x4Mul().f32x4(EXP_Q[i]!).f32x4Add();
    f.get(z).f32x4Mul().get(r).f32x4Add().f32x4(1).f32x4Add(); // 1 + (r + r²·Q)
    // × 2^⌊n/2⌋ × 2^⌈n/2⌉: v's bits are bits(1.5·2²³) + 254 + n, and bits(1.5·2²³) = 0x4B400000
    // has nine zero low bits, so (bits >> 1) << 23 and (bits − (bits >> 1)) << 23 are those powers.
    f.get(v).i32(1).i32x4ShrS().set(n);
    f.get(n).i32(23).i32x4Shl().f32x4Mul();
    f.get(v).get(n).i32x4Sub().i32(23).i32x4Shl().f32x4Mul();
  }

  /**
   * e^x for x ≤ 0 as softmax needs it (XNNPack's rr2-p5 scheme): a degree-5 polynomial and one
   * scale factor, 20 vector instructions instead of 28. x is first raised to −127·ln2, where the
   * scale 2^n comes out as +0 (n + 127 = 0 in the exponent field), so x = −∞ and every x whose
   * result would be below about 2^−126 (x < −87.7, where it cannot move a softmax sum) give exactly
   * 0; NaN stays NaN. Positive x is not supported.
   */
  expNonPositiveFlush(x: Local): void {
    const f = this.f;
    const [v, n, t, s] = [this.t('expf.v'), this.t('expf.n'), this.t('expf.t'), this.t('expf.s')];
    // v = x·log2(e) + (1.5·2²³ + 127): n in the low bits, so v << 23 is 2^n for n ≥ −126.
    const xc = this.t('expf.x');
    f.get(x).f32x4(EXP_ZERO_BELOW).f32x4Pmax().tee(xc);
    f.f32x4(Math.LOG2E).f32x4Mul().f32x4(MAGIC_BIASED).f32x4Add().tee(v);
    f.i32(23).i32x4Shl().set(s);
    f.get(v).f32x4(MAGIC_BIASED).f32x4Sub().set(n);
    f.get(xc).get(n).f32x4(LN2_C1).f32x4Mul().f32x4Sub();
    f.get(n).f32x4(LN2_C2).f32x4Mul().f32x4Sub().set(t);
    // e^t ≈ 1 + t·P(t), P of degree 4 (Remez, relative error 9.7e-8 on |t| ≤ 1.01·ln2/2)
    f.f32x4(EXP_P[4]);
    for (let i = 3; i >= 0; i--) f.get(t).f32x4Mul().f32x4(EXP_P[i]!).f32x4Add();
    // s + (t·s)·P
    f.get(t).get(s).f32x4Mul().f32x4Mul().get(s).f32x4Add();
  }

  /**
   * ln x (musl's logf, vectorised): x = 2^k·m with m ∈ [√½, √2), f = m − 1, s = f/(2 + f) and
   * ln(1 + f) = f − f²/2 + s·(f²/2 + R(s²)). Subnormal x is scaled by 2²³ first. Special values:
   * ln(±0) = −∞, ln(x < 0) = NaN, ln(+∞) = +∞, NaN stays NaN. `inRange`: the caller guarantees
   * a normal positive finite x (or a NaN it does not mind turning into any value), skipping that.
   */
  log(x: Local, inRange = false): void {
    const f = this.f;
    const [xs, sub, ix, dk, fl, s, z, w, h] = ['log.xs', 'log.sub', 'log.ix', 'log.dk', 'log.f', 'log.s', 'log.z', 'log.w', 'log.h'].map((n) => this.t(n)) as [Local, Local, Local, Local, Local, Local, Local, Local, Local];
    let src = x;
    if (!inRange) {
      f.get(x).f32x4(FLT_MIN).f32x4Lt().set(sub);
      f.get(x).f32x4(2 ** 23).f32x4Mul().get(x).get(sub).v128Bitselect().set(xs);
      src = xs;
    }
    f.get(src).i32x4(SQRT_HALF_BITS).i32x4Sub().tee(ix).i32(23).i32x4ShrS();
    if (!inRange) f.get(sub).i32x4(-23).v128And().i32x4Add();
    f.f32x4ConvertI32x4S().set(dk);
    f.get(ix).i32x4(0x007fffff).v128And().i32x4(SQRT_HALF_BITS).i32x4Add().f32x4(1).f32x4Sub().set(fl);
    f.get(fl).get(fl).f32x4(2).f32x4Add().f32x4Div().tee(s).get(s).f32x4Mul().tee(z).get(z).f32x4Mul().set(w);
    // R = z·(Lg1 + w·Lg3) + w·(Lg2 + w·Lg4)
    f.get(w).f32x4(LG[2]).f32x4Mul().f32x4(LG[0]).f32x4Add().get(z).f32x4Mul();
    f.get(w).f32x4(LG[3]).f32x4Mul().f32x4(LG[1]).f32x4Add().get(w).f32x4Mul();
    f.f32x4Add().set(z); // z ← R
    f.get(fl).get(fl).f32x4Mul().f32x4(0.5).f32x4Mul().set(h);
    // s·(h + R) + k·ln2_lo − h + f + k·ln2_hi, in musl's order
    f.get(s).get(h).get(z).f32x4Add().f32x4Mul();
    f.get(dk).f32x4(LN2_LO).f32x4Mul().f32x4Add();
    f.get(h).f32x4Sub().get(fl).f32x4Add();
    f.get(dk).f32x4(LN2_HI).f32x4Mul().f32x4Add();
    if (inRange) return;
    const res = this.t('log.res');
    f.set(res);
    f.get(res).get(x).get(x).f32x4(Infinity).f32x4Lt().v128Bitselect().set(res); // +∞, NaN: x itself
    f.f32x4(NaN).get(res).get(x).f32x4(0).f32x4Lt().v128Bitselect().set(res);
    f.f32x4(-Infinity).get(res).get(x).f32x4(0).f32x4Eq().v128Bitselect();
  }

  /**
   * tanh x: on |x| < 0.625 Cephes' odd polynomial |x| + |x|·s·P(s), s = x²; beyond,
   * 1 − 2/(e^{2|x|} + 1). The sign of x is put back last, so tanh(−0) = −0.
   */
  tanh(x: Local): void {
    const f = this.f;
    const [a, big, s] = [this.t('tanh.a'), this.t('tanh.big'), this.t('tanh.s')];
    f.get(x).f32x4Abs().tee(a).get(a).f32x4Add().set(big);
    this.exp(big);
    f.f32x4(1).f32x4Add().set(big);
    f.f32x4(1).f32x4(2).get(big).f32x4Div().f32x4Sub().set(big);
    f.get(a).get(a).f32x4Mul().set(s);
    f.f32x4(TANH_P[0]);
    for (let i = 1; i < TANH_P.length; i++) f.get(s).f32x4Mul().f32x4(TANH_P[i]!).f32x4Add();
    f.get(s).f32x4Mul().get(a).f32x4Mul().get(a).f32x4Add();
    f.get(big).get(a).f32x4(0.625).f32x4Lt().v128Bitselect();
    f.get(x).i32x4(SIGN_BIT).v128And().v128Or();
  }

  /** 1/(1 + e^−x) as num/(1 + e) with e = e^{−|x|} and num = 1 (x ≥ 0) or e (x < 0): never overflows. */
  sigmoid(x: Local): void {
    const f = this.f;
    const [na, e] = [this.t('sig.na'), this.t('sig.e')];
    f.get(x).i32x4(SIGN_BIT).v128Or().set(na);
    this.exp(na, true);
    f.set(e);
    f.get(e).f32x4(1).get(x).f32x4(0).f32x4Lt().v128Bitselect();
    f.get(e).f32x4(1).f32x4Add().f32x4Div();
  }

  /**
   * ln(1 + e^x) = max(x, 0) + log1p(e^{−|x|}), with log1p(e) = ln(u) + (e − (u − 1))/u for
   * u = 1 + e (u − 1 is exact, the quotient restores what rounding u lost).
   */
  softplus(x: Local): void {
    const f = this.f;
    const [na, e, u] = [this.t('sp.na'), this.t('sp.e'), this.t('sp.u')];
    f.get(x).i32x4(SIGN_BIT).v128Or().set(na);
    this.exp(na, true);
    f.tee(e).f32x4(1).f32x4Add().set(u);
    this.log(u, true);
    f.get(e).get(u).f32x4(1).f32x4Sub().f32x4Sub().get(u).f32x4Div().f32x4Add();
    f.get(x).f32x4(0).f32x4Pmax().f32x4Add();
  }
}


const SIGN_BIT = -0x80000000;
const MAGIC = 12582912 + 254;
const MAGIC_BIASED = 12582912 + 127;
/** −127·ln2: there expNonPositiveFlush's scale factor is exactly 0. */
const EXP_ZERO_BELOW = -127 * Math.LN2;
/** e^t ≈ 1 + t·(p0 + p1·t + … + p4·t⁴) on |t| ≤ 1.01·ln2/2 (Remez, relative). */
const EXP_P = [0.9999997019767761, 0.49999114871025085, 0.16667675971984863, 0.041902557015419006, 0.0082894591614604] as const;
const LN2_C1 = 0.693359375;
const LN2_C2 = -2.12194440e-4;
/** e^r ≈ 1 + r + r²·(q0 + q1·r + q2·r² + q3·r³ + q4·r⁴) on |r| ≤ 1.02·ln2/2 (Remez, relative). */
const EXP_Q = [0.49999994039535522, 0.16666509211063385, 0.04166852682828903, 0.008370134979486465, 0.0013811662793159485] as const;

const FLT_MIN = 1.1754943508222875e-38;
const SQRT_HALF_BITS = 0x3f3504f3;
const LN2_HI = 0.693138122559; // 0x3f317180: k·LN2_HI is exact for |k| < 2¹²
const LN2_LO = 9.0580006145e-6;
/** musl's Lg1–Lg4 (0xaaaaaa·2⁻²⁴, 0xccce13·2⁻²⁵, 0x91e9ee·2⁻²⁵, 0xf89e26·2⁻²⁶). */
const LG = [0.6666666269302368, 0.40000972151756287, 0.2849878668785095, 0.24279078841209412] as const;
/** Cephes tanhf, highest power first. */
const TANH_P = [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1] as const;
