import { recordOp } from '../../autograd/engine.js';
import { assertTensor, storageOf } from '../../autograd/ops/util.js';
import { backend } from '../../kernels/registry.js';
import { formatShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';

/**
 * Places the rows of `src` [R, ...] at row `indices[i]` of a zero tensor [rows, ...] (repeated indices
 * add up): the adjoint of selecting rows, used to put the outputs of experts evaluated on a subset
 * of the batch back in place. Backward: the gradient's rows at `indices`.
 */
export function scatterRows(src: Tensor, indices: Int32Array, rows: number): Tensor {
  assertTensor('scatterRows', src, 'src');
  if (src.ndim < 1 || src.shape[0] !== indices.length) {
    throw new Error(`scatterRows: src ${formatShape(src.shape)} must have one row per index (${indices.length} indices)`);
  }
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= rows) throw new Error(`scatterRows: index ${i} outside [0, ${rows})`);
  }
  const outShape = [rows, ...src.shape.slice(1)];
  const storage = backend().scatterAdd(storageOf(src), src.shape, indices, 0, outShape);
  return recordOp('scatterRows', storage, outShape, [src], (g) => [
    new Tensor(backend().gather(storageOf(g), g.shape, indices, 0), src.shape),
  ]);
}
