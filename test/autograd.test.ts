import { describe, expect, it } from 'vitest';
import {
  add,
  argmax,
  cast,
  exp,
  gt,
  isGradEnabled,
  keep,
  max,
  maximum,
  min,
  minimum,
  mul,
  noGrad,
  reshape,
  sum,
  tensor,
  tidy,
  Tensor,
  where,
} from '../src/index.js';

const values = (t: Tensor | null): number[] => Array.from(t!.toArray());

describe('gradient accumulation', () => {
  it('accumulates into .grad across two backward calls', () => {
    const a = tensor([1, 2, 3], { requiresGrad: true });
    sum(mul(a, 2)).backward();
    expect(values(a.grad)).toEqual([2, 2, 2]);
    sum(mul(a, a)).backward();
    expect(values(a.grad)).toEqual([4, 6, 8]);
  });

  it('accumulates when one input is used on several paths (diamond)', () => {
    const a = tensor([1, -2], { requiresGrad: true });
    const y = mul(a, a);
    sum(add(y, mul(y, 3))).backward(); // 4a² → 8a
    expect(values(a.grad)).toEqual([8, -16]);
    expect(y.grad).toBeNull(); // intermediates keep no gradient
  });

  it('with retainGraph, a second backward through the same graph adds the same gradient again', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const y = sum(mul(a, a));
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(values(a.grad)).toEqual([4, 8]);
  });

  it('takes an explicit upstream gradient for a non-scalar output', () => {
    const a = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    mul(a, 3).backward(tensor([[1, 0], [2, -1]]));
    expect(values(a.grad)).toEqual([3, 0, 6, -3]);
  });

  it('sums a broadcast gradient back to each input shape', () => {
    const a = tensor([[1], [2]], { requiresGrad: true }); // [2,1]
    const b = tensor([10, 20, 30], { requiresGrad: true }); // [3]
    sum(mul(a, b)).backward();
    expect(a.grad!.shape).toEqual([2, 1]);
    expect(values(a.grad)).toEqual([60, 60]);
    expect(b.grad!.shape).toEqual([3]);
    expect(values(b.grad)).toEqual([3, 3, 3]);
  });
});

describe('which tensors get gradients', () => {
  it('a leaf without requiresGrad gets none', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([5, 7]);
    sum(mul(a, b)).backward();
    expect(values(a.grad)).toEqual([5, 7]);
    expect(b.grad).toBeNull();
    expect(b.requiresGrad).toBe(false);
  });

  it('outputs of ops on constants do not require grad', () => {
    const y = mul(tensor([1, 2]), 2);
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
  });

  it('comparison masks and argmax carry no gradient', () => {
    const a = tensor([1, 5, 3], { requiresGrad: true });
    expect(gt(a, 2).requiresGrad).toBe(false);
    const idx = argmax(a);
    expect(idx.requiresGrad).toBe(false);
    expect(idx.item()).toBe(1);
  });

  it('where sends the gradient to the chosen branch only', () => {
    const a = tensor([1, 2, 3], { requiresGrad: true });
    const b = tensor([10, 20, 30], { requiresGrad: true });
    sum(where(tensor([1, 0, 1]), a, b)).backward();
    expect(values(a.grad)).toEqual([1, 0, 1]);
    expect(values(b.grad)).toEqual([0, 1, 0]);
  });

  it('cast returns the gradient in the input dtype', () => {
    const a = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    sum(mul(cast(a, 'float32'), 3)).backward();
    expect(a.grad!.dtype).toBe('float64');
    expect(values(a.grad)).toEqual([3, 3]);
  });
});

describe('ties in max/min', () => {
  it('max and min split the gradient evenly among tied elements', () => {
    const a = tensor([[1, 3, 3], [2, 0, 2]], { requiresGrad: true });
    sum(max(a, 1)).backward();
    expect(values(a.grad)).toEqual([0, 0.5, 0.5, 0.5, 0, 0.5]);
    a.zeroGrad();
    min(a).backward(); // one global minimum
    expect(values(a.grad)).toEqual([0, 0, 0, 0, 1, 0]);
    a.zeroGrad();
    max(a).backward(); // two tied global maxima
    expect(values(a.grad)).toEqual([0, 0.5, 0.5, 0, 0, 0]);
  });

  it('maximum and minimum split the gradient at ties', () => {
    const a = tensor([1, 2, 3], { requiresGrad: true });
    const b = tensor([0, 2, 4], { requiresGrad: true });
    sum(maximum(a, b)).backward();
    expect(values(a.grad)).toEqual([1, 0.5, 0]);
    expect(values(b.grad)).toEqual([0, 0.5, 1]);
    a.zeroGrad();
    b.zeroGrad();
    sum(minimum(a, b)).backward();
    expect(values(a.grad)).toEqual([0, 0.5, 1]);
    expect(values(b.grad)).toEqual([1, 0.5, 0]);
  });
});

describe('detach, noGrad, zeroGrad', () => {
  it('detach cuts the graph and shares the data', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const d = mul(a, 3).detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.node).toBeNull();
    sum(mul(d, a)).backward(); // d is a constant here: grad = d, not 2·3a
    expect(values(a.grad)).toEqual([3, 6]);
  });

  it('noGrad records nothing, restores the previous mode, even after a throw', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      return exp(mul(a, a));
    });
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
    expect(isGradEnabled()).toBe(true);
    expect(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
    expect(mul(a, 2).requiresGrad).toBe(true);
  });

  it('zeroGrad clears the gradient so the next backward starts fresh', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    sum(mul(a, 5)).backward();
    expect(values(a.grad)).toEqual([5, 5]);
    a.zeroGrad();
    expect(a.grad).toBeNull();
    sum(mul(a, 2)).backward();
    expect(values(a.grad)).toEqual([2, 2]);
  });
});

describe('storage sharing and memory scopes', () => {
  it('reshape shares storage and routes the gradient back in the input shape', () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
    const r = reshape(a, [3, 2]);
    expect(r.storage).toBe(a.storage);
    expect(r.toNested()).toEqual([[1, 2], [3, 4], [5, 6]]);
    sum(mul(r, tensor([[1, 2], [3, 4], [5, 6]]))).backward();
    expect(a.grad!.shape).toEqual([2, 3]);
    expect(values(a.grad)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('tidy disposes intermediates, keeps returned and kept tensors', () => {
    const a = tensor([1, 2]);
    const inner: Tensor[] = [];
    let kept: Tensor | null = null;
    const result = tidy(() => {
      const x = mul(a, 2);
      const y = add(x, 1);
      kept = keep(mul(a, 10));
      inner.push(x, y);
      return { out: y, list: [add(y, 1)] };
    });
    expect(inner[0]!.isDisposed).toBe(true);
    expect(inner[1]!.isDisposed).toBe(false); // returned inside an object
    expect(result.list[0]!.isDisposed).toBe(false); // returned inside an array
    expect(values(result.out)).toEqual([3, 5]);
    expect(values(kept)).toEqual([10, 20]);
    expect(a.isDisposed).toBe(false); // created outside the scope
    expect(() => inner[0]!.toArray()).toThrow(/used after dispose/);
  });

  it('nested tidy hands a returned tensor to the outer scope, which disposes it at its end', () => {
    let fromInner: Tensor | null = null;
    const outer = tidy(() => {
      fromInner = tidy(() => mul(tensor([1, 2]), 2));
      expect(fromInner.isDisposed).toBe(false);
      return add(fromInner, 1);
    });
    expect(fromInner!.isDisposed).toBe(true);
    expect(values(outer)).toEqual([3, 5]);
  });

  it('a training step inside tidy leaves parameters and their gradients alive', () => {
    const w = tensor([1, 2], { requiresGrad: true });
    tidy(() => {
      sum(mul(mul(w, w), 3)).backward();
    });
    expect(w.isDisposed).toBe(false);
    expect(w.grad!.isDisposed).toBe(false);
    expect(values(w.grad)).toEqual([6, 12]);
  });

  it('disposing a tensor that shares storage leaves the other alive', () => {
    const a = tensor([1, 2, 3, 4]);
    const r = reshape(a, [2, 2]);
    r.dispose();
    expect(values(a)).toEqual([1, 2, 3, 4]);
  });
});

describe('deep graphs', () => {
  it('backward through a chain of 10,000 ops does not overflow the stack', () => {
    const a = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    tidy(() => {
      let y = a;
      for (let i = 0; i < 10_000; i++) y = i % 2 === 0 ? add(y, 1) : mul(y, 1.0001);
      sum(y).backward();
    });
    const expected = Math.pow(1.0001, 5_000);
    for (const g of values(a.grad)) expect(g).toBeCloseTo(expected, 10);
  });
});
