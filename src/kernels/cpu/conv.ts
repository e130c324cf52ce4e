import type { Conv2dGeometry, PoolGeometry } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';

/**
 * Image kernels. Columns are laid out [N, C·kH·kW, outH·outW] with the row index (c·kH + kh)·kW + kw,
 * so a convolution is one batched matmul weight[F, C·kH·kW] @ cols.
 */

/** The output columns ow whose input column ow·stride − padding + kw lies inside [0, width). */
function validRange(kw: number, stride: number, padding: number, width: number, outW: number): [number, number] {
  const lo = Math.max(0, Math.ceil((padding - kw) / stride));
  const hi = Math.min(outW, Math.floor((width - 1 + padding - kw) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}

/**
 * Walks every (image, channel, kh, kw, oh) row segment of the columns and hands the visitor the
 * matching input row (or -1 when the row is padding). Shared by im2col and its adjoint col2im.
 */
function forEachColumnRow(
  geo: Conv2dGeometry,
  visit: (colStart: number, inputRow: number, kw: number, owLo: number, owHi: number) => void,
): void {
  const [n, c, h, w] = geo.inputShape as [number, number, number, number];
  const { kernelH, kernelW, stride, padding, outH, outW } = geo;
  const spatial = outH * outW;
  const owRanges = new Int32Array(2 * kernelW);
  for (let kw = 0; kw < kernelW; kw++) {
    const [lo, hi] = validRange(kw, stride, padding, w, outW);
    owRanges[2 * kw] = lo;
    owRanges[2 * kw + 1] = hi;
  }
  let col = 0;
  for (let img = 0; img < n; img++) {
    for (let ch = 0; ch < c; ch++) {
      const plane = (img * c + ch) * h;
      for (let kh = 0; kh < kernelH; kh++) {
        for (let kw = 0; kw < kernelW; kw++) {
          const lo = owRanges[2 * kw]!;
          const hi = owRanges[2 * kw + 1]!;
          for (let oh = 0; oh < outH; oh++) {
            const ih = oh * stride - padding + kh;
            visit(col + oh * outW, ih >= 0 && ih < h ? (plane + ih) * w : -1, kw, lo, hi);
          }
          col += spatial;
        }
      }
    }
  }
}

/** [N, C, H, W] → columns [N, C·kH·kW, outH·outW] (zeros where the window covers padding). */
export function im2colInto(x: TypedArray, geo: Conv2dGeometry, out: TypedArray): void {
  const { stride, padding, outW } = geo;
  forEachColumnRow(geo, (colStart, inputRow, kw, lo, hi) => {
    if (inputRow < 0) {
      out.fill(0, colStart, colStart + outW);
      return;
    }
    for (let ow = 0; ow < lo; ow++) out[colStart + ow] = 0;
    const shift = inputRow - padding + kw;
    if (stride === 1) {
      for (let ow = lo; ow < hi; ow++) out[colStart + ow] = x[shift + ow]!;
    } else {
      for (let ow = lo; ow < hi; ow++) out[colStart + ow] = x[shift + ow * stride]!;
    }
    for (let ow = hi; ow < outW; ow++) out[colStart + ow] = 0;
  });
}

/** Adds the columns back into an image of geo.inputShape (the adjoint of im2col). */
export function col2imInto(cols: TypedArray, geo: Conv2dGeometry, out: TypedArray): void {
  const { stride, padding } = geo;
  out.fill(0);
  forEachColumnRow(geo, (colStart, inputRow, kw, lo, hi) => {
    if (inputRow < 0) return;
    const shift = inputRow - padding + kw;
    for (let ow = lo; ow < hi; ow++) out[shift + ow * stride]! += cols[colStart + ow]!;
  });
}

/**
 * Max over kernel×kernel windows (no padding). `argmax` receives the flat index into x of each
 * maximum (the first one on ties), as a float.
 */
export function maxPool2dInto(x: TypedArray, geo: PoolGeometry, values: TypedArray, argmax: TypedArray): void {
  const [n, c, h, w] = geo.inputShape as [number, number, number, number];
  const { kernel, stride, outH, outW } = geo;
  let o = 0;
  for (let plane = 0; plane < n * c; plane++) {
    const planeStart = plane * h * w;
    for (let oh = 0; oh < outH; oh++) {
      const rowStart = planeStart + oh * stride * w;
      for (let ow = 0; ow < outW; ow++, o++) {
        const corner = rowStart + ow * stride;
        let best = x[corner]!;
        let bestIndex = corner;
        for (let kh = 0; kh < kernel; kh++) {
          const row = corner + kh * w;
          for (let kw = 0; kw < kernel; kw++) {
            const v = x[row + kw]!;
            if (v > best || (v !== v && best === best)) {
              best = v;
              bestIndex = row + kw;
            }
          }
        }
        values[o] = best;
        argmax[o] = bestIndex;
      }
    }
  }
}

/** Routes each output gradient to the input element it came from (overlapping windows add up). */
export function maxPool2dBackwardInto(g: TypedArray, argmax: TypedArray, _geo: PoolGeometry, out: TypedArray): void {
  out.fill(0);
  for (let i = 0; i < g.length; i++) out[argmax[i]!]! += g[i]!;
}
