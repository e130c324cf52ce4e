import { noGrad } from '../autograd/engine.js';
import { abs, clamp, mul } from '../autograd/ops/elementwise.js';
import { max, sumSquares } from '../autograd/ops/reduce.js';
import { tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import type { ParameterSource } from './optimizer.js';

function gradients(owner: string, source: ParameterSource): Tensor[] {
  const params = typeof (source as { parameters?: unknown }).parameters === 'function' ? (source as { parameters(): Tensor[] }).parameters() : [...(source as Iterable<Tensor>)];
  params.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new Error(`${owner}: parameter ${i} is not a Tensor`);
  });
  return params.flatMap((p) => (p.grad ? [p.grad] : []));
}

/**
 * Scales the gradients of `params` so that their global norm (over all of them together) is at most
 * `maxNorm`, as PyTorch's clip_grad_norm_: g ← g · maxNorm / (norm + 1e-6) when norm > maxNorm.
 * `normType` 2 (default) or Infinity (largest |g|). Parameters without a gradient are skipped. Returns
 * the norm before clipping; a non-finite norm is an error naming it (nothing is changed).
 */
export function clipGradNorm(params: ParameterSource, maxNorm: number, normType: 2 | typeof Infinity = 2): number {
  const owner = 'clipGradNorm';
  if (typeof maxNorm !== 'number' || !Number.isFinite(maxNorm) || maxNorm <= 0) throw new Error(`${owner}: maxNorm must be a finite number > 0, got ${String(maxNorm)}`);
  if (normType !== 2 && normType !== Infinity) throw new Error(`${owner}: normType must be 2 or Infinity, got ${String(normType)}`);
  const grads = gradients(owner, params);
  const norm = noGrad(() =>
    tidy(() => {
      if (normType === Infinity) return grads.reduce((m, g) => Math.max(m, max(abs(g)).item()), 0);
      return Math.sqrt(grads.reduce((s, g) => s + sumSquares(g).item(), 0));
    }),
  );
  if (!Number.isFinite(norm)) throw new Error(`${owner}: the gradient norm is ${norm} (a gradient holds NaN or ±Infinity); nothing was clipped`);
  if (norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    noGrad(() => tidy(() => grads.forEach((g) => g.setStorage(mul(g, scale).storage))));
  }
  return norm;
}

/** Clamps every gradient element of `params` to [−clipValue, clipValue] (PyTorch's clip_grad_value_). */
export function clipGradValue(params: ParameterSource, clipValue: number): void {
  if (typeof clipValue !== 'number' || !Number.isFinite(clipValue) || clipValue <= 0) {
    throw new Error(`clipGradValue: clipValue must be a finite number > 0, got ${String(clipValue)}`);
  }
  const grads = gradients('clipGradValue', params);
  noGrad(() => tidy(() => grads.forEach((g) => g.setStorage(clamp(g, -clipValue, clipValue).storage))));
}
