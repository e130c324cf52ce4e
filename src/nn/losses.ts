import { mul, softplus, square, sub } from '../autograd/ops/elementwise.js';
import { mean, sum } from '../autograd/ops/reduce.js';
import { reshape } from '../autograd/ops/shape.js';
import { softmaxCrossEntropyRows } from '../packs/softmax-cross-entropy/index.js';
import { formatShape, shapesEqual } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

export type Reduction = 'mean' | 'sum';

/** Mean (or sum) of (prediction − target)². */
export function mseLoss(prediction: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  const t = alignTarget('mseLoss', prediction, target);
  return reduce(square(sub(prediction, t)), reduction);
}

/**
 * Binary cross-entropy on logits x with targets t ∈ [0, 1], computed stably as
 * softplus(x) − x·t = max(x, 0) − x·t + log(1 + e^−|x|) (no overflow for large |x|).
 */
export function bceWithLogitsLoss(logits: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  const t = alignTarget('bceWithLogitsLoss', logits, target);
  return reduce(sub(softplus(logits), mul(logits, t)), reduction);
}

/**
 * Cross-entropy of logits [B, C] against integer class labels (B of them, each in [0, C)); labels may
 * be an Int32Array, a number[] or a tensor of integral values. Per row logsumexp(x) − x[label], one
 * fused kernel each way (the softmax-cross-entropy op pack), then the mean or sum.
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Int32Array | readonly number[] | Tensor, reduction: Reduction = 'mean'): Tensor {
  if (!(logits instanceof Tensor) || logits.ndim !== 2) {
    throw new Error(`softmaxCrossEntropy: logits must be a [batch, classes] tensor, got ${logits instanceof Tensor ? formatShape(logits.shape) : typeof logits}`);
  }
  const [batch, classes] = logits.shape as [number, number];
  const ids = checkLabels(labels, batch, classes);
  return reduce(softmaxCrossEntropyRows(logits, ids), reduction);
}

function checkLabels(labels: Int32Array | readonly number[] | Tensor, batch: number, classes: number): ArrayLike<number> {
  let values: ArrayLike<number>;
  if (labels instanceof Tensor) {
    if (labels.size !== batch || labels.ndim > 2 || (labels.ndim === 2 && labels.shape[1] !== 1)) {
      throw new Error(`softmaxCrossEntropy: labels ${formatShape(labels.shape)} do not match logits batch ${batch} (expected [${batch}])`);
    }
    values = labels.toArray();
  } else if (labels instanceof Int32Array || Array.isArray(labels)) {
    values = labels;
  } else {
    throw new Error(`softmaxCrossEntropy: labels must be an Int32Array, a number[] or a Tensor, got ${typeof labels}`);
  }
  if (values.length !== batch) throw new Error(`softmaxCrossEntropy: ${values.length} labels for a batch of ${batch} logits rows`);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      throw new Error(`softmaxCrossEntropy: label ${i} is ${v}; labels must be integers in [0, ${classes}) for logits with ${classes} classes`);
    }
  }
  return values;
}

/** Accepts targets of the prediction's shape, or of the same shape up to size-1 dims ([B] vs [B, 1]). */
function alignTarget(op: string, prediction: Tensor, target: Tensor): Tensor {
  if (!(prediction instanceof Tensor) || !(target instanceof Tensor)) throw new Error(`${op}: prediction and target must be Tensors`);
  if (prediction.dtype !== target.dtype) {
    throw new Error(`${op}: prediction is ${prediction.dtype} ${formatShape(prediction.shape)} but target is ${target.dtype} ${formatShape(target.shape)}`);
  }
  if (shapesEqual(prediction.shape, target.shape)) return target;
  const squeezed = (s: readonly number[]): number[] => s.filter((d) => d !== 1);
  if (prediction.size === target.size && shapesEqual(squeezed(prediction.shape), squeezed(target.shape))) {
    return reshape(target, prediction.shape);
  }
  throw new Error(`${op}: prediction ${formatShape(prediction.shape)} and target ${formatShape(target.shape)} differ in shape`);
}

function reduce(x: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'mean') return mean(x);
  if (reduction === 'sum') return sum(x);
  throw new Error(`loss: reduction must be 'mean' or 'sum', got '${String(reduction)}'`);
}
