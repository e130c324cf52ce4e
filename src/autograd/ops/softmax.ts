import { backend } from '../../kernels/registry.js';
import { normalizeAxis } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { recordOp } from '../engine.js';
import { exp, mul, sub } from './elementwise.js';
import { sum } from './reduce.js';
import { assertTensor, storageOf } from './util.js';

/** Every name this file records in the graph; each needs a gradcheck case. */
export const SOFTMAX_OPS = ['softmax', 'logSoftmax'] as const;

/** softmax along `axis` (default last), by the fused stable kernel. Backward: y·(g − Σ g·y). */
export function softmax(x: Tensor, axis = -1): Tensor {
  const ax = softmaxAxis('softmax', x, axis);
  const out = recordOp('softmax', backend().softmax(storageOf(x), x.shape, ax, false), x.shape, [x], (g) => [
    mul(out, sub(g, sum(mul(g, out), ax, true))),
  ]);
  return out;
}

/** log-softmax along `axis` (default last), by the fused stable kernel. Backward: g − softmax·Σ g. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const ax = softmaxAxis('logSoftmax', x, axis);
  const out = recordOp('logSoftmax', backend().softmax(storageOf(x), x.shape, ax, true), x.shape, [x], (g) => [
    sub(g, mul(exp(out), sum(g, ax, true))),
  ]);
  return out;
}

function softmaxAxis(op: string, x: Tensor, axis: number): number {
  assertTensor(op, x);
  if (x.ndim === 0) throw new Error(`${op}: needs a tensor with at least 1 dimension, got a 0-d tensor`);
  return normalizeAxis(op, axis, x.ndim);
}
