import { describe, expect, it } from 'vitest';
import { formatGradcheckReport, gradcheck, LayerNorm, randn, Rng, tensor, type Tensor } from '../src/index.js';
import { backend, layerNorm, OP_PACKS } from '../src/advanced.js';
import { PACK_GRADCHECK_CASES } from '../src/checks/index.js';
import { cpuLayerNorm } from '../src/packs/layer-norm/cpu.js';
import { layerNormKernels } from '../src/packs/layer-norm/kernels.js';
import type { Storage } from '../src/tensor/storage.js';

const values = (s: Storage): number[] => Array.from(s.readSync());

/** The same normalisation from generic differentiable ops (what LayerNorm was before the pack). */
function composite(x: Tensor, w: Tensor | null, b: Tensor | null, k: number, eps: number): Tensor {
  const axes = Array.from({ length: k }, (_, i) => x.ndim - k + i);
  const centred = x.sub(x.mean(axes, true));
  const normalised = centred.mul(centred.square().mean(axes, true).add(eps).sqrt().reciprocal());
  return w && b ? normalised.mul(w).add(b) : normalised;
}

describe('layer-norm pack', () => {
  it('is registered, and its gradient checks pass (float64)', () => {
    expect(OP_PACKS.map((p) => p.name)).toContain('layer-norm');
    const cases = PACK_GRADCHECK_CASES['layer-norm']!;
    expect(cases.length).toBeGreaterThanOrEqual(3);
    for (const c of cases) {
      const report = gradcheck(c.fn, c.inputs(), c.opts);
      if (!report.passed) expect.fail(`${c.name}\n${formatGradcheckReport(report)}`);
      expect(report.zeroGradExact && report.repeatIdentical, c.name).toBe(true);
    }
  });

  for (const dtype of ['float32', 'float64'] as const) {
    it(`the fused cpu kernels match the generic ones (what the gpu backend runs) on odd shapes (${dtype})`, () => {
      const rng = new Rng(3);
      const tol = dtype === 'float32' ? 2e-6 : 1e-12;
      for (const [rows, cols] of [[1, 1], [3, 7], [5, 13], [2, 64]] as const) {
        const x = randn([rows, cols], { rng, dtype, std: 3 }).storage;
        const w = randn([cols], { rng, dtype }).storage;
        const b = randn([cols], { rng, dtype }).storage;
        const g = randn([rows, cols], { rng, dtype }).storage;
        const generic = layerNormKernels.genericOn(backend());
        for (const affine of [true, false]) {
          const fused = cpuLayerNorm.forward(x, rows, cols, affine ? w : null, affine ? b : null, 1e-5);
          const parts = generic.forward(x, rows, cols, affine ? w : null, affine ? b : null, 1e-5);
          for (const key of ['y', 'mean', 'rstd'] as const) values(parts[key]).forEach((v, i) => expect(Math.abs(v - values(fused[key])[i]!), `${key} ${rows}×${cols}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(v))));
          const gf = cpuLayerNorm.backward(g, x, fused.mean, fused.rstd, affine ? w : null, rows, cols, affine);
          const gg = generic.backward(g, x, fused.mean, fused.rstd, affine ? w : null, rows, cols, affine);
          for (const key of affine ? (['x', 'weight', 'bias'] as const) : (['x'] as const)) {
            values(gg[key]!).forEach((v, i) => expect(Math.abs(v - values(gf[key]!)[i]!), `d${key} ${rows}×${cols}`).toBeLessThanOrEqual(tol * 10 * Math.max(1, Math.abs(v))));
          }
        }
      }
    });
  }

  it('LayerNorm gives the values and gradients of the composite of generic ops', () => {
    const x = randn([4, 3, 5], { rng: new Rng(1), dtype: 'float64', requiresGrad: true });
    const norm = new LayerNorm([3, 5], { dtype: 'float64' });
    norm.loadStateDict({ weight: randn([3, 5], { rng: new Rng(2), dtype: 'float64' }), bias: randn([3, 5], { rng: new Rng(3), dtype: 'float64' }) });
    const [w, b] = norm.parameters() as [Tensor, Tensor];
    const g = randn([4, 3, 5], { rng: new Rng(4), dtype: 'float64' });
    norm.forward(x).mul(g).sum().backward();
    const fused = [x, w, b].map((t) => Array.from(t.grad!.toArray()));
    const y = Array.from(norm.forward(x).toArray());
    [x, w, b].forEach((t) => t.zeroGrad());
    const ref = composite(x, w, b, 2, 1e-5);
    ref.mul(g).sum().backward();
    Array.from(ref.toArray()).forEach((v, i) => expect(y[i]).toBeCloseTo(v, 12));
    [x, w, b].forEach((t, k) => Array.from(t.grad!.toArray()).forEach((v, i) => expect(fused[k]![i]).toBeCloseTo(v, 11)));
  });

  it('checks its operands', () => {
    const x = tensor([[1, 2, 3]]);
    expect(() => layerNorm(x, tensor([1, 1]), tensor([0, 0]), 3, 1e-5)).toThrow('layerNorm: weight [2] must hold cols = 3 values for x [1,3]');
    expect(() => layerNorm(x, null, null, 2, 1e-5)).toThrow('layerNorm: cols = 2 must be a positive integer dividing the size of x [1,3]');
    expect(() => layerNorm(x, tensor([1, 1, 1]), null, 3, 1e-5)).toThrow('layerNorm: give both weight and bias, or neither');
  });
});
