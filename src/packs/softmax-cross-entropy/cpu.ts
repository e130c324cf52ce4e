import { allocOverwritten, dataOf, wrapOutput } from '../../kernels/cpu/host.js';
import type { TypedArray } from '../../tensor/dtype.js';
import type { SoftmaxCrossEntropyKernels } from './kernels.js';
import { softmaxCrossEntropyGradWasm, softmaxCrossEntropyWasm } from './wasm.js';

/**
 * Softmax cross-entropy per row in one pass each way (the composite logSoftmax · one-hot, sum,
 * negate took a one-hot tensor and five kernels forward). Arithmetic in JS doubles, rounded once
 * when stored: the reference for wasm.ts's float32 SIMD kernels, and the float64 kernels.
 */

/**
 * lse[r] = m′ + log Σ exp(x − m′) with m′ the row max where finite, else 0 (as the composed
 * logsumexp: a row of −∞ gives −∞, +∞ in it +∞, NaN NaN); loss[r] = lse[r] − x[r, labels[r]].
 */
export function softmaxCrossEntropyInto(x: TypedArray, labels: Int32Array, rows: number, cols: number, loss: TypedArray, lse: TypedArray): void {
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    let m = -Infinity;
    for (let j = o; j < o + cols; j++) {
      const v = x[j]!;
      if (v > m || v !== v) m = v;
    }
    const shift = Math.abs(m) < Infinity ? m : 0;
    let sum = 0;
    for (let j = o; j < o + cols; j++) sum += Math.exp(x[j]! - shift);
    const l = shift + Math.log(sum);
    lse[r] = l;
    loss[r] = l - x[o + labels[r]!]!;
  }
}

/** dx[r, j] = exp(x[r, j] − lse[r])·g[r], and (exp(…) − 1)·g[r] at j = labels[r]. */
export function softmaxCrossEntropyGradInto(g: TypedArray, x: TypedArray, lse: TypedArray, labels: Int32Array, rows: number, cols: number, dx: TypedArray): void {
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    const [l, gr] = [lse[r]!, g[r]!];
    for (let j = o; j < o + cols; j++) dx[j] = Math.exp(x[j]! - l) * gr;
    const at = o + labels[r]!;
    dx[at] = (Math.exp(x[at]! - l) - 1) * gr;
  }
}

export const cpuSoftmaxCrossEntropy: SoftmaxCrossEntropyKernels = {
  forward(logits, labels, rows, cols) {
    const x = dataOf(logits);
    const loss = allocOverwritten(logits.dtype, rows);
    const lse = allocOverwritten(logits.dtype, rows);
    if (!softmaxCrossEntropyWasm(x, labels, rows, cols, loss, lse)) softmaxCrossEntropyInto(x, labels, rows, cols, loss, lse);
    return { loss: wrapOutput(loss), lse: wrapOutput(lse) };
  },
  backward(g, logits, lse, labels, rows, cols) {
    const [gs, x, ls] = [dataOf(g), dataOf(logits), dataOf(lse)];
    const dx = allocOverwritten(logits.dtype, rows * cols);
    if (!softmaxCrossEntropyGradWasm(gs, x, ls, labels, rows, cols, dx)) softmaxCrossEntropyGradInto(gs, x, ls, labels, rows, cols, dx);
    return wrapOutput(dx);
  },
};
