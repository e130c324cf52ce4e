import { describe, expect, it } from 'vitest';
import { formatGradcheckReport, gradcheck, logSoftmax, mean, mul, Rng, softmaxCrossEntropy, sum, tensor, type Tensor } from '../src/index.js';
import { backend, configureFusedKernels, OP_PACKS, softmaxCrossEntropyRows } from '../src/advanced.js';
import { PACK_GRADCHECK_CASES } from '../src/checks/index.js';
import { wrap } from '../src/kernels/cpu/host.js';
import { cpuSoftmaxCrossEntropy, softmaxCrossEntropyGradInto, softmaxCrossEntropyInto } from '../src/packs/softmax-cross-entropy/cpu.js';
import { softmaxCrossEntropyKernels } from '../src/packs/softmax-cross-entropy/kernels.js';
import { softmaxCrossEntropyGradWasm, softmaxCrossEntropyWasm } from '../src/packs/softmax-cross-entropy/wasm.js';

/**
 * The softmax-cross-entropy pack: float64 gradient checks; the float32 SIMD kernels against their JS
 * twin; both against the formula softmaxCrossEntropy had before the pack (logSoftmax · one-hot,
 * summed, negated); the generic kernels (what the gpu backend runs) against the cpu ones.
 *
 * float32 bounds, SIMD vs JS twin (the twin computes in doubles from the same float32 inputs):
 * - lse and loss: |Δ| ≤ 2e-6 + 2.5e-7·(|lse| + |x_label|): two float32 ulps of each rounded term
 *   plus 2e-6 for ln Σ (float32 vector exp and log, sums in float32 blocks of 64);
 * - dlogits (both given the same lse): |Δ| ≤ |g|·(e·(1e-6 + 1.2e-7·|x − lse|) + 2e-7), e = exp(x − lse):
 *   a few ulps of e, what rounding x − lse to float32 does to it, and the −1 at the label.
 */
const F64 = { dtype: 'float64' } as const;

function randomLogits(rng: Rng, rows: number, cols: number, scale: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, () => Math.fround(scale * rng.normal()));
}
const labelsFor = (rng: Rng, rows: number, cols: number): Int32Array => Int32Array.from({ length: rows }, () => rng.int(cols));

/** The same per-row losses: same non-finite value, or within the float32 bound. */
function expectLossClose(got: ArrayLike<number>, want: ArrayLike<number>, scale: (r: number) => number, what: string): void {
  for (let r = 0; r < want.length; r++) {
    const [a, b] = [got[r]!, want[r]!];
    const ok = Number.isFinite(b) ? Math.abs(a - b) <= 2e-6 + 2.5e-7 * scale(r) : Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
    if (!ok) expect.fail(`${what} row ${r}: ${a} vs ${b}`);
  }
}

describe('softmax-cross-entropy pack', () => {
  it('is registered, and its gradient checks pass (float64)', () => {
    expect(OP_PACKS.map((p) => p.name)).toContain('softmax-cross-entropy');
    const cases = PACK_GRADCHECK_CASES['softmax-cross-entropy']!;
    expect(cases.length).toBeGreaterThanOrEqual(5);
    for (const c of cases) {
      const report = gradcheck(c.fn, c.inputs(), c.opts);
      if (!report.passed) expect.fail(`${c.name}\n${formatGradcheckReport(report)}`);
      expect(report.zeroGradExact && report.repeatIdentical, c.name).toBe(true);
    }
  });

  it('softmaxCrossEntropy passes gradcheck through the pack for both reductions and odd class counts', () => {
    const rng = new Rng(11);
    for (const [rows, cols] of [[1, 1], [3, 5], [4, 9], [7, 3], [2, 17]] as const) {
      const labels = Array.from(labelsFor(rng, rows, cols));
      for (const reduction of ['mean', 'sum'] as const) {
        const x = tensor(Float64Array.from({ length: rows * cols }, () => 2 * rng.normal()), { shape: [rows, cols], ...F64 });
        const report = gradcheck((l: Tensor) => softmaxCrossEntropy(l, labels, reduction), [x]);
        if (!report.passed) expect.fail(`[${rows},${cols}] ${reduction}\n${formatGradcheckReport(report)}`);
      }
    }
  });

  const SHAPES = [[1, 1], [1, 5], [5, 1], [3, 7], [4, 13], [2, 64], [7, 33], [9, 4], [3, 1000], [2, 4099]] as const;

  it('the float32 SIMD kernels match the JS twin on odd shapes', () => {
    const rng = new Rng(5);
    for (const [rows, cols] of SHAPES) {
      for (const scale of [1, 10, 300]) {
        const x = randomLogits(rng, rows, cols, scale);
        const labels = labelsFor(rng, rows, cols);
        const [loss, lse, refLoss, refLse] = [new Float32Array(rows), new Float32Array(rows), new Float32Array(rows), new Float32Array(rows)];
        expect(softmaxCrossEntropyWasm(x, labels, rows, cols, loss, lse)).toBe(true);
        softmaxCrossEntropyInto(x, labels, rows, cols, refLoss, refLse);
        const what = `[${rows},${cols}] scale ${scale}`;
        expectLossClose(lse, refLse, (r) => Math.abs(refLse[r]!), `lse ${what}`);
        expectLossClose(loss, refLoss, (r) => Math.abs(refLse[r]!) + Math.abs(x[r * cols + labels[r]!]!), `loss ${what}`);
        checkGrad(x, labels, refLse, rows, cols, rng, what);
      }
    }
  });

  it('the float32 SIMD kernels handle ±1000, −∞, +∞ and NaN rows as the JS twin does', () => {
    const rows: [number[], number][] = [
      [[1000, 999, -1000, 0, 1000, 998.5, 997], 2],
      [[-1000, -1001, -1002, -999.5, -1000, -1003, -1001], 3],
      [[-Infinity, 0, -Infinity, 1, -Infinity, 2, -Infinity], 5],
      [[-Infinity, 0, -Infinity, 1, -Infinity, 2, -Infinity], 0], // the label masked: loss +∞
      [[-Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity], 1],
      [[Infinity, 1, 2, 3, 4, 5, 6], 1],
      [[Infinity, 1, 2, 3, 4, 5, 6], 0],
      [[NaN, 1, 2, 3, 4, 5, 6], 4],
      [[0, -80, -86, -88, -90, -100, -200], 6],
      [[3e38, -3e38, 0, 1, 2, 3, 4], 1],
    ];
    const [n, cols] = [rows.length, 7];
    const x = Float32Array.from(rows.flatMap(([r]) => r));
    const labels = Int32Array.from(rows.map(([, l]) => l));
    const [loss, lse, refLoss, refLse] = [new Float32Array(n), new Float32Array(n), new Float32Array(n), new Float32Array(n)];
    expect(softmaxCrossEntropyWasm(x, labels, n, cols, loss, lse)).toBe(true);
    softmaxCrossEntropyInto(x, labels, n, cols, refLoss, refLse);
    expectLossClose(lse, refLse, (r) => Math.abs(refLse[r]!), 'lse edge rows');
    expectLossClose(loss, refLoss, (r) => Math.abs(refLse[r]!) + Math.abs(x[r * cols + labels[r]!]!), 'loss edge rows');
    expect(Array.from(loss.slice(3, 8))).toEqual([Infinity, NaN, Infinity, NaN, NaN]);
    expect(lse[0]).toBeCloseTo(1000 + Math.log(2 + Math.exp(-1) + Math.exp(-1.5) + Math.exp(-3)), 3);
    checkGrad(x, labels, refLse, n, cols, new Rng(2), 'edge rows');
  });

  /** The backward on both kernels, given the same lse: within the bound, non-finite values identical. */
  function checkGrad(x: Float32Array, labels: Int32Array, lse: Float32Array, rows: number, cols: number, rng: Rng, what: string): void {
    const g = Float32Array.from({ length: rows }, () => Math.fround(rng.normal()));
    const [dx, ref] = [new Float32Array(rows * cols), new Float32Array(rows * cols)];
    expect(softmaxCrossEntropyGradWasm(g, x, lse, labels, rows, cols, dx)).toBe(true);
    softmaxCrossEntropyGradInto(g, x, lse, labels, rows, cols, ref);
    for (let i = 0; i < ref.length; i++) {
      const r = Math.floor(i / cols);
      const d = x[i]! - lse[r]!;
      const e = Math.exp(d);
      const tol = Math.abs(g[r]!) * ((e === 0 ? 0 : e * (1e-6 + 1.2e-7 * Math.abs(d))) + 2e-7) + 1e-30;
      const [a, b] = [dx[i]!, ref[i]!];
      const ok = Number.isFinite(b) ? Math.abs(a - b) <= tol : Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
      if (!ok) expect.fail(`dlogits ${what} element ${i} (row ${r}, label ${labels[r]}): ${a} vs JS ${b} (tolerance ${tol})`);
    }
  }

  /** softmaxCrossEntropy before the pack: −Σ_j logSoftmax(x)·onehot, per row. */
  function composedRows(x: Tensor, labels: Int32Array): Tensor {
    const [rows, cols] = x.shape as [number, number];
    const hot = new (x.dtype === 'float64' ? Float64Array : Float32Array)(rows * cols);
    labels.forEach((l, r) => (hot[r * cols + l] = 1));
    return mul(sum(mul(logSoftmax(x, -1), tensor(hot, { shape: [rows, cols] })), 1), -1);
  }

  for (const dtype of ['float64', 'float32'] as const) {
    it(`losses and gradients equal the composed formula (logSoftmax · one-hot) on odd shapes and ±1000 logits (${dtype})`, () => {
      const rng = new Rng(dtype === 'float64' ? 21 : 22);
      for (const [rows, cols] of SHAPES) {
        for (const scale of [1, 1000]) {
          const data = randomLogits(rng, rows, cols, scale);
          const labels = labelsFor(rng, rows, cols);
          const g = tensor(Float64Array.from({ length: rows }, () => rng.normal()), { dtype });
          const run = (f: (x: Tensor) => Tensor) => {
            const x = tensor(dtype === 'float64' ? Float64Array.from(data) : data.slice(), { shape: [rows, cols], requiresGrad: true });
            const y = f(x);
            sum(mul(y, g)).backward();
            return { y: Array.from(y.toArray()), dx: Array.from(x.grad!.toArray()) };
          };
          const fused = run((x) => softmaxCrossEntropyRows(x, labels));
          const old = run((x) => composedRows(x, labels));
          const what = `${dtype} [${rows},${cols}] scale ${scale}`;
          // float64: both exact to rounding; float32: the losses as above (the old path has its own
          // float32 roundings of x − lse), the gradients to 1e-6 of the largest |g|.
          const [lossTol, gradTol] = dtype === 'float64' ? [1e-12, 1e-13] : [2e-6, 2e-6];
          fused.y.forEach((v, r) => expect(Math.abs(v - old.y[r]!), `loss ${what} row ${r}`).toBeLessThanOrEqual(lossTol * (1 + Math.abs(data[r * cols + labels[r]!]!) + scale)));
          fused.dx.forEach((v, i) => expect(Math.abs(v - old.dx[i]!), `dlogits ${what} element ${i}`).toBeLessThanOrEqual(gradTol * 3));
        }
      }
    });
  }

  for (const dtype of ['float32', 'float64'] as const) {
    it(`the generic kernels (what the gpu backend runs) match the cpu ones (${dtype})`, () => {
      const rng = new Rng(9);
      const tol = dtype === 'float32' ? 2e-6 : 1e-12;
      for (const [rows, cols] of SHAPES) {
        const data = randomLogits(rng, rows, cols, 4);
        const x = wrap(dtype === 'float64' ? Float64Array.from(data) : data);
        const labels = labelsFor(rng, rows, cols);
        const gv = Float64Array.from({ length: rows }, () => rng.normal());
        const g = wrap(dtype === 'float64' ? gv : Float32Array.from(gv));
        const generic = softmaxCrossEntropyKernels.genericOn(backend());
        const [a, b] = [cpuSoftmaxCrossEntropy.forward(x, labels, rows, cols), generic.forward(x, labels, rows, cols)];
        for (const key of ['loss', 'lse'] as const) {
          const [va, vb] = [a[key].readSync(), b[key].readSync()];
          vb.forEach((v, i) => expect(Math.abs(v - va[i]!), `${key} [${rows},${cols}]`).toBeLessThanOrEqual(tol * (1 + Math.abs(v) + Math.abs(data[i * cols + labels[i]!]!))));
        }
        const [da, db] = [cpuSoftmaxCrossEntropy.backward(g, x, a.lse, labels, rows, cols).readSync(), generic.backward(g, x, a.lse, labels, rows, cols).readSync()];
        db.forEach((v, i) => expect(Math.abs(v - da[i]!), `dlogits [${rows},${cols}] ${i}`).toBeLessThanOrEqual(tol * 2 * (1 + Math.abs(gv[Math.floor(i / cols)]!))));
      }
    });
  }

  it('runs the JS twin when the packs’ SIMD kernels are switched off, with the same results within the bound', () => {
    const rng = new Rng(4);
    const data = randomLogits(rng, 6, 21, 5);
    const labels = Array.from(labelsFor(rng, 6, 21));
    const lossOf = () => {
      const x = tensor(data.slice(), { shape: [6, 21], requiresGrad: true });
      const y = softmaxCrossEntropy(x, labels, 'sum');
      y.backward();
      return [y.item(), ...Array.from(x.grad!.toArray())];
    };
    const simd = lossOf();
    configureFusedKernels({ simd: false });
    const js = (() => {
      try {
        expect(softmaxCrossEntropyWasm(data, Int32Array.from(labels), 6, 21, new Float32Array(6), new Float32Array(6))).toBe(false);
        return lossOf();
      } finally {
        configureFusedKernels({ simd: true });
      }
    })();
    js.forEach((v, i) => expect(Math.abs(v - simd[i]!), `value ${i}`).toBeLessThanOrEqual(i === 0 ? 1e-4 : 1e-6));
  });

  it('keeps softmaxCrossEntropy’s signature, validation and messages; the op checks its own operands', () => {
    const logits = tensor([[1, 2, 3], [0, 0, 0]], F64);
    expect(softmaxCrossEntropy(logits, [0, 2], 'sum').item()).toBeCloseTo(Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 1 + Math.log(3), 12);
    expect(mean(softmaxCrossEntropyRows(logits, [0, 2])).item()).toBeCloseTo(softmaxCrossEntropy(logits, [0, 2]).item(), 15);
    expect(() => softmaxCrossEntropy(logits, [0, 1], 'max' as 'sum')).toThrow("loss: reduction must be 'mean' or 'sum', got 'max'");
    expect(() => softmaxCrossEntropy(tensor([1, 2]), [0])).toThrow('softmaxCrossEntropy: logits must be a [batch, classes] tensor, got [2]');
    expect(() => softmaxCrossEntropy(logits, tensor([[0, 1]]))).toThrow('softmaxCrossEntropy: labels [1,2] do not match logits batch 2 (expected [2])');
    expect(() => softmaxCrossEntropyRows(logits, [0, 3])).toThrow('softmaxCrossEntropyRows: label 1 is 3; labels must be integers in [0, 3) for logits [2,3]');
    expect(() => softmaxCrossEntropyRows(logits, [0])).toThrow('softmaxCrossEntropyRows: 1 labels for logits [2,3]');
    expect(() => softmaxCrossEntropyRows(tensor([1, 2]), [0])).toThrow('softmaxCrossEntropyRows: logits must be [rows, classes], got [2]');
    // The labels are copied: changing the caller's array after the forward does not move the gradient.
    const ids = Int32Array.from([0, 2]);
    const x = tensor([[1, 2, 3], [0, 0, 0]], { ...F64, requiresGrad: true });
    const y = sum(softmaxCrossEntropyRows(x, ids));
    ids[0] = 1;
    y.backward();
    expect(x.grad!.toArray()[0]).toBeLessThan(0);
  });
});
