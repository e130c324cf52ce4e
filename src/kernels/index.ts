import { CpuBackend } from './cpu/backend.js';
import { GpuBackend } from './gpu/backend.js';
import { registerBackend } from './registry.js';

registerBackend('cpu', () => new CpuBackend());
// Importing GpuBackend loads none of GPU.js: the library (and its native `gl`) is loaded by the
// factory, i.e. only when setBackend('gpu') is called.
registerBackend('gpu', (opts) => new GpuBackend(opts));

export type { Backend, BackendInfo, BackendName, BinaryOp, ReduceOp, UnaryOp } from './backend.js';
export { backend, getBackend, noticeOnce, registerBackend, setBackend, setBackendNotices, type BackendOptions } from './registry.js';
export { GPU_FALLBACK_KERNELS, GpuBackend, type GpuBackendInfo } from './gpu/backend.js';
export type { GpuDeviceStats, GpuMode, GpuModeRequest } from './gpu/device.js';
export { GpuStorage } from './gpu/storage.js';
export { configureBufferPool, type BufferPoolOptions } from './cpu/host.js';
export { configureMatmul, matmulInfo, type MatmulInfo, type MatmulKernelChoice, type MatmulSettings } from './cpu/matmul-config.js';
export { shutdownGemmWorkers } from './cpu/gemm-wasm.js';
export { configureFusedKernels, type FusedKernelOptions } from './cpu/fused-wasm.js';
