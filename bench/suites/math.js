// Single elementwise ops on 10⁶ float32 elements, each result materialised (and freed by dispose in
// both engines): the transcendental functions, where a SIMD polynomial replaces Math.*, and a
// broadcast add of a bias row. Every row is checked against Math.* in float64 before it is timed.
import { float32Tolerance } from '../lib/check.js';
import { oursThreadImpls, uniformData } from '../lib/ours.js';
import { tfjsImpls } from '../lib/tfjs.js';
import { torchImpl } from '../lib/torch.js';

const OPS = [
  // [name, reference, input scale (inputs are uniform in ±scale; log and sqrt take |x|)]
  ['exp', Math.exp, 10],
  ['log', Math.log, 100],
  ['tanh', Math.tanh, 5],
  ['sigmoid', (v) => 1 / (1 + Math.exp(-v)), 10],
  ['softplus', (v) => (v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v))), 10],
];

export function mathWorkloads(ctx, size = 1_000_000) {
  const { tfjs } = ctx;
  const rows = OPS.map(([op, ref, scale]) => {
    const x = uniformData(size, 91).map((v) => (op === 'log' ? Math.abs(v) * scale + 1e-3 : v * scale));
    return {
      suite: 'math',
      name: `${op} on ${size.toExponential(0)} elements`,
      reference() {
        const values = Float64Array.from(x, (v) => ref(v));
        return { values, tol: float32Tolerance(values, 1e-7, 1e-6) };
      },
      impls: [
        ...oursThreadImpls(ctx, { name: 'dselect-k', note: 'public op' }, (dk) => {
          const t = dk.fromTypedArray(x.slice(), [size]);
          return { run: () => dk.tidy(() => dk[op](t)), dispose: () => t.dispose() };
        }),
        ...tfjsImpls(tfjs, (tf) => {
          const t = tf.tensor1d(x);
          return { run: () => tf[op](t), dispose: () => t.dispose() };
        }),
        ...torchImpl(ctx.torch, { spec: { op: 'unary', name: op }, inputs: () => ({ x }) }),
      ],
    };
  });
  const cols = 1000;
  const x = uniformData(size, 93);
  const b = uniformData(cols, 94);
  rows.push({
    suite: 'math',
    name: `add a bias row [${size / cols},${cols}] + [${cols}]`,
    reference() {
      const values = Float64Array.from(x, (v, i) => v + b[i % cols]);
      return { values, tol: float32Tolerance(values, 1e-7, 1e-7) };
    },
    impls: [
      ...oursThreadImpls(ctx, { name: 'dselect-k', note: 'public op' }, (dk) => {
        const [t, bias] = [dk.fromTypedArray(x.slice(), [size / cols, cols]), dk.fromTypedArray(b.slice(), [cols])];
        return {
          run: () => dk.add(t, bias),
          dispose: () => {
            t.dispose();
            bias.dispose();
          },
        };
      }),
      ...tfjsImpls(tfjs, (tf) => {
        const [t, bias] = [tf.tensor2d(x, [size / cols, cols]), tf.tensor1d(b)];
        return { run: () => tf.add(t, bias), dispose: () => tf.dispose([t, bias]) };
      }),
      ...torchImpl(ctx.torch, { spec: { op: 'bias', cols }, inputs: () => ({ x, b }) }),
    ],
  });
  return rows;
}
