import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/kernels/cpu/backend.js';
import { setBackend } from '../src/index.js';
import { backend } from '../src/advanced.js';
import { GpuStorage, type GpuBackend } from '../src/gpu/index.js';
import { Rng } from '../src/tensor/random.js';
import { sizeOf, type Shape } from '../src/tensor/shape.js';
import { kernelCases } from './gpu-cases/kernel-cases.js';
import { runKernelCase } from './gpu-cases/run.js';
import { compare, randomStorage, useGpu } from './gpu-helpers.js';

/**
 * Every gpu kernel against its cpu twin (the shared list of test/gpu-cases/kernel-cases.ts, which the
 * Chromium test also runs on webgpu), in whatever synchronous GPU.js mode runs here.
 */
const cpu = new CpuBackend();
let gpu: GpuBackend;

beforeAll(() => {
  gpu = useGpu('gpu-kernels');
});
afterAll(() => {
  setBackend('cpu');
});

const cases = kernelCases();
const groups = [...new Set(cases.map((c) => c.group))];
for (const group of groups) {
  describe(group, () => {
    for (const c of cases.filter((k) => k.group === group)) {
      it(c.name, async () => {
        const r = await runKernelCase(c, cpu, gpu);
        expect(r.failure, `${c.name} [mode ${gpu.info().mode}]`).toBeNull();
      });
    }
  });
}

describe('fused pack kernels in webasm mode (results split without a copy)', () => {
  for (const c of cases.filter((k) => k.group === 'fused pack kernels')) {
    it(c.name, async () => {
      const b = setBackend('gpu', { gpuMode: 'webasm' }) && (backend() as GpuBackend);
      try {
        const r = await runKernelCase(c, cpu, b);
        expect(r.failure, `${c.name} [mode ${b.info().mode}]`).toBeNull();
      } finally {
        gpu = useGpu('gpu-kernels');
      }
    });
  }
});

describe('storage', () => {
  it('fromHost, adopt, fill and cast round-trip exactly', () => {
    const rng = new Rng(7);
    const x = randomStorage(rng, 1000);
    const exact = { atol: 0, rtol: 0 };
    const expectSame = (label: string, g: ReturnType<GpuBackend['fill']>, c: ReturnType<CpuBackend['fill']>): void => {
      expect(g).toBeInstanceOf(GpuStorage);
      const r = compare(g, c, exact);
      expect(r.ok, `${label}: ${r.worst}`).toBe(true);
    };
    expectSame('fromHost', gpu.fromHost(x.data.slice()), x);
    expectSame('adopt', gpu.adopt(x), x);
    // Through a kernel first, so the values really come back from the device.
    const viaDevice = gpu.unary('neg', gpu.unary('neg', gpu.adopt(x)));
    expectSame('neg∘neg', viaDevice, x);
    expectSame('fill', gpu.fill(77, -1.25, 'float32'), cpu.fill(77, -1.25, 'float32'));
    expectSame('fill (large)', gpu.fill(5000, 3.5, 'float32'), cpu.fill(5000, 3.5, 'float32'));
    const wide = gpu.cast(viaDevice, 'float64');
    expect(wide.dtype).toBe('float64');
    expect(Array.from(wide.readSync())).toEqual(Array.from(x.data));
    expectSame('cast back to float32', gpu.cast(wide, 'float32'), x);
  });

  it('a concat of more inputs than one kernel takes releases its intermediate groups', () => {
    const rng = new Rng(8);
    const many: Shape[] = Array.from({ length: 19 }, (_, i) => [2, 1 + (i % 3)]);
    const xs = many.map((s) => randomStorage(rng, sizeOf(s)));
    const before = gpu.info().stats.liveStorages;
    const g = gpu.concat(xs.map((x) => gpu.adopt(x)), many, 1);
    expect(compare(g, cpu.concat(xs, many, 1), { atol: 0, rtol: 0 }).ok).toBe(true);
    // Only the inputs (19 uploads) and the result remain.
    expect(gpu.info().stats.liveStorages).toBe(before + 19 + 1);
  });
});
