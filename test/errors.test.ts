import { describe, expect, it } from 'vitest';
import {
  add,
  arange,
  argmax,
  clamp,
  gradcheck,
  logSoftmax,
  logsumexp,
  matmul,
  max,
  mean,
  min,
  mul,
  seed,
  softmax,
  sub,
  sum,
  tensor,
  where,
  zeros,
} from '../src/index.js';

/**
 * Every bad input is a thrown error naming the op and the shapes/dtypes/values involved.
 *
 * Non-finite values are refused where an op cannot give them a meaning:
 * - clamp: a NaN bound (or low > high);
 * - arange: a non-finite start, stop or step (and step 0), which would mean an infinite length;
 * - gradcheck: a non-finite input (central differences of ±∞/NaN are meaningless);
 * - seed: a non-finite seed;
 * - max/min over an empty axis and argmax over an empty axis (no identity, no index to return).
 * Elsewhere NaN and ±∞ are ordinary IEEE values and propagate (NaN through max/min/maximum/minimum,
 * −∞ lanes give logsumexp −∞), as in NumPy.
 */
describe('shape errors', () => {
  it('binary ops name both shapes when they cannot broadcast', () => {
    expect(() => add(tensor([1, 2, 3]), tensor([1, 2]))).toThrow('add: shapes [3] and [2] cannot be broadcast together');
    expect(() => mul(zeros([2, 3]), zeros([3, 2]))).toThrow('mul: shapes [2,3] and [3,2] cannot be broadcast together');
    expect(() => sub(zeros([4, 1, 3]), zeros([2, 4]))).toThrow('sub: shapes [4,1,3] and [2,4] cannot be broadcast together');
    expect(() => where(zeros([2]), zeros([3]), 0)).toThrow('where: shapes [2] and [3] cannot be broadcast together');
  });

  it('matmul names the operands as passed', () => {
    expect(() => matmul(zeros([2, 3]), zeros([4, 5]))).toThrow('matmul: inner dims differ: [2,3] @ [4,5]');
    expect(() => matmul(zeros([3]), zeros([4, 5]))).toThrow('matmul: inner dims differ: [3] @ [4,5] (3 vs 4)');
    expect(() => matmul(zeros([2, 3]), zeros([3, 3]), { transA: true })).toThrow('matmul: inner dims differ: [2,3]ᵀ @ [3,3] (2 vs 3)');
    expect(() => matmul(zeros([2, 3, 4]), zeros([3, 4, 5]))).toThrow(
      'matmul: batch dims [2] and [3] cannot be broadcast together: [2,3,4] @ [3,4,5]',
    );
    expect(() => matmul(tensor(1), zeros([1, 2]))).toThrow('matmul: operands must have at least 1 dimension, got [] @ [1,2]');
  });

  it('reductions and softmax reject unknown axes', () => {
    const x = zeros([2, 3]);
    expect(() => sum(x, 3)).toThrow('sum: axis 3 is out of range for a tensor of rank 2');
    expect(() => mean(x, -3)).toThrow('mean: axis -3 is out of range for a tensor of rank 2');
    expect(() => max(x, [0, 2])).toThrow('max: axis 2 is out of range for a tensor of rank 2');
    expect(() => min(x, 5)).toThrow('min: axis 5 is out of range for a tensor of rank 2');
    expect(() => logsumexp(x, 2)).toThrow('logsumexp: axis 2 is out of range for a tensor of rank 2');
    expect(() => softmax(x, 2)).toThrow('softmax: axis 2 is out of range for a tensor of rank 2');
    expect(() => logSoftmax(x, -3)).toThrow('logSoftmax: axis -3 is out of range for a tensor of rank 2');
    expect(() => argmax(x, 2)).toThrow('argmax: axis 2 is out of range for a tensor of rank 2');
    expect(() => sum(x, [0, -2])).toThrow('sum: repeated axis in [0,-2]');
    expect(() => softmax(tensor(1))).toThrow('softmax: needs a tensor with at least 1 dimension, got a 0-d tensor');
  });
});

describe('dtype errors', () => {
  it('mixing float32 and float64 is an error, never a silent conversion', () => {
    const f32 = tensor([1, 2]);
    const f64 = tensor([1, 2], { dtype: 'float64' });
    expect(() => add(f32, f64)).toThrow('add: dtype mismatch: float32 [2] and float64 [2] (cast one with .cast())');
    expect(() => matmul(zeros([2, 2]), zeros([2, 2], { dtype: 'float64' }))).toThrow('matmul: dtype mismatch: float32 [2,2] and float64 [2,2]');
    expect(() => where(f32, f64, 0)).toThrow('where: dtype mismatch: float32 [2] and float64 [2]');
    expect(() => tensor([1], { dtype: 'int32' as 'float32' })).toThrow(`tensor: unknown dtype "int32" (expected 'float32' or 'float64')`);
  });

  it('backward refuses a gradient of another dtype or shape', () => {
    const y = mul(tensor([1, 2], { requiresGrad: true }), 2);
    expect(() => y.backward(tensor([1, 1], { dtype: 'float64' }))).toThrow('backward: gradient dtype float64 does not match output dtype float32');
    expect(() => y.backward(tensor([1, 1, 1]))).toThrow('backward: gradient shape [3] does not match output shape [2]');
  });
});

describe('graph errors', () => {
  it('a second backward through a freed graph names the op', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const y = sum(mul(a, a));
    y.backward();
    expect(() => y.backward()).toThrow("backward: the graph through 'sum' was already freed by an earlier backward()");
    // Also when only a shared intermediate was freed.
    const h = mul(a, a);
    sum(h).backward();
    expect(() => sum(add(h, 1)).backward()).toThrow("backward: the graph through 'mul' was already freed");
  });

  it('backward on a non-scalar needs an explicit gradient', () => {
    const y = mul(tensor([1, 2], { requiresGrad: true }), 2);
    expect(() => y.backward()).toThrow('backward: output of shape [2] is not a scalar; pass a gradient of that shape');
  });

  it('backward on a tensor that does not require grad', () => {
    expect(() => sum(tensor([1, 2])).backward()).toThrow('backward: tensor [] does not require grad');
  });

  it('using a disposed tensor', () => {
    const x = tensor([1]);
    x.dispose();
    expect(() => x.toArray()).toThrow(/Tensor \[1\] \(id \d+\) was used after dispose\(\)/);
  });
});

describe('bad values and data', () => {
  it('item() on a tensor with more than one element', () => {
    expect(() => tensor([1, 2]).item()).toThrow('item: tensor of shape [2] has 2 elements, expected 1');
    expect(() => zeros([0]).item()).toThrow('item: tensor of shape [0] has 0 elements, expected 1');
  });

  it('tensor() rejects ragged or non-numeric data and a shape that does not fit', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow('tensor: ragged nested array at [1] (expected length 2)');
    expect(() => tensor([[1, 2], [3, [4]]] as unknown as number[][])).toThrow('tensor: ragged nested array at [1][1] (expected a number)');
    expect(() => tensor([1, 'a'] as unknown as number[])).toThrow('tensor: expected a number at [1], got string');
    expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow('tensor: 3 values cannot take shape [2,2] (needs 4)');
    expect(() => zeros([2, -1])).toThrow('invalid shape [2,-1] (dimensions must be non-negative integers)');
  });

  it('clamp refuses NaN bounds and low > high', () => {
    const x = tensor([1, 2]);
    expect(() => clamp(x, NaN, 1)).toThrow('clamp: bounds must satisfy low ≤ high and not be NaN, got low=NaN, high=1');
    expect(() => clamp(x, 0, NaN)).toThrow('clamp: bounds must satisfy low ≤ high and not be NaN, got low=0, high=NaN');
    expect(() => clamp(x, 2, 1)).toThrow('clamp: bounds must satisfy low ≤ high and not be NaN, got low=2, high=1');
  });

  it('arange refuses non-finite arguments and a zero step', () => {
    expect(() => arange(0, Infinity)).toThrow('arange: start and stop must be finite, got start=0, stop=Infinity');
    expect(() => arange(NaN)).toThrow('arange: start and stop must be finite, got start=0, stop=NaN');
    expect(() => arange(0, 5, NaN)).toThrow('arange: step must be finite and non-zero, got NaN');
    expect(() => arange(0, 5, 0)).toThrow('arange: step must be finite and non-zero, got 0');
  });

  it('gradcheck refuses non-finite and float32 inputs', () => {
    const f = (x: ReturnType<typeof tensor>) => mul(x, 2);
    expect(() => gradcheck(f, [tensor([1, NaN], { dtype: 'float64' })])).toThrow(
      'gradcheck: input 0 [2] has the non-finite value NaN at element 1; central differences need finite inputs',
    );
    expect(() => gradcheck(f, [tensor([Infinity], { dtype: 'float64' })])).toThrow('gradcheck: input 0 [1] has the non-finite value Infinity at element 0');
    expect(() => gradcheck(f, [tensor([1])])).toThrow('gradcheck: input 0 [1] is float32; gradcheck needs float64 inputs');
  });

  it('seed refuses a non-finite seed', () => {
    expect(() => seed(NaN)).toThrow('seed: expected a finite number, got NaN');
  });

  it('max/min/argmax over an empty axis have nothing to return', () => {
    expect(() => max(zeros([0, 3]), 0)).toThrow('max: cannot reduce [0,3] over empty axis 0 (no identity for max)');
    expect(() => min(zeros([2, 0]))).toThrow('min: cannot reduce [2,0] over empty axis 1 (no identity for min)');
    expect(() => argmax(zeros([2, 0]))).toThrow('argmax: axis -1 of [2,0] has no elements to choose from');
    // Reductions with an identity are fine on empty axes.
    expect(Array.from(sum(zeros([0, 3]), 0).toArray())).toEqual([0, 0, 0]);
    expect(Array.from(logsumexp(zeros([0, 2]), 0).toArray())).toEqual([-Infinity, -Infinity]);
  });

  it('non-tensor operands are named', () => {
    expect(() => add(1, 2)).toThrow('add: at least one operand must be a Tensor');
    expect(() => sum([1, 2] as unknown as ReturnType<typeof tensor>)).toThrow('sum: input must be a Tensor, got array of length 2');
    expect(() => matmul(zeros([2, 2]), 3 as unknown as ReturnType<typeof tensor>)).toThrow('matmul: b must be a Tensor, got 3');
  });
});
