import { createRequire } from 'node:module';
import { afterAll, afterEach, describe, expect, it, vi, type TestContext } from 'vitest';
import { setBackend, tensor } from '../src/index.js';
import { GpuBackend, GpuDevice } from '../src/gpu/index.js';
import { activateGpuMode, allowDegradedKernels, gpuModeUnavailable, needGpuMode } from './gpu-helpers.js';

/**
 * The gpu tests' mode contract (gpu-helpers.ts), shown on purpose-built failures: a mode that cannot
 * run is a skip with the reason (or a failure where DSELECT_K_EXPECT_GPU_MODE names it), and a test
 * that ran on a substitute — another mode, or a kernel GPU.js degraded — fails.
 */
const nodeRequire = createRequire(import.meta.url);
const { HeadlessGLKernel } = nodeRequire('gpu.js') as { HeadlessGLKernel: { isSupported: boolean } };

/** A stand-in test context that records skips and end-of-test hooks instead of acting on them. */
function fakeContext(): { ctx: TestContext; skips: string[]; finish: () => void } {
  const skips: string[] = [];
  const hooks: (() => void)[] = [];
  const ctx = {
    task: { id: `fake-${Math.random()}`, meta: {} },
    skip: (note?: string) => {
      skips.push(note ?? '');
      throw new Error('skipped');
    },
    onTestFinished: (fn: () => void) => hooks.push(fn),
  } as unknown as TestContext;
  return { ctx, skips, finish: () => hooks.forEach((h) => h()) };
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});
afterAll(() => {
  setBackend('cpu');
});

describe('a gpu test runs in the mode it needs or is skipped with the reason', () => {
  it('an unavailable headlessgl is a skip naming why', (real) => {
    needGpuMode(real, 'cpu'); // this test itself only needs GPU.js's plain-JS mode
    vi.spyOn(HeadlessGLKernel, 'isSupported', 'get').mockReturnValue(false);
    vi.stubEnv('DSELECT_K_EXPECT_GPU_MODE', '');
    vi.stubEnv('DISPLAY', '');
    expect(gpuModeUnavailable('headlessgl')).toBe('no X display (DISPLAY is unset): run the tests under `xvfb-run -a`');
    const { ctx, skips } = fakeContext();
    expect(() => needGpuMode(ctx, 'headlessgl')).toThrow('skipped');
    expect(skips).toEqual(["needs GPU.js mode 'headlessgl': no X display (DISPLAY is unset): run the tests under `xvfb-run -a`"]);
    expect(ctx.task.meta.gpu).toEqual({ needs: ['headlessgl'], ran: [], skipped: skips[0] });
  });

  it('where DSELECT_K_EXPECT_GPU_MODE names it, an unavailable mode fails instead', (real) => {
    needGpuMode(real, 'cpu');
    vi.spyOn(HeadlessGLKernel, 'isSupported', 'get').mockReturnValue(false);
    vi.stubEnv('DSELECT_K_EXPECT_GPU_MODE', 'headlessgl');
    const { ctx, skips } = fakeContext();
    expect(() => needGpuMode(ctx, 'headlessgl')).toThrow(/needs GPU\.js mode 'headlessgl', which DSELECT_K_EXPECT_GPU_MODE requires here, but it is unavailable/);
    expect(skips).toEqual([]);
  });

  it('a backend that runs another mode than the one asked for is refused', (real) => {
    needGpuMode(real, 'webasm');
    const gpu = activateGpuMode(fakeContext().ctx, 'webasm');
    vi.spyOn(gpu, 'mode', 'get').mockReturnValue('cpu');
    expect(() => activateGpuMode(fakeContext().ctx, 'webasm')).toThrow(/asked GPU\.js for mode 'webasm', it ran 'cpu' .*: a substitute is not accepted/);
  });

  it('a kernel GPU.js degraded to another mode during the test fails it', (real) => {
    needGpuMode(real, 'webasm');
    allowDegradedKernels(real); // this very test would fail by the same hook otherwise
    const { ctx, finish } = fakeContext();
    const gpu = activateGpuMode(ctx, 'webasm');
    expect(gpu).toBeInstanceOf(GpuBackend);
    // GPU.js degrading a kernel: the next kernel compiled comes from an instance in its plain-JS cpu mode.
    const device = gpu.device as GpuDevice;
    const jsGpu = new device.lib.GPU({ mode: 'cpu' });
    vi.spyOn(device.gpu, 'createKernel').mockImplementation((src, settings) => jsGpu.createKernel(src, settings));
    expect(Array.from(tensor([1.5, -2.5, 3.5]).abs().toArray())).toEqual([1.5, 2.5, 3.5]);
    expect(finish).toThrow(/GPU\.js ran 'unary:.*' in mode 'cpu' .* instead of mode 'webasm'/);
  });
});
