import type { AdamUpdateArgs, FusedActivation, MixTerm } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';

/**
 * Fused kernels: several elementwise steps in one pass over memory and one output array, where a
 * training-step profile showed the separate kernels' passes and allocations to dominate (a dense
 * layer's bias + ReLU and its backward, the Adam update). Arithmetic runs in JS doubles and is
 * rounded once when stored.
 */

/** out = activation(x + bias) with `bias` repeated over the rows of x (rows of length `cols`). */
export function biasActivationInto(x: TypedArray, bias: TypedArray | null, cols: number, activation: FusedActivation, out: TypedArray): void {
  const n = out.length;
  // One loop per case: invariant tests inside the hot loop cost ~1.5× here.
  if (bias === null) {
    if (activation === 'relu') for (let i = 0; i < n; i++) out[i] = reluOf(x[i]!);
    else out.set(x);
    return;
  }
  if (activation === 'relu') {
    for (let o = 0; o < n; o += cols) for (let j = 0; j < cols; j++) out[o + j] = reluOf(x[o + j]! + bias[j]!);
    return;
  }
  for (let o = 0; o < n; o += cols) for (let j = 0; j < cols; j++) out[o + j] = x[o + j]! + bias[j]!;
}

/**
 * max(s, 0) without a data-dependent branch (one on random signs mispredicts about half the time,
 * ~4× slower here): + 0 turns −0 into 0; the rare NaN (s = −∞ or NaN) takes a predictable branch.
 * Exact: −0, −∞ and negatives give 0; positives and NaN pass, as Math.max(s, 0) does.
 */
function reluOf(s: number): number {
  const r = s * +(s > 0) + 0;
  return r === r ? r : s !== s ? s : 0;
}

/**
 * gx = g · activation'(·) from the activation's output y (ReLU: g·[y > 0], and y > 0 exactly where
 * the pre-activation is), plus, when `biasOut` is given, Σ over rows of gx into it (rows of length
 * `cols`, summed in doubles in row order, as the reduce kernel does; g·0 and g·1 are exact, so the
 * sums see exactly the stored gx).
 */
export function biasActivationGradInto(
  activation: FusedActivation,
  g: TypedArray,
  y: TypedArray,
  cols: number,
  gx: TypedArray,
  biasOut: TypedArray | null,
): void {
  const n = gx.length;
  const relu = activation === 'relu';
  if (biasOut === null) {
    // The 0/1 from the comparison multiplies instead of branching; NaN/∞·0 = NaN as mul(g, step(x)) gave.
    if (relu) for (let i = 0; i < n; i++) gx[i] = g[i]! * +(y[i]! > 0);
    else gx.set(g);
    return;
  }
  const acc = new Float64Array(cols);
  if (relu) {
    for (let o = 0; o < n; o += cols) {
      for (let j = 0; j < cols; j++) {
        const v = g[o + j]! * +(y[o + j]! > 0);
        gx[o + j] = v;
        acc[j] = acc[j]! + v;
      }
    }
  } else {
    for (let o = 0; o < n; o += cols) {
      for (let j = 0; j < cols; j++) {
        const v = g[o + j]!;
        gx[o + j] = v;
        acc[j] = acc[j]! + v;
      }
    }
  }
  biasOut.set(acc);
}

/**
 * out[r, :] = Σ_i q[r, c_i] · f_i[k, :] with r = rows_i[k] (or k), accumulated in doubles, each
 * output row's terms in order; a weight that is exactly 0 is skipped (it adds exactly 0), so results
 * equal a sum over the non-zero terms.
 */
export function mixRowsInto(q: TypedArray, qCols: number, terms: readonly MixTerm<TypedArray>[], rows: number, cols: number, out: TypedArray): void {
  const acc = scratch(rows * cols);
  acc.fill(0, 0, rows * cols);
  for (const { f, column, rows: index } of terms) {
    const count = index ? index.length : rows;
    for (let k = 0; k < count; k++) {
      const r = index ? index[k]! : k;
      const w = q[r * qCols + column]!;
      if (w === 0) continue;
      const src = k * cols;
      const dst = r * cols;
      for (let j = 0; j < cols; j++) acc[dst + j] = acc[dst + j]! + w * f[src + j]!;
    }
  }
  for (let i = 0; i < rows * cols; i++) out[i] = acc[i]!;
}

let scratchArray = new Float64Array(0);
function scratch(n: number): Float64Array {
  if (scratchArray.length < n) scratchArray = new Float64Array(n);
  return scratchArray;
}

/**
 * mixRows' backward: gq[r, c_i] += Σ_j g[r, j]·f_i[k, j] (gq starts at 0; dots in doubles) and
 * gfs[i][k, :] = q[r, c_i]·g[r, :], with r = rows_i[k] (or k). Null entries are not computed.
 */
export function mixRowsGradInto(
  q: TypedArray,
  qCols: number,
  terms: readonly MixTerm<TypedArray>[],
  g: TypedArray,
  rows: number,
  cols: number,
  gq: TypedArray | null,
  gfs: readonly (TypedArray | null)[],
): void {
  terms.forEach(({ f, column, rows: index }, i) => {
    const gf = gfs[i];
    const count = index ? index.length : rows;
    for (let k = 0; k < count; k++) {
      const r = index ? index[k]! : k;
      const src = k * cols;
      const gRow = r * cols;
      if (gf) {
        const w = q[r * qCols + column]!;
        for (let j = 0; j < cols; j++) gf[src + j] = w * g[gRow + j]!;
      }
      if (gq) {
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += g[gRow + j]! * f[src + j]!;
        gq[r * qCols + column] = gq[r * qCols + column]! + dot;
      }
    }
  });
}

/**
 * Adam / AdamW (PyTorch): g' = g + λp (Adam with L2), m ← β1 m + (1−β1) g', v ← β2 v + (1−β2) g'²,
 * p ← p' − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps) with p' = p (Adam) or p·(1 − lr·λ) (AdamW).
 * The update uses this step's m and v before they are rounded for storage (one fewer rounding; a
 * resumed run still repeats exactly, since every step starts from the stored values).
 */
export function adamUpdateInto(
  p: TypedArray,
  g: TypedArray,
  m: TypedArray,
  v: TypedArray,
  args: AdamUpdateArgs,
  outP: TypedArray,
  outM: TypedArray,
  outV: TypedArray,
): void {
  const { lr, beta1, beta2, eps, weightDecay, decoupled, step } = args;
  const stepSize = lr / (1 - beta1 ** step);
  const invSqrtBc2 = 1 / Math.sqrt(1 - beta2 ** step);
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const l2 = decoupled ? 0 : weightDecay;
  const shrink = decoupled ? 1 - lr * weightDecay : 1;
  const n = outP.length;
  for (let i = 0; i < n; i++) {
    const pi = p[i]!;
    const gi = l2 === 0 ? g[i]! : g[i]! + l2 * pi;
    const mi = beta1 * m[i]! + c1 * gi;
    const vi = beta2 * v[i]! + c2 * gi * gi;
    outM[i] = mi;
    outV[i] = vi;
    outP[i] = (shrink === 1 ? pi : pi * shrink) - (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + eps);
  }
}
