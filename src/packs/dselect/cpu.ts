import { alloc, allocOverwritten, dataOf, wrapOutput } from '../../kernels/cpu/host.js';
import type { TypedArray } from '../../tensor/dtype.js';
import type { DSelectKernels } from './kernels.js';

/**
 * DSelect-k kernels (Hazimeh et al., 2021). Arithmetic runs in JS doubles and is stored in the
 * output's dtype, so float32 and float64 share one code path.
 */

/**
 * Smooth-step S(x) = −2x³/γ³ + 3x/(2γ) + 1/2 on (−γ/2, γ/2), 0 below, 1 above; with `derivative`,
 * S'(x) = (3/(2γ))·(1 − 4x²/γ²) inside and exactly 0 outside. At x = ±γ/2 the constant branch is
 * taken (S' = 0). Computed through u = x/γ (S = u·(3/2 − 2u²) + 1/2), so γ³ never under- or
 * overflows (γ = 1e-300 would make −2/γ³ infinite and S(0) NaN). NaN propagates.
 */
export function smoothStepInto(x: TypedArray, gamma: number, derivative: boolean, out: TypedArray): void {
  const half = gamma / 2;
  const n = x.length;
  if (derivative) {
    const scale = 1.5 / gamma;
    for (let i = 0; i < n; i++) {
      const t = x[i]!;
      const u = t / gamma;
      out[i] = t <= -half || t >= half ? 0 : scale * (1 - 4 * u * u);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const t = x[i]!;
    const u = t / gamma;
    out[i] = t <= -half ? 0 : t >= half ? 1 : u * (1.5 - 2 * u * u) + 0.5;
  }
}

/**
 * out[row, e] = Π_j f_{e,j}, f_{e,j} = s[row, j] if bit j of e is set else 1 − s[row, j], bits most
 * significant first: bit j of e is (e >> (m − 1 − j)) & 1. The product runs j = 0..m−1 in order.
 */
export function selectorForwardInto(s: TypedArray, rows: number, m: number, numExperts: number, out: TypedArray): void {
  for (let row = 0; row < rows; row++) {
    const sOff = row * m;
    const oOff = row * numExperts;
    for (let e = 0; e < numExperts; e++) {
      let p = 1;
      for (let j = 0; j < m; j++) {
        const sj = s[sOff + j]!;
        p *= (e >> (m - 1 - j)) & 1 ? sj : 1 - sj;
      }
      out[oOff + e] = p;
    }
  }
}

/**
 * Gradient w.r.t. s of Σ_e g[row, e]·out[row, e]:
 *   out[row, j] = Σ_e g[row, e]·(2·bit_j(e) − 1)·Π_{l≠j} f_{e,l}.
 * The leave-one-out product is prefix[j]·suffix[j+1], so a factor that is exactly 0 (a saturated
 * smooth-step) never causes a division by zero.
 */
export function selectorBackwardInto(s: TypedArray, g: TypedArray, rows: number, m: number, numExperts: number, out: TypedArray): void {
  const factors = new Float64Array(m);
  const suffix = new Float64Array(m + 1);
  const acc = new Float64Array(m);
  for (let row = 0; row < rows; row++) {
    const sOff = row * m;
    const gOff = row * numExperts;
    acc.fill(0);
    for (let e = 0; e < numExperts; e++) {
      const ge = g[gOff + e]!;
      if (ge === 0) continue; // contributes exactly nothing (keeps a zero upstream gradient exact)
      for (let j = 0; j < m; j++) {
        const sj = s[sOff + j]!;
        factors[j] = (e >> (m - 1 - j)) & 1 ? sj : 1 - sj;
      }
      suffix[m] = 1;
      for (let j = m - 1; j >= 0; j--) suffix[j] = suffix[j + 1]! * factors[j]!;
      let prefix = 1;
      for (let j = 0; j < m; j++) {
        const leaveOneOut = prefix * suffix[j + 1]!;
        acc[j] = acc[j]! + ((e >> (m - 1 - j)) & 1 ? ge * leaveOneOut : -ge * leaveOneOut);
        prefix *= factors[j]!;
      }
    }
    for (let j = 0; j < m; j++) out[sOff + j] = acc[j]!;
  }
}

export const cpuDSelect: DSelectKernels = {
  smoothStep(x, gamma, derivative) {
    const out = allocOverwritten(x.dtype, x.size);
    smoothStepInto(dataOf(x), gamma, derivative, out);
    return wrapOutput(out);
  },
  selectorForward(s, rows, m, numExperts) {
    const out = allocOverwritten(s.dtype, rows * numExperts);
    selectorForwardInto(dataOf(s), rows, m, numExperts, out);
    return wrapOutput(out);
  },
  selectorBackward(s, g, rows, m, numExperts) {
    const out = alloc(s.dtype, rows * m);
    selectorBackwardInto(dataOf(s), dataOf(g), rows, m, numExperts, out);
    return wrapOutput(out);
  },
};
