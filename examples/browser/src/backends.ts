import type { GpuModeRequest } from 'dselect-k/gpu';
import type { BackendChoice } from './settings.js';

/**
 * The backends the page offers: the cpu backend, and every GPU.js mode `dselect-k/gpu` accepts that a
 * browser can run. A Record over GpuModeRequest, so a mode added to dselect-k/gpu does not compile
 * here until it is listed; whether a mode really starts is asked at run time (the probe), never assumed.
 */
const GPU_MODES: Readonly<Record<GpuModeRequest, { label: string; inBrowser: boolean }>> = {
  auto: { label: 'auto', inBrowser: true },
  webgpu: { label: 'WebGPU', inBrowser: true },
  webgl2: { label: 'WebGL2', inBrowser: true },
  webgl: { label: 'WebGL', inBrowser: true },
  webasm: { label: 'WebAssembly (on the CPU)', inBrowser: true },
  cpu: { label: 'JavaScript (on the CPU)', inBrowser: true },
  headlessgl: { label: 'headless-gl', inBrowser: false },
};

export const BROWSER_GPU_MODES: readonly GpuModeRequest[] = (Object.keys(GPU_MODES) as GpuModeRequest[]).filter((m) => GPU_MODES[m].inBrowser);

export const BACKEND_CHOICES: readonly BackendChoice[] = ['cpu', ...BROWSER_GPU_MODES.map((m): BackendChoice => `gpu:${m}`)];

export function isBackendChoice(x: string): x is BackendChoice {
  return (BACKEND_CHOICES as readonly string[]).includes(x);
}

/** The GPU.js mode of a gpu choice; null for the cpu backend. */
export function gpuModeOf(choice: BackendChoice): GpuModeRequest | null {
  return choice === 'cpu' ? null : (choice.slice('gpu:'.length) as GpuModeRequest);
}

export function backendLabel(choice: BackendChoice): string {
  const mode = gpuModeOf(choice);
  return mode === null ? 'cpu (WebAssembly SIMD)' : `gpu: GPU.js ${GPU_MODES[mode].label}`;
}
