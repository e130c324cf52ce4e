import type { Backend } from '../../kernels/backend.js';
import { PackKernels } from '../../kernels/pack-kernels.js';
import type { Storage } from '../../tensor/storage.js';

/** The forward's results, [rows] each: the losses, and each row's log Σ exp (kept for the backward). */
export interface SoftmaxCrossEntropyForward {
  loss: Storage;
  lse: Storage;
}

export interface SoftmaxCrossEntropyKernels {
  /**
   * Per row r of logits x [rows, cols]: lse_r = log Σ_j exp(x[r, j]) (max-shifted, as the backend's
   * logsumexp: a row of −∞ gives −∞, +∞ in it +∞, NaN NaN) and loss_r = lse_r − x[r, labels[r]].
   * Labels are in [0, cols) (the op checks them).
   */
  forward(logits: Storage, labels: Int32Array, rows: number, cols: number): SoftmaxCrossEntropyForward;
  /** dlogits[r, j] = (exp(x[r, j] − lse_r) − [j = labels[r]])·g[r], [rows, cols]. */
  backward(g: Storage, logits: Storage, lse: Storage, labels: Int32Array, rows: number, cols: number): Storage;
}

/** Flat indices r·cols + labels[r] of the picked logits. */
function picked(labels: Int32Array, cols: number): Int32Array {
  return labels.map((l, r) => r * cols + l);
}

/**
 * The generic version from the contract's kernels (what the gpu backend runs): logsumexp, a gather
 * and a sub forward; exp(x − lse), a one-hot, a sub and a mul backward (passes, data stays put).
 */
function generic(b: Backend): SoftmaxCrossEntropyKernels {
  return {
    forward(logits, labels, rows, cols) {
      const lse = b.logsumexp(logits, [rows, cols], [1]);
      const at = b.gather(logits, [rows * cols], picked(labels, cols), 0);
      const loss = b.binary('sub', lse, [rows], at, [rows], [rows]);
      at.dispose();
      return { loss, lse };
    },
    backward(g, logits, lse, labels, rows, cols) {
      const shape = [rows, cols];
      const shifted = b.binary('sub', logits, shape, lse, [rows, 1], shape);
      const p = b.unary('exp', shifted);
      const hot = b.oneHot(labels, cols, logits.dtype);
      const diff = b.binary('sub', p, shape, hot, shape, shape);
      const out = b.binary('mul', diff, shape, g, [rows, 1], shape);
      for (const s of [shifted, p, hot, diff]) s.dispose();
      return out;
    },
  };
}

export const softmaxCrossEntropyKernels = new PackKernels<SoftmaxCrossEntropyKernels>('softmax-cross-entropy', generic);
