import { createRequire } from 'node:module';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { conv2d, getBackend, matmul, maxPool2d, randn, Rng, setBackend, tensor, tidy } from '../src/index.js';
import { backend, setBackendNotices } from '../src/advanced.js';
import { GPU_FALLBACK_KERNELS, GpuBackend, GpuDevice, GpuStorage, registerGpuBackend, type GpuBackendInfo, type GpuModeRequest } from '../src/gpu/index.js';
import { activateGpuMode, allowDegradedKernels, headlessGlAvailable, needGpuMode } from './gpu-helpers.js';

/**
 * The gpu backend's contract: lazy loading, honest mode reporting, clear errors, residency (no
 * readback between kernels), textures released on dispose, and visible fallbacks. Each test states the
 * GPU.js mode it needs ('auto' where it asserts nothing mode-specific); device residency and texture
 * accounting need headlessgl and are skipped, with the reason, where it cannot run.
 */
const nodeRequire = createRequire(import.meta.url);
const gpuJsLoaded = (): boolean => Object.keys(nodeRequire.cache).some((k) => /[\\/]node_modules[\\/]gpu\.js[\\/]/.test(k));

afterEach(() => {
  setBackendNotices(false);
});
afterAll(() => {
  setBackend('cpu');
});

describe('loading and mode reporting', () => {
  it('importing the package does not load GPU.js; setBackend("gpu") does, once dselect-k/gpu is registered', (ctx) => {
    // This must be the first test of the file: nothing before it has asked for the gpu backend.
    expect(gpuJsLoaded()).toBe(false);
    setBackendNotices(false);
    expect(() => setBackend('gpu')).toThrow(/the gpu backend is not loaded; import \{ registerGpuBackend \} from 'dselect-k\/gpu' and call it first .*npm install gpu\.js/);
    expect(getBackend().name).toBe('cpu');
    registerGpuBackend();
    expect(gpuJsLoaded()).toBe(false);
    needGpuMode(ctx, 'auto');
    expect(gpuJsLoaded()).toBe(true);
  });

  it('reports the mode GPU.js really ran, and the device behind it', (ctx) => {
    needGpuMode(ctx, 'auto');
    const info = setBackend('gpu') as GpuBackendInfo;
    expect(getBackend()).toEqual(info);
    expect(info.name).toBe('gpu');
    expect(info.requestedMode).toBe(process.env.DSELECT_K_GPU_MODE || 'auto');
    if (!process.env.DSELECT_K_GPU_MODE) {
      // GPU.js's own order in Node: headless-gl when it can create a context, else WebAssembly.
      expect(info.mode).toBe(headlessGlAvailable() ? 'headlessgl' : 'webasm');
    }
    const expected = process.env.DSELECT_K_EXPECT_GPU_MODE;
    if (expected) {
      // Set by .ci/run under xvfb-run: headless-gl must really have run (it fails if `gl` did not build).
      expect(info.mode, `expected GPU.js mode '${expected}' (is the native gl package built? is DISPLAY set?)`).toBe(expected);
    }
    expect(['headlessgl', 'webasm', 'cpu']).toContain(info.mode);
    if (info.mode === 'headlessgl') expect(info.device).toMatch(/driver|rasteriser/);
    else expect(info.device).toMatch(/host CPU \(no GPU\)/);
  });

  it('honours an explicit mode and reports it', (ctx) => {
    needGpuMode(ctx, 'cpu', 'webasm');
    for (const mode of ['cpu', 'webasm'] as const) {
      const info = setBackend('gpu', { gpuMode: mode });
      expect(info.mode).toBe(mode);
      const x = tensor([
        [1, 2],
        [3, 4],
      ]);
      expect(Array.from(matmul(x, x).toArray())).toEqual([7, 10, 15, 22]);
      expect(getBackend().mode).toBe(mode);
    }
  });

  it('headlessgl runs on the GL driver it names', (ctx) => {
    needGpuMode(ctx, 'headlessgl');
    const info = getBackend() as GpuBackendInfo;
    expect(info.mode).toBe('headlessgl');
    expect(info.device).toMatch(/driver|rasteriser/);
  });

  it('headlessgl where it cannot run is a clear error naming xvfb-run', (ctx) => {
    needGpuMode(ctx, 'cpu');
    // Where headless-gl works, make GPU.js see it as unsupported (as without a display or a built gl).
    // A fresh backend, since setBackend keeps the one it made per mode.
    const { HeadlessGLKernel } = nodeRequire('gpu.js') as { HeadlessGLKernel: { isSupported: boolean } };
    const unsupported = vi.spyOn(HeadlessGLKernel, 'isSupported', 'get').mockReturnValue(false);
    try {
      expect(() => new GpuBackend({ gpuMode: 'headlessgl' })).toThrow(/GPU\.js cannot run mode 'headlessgl' here: .*xvfb-run/s);
    } finally {
      unsupported.mockRestore();
    }
  });

  it('webgpu needs the asynchronous start; unknown modes are clear errors', () => {
    setBackend('cpu');
    expect(() => setBackend('gpu', { gpuMode: 'webgpu' })).toThrow(/WebGPU starts asynchronously.*await setBackendAsync\('gpu', \{ gpuMode: 'webgpu' \}\)/);
    expect(() => setBackend('gpu', { gpuMode: 'cuda' as GpuModeRequest })).toThrow(/unknown GPU\.js mode 'cuda'/);
    expect(getBackend().name).toBe('cpu');
  });
});

describe('honesty when GPU.js substitutes an implementation', () => {
  it('a kernel GPU.js ran in another mode is reported in mode, degraded and a notice', (ctx) => {
    const gpu = needGpuMode(ctx, 'webasm');
    allowDegradedKernels(ctx); // the substitute is what this test checks
    // Stand-in for GPU.js degrading a kernel (it does so e.g. for arguments a mode cannot take):
    // the next kernel compiled comes from a GPU.js instance in its plain-JS cpu mode.
    const device = gpu.device as GpuDevice;
    const jsGpu = new device.lib.GPU({ mode: 'cpu' });
    const create = vi.spyOn(device.gpu, 'createKernel').mockImplementation((src, settings) => jsGpu.createKernel(src, settings));
    setBackendNotices(true);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const y = tensor([1, -2, 3, -4, 5, -6, 7]).abs();
    create.mockRestore();
    expect(Array.from(y.toArray())).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const info = getBackend() as GpuBackendInfo;
    expect(info.mode).toBe('webasm+cpu');
    expect(info.degraded.some((d) => d.mode === 'cpu' && d.kernel.startsWith('unary:abs'))).toBe(true);
    expect(warn.mock.calls.some(([m]) => /ran gpu kernel 'unary:abs.*in mode 'cpu', not 'webasm'/.test(String(m)))).toBe(true);
    warn.mockRestore();
  });

  it('tensors beyond float32-exact indexing are a clear error, not wrong indices', (ctx) => {
    const gpu = needGpuMode(ctx, 'auto');
    expect(() => gpu.unary('neg', gpu.fill(2 ** 24 + 1, 1, 'float32'))).toThrow(/exceeds the 16777216 \(2\^24\)/);
  });
});

describe('data stays on the device', () => {
  it('a chain of kernels reads nothing back until the values are asked for, then once', (ctx) => {
    const gpu = needGpuMode(ctx, 'headlessgl');
    const read = vi.spyOn(gpu.device, 'read');
    const rng = new Rng(3);
    const a = randn([16, 8], { rng });
    const w = randn([8, 4], { rng });
    const out = tidy(() => matmul(a, w).relu().add(1).mul(a.sum(1, true).sigmoid()).softmax(1).log().neg().sum(0));
    expect(out.storage).toBeInstanceOf(GpuStorage);
    expect((out.storage as GpuStorage).onTexture).toBe(true);
    expect(read).toHaveBeenCalledTimes(0);
    const first = out.toArray();
    expect(read).toHaveBeenCalledTimes(1); // the texture is read back once
    expect(Array.from(out.toArray())).toEqual(Array.from(first));
    expect(read).toHaveBeenCalledTimes(1); // cached until disposed
    read.mockRestore();
    out.dispose();
  });

  it('tensors move between the cpu and gpu backends when used', (ctx) => {
    needGpuMode(ctx, 'auto');
    setBackend('cpu');
    const x = tensor([1, 2, 3]);
    activateGpuMode(ctx, 'auto');
    const y = x.mul(2);
    expect(x.storage).toBeInstanceOf(GpuStorage); // adopted on first use
    setBackend('cpu');
    const z = y.add(1);
    expect(z.storage).not.toBeInstanceOf(GpuStorage);
    expect(Array.from(z.toArray())).toEqual([3, 5, 7]);
  });

  it('dispose releases storages and textures; tidy leaves no device memory behind', (ctx) => {
    const gpu = needGpuMode(ctx, 'headlessgl');
    const x = randn([32, 32], { rng: new Rng(1) });
    const step = (): void =>
      tidy(() => {
        const h = matmul(x, x).tanh();
        return void h.sum().mul(2);
      });
    step(); // compiles the kernels (each keeps one texture of its own)
    const before = gpu.info().stats;
    step();
    const after = gpu.info().stats;
    expect(after.liveStorages).toBe(before.liveStorages);
    expect(after.liveTextures).toBe(before.liveTextures);
    expect(after.kernels).toBe(before.kernels);
    expect(after.glTextures, 'GL textures are counted in headlessgl mode').not.toBeNull();
    expect(after.glTextures).toBe(before.glTextures);
    const y = x.exp();
    expect(gpu.info().stats.liveStorages).toBe(before.liveStorages + 1);
    expect(gpu.info().stats.liveTextures).toBe(before.liveTextures + 1);
    y.dispose();
    expect(gpu.info().stats.liveStorages).toBe(before.liveStorages);
    expect(gpu.info().stats.liveTextures).toBe(before.liveTextures);
    expect(() => y.toArray()).toThrow(/after dispose/);
  });
});

describe('explicit fallbacks', () => {
  it('float64 runs on the cpu kernels, exactly, announced once and listed', (ctx) => {
    needGpuMode(ctx, 'auto');
    setBackendNotices(true);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const x = tensor([0.1, 0.2, 0.3], { dtype: 'float64' });
    const y = x.mul(x).add(x).exp().sum();
    expect(y.dtype).toBe('float64');
    expect(y.storage).not.toBeInstanceOf(GpuStorage);
    const expected = [0.1, 0.2, 0.3].reduce((s, v) => s + Math.exp(v * v + v), 0);
    expect(y.item()).toBe(expected); // float64 arithmetic, not a float32 round trip
    x.mul(3).dispose();
    const notices = warn.mock.calls.filter(([m]) => String(m).includes('float64'));
    expect(notices.length).toBe(1); // once, however many float64 kernels ran
    const info = getBackend() as GpuBackendInfo;
    expect(info.fallbacks).toContain('float64 (every kernel)');
    expect(info.fallbacksUsed).toContain('float64');
    // A float32 cast of a float64 tensor goes to the device.
    expect(x.cast('float32').storage).toBeInstanceOf(GpuStorage);
    warn.mockRestore();
  });

  it('conv2d and max pooling run on the device: no fallback, no notice, no readback until asked', (ctx) => {
    needGpuMode(ctx, 'auto');
    setBackendNotices(true);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const rng = new Rng(9);
    const input = randn([1, 2, 6, 6], { rng });
    const kernel = randn([3, 2, 3, 3], { rng });
    setBackend('cpu');
    const expected = maxPool2d(conv2d(input, kernel, null, { padding: 1 }), 2).toArray();
    activateGpuMode(ctx, 'auto');
    setBackendNotices(true);
    const gpu = backend() as GpuBackend;
    const read = vi.spyOn(gpu.device, 'read');
    const got = maxPool2d(conv2d(input, kernel, null, { padding: 1 }), 2);
    expect(got.storage).toBeInstanceOf(GpuStorage);
    expect(read).toHaveBeenCalledTimes(0);
    const g = got.toArray();
    for (let i = 0; i < expected.length; i++) expect(g[i]).toBeCloseTo(expected[i]!, 5);
    expect(warn.mock.calls.filter(([m]) => /im2col|maxPool/.test(String(m)))).toEqual([]);
    expect(GPU_FALLBACK_KERNELS).toEqual([]);
    expect((getBackend() as GpuBackendInfo).fallbacks).toEqual(['float64 (every kernel)']);
    read.mockRestore();
    warn.mockRestore();
  });

  it('notices can be silenced; the fallbacks stay queryable', (ctx) => {
    needGpuMode(ctx, 'cpu');
    setBackendNotices(false);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    tensor([1, 2], { dtype: 'float64' }).exp();
    expect(warn).not.toHaveBeenCalled();
    expect((getBackend() as GpuBackendInfo).fallbacksUsed).toContain('float64');
    warn.mockRestore();
  });
});
