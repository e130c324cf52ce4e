import type { BinaryOp, UnaryOp } from '../../kernels/backend.js';
import { backend } from '../../kernels/registry.js';
import { broadcastManyShapes, broadcastShapes } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { recordOp } from '../engine.js';
import { assertSameDType, assertTensor, operands, storageOf, type TensorLike } from './util.js';

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
  const out = recordOp(op, storage, shape, [ta, tb], (g) => (grad ? grad(g, ta, tb, out) : [null, null]));
  return out;
}

export const add = (a: TensorLike, b: TensorLike): Tensor => binaryOp('add', a, b, (g) => [g, g]);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binaryOp('sub', a, b, (g) => [g, neg(g)]);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binaryOp('mul', a, b, (g, x, y) => [mul(g, y), mul(g, x)]);
export const div = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp('div', a, b, (g, _x, y, out) => [div(g, y), y.requiresGrad ? neg(div(mul(g, out), y)) : null]);

/** a^b; the gradient w.r.t. b needs a > 0 where it is used. */
export const pow = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp('pow', a, b, (g, x, y, out) => [
    x.requiresGrad ? mul(g, mul(y, pow(x, sub(y, 1)))) : null,
    y.requiresGrad ? mul(g, mul(out, log(x))) : null,
  ]);

/** Elementwise max; ties send the gradient to `a`. */
export const maximum = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp('maximum', a, b, (g, x, y) => {
    const takeA = ge(x, y);
    return [mul(g, takeA), mul(g, sub(1, takeA))];
  });

/** Elementwise min; ties send the gradient to `a`. */
export const minimum = (a: TensorLike, b: TensorLike): Tensor =>
  binaryOp('minimum', a, b, (g, x, y) => {
    const takeA = le(x, y);
    return [mul(g, takeA), mul(g, sub(1, takeA))];
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

/** cond ? a : b elementwise with broadcasting; `cond` is a mask (non-zero = true). */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  assertTensor('where', cond, 'condition');
  const [ta, tb] = operands('where', a, b);
  assertSameDType('where', cond, ta);
  const shape = broadcastManyShapes('where', [cond.shape, ta.shape, tb.shape]);
  const storage = backend().where(storageOf(cond), cond.shape, storageOf(ta), ta.shape, storageOf(tb), tb.shape, shape);
  return recordOp('where', storage, shape, [cond, ta, tb], (g) => [null, where(cond, g, 0), where(cond, 0, g)]);
}

/** Converts to another dtype; the gradient is cast back. */
export function cast(x: Tensor, dtype: Tensor['dtype']): Tensor {
  assertTensor('cast', x);
  if (x.dtype === dtype) return x;
  return recordOp('cast', backend().cast(storageOf(x), dtype), x.shape, [x], (g) => [cast(g, x.dtype)]);
}
