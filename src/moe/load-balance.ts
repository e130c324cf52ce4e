import { add, div, mul, square, sub } from '../autograd/ops/elementwise.js';
import { mean, sum } from '../autograd/ops/reduce.js';
import type { Tensor } from '../tensor/tensor.js';

/** CV²(v) = var(v) / (mean(v)² + 1e-10) over a 1-D tensor, population variance (Shazeer et al.). */
export function cvSquared(v: Tensor): Tensor {
  if (v.ndim !== 1) throw new Error(`cvSquared: expected a 1-D tensor, got ${v.ndim}-D`);
  const m = mean(v);
  const variance = mean(square(sub(v, m)));
  return div(variance, add(square(m), 1e-10));
}

/** w · (CV²(Σ_batch gates) + CV²(load)); `load` may be null (k = numExperts: every expert always in). */
export function loadBalancingLoss(gates: Tensor, load: Tensor | null, weight: number): Tensor {
  const importance = sum(gates, 0);
  const total = load ? add(cvSquared(importance), cvSquared(load)) : cvSquared(importance);
  return mul(total, weight);
}
