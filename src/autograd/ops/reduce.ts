import { backend } from '../../kernels/registry.js';
import { normalizeAxes, reducedShape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { recordOp } from '../engine.js';
import { div, mul } from './elementwise.js';
import { expand, reshape } from './shape.js';
import { assertTensor, storageOf } from './util.js';

export type Axis = number | readonly number[];

/** Sum over `axis` (all axes by default). */
export function sum(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  assertTensor('sum', x);
  const axes = normalizeAxes('sum', axis, x.ndim);
  const kept = reducedShape(x.shape, axes, true);
  const storage = backend().reduce('sum', storageOf(x), x.shape, axes);
  return recordOp('sum', storage, reducedShape(x.shape, axes, keepDims), [x], (g) => [expand(reshape(g, kept), x.shape)]);
}

/** Mean over `axis` (all axes by default). */
export function mean(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  assertTensor('mean', x);
  const axes = normalizeAxes('mean', axis, x.ndim);
  const count = axes.reduce((p, a) => p * x.shape[a]!, 1);
  return div(sum(x, axis, keepDims), count);
}

/** Sum of squares helper used by losses and norms. */
export function sumSquares(x: Tensor): Tensor {
  return sum(mul(x, x));
}

// TODO(engine-ops helper A): max/min (gradient split evenly among ties) and a stable logsumexp.
/** Max over `axis` (all by default). */
export function max(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  void x, axis, keepDims;
  throw new Error('max: not implemented yet');
}
/** Min over `axis` (all by default). */
export function min(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  void x, axis, keepDims;
  throw new Error('min: not implemented yet');
}
/** log Σ exp(x) over `axis`, stable for large inputs. */
export function logsumexp(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  void x, axis, keepDims;
  throw new Error('logsumexp: not implemented yet');
}
/** Index of the max along `axis` (no gradient), as a tensor of the input's dtype. */
export function argmax(x: Tensor, axis = -1): Tensor {
  void x, axis;
  throw new Error('argmax: not implemented yet');
}
