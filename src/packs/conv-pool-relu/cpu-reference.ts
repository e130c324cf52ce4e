import type { ConvPoolGeometry } from './kernels.js';
import { allocArray, dtypeOfArray, type TypedArray } from '../../tensor/dtype.js';
import { col2imInto, im2colInto } from '../../kernels/cpu/conv.js';
import { gemm } from '../../kernels/cpu/matmul.js';

/**
 * The JS reference of the fused conv → max-pool → bias → ReLU layer, any dtype and geometry (pool
 * window = stride): im2col and one gemm per image, then the pool. Its semantics are those of the
 * unfused ops: conv2d, maxPool2d (first maximum in scan order; NaN wins), + bias, relu (NaN stays),
 * and the backward routes each window's gradient to its maximum only.
 */

/** One image's (one group's channels') geometry, for the per-image im2col / col2im. */
function imageGeometry(geo: ConvPoolGeometry): ConvPoolGeometry {
  const [, c, h, w] = geo.inputShape as [number, number, number, number];
  return { ...geo, inputShape: [1, c / (geo.groups ?? 1), h, w] };
}

export function convPoolReluInto(x: TypedArray, weight: TypedArray, bias: TypedArray | null, geo: ConvPoolGeometry, values: TypedArray, codes: TypedArray): void {
  const [n, c, h, w] = geo.inputShape as [number, number, number, number];
  const { kernelH, kernelW, outH, outW, pool, pooledH, pooledW } = geo;
  const groups = geo.groups ?? 1;
  const cg = c / groups;
  const k = cg * kernelH * kernelW;
  const f = weight.length / k;
  const fg = f / groups;
  const positions = outH * outW;
  const dtype = dtypeOfArray(x);
  const cols = allocArray(dtype, k * positions);
  const conv = allocArray(dtype, f * positions);
  const one = imageGeometry(geo);
  let o = 0;
  for (let img = 0; img < n; img++) {
    // Group g: its channels (contiguous in the image) against its filters (contiguous in the weight).
    for (let g = 0; g < groups; g++) {
      const start = (img * c + g * cg) * h * w;
      im2colInto(x.subarray(start, start + cg * h * w), one, cols);
      gemm(fg, positions, k, weight, g * fg * k, false, cols, 0, false, conv, g * fg * positions);
    }
    for (let fi = 0; fi < f; fi++) {
      const plane = fi * positions;
      const b = bias ? bias[fi]! : 0;
      for (let qh = 0; qh < pooledH; qh++) {
        for (let qw = 0; qw < pooledW; qw++, o++) {
          const corner = plane + qh * pool * outW + qw * pool;
          let best = conv[corner]!;
          let code = 0;
          for (let dy = 0; dy < pool; dy++) {
            for (let dx = 0; dx < pool; dx++) {
              const v = conv[corner + dy * outW + dx]!;
              if (v > best || (v !== v && best === best)) {
                best = v;
                code = dy * pool + dx;
              }
            }
          }
          values[o] = bias ? best + b : best; // rounded to the dtype on store, as the add kernel does
          const v = values[o]!;
          if (!(v > 0) && v === v) values[o] = 0;
          codes[o] = code;
        }
      }
    }
  }
}

export interface ConvPoolGradArrays {
  x: TypedArray | null;
  weight: TypedArray | null;
  bias: TypedArray | null;
}

/** Gradients of convPoolReluInto's layer for upstream g; writes (overwrites) the requested outputs. */
export function convPoolReluBackwardInto(g: TypedArray, values: TypedArray, codes: TypedArray, x: TypedArray, weight: TypedArray, geo: ConvPoolGeometry, out: ConvPoolGradArrays): void {
  const [n, c, h, w] = geo.inputShape as [number, number, number, number];
  const { kernelH, kernelW, outH, outW, pool, pooledH, pooledW } = geo;
  const groups = geo.groups ?? 1;
  const cg = c / groups;
  const k = cg * kernelH * kernelW;
  const f = weight.length / k;
  const fg = f / groups;
  const positions = outH * outW;
  const windows = pooledH * pooledW;
  const dtype = dtypeOfArray(x);
  const gconv = allocArray(dtype, f * positions);
  const cols = allocArray(dtype, k * positions);
  const dwImage = out.weight ? allocArray(dtype, fg * k) : null;
  const one = imageGeometry(geo);
  out.weight?.fill(0);
  out.bias?.fill(0);
  for (let img = 0; img < n; img++) {
    // The conv output's gradient: each window's (ReLU-masked) gradient at its maximum, zeros elsewhere.
    gconv.fill(0);
    for (let fi = 0; fi < f; fi++) {
      for (let qh = 0; qh < pooledH; qh++) {
        for (let qw = 0; qw < pooledW; qw++) {
          const o = (img * f + fi) * windows + qh * pooledW + qw;
          const gp = g[o]! * (values[o]! > 0 ? 1 : 0);
          if (out.bias) out.bias[fi]! += gp;
          const code = codes[o]!;
          const dy = Math.floor(code / pool);
          gconv[fi * positions + (qh * pool + dy) * outW + qw * pool + (code - dy * pool)] = gp;
        }
      }
    }
    for (let gi = 0; gi < groups; gi++) {
      const start = (img * c + gi * cg) * h * w;
      const image = x.subarray(start, start + cg * h * w);
      if (out.weight) {
        im2colInto(image, one, cols);
        gemm(fg, k, positions, gconv, gi * fg * positions, false, cols, 0, true, dwImage!, 0);
        const at = gi * fg * k;
        for (let i = 0; i < fg * k; i++) out.weight[at + i]! += dwImage![i]!;
      }
      if (out.x) {
        gemm(k, positions, fg, weight, gi * fg * k, true, gconv, gi * fg * positions, false, cols, 0);
        col2imInto(cols, one, out.x.subarray(start, start + cg * h * w));
      }
    }
  }
}
