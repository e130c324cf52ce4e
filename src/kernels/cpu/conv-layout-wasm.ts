import type { Conv2dGeometry, PoolGeometry } from '../backend.js';
import { convWasm, Layout, reserve } from './conv-wasm-runtime.js';

/**
 * The cpu backend's generic image kernels (im2col, col2im, max-pool and its backward) on the conv
 * module (wasm/conv-layout.ts), float32: same loops and order as conv.ts, so the same results, at a
 * few times the speed of the JS loops. Each returns false, touching nothing, when the module is
 * unavailable or the operands do not fit its memory; the caller then runs the JS kernel.
 */

function dims(shape: readonly number[]): [number, number, number, number] {
  return shape as unknown as [number, number, number, number];
}

/** [N, C, H, W] → columns [N, C·kH·kW, outH·outW]. */
export function im2colWasm(x: Float32Array, geo: Conv2dGeometry, out: Float32Array): boolean {
  return columns(false, x, geo, out);
}

/** Columns → image (the adjoint of im2col), overwriting `out`. */
export function col2imWasm(cols: Float32Array, geo: Conv2dGeometry, out: Float32Array): boolean {
  return columns(true, cols, geo, out);
}

function columns(adjoint: boolean, input: Float32Array, geo: Conv2dGeometry, out: Float32Array): boolean {
  const w = convWasm();
  if (!w) return false;
  const [n, c, h, wd] = dims(geo.inputShape);
  const imageFloats = n * c * h * wd;
  const colFloats = n * c * geo.kernelH * geo.kernelW * geo.outH * geo.outW;
  const L = new Layout();
  const xAt = L.take(4 * imageFloats);
  const colsAt = L.take(4 * colFloats);
  if (!reserve(w, L.size)) return false;
  if (adjoint) {
    w.f32.set(input, colsAt / 4);
    w.f32.fill(0, xAt / 4, xAt / 4 + imageFloats);
  } else {
    w.f32.set(input, xAt / 4);
  }
  const fn = adjoint ? w.fns.col2im_f32 : w.fns.im2col_f32;
  fn(xAt, colsAt, n, c, h, wd, geo.kernelH, geo.kernelW, geo.stride, geo.padding, geo.outH, geo.outW);
  const from = adjoint ? xAt : colsAt;
  out.set(w.f32.subarray(from / 4, from / 4 + out.length));
  return true;
}

/** Max over kernel×kernel windows and the flat index of each (first) maximum, as a float. */
export function maxPool2dWasm(x: Float32Array, geo: PoolGeometry, values: Float32Array, argmax: Float32Array): boolean {
  const w = convWasm();
  if (!w) return false;
  const [n, c, h, wd] = dims(geo.inputShape);
  const L = new Layout();
  const xAt = L.take(4 * x.length);
  const vAt = L.take(4 * values.length);
  const aAt = L.take(4 * values.length);
  if (!reserve(w, L.size)) return false;
  w.f32.set(x, xAt / 4);
  w.fns.maxpool_f32(xAt, vAt, aAt, n * c, h, wd, geo.kernel, geo.stride, geo.outH, geo.outW);
  values.set(w.f32.subarray(vAt / 4, vAt / 4 + values.length));
  argmax.set(w.f32.subarray(aAt / 4, aAt / 4 + values.length));
  return true;
}

/** Each output gradient added to the input element it came from (`out` overwritten). */
export function maxPool2dBackwardWasm(g: Float32Array, argmax: Float32Array, out: Float32Array): boolean {
  const w = convWasm();
  if (!w) return false;
  const L = new Layout();
  const gAt = L.take(4 * g.length);
  const aAt = L.take(4 * g.length);
  const oAt = L.take(4 * out.length);
  if (!reserve(w, L.size)) return false;
  w.f32.set(g, gAt / 4);
  w.f32.set(argmax, aAt / 4);
  w.f32.fill(0, oAt / 4, oAt / 4 + out.length);
  w.fns.maxpool_bwd_f32(gAt, aAt, oAt, g.length);
  out.set(w.f32.subarray(oAt / 4, oAt / 4 + out.length));
  return true;
}
