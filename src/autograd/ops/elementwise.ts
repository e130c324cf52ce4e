import type { BinaryOp, UnaryOp } from '../../kernels/backend.js';
import { backend } from '../../kernels/registry.js';
import { assertDType } from '../../tensor/dtype.js';
import { broadcastManyShapes, broadcastShapes } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { recordOp } from '../engine.js';
import { asTensor, assertSameDType, assertTensor, operands, storageOf, type TensorLike } from './util.js';

/** Every name this file records in the graph; the gradcheck coverage test holds each one to a case. */
export const ELEMENTWISE_OPS = [
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum',
  'neg', 'exp', 'log', 'sqrt', 'abs', 'tanh', 'sigmoid', 'relu', 'softplus', 'square', 'reciprocal', 'sign',
  'clamp', 'where', 'cast',
] as const;

/** Applies a unary kernel; `grad` gives the input gradient from (upstream, input, output). */
function unaryOp(op: UnaryOp, x: Tensor, grad: ((g: Tensor, x: Tensor, y: Tensor) => Tensor) | null): Tensor {
  assertTensor(op, x);
  const out = recordOp(op, backend().unary(op, storageOf(x)), x.shape, [x], (g) => [grad ? grad(g, x, out) : null]);
  return out;
}

/** Kernel-only elementwise results used inside backward passes (never recorded). */
function rawUnary(op: UnaryOp, x: Tensor): Tensor {
  return new Tensor(backend().unary(op, storageOf(x)), x.shape);
}

function binaryOp(op: BinaryOp, a: TensorLike, b: TensorLike, grad: ((g: Tensor, a: Tensor, b: Tensor, y: Tensor) => [Tensor | null, Tensor | null]) | null): Tensor {
  const [ta, tb] = operands(op, a, b);
  const shape = broadcastShapes(op, ta.shape, tb.shape);
  const storage = backend().binary(op, storageOf(ta), ta.shape, storageOf(tb), tb.shape, shape);
  // Ops without a gradient (comparisons) record nothing: their output is a constant.
  if (!grad) return new Tensor(storage, shape);
  const out = recordOp(op, storage, shape, [ta, tb], (g) => grad(g, ta, tb, out));
  return out;
}

export const add = (a: TensorLike, b: TensorLike): Tensor => binaryOp('add', a, b, (g) => [g, g]);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binaryOp('sub', a, b, (g) => [g, neg(g)]);
export const mul = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp('mul', a, b, (g, x, y) => [x.requiresGrad ? mul(g, y) : null, y.requiresGrad ? mul(g, x) : null]);
export const div = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp('div', a, b, (g, x, y, out) => [x.requiresGrad ? div(g, y) : null, y.requiresGrad ? neg(div(mul(g, out), y)) : null]);

/**
 * a^b. As in PyTorch, ∂/∂a is taken as 0 where b = 0 and ∂/∂b as 0 where a = 0 and b ≥ 0 (the
 * limits, instead of 0·∞); ∂/∂b is NaN for a < 0, where a^b is not differentiable in b.
 */
export const pow = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp('pow', a, b, (g, x, y, out) => [
    x.requiresGrad ? mul(g, where(eq(y, 0), 0, mul(y, pow(x, sub(y, 1))))) : null,
    y.requiresGrad ? mul(g, where(mul(eq(x, 0), ge(y, 0)), 0, mul(out, log(x)))) : null,
  ]);

/** The share of a tie-aware max's gradient that goes to x: 1 where x > y, ½ where x = y, 0 below. */
function winnerShare(x: Tensor, y: Tensor): Tensor {
  return mul(add(sign(sub(x, y)), 1), 0.5);
}

/** Elementwise max; at ties each operand gets half the gradient. NaN propagates. */
export const maximum = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp('maximum', a, b, (g, x, y) => {
    const toA = winnerShare(x, y);
    return [x.requiresGrad ? mul(g, toA) : null, y.requiresGrad ? mul(g, sub(1, toA)) : null];
  });

/** Elementwise min; at ties each operand gets half the gradient. NaN propagates. */
export const minimum = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp('minimum', a, b, (g, x, y) => {
    const toA = winnerShare(y, x);
    return [x.requiresGrad ? mul(g, toA) : null, y.requiresGrad ? mul(g, sub(1, toA)) : null];
  });

// Comparisons return 0/1 masks of the inputs' dtype and carry no gradient.
export const eq = (a: TensorLike, b: TensorLike): Tensor => binaryOp('eq', a, b, null);
export const ne = (a: TensorLike, b: TensorLike): Tensor => binaryOp('ne', a, b, null);
export const lt = (a: TensorLike, b: TensorLike): Tensor => binaryOp('lt', a, b, null);
export const le = (a: TensorLike, b: TensorLike): Tensor => binaryOp('le', a, b, null);
export const gt = (a: TensorLike, b: TensorLike): Tensor => binaryOp('gt', a, b, null);
export const ge = (a: TensorLike, b: TensorLike): Tensor => binaryOp('ge', a, b, null);

export const neg = (x: Tensor): Tensor => unaryOp('neg', x, (g) => neg(g));
export const exp = (x: Tensor): Tensor => unaryOp('exp', x, (g, _x, y) => mul(g, y));
export const log = (x: Tensor): Tensor => unaryOp('log', x, (g, xv) => div(g, xv));
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x, (g, _x, y) => div(g, mul(y, 2)));
export const abs = (x: Tensor): Tensor => unaryOp('abs', x, (g, xv) => mul(g, rawUnary('sign', xv)));
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x, (g, _x, y) => mul(g, sub(1, mul(y, y))));
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x, (g, _x, y) => mul(g, mul(y, sub(1, y))));
export const relu = (x: Tensor): Tensor => unaryOp('relu', x, (g, xv) => mul(g, rawUnary('step', xv)));
export const softplus = (x: Tensor): Tensor => unaryOp('softplus', x, (g, xv) => mul(g, rawUnary('sigmoid', xv)));
export const square = (x: Tensor): Tensor => unaryOp('square', x, (g, xv) => mul(g, mul(xv, 2)));
export const reciprocal = (x: Tensor): Tensor => unaryOp('reciprocal', x, (g, _x, y) => neg(mul(g, mul(y, y))));
/** Sign of x (−1, 0, 1); zero gradient almost everywhere. */
export const sign = (x: Tensor): Tensor => unaryOp('sign', x, null);

/** Limits x to [low, high]; the gradient passes where low ≤ x ≤ high. */
export function clamp(x: Tensor, low = -Infinity, high = Infinity): Tensor {
  assertTensor('clamp', x);
  if (Number.isNaN(low) || Number.isNaN(high) || low > high) {
    throw new Error(`clamp: bounds must satisfy low ≤ high and not be NaN, got low=${low}, high=${high}`);
  }
  const out = recordOp('clamp', backend().clamp(storageOf(x), low, high), x.shape, [x], (g) => [mul(g, mul(ge(x, low), le(x, high)))]);
  return out;
}

/** cond ? a : b elementwise with broadcasting; `cond` is a mask (non-zero = true) of the same dtype. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  assertTensor('where', cond, 'condition');
  const [ta, tb] = a instanceof Tensor || b instanceof Tensor ? operands('where', a, b) : [asTensor('where', a, cond), asTensor('where', b, cond)];
  assertSameDType('where', cond, ta);
  const shape = broadcastManyShapes('where', [cond.shape, ta.shape, tb.shape]);
  const storage = backend().where(storageOf(cond), cond.shape, storageOf(ta), ta.shape, storageOf(tb), tb.shape, shape);
  return recordOp('where', storage, shape, [cond, ta, tb], (g) => [null, where(cond, g, 0), where(cond, 0, g)]);
}

/** Converts to another dtype; the gradient is cast back. */
export function cast(x: Tensor, dtype: Tensor['dtype']): Tensor {
  assertTensor('cast', x);
  assertDType('cast', dtype);
  if (x.dtype === dtype) return x;
  return recordOp('cast', backend().cast(storageOf(x), dtype), x.shape, [x], (g) => [cast(g, x.dtype)]);
}
