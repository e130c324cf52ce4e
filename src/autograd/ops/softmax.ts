import type { Tensor } from '../../tensor/tensor.js';

// TODO(engine-ops helper A): fused softmax / logSoftmax kernels with hand-written backward.
/** softmax along `axis` (default last). */
export function softmax(x: Tensor, axis = -1): Tensor {
  void x, axis;
  throw new Error('softmax: not implemented yet');
}
/** log-softmax along `axis` (default last). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  void x, axis;
  throw new Error('logSoftmax: not implemented yet');
}
