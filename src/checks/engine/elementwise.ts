import type { Tensor } from '../../tensor/tensor.js';
import type { GradcheckCase } from '../../autograd/gradcheck.js';
import * as ew from '../../autograd/ops/elementwise.js';
import { avoiding, distinct, mask, normal, sampled, uniform, type Sampler } from '../../autograd/gradcheck-inputs.js';

type Unary = (x: Tensor) => Tensor;

/** A unary op checked on a vector, a matrix, a 3-d tensor and a 0-d tensor. */
function unaryCases(name: string, op: Unary, sample: (shape: number[]) => Sampler, seed: number): GradcheckCase[] {
  const shapes = [[5], [2, 3], [2, 2, 3], []];
  return shapes.map((shape, i) => ({ name: `${name} [${shape.join(',')}]`, fn: op, inputs: sampled(seed + i, sample(shape)) }));
}

const positive = (shape: number[]) => uniform(shape, 0.3, 2);
const anywhere = (shape: number[]) => normal(shape);
const awayFromZero = (shape: number[]) => avoiding(shape, [0]);

export const elementwiseGradcheckCases: readonly GradcheckCase[] = [
  // add / sub / mul / div with NumPy broadcasting, numbers and 0-d tensors.
  { name: 'add [2,3] + [3]', fn: ew.add, inputs: sampled(101, normal([2, 3]), normal([3])) },
  { name: 'add [4,1] + [1,5]', fn: ew.add, inputs: sampled(102, normal([4, 1]), normal([1, 5])) },
  { name: 'add [2,1,3] + [4,1]', fn: ew.add, inputs: sampled(103, normal([2, 1, 3]), normal([4, 1])) },
  { name: 'add 0-d + [3]', fn: ew.add, inputs: sampled(104, normal([]), normal([3])) },
  { name: 'add [2,3] + number', fn: (x: Tensor) => ew.add(x, 2.5), inputs: sampled(105, normal([2, 3])) },
  { name: 'add x + x (same input twice)', fn: (x: Tensor) => ew.add(x, x), inputs: sampled(106, normal([3])) },
  { name: 'sub [2,3] - [2,1]', fn: ew.sub, inputs: sampled(111, normal([2, 3]), normal([2, 1])) },
  { name: 'sub [3,1,2] - [4,2]', fn: ew.sub, inputs: sampled(112, normal([3, 1, 2]), normal([4, 2])) },
  { name: 'sub number - [3]', fn: (x: Tensor) => ew.sub(1.5, x), inputs: sampled(113, normal([3])) },
  { name: 'sub 0-d - [2,2]', fn: ew.sub, inputs: sampled(114, normal([]), normal([2, 2])) },
  { name: 'mul [4,1] * [1,5]', fn: ew.mul, inputs: sampled(121, normal([4, 1]), normal([1, 5])) },
  { name: 'mul [2,3] * [2,3]', fn: ew.mul, inputs: sampled(122, normal([2, 3]), normal([2, 3])) },
  { name: 'mul 0-d * [2,2]', fn: ew.mul, inputs: sampled(123, normal([]), normal([2, 2])) },
  { name: 'mul [3] * number', fn: (x: Tensor) => ew.mul(x, -2), inputs: sampled(124, normal([3])) },
  { name: 'mul x * x (same input twice)', fn: (x: Tensor) => ew.mul(x, x), inputs: sampled(125, normal([2, 3])) },
  { name: 'div [2,3] / [3]', fn: ew.div, inputs: sampled(131, normal([2, 3]), positive([3])) },
  { name: 'div [4,1] / [1,5]', fn: ew.div, inputs: sampled(132, normal([4, 1]), uniform([1, 5], -2, -0.3)) },
  { name: 'div number / [3]', fn: (x: Tensor) => ew.div(2, x), inputs: sampled(133, positive([3])) },
  { name: 'div [2,2] / 0-d', fn: ew.div, inputs: sampled(134, normal([2, 2]), positive([])) },
  { name: 'div x / x (same input twice)', fn: (x: Tensor) => ew.div(x, x), inputs: sampled(135, positive([4])) },

  // pow: both gradients need a positive base; a number exponent works for any base.
  { name: 'pow [2,3] ^ [3] (base > 0)', fn: ew.pow, inputs: sampled(141, positive([2, 3]), normal([3])) },
  { name: 'pow [4,1] ^ [1,3] (base > 0)', fn: ew.pow, inputs: sampled(142, positive([4, 1]), normal([1, 3])) },
  { name: 'pow [2,3] ^ 3 (any base)', fn: (x: Tensor) => ew.pow(x, 3), inputs: sampled(143, normal([2, 3])) },
  { name: 'pow [2,3] ^ 0.5', fn: (x: Tensor) => ew.pow(x, 0.5), inputs: sampled(144, positive([2, 3])) },
  { name: 'pow 2 ^ [2,3]', fn: (x: Tensor) => ew.pow(2, x), inputs: sampled(145, normal([2, 3])) },
  { name: 'pow [3] ^ 0-d', fn: ew.pow, inputs: sampled(146, positive([3]), normal([])) },

  // maximum / minimum: every pair of elements at least 0.25 apart, so no ties.
  { name: 'maximum [2,3] vs [3]', fn: ew.maximum, inputs: sampled(151, distinct([[2, 3], [3]])) },
  { name: 'maximum [4,1] vs [1,5]', fn: ew.maximum, inputs: sampled(152, distinct([[4, 1], [1, 5]])) },
  { name: 'maximum [2,3] vs number', fn: (x: Tensor) => ew.maximum(x, 0.3), inputs: sampled(153, avoiding([2, 3], [0.3])) },
  { name: 'maximum 0-d vs [4]', fn: ew.maximum, inputs: sampled(154, distinct([[], [4]])) },
  { name: 'minimum [2,3] vs [3]', fn: ew.minimum, inputs: sampled(155, distinct([[2, 3], [3]])) },
  { name: 'minimum [4,1] vs [1,5]', fn: ew.minimum, inputs: sampled(156, distinct([[4, 1], [1, 5]])) },
  { name: 'minimum number vs [2,3]', fn: (x: Tensor) => ew.minimum(-0.2, x), inputs: sampled(157, avoiding([2, 3], [-0.2])) },

  // Unary ops on four shapes each; kinked ones (abs, relu, sign) away from 0, log/sqrt/reciprocal on x > 0.
  ...unaryCases('neg', ew.neg, anywhere, 161),
  ...unaryCases('exp', ew.exp, anywhere, 165),
  ...unaryCases('log', ew.log, positive, 169),
  ...unaryCases('sqrt', ew.sqrt, positive, 173),
  ...unaryCases('abs', ew.abs, awayFromZero, 177),
  ...unaryCases('tanh', ew.tanh, anywhere, 181),
  ...unaryCases('sigmoid', ew.sigmoid, anywhere, 185),
  ...unaryCases('relu', ew.relu, awayFromZero, 189),
  ...unaryCases('softplus', ew.softplus, anywhere, 193),
  ...unaryCases('square', ew.square, anywhere, 197),
  ...unaryCases('reciprocal', ew.reciprocal, positive, 201),
  ...unaryCases('sign', ew.sign, awayFromZero, 205),
  // Both branches of the stable sigmoid/softplus, with |x| up to ~15.
  { name: 'sigmoid wide range [3,4]', fn: ew.sigmoid, inputs: sampled(209, normal([3, 4], 5)) },
  { name: 'softplus wide range [3,4]', fn: ew.softplus, inputs: sampled(210, normal([3, 4], 5)) },
  { name: 'reciprocal of negatives [4]', fn: ew.reciprocal, inputs: sampled(211, uniform([4], -2, -0.3)) },

  // clamp, inputs kept 0.1 away from the bounds.
  { name: 'clamp [-0.5, 0.5] of [3,4]', fn: (x: Tensor) => ew.clamp(x, -0.5, 0.5), inputs: sampled(221, avoiding([3, 4], [-0.5, 0.5])) },
  { name: 'clamp low 0.2 of [5]', fn: (x: Tensor) => ew.clamp(x, 0.2), inputs: sampled(222, avoiding([5], [0.2])) },
  { name: 'clamp high -0.3 of [2,3]', fn: (x: Tensor) => ew.clamp(x, -Infinity, -0.3), inputs: sampled(223, avoiding([2, 3], [-0.3])) },
  { name: 'clamp 0-d', fn: (x: Tensor) => ew.clamp(x, -1, 1), inputs: sampled(224, avoiding([], [-1, 1])) },

  // where: the mask is input 0 and is not differentiated (a perturbed mask is still "true").
  {
    name: 'where mask [2,3], a [2,3], b [3]',
    fn: (c: Tensor, a: Tensor, b: Tensor) => ew.where(c, a, b),
    inputs: sampled(231, mask([2, 3]), normal([2, 3]), normal([3])),
    opts: { wrt: [1, 2] },
  },
  {
    name: 'where mask [2,1], a [1,3], b 0-d',
    fn: (c: Tensor, a: Tensor, b: Tensor) => ew.where(c, a, b),
    inputs: sampled(232, mask([2, 1]), normal([1, 3]), normal([])),
    opts: { wrt: [1, 2] },
  },
  {
    name: 'where mask [4], a [4], b number',
    fn: (c: Tensor, a: Tensor) => ew.where(c, a, 0.5),
    inputs: sampled(233, mask([4]), normal([4])),
    opts: { wrt: [1] },
  },
  // cast: a float32 round trip rounds to ~6e-8 relative, so the difference step is 1e-3 (the rounding
  // then moves the numeric derivative by ≤ 6e-5·|x|, well inside 1e-5 + 1e-3·|numeric|).
  {
    name: 'cast float64 → float32 → float64 [2,3]',
    fn: (x: Tensor) => ew.cast(ew.cast(x, 'float32'), 'float64'),
    inputs: sampled(241, normal([2, 3])),
    opts: { eps: 1e-3 },
  },
  {
    name: 'cast to float32, tanh there, times a float64 tensor [4]',
    fn: (x: Tensor, w: Tensor) => ew.mul(ew.cast(ew.tanh(ew.cast(x, 'float32')), 'float64'), w),
    inputs: sampled(242, normal([4]), normal([4])),
    opts: { eps: 1e-3 },
  },
  {
    name: 'where mask [3], a number, b [2,3]',
    fn: (c: Tensor, b: Tensor) => ew.where(c, -1, b),
    inputs: sampled(234, mask([3]), normal([2, 3])),
    opts: { wrt: [1] },
  },
];
