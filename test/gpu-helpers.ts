import { createRequire } from 'node:module';
import { setBackend } from '../src/index.js';
import { backend, setBackendNotices } from '../src/advanced.js';
import { GpuBackend, registerGpuBackend, type GpuBackendInfo } from '../src/gpu/index.js';
import { HostStorage, type Storage } from '../src/tensor/storage.js';
import { Rng } from '../src/tensor/random.js';

/**
 * Shared by the gpu-*.test.ts files. The gpu backend runs whatever GPU.js mode this machine offers
 * (headlessgl under xvfb-run with the native `gl` built, webasm otherwise; DSELECT_K_GPU_MODE forces
 * one) and every file prints which one ran, so nothing is skipped silently.
 */

/** Whether GPU.js could run headless-gl here (the native `gl` built and an X display present). */
export function headlessGlAvailable(): boolean {
  const gpujs = createRequire(import.meta.url)('gpu.js') as { GPU: { isHeadlessGLSupported: boolean } };
  return gpujs.GPU.isHeadlessGLSupported;
}

let reported = false;

/** Activates the gpu backend (quietly) and reports, once per file, the mode that really runs. */
export function useGpu(file: string): GpuBackend {
  setBackendNotices(false);
  registerGpuBackend();
  const info = setBackend('gpu') as GpuBackendInfo;
  if (!reported) console.log(`[${file}] gpu backend: GPU.js mode '${info.mode}' requested '${info.requestedMode}' on ${info.device}`);
  reported = true;
  const b = backend();
  if (!(b instanceof GpuBackend)) throw new Error('setBackend(gpu) did not activate the GpuBackend');
  return b;
}

/** float32 host storage of uniform values in [low, high). */
export function randomStorage(rng: Rng, size: number, low = -2, high = 2): HostStorage {
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = rng.uniformIn(low, high);
  return new HostStorage(data);
}

export function hostOf(values: ArrayLike<number>): HostStorage {
  return new HostStorage(Float32Array.from(values));
}

/**
 * Largest violation of |gpu − cpu| ≤ atol + rtol·scale (scale defaults to |cpu|); 0 when all pass.
 * Returns a description of the worst element for the assertion message.
 */
export function compare(
  gpu: Storage,
  cpu: Storage,
  tol: { atol: number; rtol: number; scale?: ArrayLike<number> },
): { ok: boolean; worst: string } {
  const g = gpu.readSync();
  const c = cpu.readSync();
  if (g.length !== c.length) return { ok: false, worst: `length ${g.length} vs ${c.length}` };
  let worstExcess = 0;
  let worst = '';
  for (let i = 0; i < c.length; i++) {
    const scale = tol.scale ? Math.abs(tol.scale[i]!) : Math.abs(c[i]!);
    const bound = tol.atol + tol.rtol * scale;
    const err = Math.abs(g[i]! - c[i]!);
    const bothNaN = Number.isNaN(g[i]!) && Number.isNaN(c[i]!);
    const bothSameInf = !Number.isFinite(c[i]!) && g[i] === c[i];
    if (bothNaN || bothSameInf) continue;
    if (!(err <= bound) && (err - bound > worstExcess || worst === '')) {
      worstExcess = err - bound;
      worst = `element ${i}: gpu ${g[i]} vs cpu ${c[i]} (|diff| ${err.toExponential(2)} > ${bound.toExponential(2)})`;
    }
  }
  return { ok: worst === '', worst };
}
