import { reshape } from '../../autograd/ops/shape.js';
import { bceWithLogitsLoss, mseLoss, softmaxCrossEntropy } from '../../nn/losses.js';
import { formatShape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';

/** 'mse': regression; 'bce': one logit per example against 0/1 targets; 'ce': class logits against integer labels. */
export type TaskLossKind = 'mse' | 'bce' | 'ce';
export const taskLossKinds: readonly TaskLossKind[] = ['mse', 'bce', 'ce'];

export function assertTaskLossKind(owner: string, kind: unknown, task: number): asserts kind is TaskLossKind {
  if (!taskLossKinds.includes(kind as TaskLossKind)) {
    throw new Error(`${owner}: loss of task ${task} must be one of ${taskLossKinds.join(', ')}, got ${JSON.stringify(kind)}`);
  }
}

/** The mean loss of one task's output [B, ...] against its targets. */
export function taskLoss(kind: TaskLossKind, output: Tensor, target: Tensor): Tensor {
  switch (kind) {
    case 'mse':
      return mseLoss(output, target);
    case 'bce':
      return bceWithLogitsLoss(output, target);
    case 'ce':
      if (output.ndim !== 2) throw new Error(`taskLoss 'ce': output must be class logits [B, C], got ${formatShape(output.shape)}`);
      return softmaxCrossEntropy(output, target.ndim === 1 ? target : reshape(target, [target.size]));
  }
}

/** Accuracy for classification losses ('bce': logit > 0 vs target ≥ 0.5; 'ce': argmax vs label); null for 'mse'. */
export function taskAccuracy(kind: TaskLossKind, output: Tensor, target: Tensor): number | null {
  if (kind === 'mse') return null;
  const out = output.toArray();
  const tgt = target.toArray();
  let correct = 0;
  if (kind === 'bce') {
    for (let i = 0; i < out.length; i++) if (out[i]! > 0 === tgt[i]! >= 0.5) correct++;
    return out.length > 0 ? correct / out.length : 0;
  }
  const [rows, classes] = output.shape as [number, number];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (out[r * classes + c]! > out[r * classes + best]!) best = c;
    if (best === tgt[r]) correct++;
  }
  return rows > 0 ? correct / rows : 0;
}
