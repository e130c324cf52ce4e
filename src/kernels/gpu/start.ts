import { noticeOnce, type BackendOptions } from '../registry.js';
import { loadGpuJs } from './gpujs.js';
import type { GpuModeRequest } from './kernel-device.js';
import { startWebGpu } from './webgpu-context.js';

/** The mode asked for: the option, else the DSELECT_K_GPU_MODE environment variable, else 'auto'. */
export function requestedGpuMode(opts: BackendOptions): GpuModeRequest {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.DSELECT_K_GPU_MODE;
  return opts.gpuMode ?? ((env || 'auto') as GpuModeRequest);
}

/**
 * The gpu backend's asynchronous start (`setBackendAsync('gpu', opts)`): for 'webgpu' and 'auto',
 * starts WebGPU (adapter, device, self-test). 'webgpu' fails with the reason when that is impossible;
 * 'auto' then falls back to GPU.js's synchronous order, with a one-time notice saying why.
 */
export async function prepareGpuBackend(opts: BackendOptions): Promise<BackendOptions> {
  const requested = requestedGpuMode(opts);
  if (requested !== 'webgpu' && requested !== 'auto') return opts;
  try {
    await startWebGpu(loadGpuJs());
    return { ...opts, gpuMode: 'webgpu' };
  } catch (e) {
    const reason = (e as Error).message;
    if (requested === 'webgpu') throw new Error(`setBackendAsync('gpu', { gpuMode: 'webgpu' }): ${reason}`);
    noticeOnce('gpu-auto-no-webgpu', `gpu backend: 'auto' found no WebGPU (${reason}); using GPU.js's synchronous modes instead`);
    return { ...opts, gpuMode: 'auto' };
  }
}
