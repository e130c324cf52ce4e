import { mul } from '../../autograd/ops/elementwise.js';
import { sum } from '../../autograd/ops/reduce.js';
import { reshape } from '../../autograd/ops/shape.js';
import { softmax } from '../../autograd/ops/softmax.js';
import { assertTensor } from '../../autograd/ops/util.js';
import { formatShape, shapesEqual } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { selectorOutputsFor } from './selector.js';
import { assertGamma, assertNumExperts } from './validate.js';

/** DSelect-k's expert weights together with the pieces they are made of. */
export interface DSelectKOutputs {
  /** q: `[numExperts]` (static) or `[B, numExperts]` (per example). */
  weights: Tensor;
  /** r: one single-expert selector per row, `[k, numExperts]` or `[B, k, numExperts]` (feed to the regularisers). */
  selectors: Tensor;
  /** softmax(α): `[k]` or `[B, k]`. */
  mixing: Tensor;
}

/**
 * DSelect-k expert weights q = Σ_i softmax(α)_i · r(z^(i)).
 * Static: z `[k, m]`, alpha `[k]` → q `[numExperts]`. Per example: z `[B, k, m]`, alpha `[B, k]` →
 * q `[B, numExperts]`. m = ceil(log2 numExperts); q has at most k non-zeros once every S(z) is 0 or 1.
 */
export function dselectKWeights(z: Tensor, alpha: Tensor, numExperts: number, gamma = 1): Tensor {
  return dselectKForward('dselectKWeights', z, alpha, numExperts, gamma).weights;
}

/** Like `dselectKWeights`, also returning the selectors r and softmax(α) so callers need not recompute them. */
export function dselectKWeightsWithSelectors(z: Tensor, alpha: Tensor, numExperts: number, gamma = 1): DSelectKOutputs {
  return dselectKForward('dselectKWeightsWithSelectors', z, alpha, numExperts, gamma);
}

function dselectKForward(op: string, z: Tensor, alpha: Tensor, numExperts: number, gamma: number): DSelectKOutputs {
  assertTensor(op, z, 'z');
  assertTensor(op, alpha, 'alpha');
  assertNumExperts(op, numExperts);
  assertGamma(op, gamma);
  if (z.ndim !== 2 && z.ndim !== 3) {
    throw new Error(`${op}: z must be [k, m] (static) or [B, k, m] (per example), got ${formatShape(z.shape)}`);
  }
  const expectedAlpha = z.shape.slice(0, -1);
  if (!shapesEqual(alpha.shape, expectedAlpha)) {
    throw new Error(
      `${op}: alpha ${formatShape(alpha.shape)} does not match z ${formatShape(z.shape)}: expected alpha ${formatShape(expectedAlpha)} ` +
        '(static: z [k, m] with alpha [k]; per example: z [B, k, m] with alpha [B, k])',
    );
  }
  if (z.dtype !== alpha.dtype) {
    throw new Error(`${op}: dtype mismatch: z ${z.dtype} ${formatShape(z.shape)} and alpha ${alpha.dtype} ${formatShape(alpha.shape)}`);
  }
  if (z.shape[z.ndim - 2] === 0) throw new Error(`${op}: k (z's second-to-last dim) must be ≥ 1, got z ${formatShape(z.shape)}`);
  const selectors = selectorOutputsFor(op, z, numExperts, gamma);
  const mixing = softmax(alpha, -1);
  const weights = sum(mul(reshape(mixing, [...alpha.shape, 1]), selectors), -2);
  return { weights, selectors, mixing };
}
