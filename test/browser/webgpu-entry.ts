import { setBackendNotices } from '../../src/advanced.js';
import { registerGpuBackend, type GpuBackendInfo } from '../../src/gpu/index.js';
import { setBackend, setBackendAsync } from '../../src/index.js';
import { CpuBackend } from '../../src/kernels/cpu/backend.js';
import { kernelCases } from '../gpu-cases/kernel-cases.js';
import { modelCases, runModelCase, type ModelCaseResult } from '../gpu-cases/model-cases.js';
import { runKernelCase, type CaseResult } from '../gpu-cases/run.js';
import { asyncChecks, check, gpu, useWebGpu, type Check } from './webgpu-checks.js';

/**
 * The page side of test/webgpu-browser.test.ts: starts the gpu backend on WebGPU, runs the shared
 * kernel and model cases against the cpu backend and the asynchronous-API checks, and publishes
 * everything as `window.webgpuResults`.
 */
export interface WebGpuPageResults {
  info: GpuBackendInfo | null;
  startError: string | null;
  kernels: CaseResult[];
  models: ModelCaseResult[];
  checks: Check[];
  seconds: number;
}

const page = globalThis as unknown as { webgpuResults?: WebGpuPageResults };

async function main(): Promise<WebGpuPageResults> {
  const t0 = performance.now();
  const out: WebGpuPageResults = { info: null, startError: null, kernels: [], models: [], checks: [], seconds: 0 };
  setBackendNotices(false);
  registerGpuBackend();
  try {
    out.info = (await setBackendAsync('gpu', { gpuMode: 'webgpu' })) as GpuBackendInfo;
  } catch (e) {
    out.startError = (e as Error).message;
    return out;
  }
  const cpu = new CpuBackend();
  for (const c of kernelCases()) out.kernels.push(await runKernelCase(c, cpu, gpu()));
  for (const c of modelCases()) out.models.push(await runModelCase(c, () => setBackend('cpu'), useWebGpu, true));
  for (const [name, body] of asyncChecks) out.checks.push(await check(name, body));
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}

main().then(
  (r) => (page.webgpuResults = r),
  (e: unknown) => (page.webgpuResults = { info: null, startError: `page error: ${(e as Error).stack ?? String(e)}`, kernels: [], models: [], checks: [], seconds: 0 }),
);

