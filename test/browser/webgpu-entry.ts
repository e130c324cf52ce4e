import { backend, setBackendNotices } from '../../src/advanced.js';
import { GpuBackend, registerGpuBackend, type GpuBackendInfo } from '../../src/gpu/index.js';
import { setBackendAsync } from '../../src/index.js';
import { CpuBackend } from '../../src/kernels/cpu/backend.js';
import { kernelCases } from '../gpu-cases/kernel-cases.js';
import { runKernelCase, type CaseResult } from '../gpu-cases/run.js';

/**
 * The page side of test/webgpu-browser.test.ts: starts the gpu backend on WebGPU and runs the shared
 * kernel cases against the cpu backend, then publishes `window.webgpuResults`.
 */
export interface WebGpuPageResults {
  info: GpuBackendInfo | null;
  startError: string | null;
  kernels: CaseResult[];
  seconds: number;
}

const page = globalThis as unknown as { webgpuResults?: WebGpuPageResults };

async function main(): Promise<WebGpuPageResults> {
  const t0 = performance.now();
  const out: WebGpuPageResults = { info: null, startError: null, kernels: [], seconds: 0 };
  setBackendNotices(false);
  registerGpuBackend();
  try {
    out.info = (await setBackendAsync('gpu', { gpuMode: 'webgpu' })) as GpuBackendInfo;
  } catch (e) {
    out.startError = (e as Error).message;
    return out;
  }
  const gpu = backend() as GpuBackend;
  const cpu = new CpuBackend();
  for (const c of kernelCases()) out.kernels.push(await runKernelCase(c, cpu, gpu));
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}

main().then(
  (r) => (page.webgpuResults = r),
  (e: unknown) => (page.webgpuResults = { info: null, startError: `page error: ${(e as Error).stack ?? String(e)}`, kernels: [], seconds: 0 }),
);
