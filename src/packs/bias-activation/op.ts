import { recordOp } from '../../autograd/engine.js';
import { assertSameDType, assertTensor, storageOf } from '../../autograd/ops/util.js';
import { formatShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { biasActivationKernels, type FusedActivation } from './kernels.js';

/**
 * activation(x + bias) in one kernel (a dense layer's epilogue), bias [C] added to every row of
 * x [..., C]; bias may be null. Backward: one kernel gives x's gradient gy = g·activation'(·) (from
 * the saved output) and the bias's, gy summed over the rows, in the same pass.
 */
export function biasActivation(x: Tensor, bias: Tensor | null, activation: FusedActivation): Tensor {
  assertTensor('biasActivation', x, 'x');
  if (activation !== 'identity' && activation !== 'relu') {
    throw new Error(`biasActivation: activation must be 'identity' or 'relu', got ${JSON.stringify(activation)}`);
  }
  if (bias !== null) {
    assertTensor('biasActivation', bias, 'bias');
    assertSameDType('biasActivation', x, bias);
    const cols = x.ndim > 0 ? x.shape[x.ndim - 1] : undefined;
    if (bias.ndim !== 1 || bias.shape[0] !== cols) {
      throw new Error(`biasActivation: bias ${formatShape(bias.shape)} must be [${cols ?? '?'}], the last dim of x ${formatShape(x.shape)}`);
    }
  } else if (activation === 'identity') {
    return x;
  }
  const inputs = bias ? [x, bias] : [x];
  const storage = biasActivationKernels.current().forward(storageOf(x), x.shape, bias ? storageOf(bias) : null, activation);
  const out = recordOp('biasActivation', storage, x.shape, inputs, (g) => {
    // Identity: g itself for both (the engine sums the bias's share over the rows).
    if (activation === 'identity') return [g, g];
    const r = biasActivationKernels.current().backward(activation, storageOf(g), storageOf(out), x.shape, bias !== null);
    const gx = new Tensor(r.x, x.shape);
    // The bias gradient comes already summed over the rows, in the same pass.
    return r.bias ? [gx, new Tensor(r.bias, bias!.shape)] : [gx];
  });
  return out;
}
