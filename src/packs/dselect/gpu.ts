import { backend } from '../../kernels/registry.js';
import type { GpuBackend } from '../../kernels/gpu/backend.js';
import { cpuDSelect } from './cpu.js';
import { selectorBackwardSource, selectorForwardSource, smoothStepSource } from './gpu-sources.js';
import { dselectKernels, type DSelectKernels } from './kernels.js';

// Registered under the name 'gpu', so the active backend is a GpuBackend whenever these run.
const gpu = (): GpuBackend => backend() as GpuBackend;

/** The DSelect-k kernels as GPU.js kernels (float64 runs on the cpu ones, as the gpu backend does for every kernel). */
export const gpuDSelect: DSelectKernels = {
  smoothStep: (x, gamma, derivative) =>
    gpu().runPackKernel(smoothStepSource(x.size, derivative), x.size, [x], [gamma], ([hx]) => cpuDSelect.smoothStep(hx!, gamma, derivative)),
  selectorForward: (s, rows, m, n) =>
    gpu().runPackKernel(selectorForwardSource(rows, m, n), rows * n, [s], [], ([hs]) => cpuDSelect.selectorForward(hs!, rows, m, n)),
  selectorBackward: (s, g, rows, m, n) =>
    gpu().runPackKernel(selectorBackwardSource(rows, m, n), rows * m, [s, g], [], ([hs, hg]) => cpuDSelect.selectorBackward(hs!, hg!, rows, m, n)),
};

export function registerDSelectGpuKernels(): void {
  dselectKernels.register('gpu', gpuDSelect);
}
