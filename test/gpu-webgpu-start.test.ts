import { afterAll, describe, expect, it, vi } from 'vitest';
import { getBackend, setBackend, setBackendAsync, tensor } from '../src/index.js';
import { setBackendNotices } from '../src/advanced.js';
import { registerGpuBackend, type GpuBackendInfo } from '../src/gpu/index.js';
import { adapterSummary, dawnLoadError, describeAdapter } from '../src/kernels/gpu/webgpu-context.js';

/**
 * Starting the webgpu mode in Node: Dawn (the npm package `webgpu`, installed with gpu.js) where its
 * binary loads — it needs GLIBC ≥ 2.38 and GLIBCXX_3.4.32, which Debian 12 lacks — otherwise a clear
 * explanation, never a crash; 'auto' then falls back to GPU.js's synchronous modes and says why.
 * (The webgpu kernels themselves are tested in Chromium: webgpu-browser.test.ts.)
 */
const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime ?? null;
const oldGlibc = glibc !== null && Number(glibc.split('.')[0]) === 2 && Number(glibc.split('.')[1]) < 38;

afterAll(() => {
  setBackend('cpu');
});

describe('webgpu in Node', () => {
  it(`setBackendAsync('gpu', { gpuMode: 'webgpu' }) starts Dawn, or explains why it cannot (glibc here: ${glibc ?? 'not glibc'})`, async () => {
    setBackendNotices(false);
    registerGpuBackend();
    setBackend('cpu');
    let info: GpuBackendInfo | null = null;
    let error: Error | null = null;
    try {
      info = (await setBackendAsync('gpu', { gpuMode: 'webgpu' })) as GpuBackendInfo;
    } catch (e) {
      error = e as Error;
    }
    if (info) {
      console.log(`[webgpu-start] Dawn started: ${info.device}`);
      expect(info.mode).toBe('webgpu');
      expect(info.adapter?.source).toBe('dawn (npm webgpu)');
      expect(Array.from(await tensor([1, 2, 3]).mul(2).data())).toEqual([2, 4, 6]);
      return;
    }
    console.log(`[webgpu-start] no WebGPU in Node here: ${error!.message}`);
    expect(error!.message).toMatch(/^setBackendAsync\('gpu', \{ gpuMode: 'webgpu' \}\): /);
    if (oldGlibc) expect(error!.message).toMatch(new RegExp(`GLIBC ≥ 2\\.38 and GLIBCXX_3\\.4\\.32 .*this system has glibc ${glibc!.replace('.', '\\.')}`));
    expect(getBackend().name).toBe('cpu'); // a failed start leaves the active backend alone
    expect(() => setBackend('gpu', { gpuMode: 'webgpu' })).toThrow(/await setBackendAsync.*here it is unavailable: /);
  });

  it("'auto' picks webgpu where an adapter answers, else GPU.js's synchronous order, saying why", async () => {
    registerGpuBackend();
    setBackendNotices(true);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const info = (await setBackendAsync('gpu', { gpuMode: 'auto' })) as GpuBackendInfo;
    warn.mockRestore();
    setBackendNotices(false);
    if (info.mode === 'webgpu') {
      expect(info.webgpu).toBe('running');
      return;
    }
    expect(['headlessgl', 'webasm', 'cpu']).toContain(info.mode);
    expect(info.webgpu).toMatch(/^unavailable: /);
    expect(info.adapter).toBeNull();
    expect(Array.from(tensor([1, 2]).add(1).toArray())).toEqual([2, 3]);
  });

  it('setBackendAsync works for the cpu backend too', async () => {
    expect((await setBackendAsync('cpu')).name).toBe('cpu');
  });
});

describe('explanations', () => {
  it("Dawn's glibc requirement is explained; other load failures are passed on", () => {
    const m = dawnLoadError("/lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found", '2.36');
    expect(m).toMatch(/requires GLIBC ≥ 2\.38 and GLIBCXX_3\.4\.32 \(Debian 13, Ubuntu 24\.04 or newer\); this system has glibc 2\.36/);
    expect(m).toMatch(/pick another gpuMode \(headlessgl, webasm\)/);
    expect(dawnLoadError('some failure', '2.39')).toBe("WebGPU in Node needs Dawn (the npm package 'webgpu', installed with gpu.js), which did not load: some failure");
    expect(dawnLoadError('some failure', '2.31')).toMatch(/this system has glibc 2\.31/);
  });

  it('an adapter is called a GPU only when it is not a software implementation', () => {
    const swiftshader = describeAdapter({ info: { vendor: 'google', architecture: 'swiftshader', device: '', description: '', isFallbackAdapter: true }, limits: {} }, 'navigator.gpu');
    expect(swiftshader.software).toBe(true);
    expect(adapterSummary(swiftshader)).toBe('WebGPU google / swiftshader, software adapter (fallback adapter): no GPU, via navigator.gpu');
    const lavapipe = describeAdapter({ info: { vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 15.0.6, 256 bits)', description: '' }, limits: {} }, 'dawn (npm webgpu)');
    expect(lavapipe.software).toBe(true);
    const nvidia = describeAdapter({ info: { vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', description: 'NVIDIA: 580' }, isFallbackAdapter: false, limits: {} }, 'dawn (npm webgpu)');
    expect(nvidia.software).toBe(false);
    expect(adapterSummary(nvidia)).toBe('WebGPU nvidia / hopper / NVIDIA H200 / NVIDIA: 580, hardware adapter (GPU), via dawn (npm webgpu)');
  });
});
