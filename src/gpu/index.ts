/**
 * dselect-k/gpu: the GPU.js backend, loaded only when asked for. `registerGpuBackend()` makes
 * `setBackend('gpu')` available; GPU.js itself (an optional peer dependency) is loaded when that runs.
 */
import { setupCore } from '../core-setup.js';
import { GpuBackend } from '../kernels/gpu/backend.js';
import { registerBackend } from '../kernels/registry.js';
import { registerConvPoolReluGpuKernels } from '../packs/conv-pool-relu/gpu.js';
import { registerDSelectGpuKernels } from '../packs/dselect/gpu.js';

setupCore();

let registered = false;

/** Registers the gpu backend and the op packs' GPU kernels (idempotent). */
export function registerGpuBackend(): void {
  if (registered) return;
  registered = true;
  registerBackend('gpu', (opts) => new GpuBackend(opts));
  registerDSelectGpuKernels();
  registerConvPoolReluGpuKernels();
}

export { GPU_FALLBACK_KERNELS, GpuBackend, type GpuBackendInfo } from '../kernels/gpu/backend.js';
export type { DegradedKernel, GpuDeviceStats, GpuMode, GpuModeRequest } from '../kernels/gpu/device.js';
export { GpuStorage } from '../kernels/gpu/storage.js';
