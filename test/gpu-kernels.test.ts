import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { CpuBackend } from '../src/kernels/cpu/backend.js';
import { setBackend } from '../src/index.js';
import { GpuStorage, type GpuBackend } from '../src/gpu/index.js';
import { Rng } from '../src/tensor/random.js';
import { sizeOf, type Shape } from '../src/tensor/shape.js';
import type { Storage } from '../src/tensor/storage.js';
import { kernelCases } from './gpu-cases/kernel-cases.js';
import { runKernelCase } from './gpu-cases/run.js';
import { compare, needGpuMode, randomStorage, type GpuTestMode } from './gpu-helpers.js';

/**
 * Every gpu kernel against its cpu twin — the shared list of test/gpu-cases/kernel-cases.ts, which
 * webgpu-browser.test.ts also runs on webgpu in Chromium — in the GPU.js mode(s) named by
 * DSELECT_K_GPU_KERNEL_MODES (default: headlessgl — WebGL textures, the gpu backend's device path —
 * and webasm, what GPU.js runs without GL). A mode that cannot run here is reported as skipped.
 */
const cpu = new CpuBackend();

afterAll(() => {
  setBackend('cpu');
});

const MODES = (process.env.DSELECT_K_GPU_KERNEL_MODES ?? 'headlessgl,webasm').split(',') as GpuTestMode[];
const cases = kernelCases();
const groups = [...new Set(cases.map((c) => c.group))];

for (const mode of MODES) {
  describe(`GPU.js mode ${mode}`, () => {
    for (const group of groups) {
      describe(group, () => {
        for (const c of cases.filter((k) => k.group === group)) {
          it(c.name, async (ctx: TestContext) => {
            const gpu = needGpuMode(ctx, mode);
            const r = await runKernelCase(c, cpu, gpu);
            expect(r.failure, `${c.name} [mode ${gpu.info().mode}]`).toBeNull();
          });
        }
      });
    }

    describe('storage', () => {
      const exact = { atol: 0, rtol: 0 };
      const expectSame = (gpu: GpuBackend, label: string, g: Storage, c: Storage): void => {
        expect(g).toBeInstanceOf(GpuStorage);
        const r = compare(g, c, exact);
        expect(r.ok, `${label} [mode ${gpu.info().mode}]: ${r.worst}`).toBe(true);
      };

      it('fromHost, adopt, fill and cast round-trip exactly', (ctx: TestContext) => {
        const gpu = needGpuMode(ctx, mode);
        const x = randomStorage(new Rng(7), 1000);
        expectSame(gpu, 'fromHost', gpu.fromHost(x.data.slice()), x);
        expectSame(gpu, 'adopt', gpu.adopt(x), x);
        // Through a kernel first, so the values really come back from the device.
        const viaDevice = gpu.unary('neg', gpu.unary('neg', gpu.adopt(x)));
        expectSame(gpu, 'neg∘neg', viaDevice, x);
        expectSame(gpu, 'fill', gpu.fill(77, -1.25, 'float32'), cpu.fill(77, -1.25, 'float32'));
        expectSame(gpu, 'fill (large)', gpu.fill(5000, 3.5, 'float32'), cpu.fill(5000, 3.5, 'float32'));
        const wide = gpu.cast(viaDevice, 'float64');
        expect(wide.dtype).toBe('float64');
        expect(Array.from(wide.readSync())).toEqual(Array.from(x.data));
        expectSame(gpu, 'cast back to float32', gpu.cast(wide, 'float32'), x);
      });

      it('a concat of more inputs than one kernel takes releases its intermediate groups', (ctx: TestContext) => {
        const gpu = needGpuMode(ctx, mode);
        const rng = new Rng(8);
        const many: Shape[] = Array.from({ length: 19 }, (_, i) => [2, 1 + (i % 3)]);
        const xs = many.map((s) => randomStorage(rng, sizeOf(s)));
        const before = gpu.info().stats.liveStorages;
        const g = gpu.concat(xs.map((x) => gpu.adopt(x)), many, 1);
        expectSame(gpu, 'concat of 19', g, cpu.concat(xs, many, 1));
        // Only the inputs (19 uploads) and the result remain.
        expect(gpu.info().stats.liveStorages).toBe(before + 19 + 1);
      });
    });
  });
}
