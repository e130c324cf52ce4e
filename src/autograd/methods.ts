import type { DType } from '../tensor/dtype.js';
import type { Shape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { runBackward, type BackwardOptions } from './engine.js';
import * as conv from './ops/conv.js';
import * as ew from './ops/elementwise.js';
import { matmul, type MatmulOptions } from './ops/matmul.js';
import * as red from './ops/reduce.js';
import * as sh from './ops/shape.js';
import * as sm from './ops/softmax.js';
import type { TensorLike } from './ops/util.js';

/** Every op is also a method on Tensor (attached here so the tensor layer stays free of autograd). */
declare module '../tensor/tensor.js' {
  interface Tensor {
    backward(grad?: Tensor, opts?: BackwardOptions): void;
    add(other: TensorLike): Tensor;
    sub(other: TensorLike): Tensor;
    mul(other: TensorLike): Tensor;
    div(other: TensorLike): Tensor;
    pow(exponent: TensorLike): Tensor;
    maximum(other: TensorLike): Tensor;
    minimum(other: TensorLike): Tensor;
    eq(other: TensorLike): Tensor;
    ne(other: TensorLike): Tensor;
    lt(other: TensorLike): Tensor;
    le(other: TensorLike): Tensor;
    gt(other: TensorLike): Tensor;
    ge(other: TensorLike): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    abs(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    softplus(): Tensor;
    square(): Tensor;
    reciprocal(): Tensor;
    sign(): Tensor;
    clamp(low?: number, high?: number): Tensor;
    where(a: TensorLike, b: TensorLike): Tensor;
    cast(dtype: DType): Tensor;
    matmul(other: Tensor, opts?: MatmulOptions): Tensor;
    sum(axis?: red.Axis, keepDims?: boolean): Tensor;
    mean(axis?: red.Axis, keepDims?: boolean): Tensor;
    max(axis?: red.Axis, keepDims?: boolean): Tensor;
    min(axis?: red.Axis, keepDims?: boolean): Tensor;
    logsumexp(axis?: red.Axis, keepDims?: boolean): Tensor;
    argmax(axis?: number): Tensor;
    softmax(axis?: number): Tensor;
    logSoftmax(axis?: number): Tensor;
    reshape(shape: Shape): Tensor;
    expand(shape: Shape): Tensor;
    transpose(perm?: readonly number[]): Tensor;
    permute(perm: readonly number[]): Tensor;
    squeeze(axis?: number | readonly number[]): Tensor;
    unsqueeze(axis: number): Tensor;
    slice(begin: readonly number[], size?: readonly number[]): Tensor;
    gather(indices: Int32Array | readonly number[], axis?: number): Tensor;
    conv2d(weight: Tensor, bias?: Tensor | null, opts?: conv.Conv2dOptions): Tensor;
    maxPool2d(kernel: number, stride?: number): Tensor;
  }
}

let installed = false;

/** Attaches every op as a Tensor method (called once by the core's setup). */
export function installTensorMethods(): void {
  if (installed) return;
  installed = true;
  const P = Tensor.prototype;
  P.backward = function (grad?: Tensor, opts?: BackwardOptions) {
    runBackward(this, grad, opts);
  };
  P.add = function (o) { return ew.add(this, o); };
  P.sub = function (o) { return ew.sub(this, o); };
  P.mul = function (o) { return ew.mul(this, o); };
  P.div = function (o) { return ew.div(this, o); };
  P.pow = function (o) { return ew.pow(this, o); };
  P.maximum = function (o) { return ew.maximum(this, o); };
  P.minimum = function (o) { return ew.minimum(this, o); };
  P.eq = function (o) { return ew.eq(this, o); };
  P.ne = function (o) { return ew.ne(this, o); };
  P.lt = function (o) { return ew.lt(this, o); };
  P.le = function (o) { return ew.le(this, o); };
  P.gt = function (o) { return ew.gt(this, o); };
  P.ge = function (o) { return ew.ge(this, o); };
  P.neg = function () { return ew.neg(this); };
  P.exp = function () { return ew.exp(this); };
  P.log = function () { return ew.log(this); };
  P.sqrt = function () { return ew.sqrt(this); };
  P.abs = function () { return ew.abs(this); };
  P.tanh = function () { return ew.tanh(this); };
  P.sigmoid = function () { return ew.sigmoid(this); };
  P.relu = function () { return ew.relu(this); };
  P.softplus = function () { return ew.softplus(this); };
  P.square = function () { return ew.square(this); };
  P.reciprocal = function () { return ew.reciprocal(this); };
  P.sign = function () { return ew.sign(this); };
  P.clamp = function (low?: number, high?: number) { return ew.clamp(this, low, high); };
  P.where = function (a, b) { return ew.where(this, a, b); };
  P.cast = function (dtype: DType) { return ew.cast(this, dtype); };
  P.matmul = function (o: Tensor, opts?: MatmulOptions) { return matmul(this, o, opts); };
  P.sum = function (axis?: red.Axis, keepDims?: boolean) { return red.sum(this, axis, keepDims); };
  P.mean = function (axis?: red.Axis, keepDims?: boolean) { return red.mean(this, axis, keepDims); };
  P.max = function (axis?: red.Axis, keepDims?: boolean) { return red.max(this, axis, keepDims); };
  P.min = function (axis?: red.Axis, keepDims?: boolean) { return red.min(this, axis, keepDims); };
  P.logsumexp = function (axis?: red.Axis, keepDims?: boolean) { return red.logsumexp(this, axis, keepDims); };
  P.argmax = function (axis?: number) { return red.argmax(this, axis); };
  P.softmax = function (axis?: number) { return sm.softmax(this, axis); };
  P.logSoftmax = function (axis?: number) { return sm.logSoftmax(this, axis); };
  P.reshape = function (shape: Shape) { return sh.reshape(this, shape); };
  P.expand = function (shape: Shape) { return sh.expand(this, shape); };
  P.transpose = function (perm?: readonly number[]) { return sh.transpose(this, perm); };
  P.permute = function (perm: readonly number[]) { return sh.permute(this, perm); };
  P.squeeze = function (axis?: number | readonly number[]) { return sh.squeeze(this, axis); };
  P.unsqueeze = function (axis: number) { return sh.unsqueeze(this, axis); };
  P.slice = function (begin: readonly number[], size?: readonly number[]) { return sh.slice(this, begin, size); };
  P.gather = function (indices: Int32Array | readonly number[], axis?: number) { return sh.gather(this, indices, axis); };
  P.conv2d = function (weight: Tensor, bias?: Tensor | null, opts?: conv.Conv2dOptions) { return conv.conv2d(this, weight, bias, opts); };
  P.maxPool2d = function (kernel: number, stride?: number) { return conv.maxPool2d(this, kernel, stride); };
}
