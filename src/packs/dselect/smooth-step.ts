import { recordOp } from '../../autograd/engine.js';
import { mul } from '../../autograd/ops/elementwise.js';
import { assertTensor, storageOf } from '../../autograd/ops/util.js';
import { dselectKernels } from './kernels.js';
import { Tensor } from '../../tensor/tensor.js';
import { assertGamma } from './validate.js';

/**
 * The DSelect-k smooth-step, elementwise:
 *   S(t) = 0 for t ≤ −γ/2,  −2t³/γ³ + 3t/(2γ) + 1/2 for −γ/2 < t < γ/2,  1 for t ≥ γ/2.
 * Backward: g·S'(t) with S'(t) = (3/(2γ))·(1 − 4t²/γ²) inside and exactly 0 outside; at t = ±γ/2
 * the constant branch is taken, so the gradient there is 0.
 */
export function smoothStep(x: Tensor, gamma = 1): Tensor {
  assertTensor('smoothStep', x, 'x');
  assertGamma('smoothStep', gamma);
  const storage = dselectKernels.current().smoothStep(storageOf(x), gamma, false);
  return recordOp('smoothStep', storage, x.shape, [x], (g) => [mul(g, smoothStepDerivative(x, gamma))]);
}

/** S'(x) as a tensor (no graph). */
export function smoothStepDerivative(x: Tensor, gamma = 1): Tensor {
  assertTensor('smoothStepDerivative', x, 'x');
  assertGamma('smoothStepDerivative', gamma);
  return new Tensor(dselectKernels.current().smoothStep(storageOf(x), gamma, true), x.shape);
}
