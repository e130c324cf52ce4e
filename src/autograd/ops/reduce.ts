import { backend } from '../../kernels/registry.js';
import { formatShape, normalizeAxes, normalizeAxis, reducedShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { recordOp } from '../engine.js';
import { div, eq, exp, mul, sub } from './elementwise.js';
import { expand, reshape } from './shape.js';
import { assertTensor, storageOf } from './util.js';

export type Axis = number | readonly number[];

/** Every name this file records in the graph (`mean` is `sum` then `div`); each needs a gradcheck case. */
export const REDUCE_OPS = ['sum', 'max', 'min', 'logsumexp'] as const;

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

/** Max over `axis` (all by default); tied maxima share the gradient evenly. */
export function max(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return extremum('max', x, axis, keepDims);
}

/** Min over `axis` (all by default); tied minima share the gradient evenly. */
export function min(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return extremum('min', x, axis, keepDims);
}

function extremum(op: 'max' | 'min', x: Tensor, axis: Axis | undefined, keepDims: boolean): Tensor {
  assertTensor(op, x);
  const axes = normalizeAxes(op, axis, x.ndim);
  const empty = axes.filter((a) => x.shape[a] === 0);
  if (empty.length > 0) {
    throw new Error(`${op}: cannot reduce ${formatShape(x.shape)} over empty axis ${empty.join(',')} (no identity for ${op})`);
  }
  const kept = reducedShape(x.shape, axes, true);
  const storage = backend().reduce(op, storageOf(x), x.shape, axes);
  const out = recordOp(op, storage, reducedShape(x.shape, axes, keepDims), [x], (g) => {
    const winners = eq(x, reshape(out, kept));
    const share = div(reshape(g, kept), sum(winners, axes, true));
    return [mul(winners, share)];
  });
  return out;
}

/**
 * log Σ exp(x) over `axis` (all by default), computed as m + log Σ exp(x − m) with m the max, so
 * inputs of ±1000 stay finite; a lane of −∞ gives −∞, a +∞ entry +∞, a NaN NaN. One backend kernel
 * (on the cpu a SIMD row kernel for float32 over trailing axes). The gradient is softmax(x)·g.
 */
export function logsumexp(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  assertTensor('logsumexp', x);
  const axes = normalizeAxes('logsumexp', axis, x.ndim);
  const kept = reducedShape(x.shape, axes, true);
  const storage = backend().logsumexp(storageOf(x), x.shape, axes);
  const out = recordOp('logsumexp', storage, reducedShape(x.shape, axes, keepDims), [x], (g) => [
    mul(reshape(g, kept), exp(sub(x, reshape(out, kept)))),
  ]);
  return out;
}

/** Index of the first max along `axis` (no gradient), as a tensor of the input's dtype. */
export function argmax(x: Tensor, axis = -1): Tensor {
  assertTensor('argmax', x);
  const ax = normalizeAxis('argmax', axis, x.ndim);
  if (x.ndim === 0 || x.shape[ax] === 0) {
    throw new Error(`argmax: axis ${axis} of ${formatShape(x.shape)} has no elements to choose from`);
  }
  return new Tensor(backend().argmax(storageOf(x), x.shape, ax), reducedShape(x.shape, [ax], false));
}
