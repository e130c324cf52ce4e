import type { ReduceOp } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import type { Shape } from '../../tensor/shape.js';

/**
 * Reduction over any set of axes. Dims are grouped into alternating kept/reduced blocks; the input is
 * walked once in memory order, so both "reduce rows" and "reduce columns" stay streaming.
 * Sums of float32 data accumulate in float64 and are rounded once at the end. NaN propagates
 * through max/min. An empty reduction gives the identity (0, −∞ for max, +∞ for min).
 */
export function reduceInto(op: ReduceOp, x: TypedArray, shape: Shape, axes: readonly number[], out: TypedArray): void {
  const init = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
  out.fill(init);
  if (x.length === 0) return;
  const acc = op === 'sum' && out instanceof Float32Array ? new Float64Array(out.length) : out;
  // Collapse into blocks of consecutive dims that are all kept or all reduced (size-1 dims vanish).
  const blockSize: number[] = [];
  const blockReduced: boolean[] = [];
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === 1) continue;
    const reduced = axes.includes(i);
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
  const row = blockReduced[rank - 1]! ? (op === 'sum' ? sumRow : op === 'max' ? maxRow : minRow) : null;
  const cols = blockReduced[rank - 1]! ? null : op === 'sum' ? sumCols : op === 'max' ? maxCols : minCols;
  const idx = new Array<number>(rank).fill(0);
  let o = 0;
  for (let i = 0; i < x.length; i += inner) {
    if (row) acc[o] = row(x, i, inner, acc[o]!);
    else cols!(x, i, inner, acc, o);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      o += outStride[d]!;
      if (idx[d]! < blockSize[d]!) break;
      o -= outStride[d]! * blockSize[d]!;
      idx[d] = 0;
    }
  }
  if (acc !== out) out.set(acc);
}

// One contiguous run reduced into a single value.
function sumRow(x: TypedArray, start: number, n: number, acc: number): number {
  for (let j = start, end = start + n; j < end; j++) acc += x[j]!;
  return acc;
}
function maxRow(x: TypedArray, start: number, n: number, acc: number): number {
  for (let j = start, end = start + n; j < end; j++) {
    const v = x[j]!;
    if (v > acc || v !== v) acc = v;
    if (acc !== acc) break;
  }
  return acc;
}
function minRow(x: TypedArray, start: number, n: number, acc: number): number {
  for (let j = start, end = start + n; j < end; j++) {
    const v = x[j]!;
    if (v < acc || v !== v) acc = v;
    if (acc !== acc) break;
  }
  return acc;
}

// One contiguous run folded elementwise into `n` outputs (reducing an outer axis).
function sumCols(x: TypedArray, start: number, n: number, acc: TypedArray, o: number): void {
  for (let j = 0; j < n; j++) acc[o + j] = acc[o + j]! + x[start + j]!;
}
function maxCols(x: TypedArray, start: number, n: number, acc: TypedArray, o: number): void {
  for (let j = 0; j < n; j++) {
    const v = x[start + j]!;
    if (v > acc[o + j]! || v !== v) acc[o + j] = v;
  }
}
function minCols(x: TypedArray, start: number, n: number, acc: TypedArray, o: number): void {
  for (let j = 0; j < n; j++) {
    const v = x[start + j]!;
    if (v < acc[o + j]! || v !== v) acc[o + j] = v;
  }
}

/** Splits `shape` around `axis` into (outer, n, inner) for axis-wise kernels. */
function around(shape: Shape, axis: number): { outer: number; n: number; inner: number } {
  const n = shape[axis]!;
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  let inner = 1;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  return { outer, n, inner };
}

/** Index of the first maximum along `axis` (the first NaN wins, as in NumPy). */
export function argmaxInto(x: TypedArray, shape: Shape, axis: number, out: TypedArray): void {
  const { outer, n, inner } = around(shape, axis);
  if (n === 0) return;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      let best = x[base]!;
      let bestIdx = 0;
      for (let k = 1; k < n && best === best; k++) {
        const v = x[base + k * inner]!;
        if (v > best || v !== v) {
          best = v;
          bestIdx = k;
        }
      }
      out[o * inner + j] = bestIdx;
    }
  }
}

/**
 * Numerically stable softmax / log-softmax along `axis`: the max is subtracted first, so inputs of
 * ±1000 neither overflow nor underflow to 0/0. A lane that is entirely −∞ has no defined softmax and
 * gives NaN (as in NumPy and PyTorch).
 */
export function softmaxInto(x: TypedArray, shape: Shape, axis: number, log: boolean, out: TypedArray): void {
  const { outer, n, inner } = around(shape, axis);
  if (n === 0 || outer * inner === 0) return;
  if (inner === 1) {
    for (let o = 0; o < outer; o++) softmaxRow(x, out, o * n, n, log);
    return;
  }
  // Reducing a non-last axis: sweep the lanes of one outer block together so memory stays sequential.
  const max = new Float64Array(inner);
  const sum = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    max.fill(-Infinity);
    for (let k = 0; k < n; k++) {
      const row = base + k * inner;
      for (let j = 0; j < inner; j++) {
        const v = x[row + j]!;
        if (v > max[j]! || v !== v) max[j] = v;
      }
    }
    sum.fill(0);
    for (let k = 0; k < n; k++) {
      const row = base + k * inner;
      for (let j = 0; j < inner; j++) {
        const e = Math.exp(x[row + j]! - max[j]!);
        sum[j] = sum[j]! + e;
        if (!log) out[row + j] = e;
      }
    }
    for (let j = 0; j < inner; j++) sum[j] = log ? Math.log(sum[j]!) + max[j]! : 1 / sum[j]!;
    for (let k = 0; k < n; k++) {
      const row = base + k * inner;
      if (log) for (let j = 0; j < inner; j++) out[row + j] = x[row + j]! - sum[j]!;
      else for (let j = 0; j < inner; j++) out[row + j] = out[row + j]! * sum[j]!;
    }
  }
}

function softmaxRow(x: TypedArray, out: TypedArray, start: number, n: number, log: boolean): void {
  const end = start + n;
  let max = -Infinity;
  for (let k = start; k < end; k++) {
    const v = x[k]!;
    if (v > max || v !== v) max = v;
  }
  let sum = 0;
  if (log) {
    for (let k = start; k < end; k++) sum += Math.exp(x[k]! - max);
    const logSum = Math.log(sum) + max;
    for (let k = start; k < end; k++) out[k] = x[k]! - logSum;
    return;
  }
  // Store the exponentials once and rescale them: one exp per element.
  for (let k = start; k < end; k++) {
    const e = Math.exp(x[k]! - max);
    out[k] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let k = start; k < end; k++) out[k] = out[k]! * inv;
}
