// An elementwise chain on 10⁶ float32 elements: y = relu(1.5·x + 0.5)·sigmoid(x) + exp(−x²), nine
// ops written one by one with the public API inside tidy. Ours fuses them into one pass (the
// intermediates are never stored; `fusion off` materialises each, as TF.js and PyTorch eager do).
import { float32Tolerance } from '../lib/check.js';
import { oursImpl, oursThreadImpls, uniformData } from '../lib/ours.js';
import { tfjsImpls } from '../lib/tfjs.js';
import { torchImpl } from '../lib/torch.js';

export function elementwiseWorkloads(ctx, size = 1_000_000) {
  const { ours, tfjs } = ctx;
  const x = uniformData(size, 77).map((v) => 3 * v);
  const build = (dk) => {
    const t = dk.fromTypedArray(x.slice(), [size]);
    const chain = () => dk.add(dk.mul(dk.relu(dk.add(dk.mul(t, 1.5), 0.5)), dk.sigmoid(t)), dk.exp(dk.neg(dk.mul(t, t))));
    return { run: () => dk.tidy(chain) };
  };
  return [
    {
      suite: 'elementwise',
      name: `elementwise chain (9 ops) on ${size.toExponential(0)} elements`,
      reference() {
        const values = new Float64Array(size);
        for (let i = 0; i < size; i++) {
          const v = x[i];
          values[i] = Math.max(1.5 * v + 0.5, 0) * (1 / (1 + Math.exp(-v))) + Math.exp(-v * v);
        }
        return { values, tol: float32Tolerance(values) };
      },
      impls: [
        ...oursThreadImpls(ctx, { name: 'dselect-k', note: 'public ops, tidy; fused into one pass' }, build),
        oursImpl(ours, { name: 'dselect-k, fusion off', fusion: false, note: 'public ops, tidy; one kernel per op' }, build),
        ...tfjsImpls(tfjs, (tf) => {
          const t = tf.tensor1d(x);
          const k = tf.scalar(1.5);
          const c = tf.scalar(0.5);
          return {
            run: () => tf.tidy(() => tf.add(tf.mul(tf.relu(tf.add(tf.mul(t, k), c)), tf.sigmoid(t)), tf.exp(tf.neg(tf.mul(t, t))))),
            dispose: () => tf.dispose([t, k, c]),
          };
        }),
        ...torchImpl(ctx.torch, { spec: { op: 'chain' }, inputs: () => ({ x }) }),
      ],
    },
  ];
}
