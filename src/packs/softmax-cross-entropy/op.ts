import { recordOp } from '../../autograd/engine.js';
import { assertTensor, storageOf } from '../../autograd/ops/util.js';
import { formatShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { softmaxCrossEntropyKernels } from './kernels.js';

/**
 * Softmax cross-entropy of each row of logits [rows, classes] against its integer label:
 * loss_r = logsumexp(x_r) − x_r[label_r] (−log softmax at the label, never formed), a [rows]
 * tensor. One kernel forward, which keeps each row's logsumexp for the backward; one backward,
 * dlogits = (softmax(x_r) − onehot(label_r))·g_r, without a one-hot tensor. The labels are copied.
 */
export function softmaxCrossEntropyRows(logits: Tensor, labels: ArrayLike<number>): Tensor {
  assertTensor('softmaxCrossEntropyRows', logits, 'logits');
  if (logits.ndim !== 2) throw new Error(`softmaxCrossEntropyRows: logits must be [rows, classes], got ${formatShape(logits.shape)}`);
  const [rows, cols] = logits.shape as [number, number];
  if (labels.length !== rows) throw new Error(`softmaxCrossEntropyRows: ${labels.length} labels for logits ${formatShape(logits.shape)}`);
  const ids = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const v = labels[r]!;
    if (!Number.isInteger(v) || v < 0 || v >= cols) {
      throw new Error(`softmaxCrossEntropyRows: label ${r} is ${v}; labels must be integers in [0, ${cols}) for logits ${formatShape(logits.shape)}`);
    }
    ids[r] = v;
  }
  const f = softmaxCrossEntropyKernels.current().forward(storageOf(logits), ids, rows, cols);
  const lse = new Tensor(f.lse, [rows]);
  return recordOp('softmaxCrossEntropyRows', f.loss, [rows], [logits], (g) => [
    new Tensor(softmaxCrossEntropyKernels.current().backward(storageOf(g), storageOf(logits), storageOf(lse), ids, rows, cols), [rows, cols]),
  ]);
}
