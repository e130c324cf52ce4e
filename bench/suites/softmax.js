// softmax over the rows of a float32 matrix (the last axis), the stable max-shifted form; logsumexp
// over the rows; softmax cross-entropy against integer labels, forward and backward.
import { float32Tolerance } from '../lib/check.js';
import { oursThreadImpls, uniformData } from '../lib/ours.js';
import { tfjsImpls } from '../lib/tfjs.js';
import { torchImpl } from '../lib/torch.js';

export function softmaxWorkloads(ctx, shapes = [[1024, 1024], [4096, 64]]) {
  return [...shapes.map(([rows, cols]) => softmaxWorkload(ctx, rows, cols)), logsumexpWorkload(ctx, 1024, 1024), crossEntropyWorkload(ctx, 4096, 64)];
}

/** Stable softmax of each row of `x` in float64: the reference of the softmax and cross-entropy rows. */
function softmaxRows64(x, rows, cols) {
  const values = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, x[r * cols + c]);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += values[r * cols + c] = Math.exp(x[r * cols + c] - max);
    for (let c = 0; c < cols; c++) values[r * cols + c] /= sum;
  }
  return values;
}

function softmaxWorkload(ctx, rows, cols) {
  const { tfjs } = ctx;
  const x = uniformData(rows * cols, rows + cols).map((v) => 8 * v);
  return {
    suite: 'softmax',
    name: `softmax over rows [${rows},${cols}]`,
    reference() {
      const values = softmaxRows64(x, rows, cols);
      return { values, tol: float32Tolerance(values, 1e-7, 1e-4) };
    },
    impls: [
      ...oursThreadImpls(ctx, { name: 'dselect-k', note: 'WebAssembly SIMD rows' }, (dk) => {
        const t = dk.fromTypedArray(x.slice(), [rows, cols]);
        return { run: () => dk.softmax(t, -1) };
      }),
      ...tfjsImpls(tfjs, (tf) => {
        const t = tf.tensor2d(x, [rows, cols]);
        return { run: () => tf.softmax(t), dispose: () => t.dispose() };
      }),
      ...torchImpl(ctx.torch, { spec: { op: 'softmax', rows, cols }, inputs: () => ({ x }) }),
    ],
  };
}

/** log Σ exp over each row: our SIMD row kernel, TF.js's logSumExp, torch.logsumexp. */
function logsumexpWorkload(ctx, rows, cols) {
  const x = uniformData(rows * cols, rows * 3 + cols).map((v) => 8 * v);
  return {
    suite: 'softmax',
    name: `logsumexp over rows [${rows},${cols}]`,
    reference() {
      const values = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        let max = -Infinity;
        for (let c = 0; c < cols; c++) max = Math.max(max, x[r * cols + c]);
        let sum = 0;
        for (let c = 0; c < cols; c++) sum += Math.exp(x[r * cols + c] - max);
        values[r] = max + Math.log(sum);
      }
      return { values, tol: float32Tolerance(values, 1e-5, 1e-5) };
    },
    impls: [
      ...oursThreadImpls(ctx, { name: 'dselect-k', note: 'WebAssembly SIMD row kernel' }, (dk) => {
        const t = dk.fromTypedArray(x.slice(), [rows, cols]);
        return { run: () => dk.logsumexp(t, -1) };
      }),
      ...tfjsImpls(ctx.tfjs, (tf) => {
        const t = tf.tensor2d(x, [rows, cols]);
        return { run: () => tf.logSumExp(t, -1), dispose: () => t.dispose() };
      }),
      ...torchImpl(ctx.torch, { spec: { op: 'logsumexp', rows, cols }, inputs: () => ({ x }) }),
    ],
  };
}

/**
 * Softmax cross-entropy, mean over the rows, forward and backward: the result checked is the
 * gradient of the loss with respect to the logits, (softmax(x) − onehot(label)) / rows, which the
 * forward's logsumexp feeds. Ours: softmaxCrossEntropy + backward (the fused pack); TF.js:
 * tf.grad of tf.losses.softmaxCrossEntropy on one-hot labels; PyTorch: F.cross_entropy + autograd.grad.
 */
function crossEntropyWorkload(ctx, rows, cols) {
  const x = uniformData(rows * cols, rows * 5 + cols).map((v) => 8 * v);
  const labels = Int32Array.from({ length: rows }, (_, r) => (r * 7 + 3) % cols);
  return {
    suite: 'softmax',
    name: `softmax cross-entropy forward+backward [${rows},${cols}]`,
    reference() {
      // the gradient of the mean loss: (softmax − one-hot) / rows
      const values = softmaxRows64(x, rows, cols);
      for (let r = 0; r < rows; r++) {
        values[r * cols + labels[r]] -= 1;
        for (let c = 0; c < cols; c++) values[r * cols + c] /= rows;
      }
      return { values, tol: float32Tolerance(values, 1e-9, 1e-4) };
    },
    impls: [
      ...oursThreadImpls(ctx, { name: 'dselect-k', note: 'fused op pack, WebAssembly SIMD rows' }, (dk) => {
        const t = dk.fromTypedArray(x.slice(), [rows, cols], true);
        return {
          run: () =>
            dk.tidy(() => {
              dk.softmaxCrossEntropy(t, labels).backward();
              const g = t.grad;
              t.grad = null;
              return g;
            }),
        };
      }),
      ...tfjsImpls(ctx.tfjs, (tf) => {
        const t = tf.tensor2d(x, [rows, cols]);
        const hot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), cols), 'float32'));
        const grad = tf.grad((z) => tf.losses.softmaxCrossEntropy(hot, z));
        return { run: () => tf.tidy(() => grad(t)), dispose: () => tf.dispose([t, hot]) };
      }),
      ...torchImpl(ctx.torch, { spec: { op: 'softmax_ce', rows, cols }, inputs: () => ({ x, labels }) }),
    ],
  };
}
