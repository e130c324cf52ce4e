import { recordOp } from '../../autograd/engine.js';
import { mul } from '../../autograd/ops/elementwise.js';
import { assertTensor, storageOf } from '../../autograd/ops/util.js';
import { backend } from '../../kernels/registry.js';
import { allocArray } from '../../tensor/dtype.js';
import type { Storage } from '../../tensor/storage.js';
import { Tensor } from '../../tensor/tensor.js';

const SQRT2 = Math.SQRT2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * erfc(x) for x ≥ 0 to near double precision: for x < 3 by the all-positive series
 * erf(x) = (2/√π)·e^{−x²}·Σ (2x²)ⁿ·x / (1·3·…·(2n+1)) (no cancellation), beyond by the continued
 * fraction erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))).
 */
function erfcNonNegative(x: number): number {
  if (x < 3) {
    const x2 = x * x;
    let term = x;
    let total = x;
    for (let n = 0; n < 200 && term > 1e-17 * total; n++) {
      term *= (2 * x2) / (2 * n + 3);
      total += term;
    }
    return 1 - TWO_OVER_SQRT_PI * Math.exp(-x2) * total;
  }
  let f = x;
  for (let n = 60; n >= 1; n--) f = x + n / 2 / f;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

/** Φ(x) = P(N(0,1) ≤ x), accurate in both tails (the small tail is computed directly, never as 1 − Φ). */
export function normalCdfValue(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const t = Math.abs(x) / SQRT2;
  const tail = 0.5 * erfcNonNegative(t);
  return x < 0 ? tail : 1 - tail;
}

/** φ(x), the standard normal density. */
export function normalPdfValue(x: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

function mapHost(x: Tensor, f: (v: number) => number): Storage {
  const src = storageOf(x).readSync();
  const out = allocArray(x.dtype, src.length);
  for (let i = 0; i < src.length; i++) out[i] = f(src[i]!);
  return backend().fromHost(out);
}

/**
 * The standard normal CDF Φ elementwise, as a recorded op with backward g·φ(x). Used by the noisy
 * top-k gate's smooth estimate of P(expert in top-k). Computed on the host (a small [B, n] tensor).
 */
export function normalCdf(x: Tensor): Tensor {
  assertTensor('normalCdf', x);
  return recordOp('normalCdf', mapHost(x, normalCdfValue), x.shape, [x], (g) => [mul(g, new Tensor(mapHost(x, normalPdfValue), x.shape))]);
}
