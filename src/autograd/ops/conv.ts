import type { Tensor } from '../../tensor/tensor.js';

// TODO(engine-ops helper B): conv2d via im2col + matmul, maxPool2d with argmax, both with backward.
export interface Conv2dOptions {
  stride?: number;
  padding?: number;
}
/** x [N, C, H, W], weight [F, C, kH, kW], optional bias [F] → [N, F, outH, outW]. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  void x, weight, bias, opts;
  throw new Error('conv2d: not implemented yet');
}
/** Max pooling over kernel×kernel windows (stride defaults to kernel). */
export function maxPool2d(x: Tensor, kernel: number, stride = kernel): Tensor {
  void x, kernel, stride;
  throw new Error('maxPool2d: not implemented yet');
}
