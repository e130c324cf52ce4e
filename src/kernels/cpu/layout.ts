import type { TypedArray } from '../../tensor/dtype.js';
import { stridesOf, type Shape } from '../../tensor/shape.js';
import { planBroadcast } from './elementwise.js';

/**
 * Layout kernels: copies between row-major arrays. Neighbouring dims that stay contiguous are merged
 * first, so the inner loop is as long as possible; contiguous runs are copied with `set`.
 */

/** Runs shorter than this are copied by a loop (a `subarray` view costs an allocation). */
const SHORT_RUN = 24;

function copyRun(src: TypedArray, from: number, dst: TypedArray, to: number, n: number): void {
  if (n < SHORT_RUN) {
    for (let i = 0; i < n; i++) dst[to + i] = src[from + i]!;
  } else {
    dst.set(src.subarray(from, from + n), to);
  }
}

function addRun(src: TypedArray, from: number, dst: TypedArray, to: number, n: number): void {
  for (let i = 0; i < n; i++) dst[to + i]! += src[from + i]!;
}

/** A strided walk: `dims` (outermost first) with the matching element strides of the strided side. */
interface StridedView {
  dims: number[];
  strides: number[];
}

/** Drops size-1 dims and merges dim i into i+1 when stride[i] = stride[i+1]·dims[i+1]. */
function collapse(dims: readonly number[], strides: readonly number[]): StridedView {
  const out: StridedView = { dims: [], strides: [] };
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i]!;
    if (d === 1) continue;
    const last = out.dims.length - 1;
    if (last >= 0 && out.strides[last] === strides[i]! * d) {
      out.dims[last] = out.dims[last]! * d;
      out.strides[last] = strides[i]!;
    } else {
      out.dims.push(d);
      out.strides.push(strides[i]!);
    }
  }
  if (out.dims.length === 0) {
    out.dims.push(1);
    out.strides.push(1);
  }
  return out;
}

/**
 * Copies between a contiguous array and a strided view of another.
 * `gatherMode`: strided → contiguous (out[o++] = src[view]); otherwise contiguous → strided.
 */
function stridedCopy(strided: TypedArray, offset: number, view: StridedView, contiguous: TypedArray, gatherMode: boolean): void {
  const { dims, strides } = view;
  const rank = dims.length;
  const inner = dims[rank - 1]!;
  const innerStride = strides[rank - 1]!;
  const total = dims.reduce((p, d) => p * d, 1);
  if (total === 0) return;
  const idx = new Int32Array(rank);
  let p = offset;
  for (let o = 0; o < total; o += inner) {
    if (innerStride === 1) {
      if (gatherMode) copyRun(strided, p, contiguous, o, inner);
      else copyRun(contiguous, o, strided, p, inner);
    } else if (gatherMode) {
      for (let j = 0, q = p; j < inner; j++, q += innerStride) contiguous[o + j] = strided[q]!;
    } else {
      for (let j = 0, q = p; j < inner; j++, q += innerStride) strided[q] = contiguous[o + j]!;
    }
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      p += strides[d]!;
      if (idx[d]! < dims[d]!) break;
      p -= strides[d]! * dims[d]!;
      idx[d] = 0;
    }
  }
}

const TILE = 32;

/**
 * out[..., i, j] = x[base + i + j·s]: the last two output dims are a transposed matrix whose
 * columns are contiguous in x. Copied tile by tile so both sides stay in cache.
 */
function tiledTranspose(x: TypedArray, view: StridedView, out: TypedArray): void {
  const { dims, strides } = view;
  const rank = dims.length;
  const rows = dims[rank - 2]!;
  const cols = dims[rank - 1]!;
  const colStride = strides[rank - 1]!;
  const matrix = rows * cols;
  const batch = dims.slice(0, rank - 2);
  const batchStrides = strides.slice(0, rank - 2);
  const batchCount = batch.reduce((p, d) => p * d, 1);
  const idx = new Int32Array(batch.length);
  let base = 0;
  for (let t = 0; t < batchCount; t++) {
    const o = t * matrix;
    for (let i0 = 0; i0 < rows; i0 += TILE) {
      const i1 = Math.min(rows, i0 + TILE);
      for (let j0 = 0; j0 < cols; j0 += TILE) {
        const j1 = Math.min(cols, j0 + TILE);
        for (let j = j0; j < j1; j++) {
          const src = base + j * colStride;
          for (let i = i0; i < i1; i++) out[o + i * cols + j] = x[src + i]!;
        }
      }
    }
    for (let d = batch.length - 1; d >= 0; d--) {
      idx[d]!++;
      base += batchStrides[d]!;
      if (idx[d]! < batch[d]!) break;
      base -= batchStrides[d]! * batch[d]!;
      idx[d] = 0;
    }
  }
}

/** Contiguous copy with dims reordered: out dim i = in dim perm[i]. */
export function permuteInto(x: TypedArray, shape: Shape, perm: readonly number[], out: TypedArray): void {
  const inStrides = stridesOf(shape);
  const view = collapse(
    perm.map((p) => shape[p]!),
    perm.map((p) => inStrides[p]!),
  );
  const rank = view.dims.length;
  if (rank >= 2 && view.strides[rank - 1] !== 1 && view.strides[rank - 2] === 1 && view.dims[rank - 1]! > 1) {
    tiledTranspose(x, view, out);
  } else {
    stridedCopy(x, 0, view, out, true);
  }
}

export function broadcastToInto(x: TypedArray, shape: Shape, outShape: Shape, out: TypedArray): void {
  const plan = planBroadcast([shape], outShape);
  if (plan.kind === 'same') {
    out.set(x);
    return;
  }
  const { dims } = plan;
  const sx = plan.strides[0]!;
  const rank = dims.length;
  const inner = dims[rank - 1]!;
  const innerStride = sx[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let px = 0;
  for (let o = 0; o < out.length; o += inner) {
    if (innerStride === 0) out.fill(x[px]!, o, o + inner);
    else copyRun(x, px, out, o, inner);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      px += sx[d]!;
      if (idx[d]! < dims[d]!) break;
      px -= sx[d]! * dims[d]!;
      idx[d] = 0;
    }
  }
}

function boxOffset(strides: readonly number[], begin: readonly number[]): number {
  let offset = 0;
  for (let i = 0; i < begin.length; i++) offset += begin[i]! * strides[i]!;
  return offset;
}

/** The box [begin, begin + size) of `x` (begin/size have one entry per dim). */
export function sliceInto(x: TypedArray, shape: Shape, begin: readonly number[], size: readonly number[], out: TypedArray): void {
  const strides = stridesOf(shape);
  stridedCopy(x, boxOffset(strides, begin), collapse(size, strides), out, true);
}

/** Zeros of `outShape` with `x` written at `begin` (slice's adjoint). */
export function padInto(x: TypedArray, shape: Shape, begin: readonly number[], outShape: Shape, out: TypedArray): void {
  out.fill(0);
  const strides = stridesOf(outShape);
  stridedCopy(out, boxOffset(strides, begin), collapse(shape, strides), x, false);
}

function outerInner(shape: Shape, axis: number): { outer: number; inner: number } {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  return { outer, inner };
}

/** Joins along `axis`: per outer index, each input contributes one contiguous run. */
export function concatInto(xs: readonly TypedArray[], shapes: readonly Shape[], axis: number, out: TypedArray): void {
  const { outer, inner } = outerInner(shapes[0]!, axis);
  const runs = shapes.map((s) => s[axis]! * inner);
  let o = 0;
  for (let t = 0; t < outer; t++) {
    for (let k = 0; k < xs.length; k++) {
      const run = runs[k]!;
      copyRun(xs[k]!, t * run, out, o, run);
      o += run;
    }
  }
}

/** Selects `indices` (assumed in range) along `axis`. */
export function gatherInto(x: TypedArray, shape: Shape, indices: Int32Array, axis: number, out: TypedArray): void {
  const { outer, inner } = outerInner(shape, axis);
  const dim = shape[axis]!;
  const count = indices.length;
  let o = 0;
  for (let t = 0; t < outer; t++) {
    const base = t * dim;
    if (inner === 1) {
      for (let j = 0; j < count; j++) out[o++] = x[base + indices[j]!]!;
    } else {
      for (let j = 0; j < count; j++, o += inner) copyRun(x, (base + indices[j]!) * inner, out, o, inner);
    }
  }
}

/** Zeros of `outShape` with the slices of `g` added at `indices` along `axis` (repeats accumulate). */
export function scatterAddInto(g: TypedArray, gShape: Shape, indices: Int32Array, axis: number, outShape: Shape, out: TypedArray): void {
  out.fill(0);
  const { outer, inner } = outerInner(gShape, axis);
  const dim = outShape[axis]!;
  const count = indices.length;
  let p = 0;
  for (let t = 0; t < outer; t++) {
    const base = t * dim;
    if (inner === 1) {
      for (let j = 0; j < count; j++) out[base + indices[j]!]! += g[p++]!;
    } else {
      for (let j = 0; j < count; j++, p += inner) addRun(g, p, out, (base + indices[j]!) * inner, inner);
    }
  }
}

/** Rows of length `depth` with a 1 at each (in-range) index. */
export function oneHotInto(indices: Int32Array, depth: number, out: TypedArray): void {
  out.fill(0);
  for (let i = 0; i < indices.length; i++) out[i * depth + indices[i]!] = 1;
}
