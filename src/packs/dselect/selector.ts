import { recordOp } from '../../autograd/engine.js';
import { assertTensor, storageOf } from '../../autograd/ops/util.js';
import { dselectKernels } from './kernels.js';
import { formatShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { smoothStep } from './smooth-step.js';
import { assertGamma, assertNumExperts, selectorBitCount } from './validate.js';

/** Where a selector-output tensor came from, so regularisers can name the z behind a bad selector. */
export interface SelectorOrigin {
  z: Tensor;
  numExperts: number;
  gamma: number;
}

const origins = new WeakMap<Tensor, SelectorOrigin>();

/** The z and γ that produced `r`, if `r` is exactly a `selectorOutputs` result (not reshaped or sliced). */
export function selectorOrigin(r: Tensor): SelectorOrigin | undefined {
  return origins.get(r);
}

/**
 * Single-expert selectors: z `[..., k, m]` with m = ceil(log2 numExperts) → r `[..., k, numExperts]`,
 *   r_e = Π_j (bit_j(e) ? S(z_j) : 1 − S(z_j)),  bits most significant first.
 * Codes numExperts..2^m−1 are unreachable; their mass is dropped (no renormalising).
 * Any rank ≥ 1 works: a lone selector z `[m]` gives r `[numExperts]`.
 * numExperts must be an integer ≥ 2 (one expert needs no selector); gamma finite and > 0.
 */
export function selectorOutputs(z: Tensor, numExperts: number, gamma = 1): Tensor {
  return selectorOutputsFor('selectorOutputs', z, numExperts, gamma);
}

/** `selectorOutputs` reporting errors under the caller's name. */
export function selectorOutputsFor(op: string, z: Tensor, numExperts: number, gamma: number): Tensor {
  assertTensor(op, z, 'z');
  assertNumExperts(op, numExperts);
  assertGamma(op, gamma);
  const m = selectorBitCount(numExperts);
  if (z.ndim < 1 || z.shape[z.ndim - 1] !== m) {
    throw new Error(
      `${op}: z ${formatShape(z.shape)} must have last dim m = ceil(log2(numExperts)) = ${m} for numExperts = ${numExperts}` +
        (z.ndim < 1 ? ' (z is a scalar)' : `, got ${z.shape[z.ndim - 1]}`),
    );
  }
  const r = selectorProducts(smoothStep(z, gamma), numExperts);
  origins.set(r, { z, numExperts, gamma });
  return r;
}

/**
 * The product stage alone: s = S(z) `[..., m]` (values in [0, 1]) → r `[..., numExperts]`.
 * One recorded op whose backward is the hand-derived `selectorBackward` kernel (leave-one-out
 * products by prefix/suffix, no division).
 */
export function selectorProducts(s: Tensor, numExperts: number): Tensor {
  assertTensor('selectorProducts', s, 's');
  assertNumExperts('selectorProducts', numExperts);
  const m = selectorBitCount(numExperts);
  if (s.ndim < 1 || s.shape[s.ndim - 1] !== m) {
    throw new Error(`selectorProducts: s ${formatShape(s.shape)} must have last dim m = ceil(log2(numExperts)) = ${m} for numExperts = ${numExperts}`);
  }
  const rows = s.size / m;
  const outShape = [...s.shape.slice(0, -1), numExperts];
  const storage = dselectKernels.current().selectorForward(storageOf(s), rows, m, numExperts);
  return recordOp('selectorProducts', storage, outShape, [s], (g) => [
    new Tensor(dselectKernels.current().selectorBackward(storageOf(s), storageOf(g), rows, m, numExperts), s.shape),
  ]);
}
