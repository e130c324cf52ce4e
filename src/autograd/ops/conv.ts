import type { Conv2dGeometry, PoolGeometry } from '../../kernels/backend.js';
import { backend } from '../../kernels/registry.js';
import { formatShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { recordOp } from '../engine.js';
import { add } from './elementwise.js';
import { matmul } from './matmul.js';
import { reshape } from './shape.js';
import { assertSameDType, assertTensor, storageOf } from './util.js';

/** Every name this file records in the graph (conv2d is im2col, matmul and add); each needs a gradcheck case. */
export const CONV_OPS = ['im2col', 'col2im', 'maxPool2d'] as const;

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
}

/**
 * x [N, C, H, W], weight [F, C, kH, kW], optional bias [F] → [N, F, outH, outW] with
 * outH = ⌊(H + 2·padding − kH) / stride⌋ + 1. Computed as im2col then one batched matmul
 * weight[F, C·kH·kW] @ cols[N, C·kH·kW, outH·outW], so its gradient is matmul's and col2im's.
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  assertTensor('conv2d', x);
  assertTensor('conv2d', weight, 'weight');
  assertSameDType('conv2d', x, weight);
  const stride = opts.stride ?? 1;
  const padding = opts.padding ?? 0;
  const shapes = `input ${formatShape(x.shape)}, weight ${formatShape(weight.shape)}`;
  if (x.ndim !== 4 || weight.ndim !== 4) throw new Error(`conv2d: expected input [N,C,H,W] and weight [F,C,kH,kW], got ${shapes}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [f, wc, kh, kw] = weight.shape as [number, number, number, number];
  if (wc !== c) throw new Error(`conv2d: input has ${c} channels but weight expects ${wc}: ${shapes}`);
  checkPositiveInteger('conv2d', 'stride', stride);
  if (!Number.isInteger(padding) || padding < 0) throw new Error(`conv2d: padding must be an integer ≥ 0, got ${padding}`);
  if (kh < 1 || kw < 1 || kh > h + 2 * padding || kw > w + 2 * padding) {
    throw new Error(`conv2d: kernel ${kh}×${kw} does not fit the input padded by ${padding} (${h + 2 * padding}×${w + 2 * padding}): ${shapes}`);
  }
  if (bias !== undefined && bias !== null) {
    assertTensor('conv2d', bias, 'bias');
    assertSameDType('conv2d', x, bias);
    if (bias.ndim !== 1 || bias.shape[0] !== f) {
      throw new Error(`conv2d: bias must have shape [${f}] (one per filter), got ${formatShape(bias.shape)}; ${shapes}`);
    }
  }
  const outH = Math.floor((h + 2 * padding - kh) / stride) + 1;
  const outW = Math.floor((w + 2 * padding - kw) / stride) + 1;
  const geo: Conv2dGeometry = { inputShape: [n, c, h, w], kernelH: kh, kernelW: kw, stride, padding, outH, outW };
  const cols = im2col(x, geo);
  const y = matmul(reshape(weight, [f, c * kh * kw]), cols); // [N, F, outH·outW]
  const out = reshape(y, [n, f, outH, outW]);
  return bias ? add(out, reshape(bias, [f, 1, 1])) : out;
}

/** Image → columns, recorded so that its gradient is col2im. Exported for the gradient checks only. */
export function im2col(x: Tensor, geo: Conv2dGeometry): Tensor {
  const [n, c] = geo.inputShape as [number, number];
  const shape = [n, c * geo.kernelH * geo.kernelW, geo.outH * geo.outW];
  return recordOp('im2col', backend().im2col(storageOf(x), geo), shape, [x], (g) => [col2im(g, geo)]);
}

/** Columns → image (im2col's adjoint), itself differentiable back through im2col. Exported for the gradient checks only. */
export function col2im(cols: Tensor, geo: Conv2dGeometry): Tensor {
  return recordOp('col2im', backend().col2im(storageOf(cols), geo), geo.inputShape, [cols], (g) => [im2col(g, geo)]);
}

/**
 * Max pooling over kernel×kernel windows without padding (stride defaults to kernel). The gradient
 * goes to the first maximum of each window.
 */
export function maxPool2d(x: Tensor, kernel: number, stride = kernel): Tensor {
  assertTensor('maxPool2d', x);
  if (x.ndim !== 4) throw new Error(`maxPool2d: expected input [N,C,H,W], got ${formatShape(x.shape)}`);
  checkPositiveInteger('maxPool2d', 'kernel', kernel);
  checkPositiveInteger('maxPool2d', 'stride', stride);
  const [, , h, w] = x.shape as [number, number, number, number];
  if (kernel > h || kernel > w) throw new Error(`maxPool2d: kernel ${kernel} is larger than the input ${formatShape(x.shape)}`);
  if (x.dtype === 'float32' && x.size > 2 ** 24) {
    // The kernel contract stores argmax indices as floats of the input's dtype.
    throw new Error(`maxPool2d: float32 input ${formatShape(x.shape)} has more than 2^24 elements; argmax indices would lose precision (use float64 or a smaller batch)`);
  }
  const geo: PoolGeometry = {
    inputShape: [...x.shape],
    kernel,
    stride,
    outH: Math.floor((h - kernel) / stride) + 1,
    outW: Math.floor((w - kernel) / stride) + 1,
  };
  const { values, argmax } = backend().maxPool2d(storageOf(x), geo);
  const outShape = [x.shape[0]!, x.shape[1]!, geo.outH, geo.outW];
  // A tensor (not a bare storage) so that tidy/dispose release it with the rest of the graph.
  const where = new Tensor(argmax, outShape);
  return recordOp('maxPool2d', values, outShape, [x], (g) => [
    new Tensor(backend().maxPool2dBackward(storageOf(g), storageOf(where), geo), x.shape),
  ]);
}

function checkPositiveInteger(op: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${op}: ${name} must be an integer ≥ 1, got ${value}`);
}
