import type { ReduceOp } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import type { Shape } from '../../tensor/shape.js';

/**
 * Reduction over any set of axes. Dims are grouped into alternating kept/reduced blocks; the input is
 * walked once in memory order, so both "reduce rows" and "reduce columns" stay streaming.
 */
export function reduceInto(op: ReduceOp, x: TypedArray, shape: Shape, axes: readonly number[], out: TypedArray): void {
  const init = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
  out.fill(init);
  if (x.length === 0) return;
  // Collapse into blocks of consecutive dims that are all kept or all reduced.
  const blockSize: number[] = [];
  const blockReduced: boolean[] = [];
  for (let i = 0; i < shape.length; i++) {
    const reduced = axes.includes(i);
    const d = shape[i]!;
    const last = blockSize.length - 1;
    if (last >= 0 && blockReduced[last] === reduced) blockSize[last] = blockSize[last]! * d;
    else {
      blockSize.push(d);
      blockReduced.push(reduced);
    }
  }
  if (blockSize.length === 0) {
    blockSize.push(1);
    blockReduced.push(true);
  }
  // Output stride of each block (0 for reduced blocks).
  const outStride = new Array<number>(blockSize.length).fill(0);
  let s = 1;
  for (let i = blockSize.length - 1; i >= 0; i--) {
    if (!blockReduced[i]) {
      outStride[i] = s;
      s *= blockSize[i]!;
    }
  }
  const rank = blockSize.length;
  const inner = blockSize[rank - 1]!;
  const innerReduced = blockReduced[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let o = 0;
  for (let i = 0; i < x.length; i += inner) {
    if (innerReduced) {
      let acc = out[o]!;
      if (op === 'sum') for (let j = 0; j < inner; j++) acc += x[i + j]!;
      else if (op === 'max') for (let j = 0; j < inner; j++) { const v = x[i + j]!; if (v > acc || v !== v) acc = v; }
      else for (let j = 0; j < inner; j++) { const v = x[i + j]!; if (v < acc || v !== v) acc = v; }
      out[o] = acc;
    } else if (op === 'sum') for (let j = 0; j < inner; j++) out[o + j]! += x[i + j]!;
    else if (op === 'max') for (let j = 0; j < inner; j++) { const v = x[i + j]!; if (v > out[o + j]! || v !== v) out[o + j] = v; }
    else for (let j = 0; j < inner; j++) { const v = x[i + j]!; if (v < out[o + j]! || v !== v) out[o + j] = v; }
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      o += outStride[d]!;
      if (idx[d]! < blockSize[d]!) break;
      o -= outStride[d]! * blockSize[d]!;
      idx[d] = 0;
    }
  }
}

/** Index of the first maximum along `axis`. */
export function argmaxInto(x: TypedArray, shape: Shape, axis: number, out: TypedArray): void {
  const n = shape[axis]!;
  let inner = 1;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  const outer = out.length / inner;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      let best = x[base]!;
      let bestIdx = 0;
      for (let k = 1; k < n; k++) {
        const v = x[base + k * inner]!;
        if (v > best) {
          best = v;
          bestIdx = k;
        }
      }
      out[o * inner + j] = bestIdx;
    }
  }
}

/** Numerically stable softmax / log-softmax along `axis` (max subtracted first). */
export function softmaxInto(x: TypedArray, shape: Shape, axis: number, log: boolean, out: TypedArray): void {
  const n = shape[axis]!;
  let inner = 1;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  const outer = n === 0 ? 0 : x.length / (n * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      let max = -Infinity;
      for (let k = 0; k < n; k++) {
        const v = x[base + k * inner]!;
        if (v > max) max = v;
      }
      if (max === -Infinity) max = 0;
      let sum = 0;
      for (let k = 0; k < n; k++) sum += Math.exp(x[base + k * inner]! - max);
      if (log) {
        const logSum = Math.log(sum) + max;
        for (let k = 0; k < n; k++) out[base + k * inner] = x[base + k * inner]! - logSum;
      } else {
        const inv = 1 / sum;
        for (let k = 0; k < n; k++) out[base + k * inner] = Math.exp(x[base + k * inner]! - max) * inv;
      }
    }
  }
}
