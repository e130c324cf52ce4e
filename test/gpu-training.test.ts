import { afterAll, describe, expect, it } from 'vitest';
import { keep, matmul, noGrad, randn, Rng, setBackend, tidy, type Tensor } from '../src/index.js';
import { type GpuBackend } from '../src/gpu/index.js';
import { GpuStorage } from '../src/kernels/gpu/storage.js';
import { modelCases, runModelCase } from './gpu-cases/model-cases.js';
import { activateGpuMode, needGpuMode } from './gpu-helpers.js';

/**
 * Whole training steps on the gpu backend in GPU.js's headlessgl mode (WebGL textures; skipped with
 * the reason where it cannot run) — the shared list of test/gpu-cases/model-cases.ts, which
 * webgpu-browser.test.ts also runs on webgpu: loss, outputs, every gradient and the losses after Adam
 * steps match the cpu backend at float32 tolerance, computed on the device; and a 1,000-step loop does
 * not grow device memory — GL textures included.
 */
let gpu: GpuBackend;
afterAll(() => {
  setBackend('cpu');
});

describe('training steps match the cpu backend', () => {
  for (const c of modelCases()) {
    it(c.name, async (ctx) => {
      gpu = needGpuMode(ctx, 'headlessgl');
      const r = await runModelCase(
        c,
        () => setBackend('cpu'),
        () => activateGpuMode(ctx, 'headlessgl'),
        true,
      );
      expect(r.failure, `${c.name} [mode ${gpu.info().mode}]`).toBeNull();
      expect(r.compared.length).toBeGreaterThan(3);
    });
  }
});

describe('memory', () => {
  it('1,000 SGD steps of an MLP inside tidy keep device memory flat, GL textures included', (ctx) => {
    gpu = needGpuMode(ctx, 'headlessgl');
    const rng = new Rng(2);
    const [batch, inDim, hidden] = [64, 8, 32];
    const x = randn([batch, inDim], { rng });
    const wTrue = randn([inDim, 1], { rng });
    const y = noGrad(() => matmul(x, wTrue).tanh());
    const params = [randn([inDim, hidden], { rng, std: 0.3 }), randn([hidden], { rng, std: 0.1 }), randn([hidden, 1], { rng, std: 0.3 })].map((p) => {
      p.requiresGrad = true;
      return keep(p);
    });
    const lr = 0.05;
    const step = (): number =>
      tidy(() => {
        const [w1, b1, w2] = params as [Tensor, Tensor, Tensor];
        const loss = matmul(matmul(x, w1).add(b1).relu(), w2).sub(y).square().mean();
        loss.backward();
        noGrad(() => {
          for (const p of params) {
            p.setStorage(p.sub(p.grad!.mul(lr)).storage);
            p.zeroGrad();
          }
        });
        return loss.item();
      });
    const losses: number[] = [];
    let at100 = gpu.info().stats;
    for (let i = 1; i <= 1000; i++) {
      losses.push(step());
      if (i === 100) at100 = gpu.info().stats;
    }
    const at1000 = gpu.info().stats;
    console.log(`[gpu-training] mode '${gpu.info().mode}': device stats after 100 steps ${JSON.stringify(at100)}, after 1000 ${JSON.stringify(at1000)}`);
    expect(at1000.liveStorages).toBe(at100.liveStorages);
    expect(at1000.liveTextures).toBe(at100.liveTextures);
    expect(at1000.kernels).toBe(at100.kernels);
    expect(at1000.glTextures, 'GL textures are counted in headlessgl mode').not.toBeNull();
    expect(at1000.glTextures).toBe(at100.glTextures);
    expect(at1000.liveTextures).toBeGreaterThan(0); // the parameters live in textures
    for (const p of params) expect(p.storage).toBeInstanceOf(GpuStorage);
    // The loop really trained.
    expect(losses[999]!).toBeLessThan(losses[0]! * 0.5);
  });
});
