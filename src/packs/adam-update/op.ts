import { storageOf } from '../../autograd/ops/util.js';
import { backend } from '../../kernels/registry.js';
import { Tensor } from '../../tensor/tensor.js';
import { adamUpdateKernels, type AdamUpdateArgs } from './kernels.js';

export interface AdamMoments {
  /** First moment estimate (PyTorch's exp_avg), or null before the first step (zeros). */
  m: Tensor | null;
  /** Second moment estimate (exp_avg_sq), or null before the first step. */
  v: Tensor | null;
}

/**
 * One Adam/AdamW step for one parameter in one fused kernel (a single pass instead of ~12
 * elementwise ops and their arrays). Not differentiable: optimisers run it under noGrad.
 */
export function adamStep(param: Tensor, grad: Tensor, moments: AdamMoments, args: AdamUpdateArgs): { param: Tensor; m: Tensor; v: Tensor } {
  // Moments start at 0 (PyTorch): β·0 + (1−β)·g is exactly the first step's (1−β)·g.
  const zeros = moments.m && moments.v ? null : backend().fill(param.size, 0, param.dtype);
  const m = moments.m ? storageOf(moments.m) : zeros!;
  const v = moments.v ? storageOf(moments.v) : zeros!;
  const r = adamUpdateKernels.current().update(storageOf(param), storageOf(grad), m, v, args);
  zeros?.dispose();
  return { param: new Tensor(r.param, param.shape), m: new Tensor(r.m, param.shape), v: new Tensor(r.v, param.shape) };
}
