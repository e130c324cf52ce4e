import { alloc, allocOverwritten, dataOf, wrapOutput } from '../../kernels/cpu/host.js';
import type { TypedArray } from '../../tensor/dtype.js';
import type { Shape } from '../../tensor/shape.js';
import type { BiasActivationKernels, FusedActivation } from './kernels.js';
import { biasActivationWasm, reluGradWasm } from './wasm.js';

/**
 * A dense layer's epilogue in one pass over memory (a training-step profile showed the separate
 * kernels' passes and allocations to dominate). Arithmetic runs in JS doubles and is rounded once
 * when stored; float32 rows of a multiple of 4 run on the SIMD kernels of wasm.ts.
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

function lastDim(shape: Shape): number {
  return shape.length > 0 ? shape[shape.length - 1]! : 1;
}

export const cpuBiasActivation: BiasActivationKernels = {
  forward(x, shape, bias, activation) {
    const out = allocOverwritten(x.dtype, x.size);
    const cols = lastDim(shape);
    const xs = dataOf(x);
    const b = bias && dataOf(bias);
    if (!(b && biasActivationWasm(xs, b, cols, activation === 'relu', out))) biasActivationInto(xs, b, cols, activation, out);
    return wrapOutput(out);
  },
  backward(activation, g, y, shape, withBias) {
    const cols = lastDim(shape);
    const gx = allocOverwritten(g.dtype, g.size);
    const bias = withBias ? alloc(g.dtype, cols) : null;
    if (!(activation === 'relu' && reluGradWasm(dataOf(g), dataOf(y), cols, gx, bias))) biasActivationGradInto(activation, dataOf(g), dataOf(y), cols, gx, bias);
    return { x: wrapOutput(gx), bias: bias && wrapOutput(bias) };
  },
};
