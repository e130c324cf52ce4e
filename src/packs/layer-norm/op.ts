import { recordOp } from '../../autograd/engine.js';
import { assertSameDType, assertTensor, storageOf } from '../../autograd/ops/util.js';
import { formatShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { layerNormKernels } from './kernels.js';

/**
 * Layer normalisation over the last `cols` elements of x (its last dims flattened): per row
 * y = (x − mean)/√(var + eps) · weight + bias with the biased variance; weight and bias hold `cols`
 * values (any shape) or are null. One kernel forward, one backward giving x's, weight's and bias's gradients.
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, cols: number, eps: number): Tensor {
  assertTensor('layerNorm', x, 'x');
  if (!Number.isInteger(cols) || cols < 1 || x.size % cols !== 0) {
    throw new Error(`layerNorm: cols = ${cols} must be a positive integer dividing the size of x ${formatShape(x.shape)}`);
  }
  if (!(eps > 0) || !Number.isFinite(eps)) throw new Error(`layerNorm: eps must be a finite number > 0, got ${eps}`);
  if ((weight === null) !== (bias === null)) throw new Error('layerNorm: give both weight and bias, or neither');
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p === null) continue;
    assertTensor('layerNorm', p, name);
    assertSameDType('layerNorm', x, p);
    if (p.size !== cols) throw new Error(`layerNorm: ${name} ${formatShape(p.shape)} must hold cols = ${cols} values for x ${formatShape(x.shape)}`);
  }
  const rows = x.size / cols;
  const affine = weight !== null;
  const f = layerNormKernels.current().forward(storageOf(x), rows, cols, weight && storageOf(weight), bias && storageOf(bias), eps);
  const mean = new Tensor(f.mean, [rows]);
  const rstd = new Tensor(f.rstd, [rows]);
  return recordOp('layerNorm', f.y, x.shape, affine ? [x, weight!, bias!] : [x], (g) => {
    const r = layerNormKernels.current().backward(storageOf(g), storageOf(x), storageOf(mean), storageOf(rstd), weight && storageOf(weight), rows, cols, affine);
    const dx = new Tensor(r.x, x.shape);
    return affine ? [dx, new Tensor(r.weight!, weight!.shape), new Tensor(r.bias!, bias!.shape)] : [dx];
  });
}
