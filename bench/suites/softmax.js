// softmax over the rows of a float32 matrix (the last axis), the stable max-shifted form.
import { float32Tolerance } from '../lib/check.js';
import { oursThreadImpls, uniformData } from '../lib/ours.js';
import { tfjsImpls } from '../lib/tfjs.js';
import { torchImpl } from '../lib/torch.js';

export function softmaxWorkloads(ctx, shapes = [[1024, 1024], [4096, 64]]) {
  const { tfjs } = ctx;
  return shapes.map(([rows, cols]) => {
    const x = uniformData(rows * cols, rows + cols).map((v) => 8 * v);
    return {
      suite: 'softmax',
      name: `softmax over rows [${rows},${cols}]`,
      reference() {
        const values = new Float64Array(rows * cols);
        for (let r = 0; r < rows; r++) {
          let max = -Infinity;
          for (let c = 0; c < cols; c++) max = Math.max(max, x[r * cols + c]);
          let sum = 0;
          for (let c = 0; c < cols; c++) sum += values[r * cols + c] = Math.exp(x[r * cols + c] - max);
          for (let c = 0; c < cols; c++) values[r * cols + c] /= sum;
        }
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
  });
}
