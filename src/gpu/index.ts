/**
 * dselect-k/gpu: the GPU.js backend, loaded only when asked for. `registerGpuBackend()` makes
 * `setBackend('gpu')` available; GPU.js itself (an optional peer dependency) is loaded when that runs.
 */
import { setupCore } from '../core-setup.js';
import { GpuBackend } from '../kernels/gpu/backend.js';
import { prepareGpuBackend } from '../kernels/gpu/start.js';
import { registerBackend } from '../kernels/registry.js';
import { registerAdamUpdateGpuKernels } from '../packs/adam-update/gpu.js';
import { registerBiasActivationGpuKernels } from '../packs/bias-activation/gpu.js';
import { registerConvPoolReluGpuKernels } from '../packs/conv-pool-relu/gpu.js';
import { registerDSelectGpuKernels } from '../packs/dselect/gpu.js';
import { registerExpertMixtureGpuKernels } from '../packs/expert-mixture/gpu.js';

setupCore();

let registered = false;

/** Registers the gpu backend and the op packs' GPU kernels (idempotent). */
export function registerGpuBackend(): void {
  if (registered) return;
  registered = true;
  registerBackend('gpu', (opts) => new GpuBackend(opts), prepareGpuBackend);
  registerDSelectGpuKernels();
  registerBiasActivationGpuKernels();
  registerExpertMixtureGpuKernels();
  registerAdamUpdateGpuKernels();
  registerConvPoolReluGpuKernels();
}

export { GPU_FALLBACK_KERNELS, GpuBackend, type GpuBackendInfo } from '../kernels/gpu/backend.js';
export { GpuDevice } from '../kernels/gpu/device.js';
export { WebGpuDevice, WEBGPU_SYNC_READ_ERROR } from '../kernels/gpu/webgpu-device.js';
export type { DegradedKernel, GpuDeviceStats, GpuMode, GpuModeRequest, KernelDevice } from '../kernels/gpu/kernel-device.js';
export type { WebGpuAdapterInfo } from '../kernels/gpu/webgpu-context.js';
export { GpuStorage } from '../kernels/gpu/storage.js';
