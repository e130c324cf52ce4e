import { alloc, allocOverwritten, dataOf, wrapOutput } from '../../kernels/cpu/host.js';
import type { TypedArray } from '../../tensor/dtype.js';
import type { LayerNormKernels } from './kernels.js';

/**
 * Layer normalisation in two passes per row forward (mean, then variance and output) and two backward
 * (the row sums of ĝ and ĝ·x̂, then dx), with sums in JS doubles, rounded once when stored. A
 * training-step profile showed the composite of ten generic ops (and twenty in the backward) to cost
 * about 1.5× a 128→128 dense layer on [256, 128].
 */
export function layerNormInto(x: TypedArray, rows: number, cols: number, weight: TypedArray | null, bias: TypedArray | null, eps: number, y: TypedArray, mean: TypedArray, rstd: TypedArray): void {
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += x[o + j]!;
    const mu = sum / cols;
    let squares = 0;
    for (let j = 0; j < cols; j++) {
      const d = x[o + j]! - mu;
      squares += d * d;
    }
    const inv = 1 / Math.sqrt(squares / cols + eps);
    mean[r] = mu;
    rstd[r] = inv;
    for (let j = 0; j < cols; j++) {
      const h = (x[o + j]! - mu) * inv;
      y[o + j] = (weight ? h * weight[j]! : h) + (bias ? bias[j]! : 0);
    }
  }
}

export function layerNormGradInto(
  g: TypedArray,
  x: TypedArray,
  mean: TypedArray,
  rstd: TypedArray,
  weight: TypedArray | null,
  rows: number,
  cols: number,
  dx: TypedArray,
  dweight: Float64Array | null,
  dbias: Float64Array | null,
): void {
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    const mu = mean[r]!;
    const inv = rstd[r]!;
    let sumG = 0;
    let sumGx = 0;
    for (let j = 0; j < cols; j++) {
      const gh = weight ? g[o + j]! * weight[j]! : g[o + j]!;
      const h = (x[o + j]! - mu) * inv;
      sumG += gh;
      sumGx += gh * h;
      if (dweight) dweight[j] = dweight[j]! + g[o + j]! * h;
      if (dbias) dbias[j] = dbias[j]! + g[o + j]!;
    }
    const meanG = sumG / cols;
    const meanGx = sumGx / cols;
    for (let j = 0; j < cols; j++) {
      const gh = weight ? g[o + j]! * weight[j]! : g[o + j]!;
      const h = (x[o + j]! - mu) * inv;
      dx[o + j] = inv * (gh - meanG - h * meanGx);
    }
  }
}

export const cpuLayerNorm: LayerNormKernels = {
  forward(x, rows, cols, weight, bias, eps) {
    const xs = dataOf(x);
    const y = allocOverwritten(x.dtype, rows * cols);
    const mean = allocOverwritten(x.dtype, rows);
    const rstd = allocOverwritten(x.dtype, rows);
    layerNormInto(xs, rows, cols, weight ? dataOf(weight) : null, bias ? dataOf(bias) : null, eps, y, mean, rstd);
    return { y: wrapOutput(y), mean: wrapOutput(mean), rstd: wrapOutput(rstd) };
  },
  backward(g, x, mean, rstd, weight, rows, cols, affine) {
    const dx = allocOverwritten(x.dtype, rows * cols);
    const dw = affine ? new Float64Array(cols) : null;
    const db = affine ? new Float64Array(cols) : null;
    layerNormGradInto(dataOf(g), dataOf(x), dataOf(mean), dataOf(rstd), weight ? dataOf(weight) : null, rows, cols, dx, dw, db);
    const store = (sums: Float64Array | null) => {
      if (!sums) return null;
      const out = alloc(x.dtype, cols);
      out.set(sums);
      return wrapOutput(out);
    };
    return { x: wrapOutput(dx), weight: store(dw), bias: store(db) };
  },
};
