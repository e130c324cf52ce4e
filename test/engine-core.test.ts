import { describe, expect, it } from 'vitest';
import { add, assertGradcheck, matmul, mean, mul, noGrad, randn, reshape, seed, sum, tensor, tidy, Tensor } from '../src/index.js';

describe('engine core', () => {
  it('adds with broadcasting and accumulates gradients', () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
    const b = tensor([10, 20, 30], { requiresGrad: true });
    const y = sum(mul(add(a, b), 2));
    expect(y.item()).toBe(2 * (21 + 60 + 60));
    y.backward();
    expect(Array.from(a.grad!.toArray())).toEqual([2, 2, 2, 2, 2, 2]);
    expect(b.grad!.shape).toEqual([3]);
    expect(Array.from(b.grad!.toArray())).toEqual([4, 4, 4]);
  });

  it('matmul matches a hand computation and gradchecks in float64', () => {
    const a = tensor([[1, 2], [3, 4]]);
    const b = tensor([[5, 6], [7, 8]]);
    expect(Array.from(matmul(a, b).toArray())).toEqual([19, 22, 43, 50]);
    seed(1);
    const x = randn([2, 3, 4], { dtype: 'float64' });
    const w = randn([4, 5], { dtype: 'float64' });
    assertGradcheck((p, q) => matmul(p!, q!), [x, w]);
    assertGradcheck((p, q) => matmul(p!, q!, { transB: true }), [x, randn([5, 4], { dtype: 'float64' })]);
    assertGradcheck((p, q) => matmul(p!, q!, { transA: true }), [randn([3, 2], { dtype: 'float64' }), randn([3, 4], { dtype: 'float64' })]);
    assertGradcheck((p) => mean(reshape(p!, [6, 4]), 0), [x]);
  });

  it('names the op and shapes in errors', () => {
    expect(() => matmul(tensor([[1, 2, 3], [4, 5, 6]]), tensor(new Float32Array(20), { shape: [4, 5] }))).toThrow(
      'matmul: inner dims differ: [2,3] @ [4,5]',
    );
    expect(() => add(tensor([1, 2, 3]), tensor([1, 2]))).toThrow('add: shapes [3] and [2] cannot be broadcast together');
    expect(() => add(tensor([1], { dtype: 'float32' }), tensor([1], { dtype: 'float64' }))).toThrow(/add: dtype mismatch: float32 \[1\] and float64 \[1\]/);
  });

  it('refuses a second backward through a freed graph', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const y = sum(mul(a, a));
    y.backward();
    expect(() => y.backward()).toThrow(/already freed/);
  });

  it('noGrad records nothing and tidy releases intermediates', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const y = noGrad(() => mul(a, 3));
    expect(y.requiresGrad).toBe(false);
    let inner: Tensor | null = null;
    const kept = tidy(() => {
      inner = mul(a, 2);
      return add(inner, 1);
    });
    expect(inner!.isDisposed).toBe(true);
    expect(kept.isDisposed).toBe(false);
  });
});
