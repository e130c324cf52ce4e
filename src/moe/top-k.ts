import { where } from '../autograd/ops/elementwise.js';
import { softmax } from '../autograd/ops/softmax.js';
import { allocArray, type DType } from '../tensor/dtype.js';
import { fromTypedArray } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * For each row of `values` [rows, n], the indices of its `count` largest entries, largest first
 * (ties go to the lower index, so the choice is deterministic).
 */
export function rowTopIndices(values: ArrayLike<number>, rows: number, n: number, count: number): Int32Array {
  const out = new Int32Array(rows * count);
  const taken = new Uint8Array(n);
  for (let r = 0; r < rows; r++) {
    taken.fill(0);
    const base = r * n;
    for (let c = 0; c < count; c++) {
      let best = -1;
      for (let e = 0; e < n; e++) {
        if (taken[e]) continue;
        if (best < 0 || values[base + e]! > values[base + best]!) best = e;
      }
      taken[best] = 1;
      out[r * count + c] = best;
    }
  }
  return out;
}

/** A 0/1 tensor [rows, n] with ones at the first `count` of each row's `ranked` indices (of `perRow`). */
export function indexMask(ranked: Int32Array, perRow: number, count: number, rows: number, n: number, dtype: DType, offset = 0): Tensor {
  const mask = allocArray(dtype, rows * n);
  for (let r = 0; r < rows; r++) {
    for (let c = offset; c < offset + count; c++) mask[r * n + ranked[r * perRow + c]!] = 1;
  }
  return fromTypedArray(mask, [rows, n]);
}

/**
 * softmax over the k largest logits of each row, exactly 0 elsewhere. The top-k set is chosen by index
 * (never by testing logits for 0); unselected logits are replaced by −∞ so they get weight and gradient 0.
 */
export function topKSoftmax(logits: Tensor, k: number): { weights: Tensor; mask: Tensor; ranked: Int32Array } {
  const [rows, n] = logits.shape as [number, number];
  const ranked = rowTopIndices(logits.toArray(), rows, n, Math.min(n, k + 1));
  const perRow = Math.min(n, k + 1);
  const mask = indexMask(ranked, perRow, k, rows, n, logits.dtype);
  return { weights: softmax(where(mask, logits, -Infinity), -1), mask, ranked };
}
