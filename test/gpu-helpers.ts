import { createRequire } from 'node:module';
import type { TestContext } from 'vitest';
import type { GpuTestMeta, GpuTestMode } from './gpu-meta.js';
import { setBackend } from '../src/index.js';
import { backend, setBackendNotices } from '../src/advanced.js';
import { GpuBackend, registerGpuBackend, type GpuBackendInfo } from '../src/gpu/index.js';
import { HostStorage, type Storage } from '../src/tensor/storage.js';
import { Rng } from '../src/tensor/random.js';

/**
 * Shared by the gpu-*.test.ts files. Every gpu test states the GPU.js mode it needs (`needGpuMode`):
 * it runs in exactly that mode, or is reported as skipped with the reason — never passed on a
 * substitute. 'auto' is for tests that assert nothing mode-specific (whatever GPU.js picks). Where
 * DSELECT_K_EXPECT_GPU_MODE names a mode (CI under xvfb-run: headlessgl), that mode being unavailable
 * is a failure, not a skip. The reporter in gpu-mode-summary.ts prints which modes ran.
 */
export type { GpuTestMode };

interface GpuJsStatics {
  GPU: { isHeadlessGLSupported: boolean; isWebAssemblySupported: boolean };
}

const nodeRequire = createRequire(import.meta.url);

/** Why GPU.js cannot run `mode` here, or null when it can. */
export function gpuModeUnavailable(mode: GpuTestMode): string | null {
  if (mode === 'cpu' || mode === 'auto') return null;
  if (mode === 'webgl2') return 'webgl2 exists only in browsers (browser-demo.test.ts runs it in Chromium)';
  const { GPU } = nodeRequire('gpu.js') as GpuJsStatics;
  if (mode === 'webasm') return GPU.isWebAssemblySupported ? null : 'this Node has no WebAssembly';
  if (GPU.isHeadlessGLSupported) return null;
  if (!process.env.DISPLAY) return 'no X display (DISPLAY is unset): run the tests under `xvfb-run -a`';
  try {
    nodeRequire('gl');
  } catch (e) {
    return `the native 'gl' package does not load (${(e as Error).message.split('\n')[0]}): \`npm rebuild gl\` with libx11-dev libxi-dev libxext-dev (see .ci/run)`;
  }
  return `headless-gl cannot create a WebGL context on DISPLAY=${process.env.DISPLAY}`;
}

/** Whether GPU.js could run headless-gl here (the native `gl` built and an X display present). */
export function headlessGlAvailable(): boolean {
  return gpuModeUnavailable('headlessgl') === null;
}

/**
 * Declares the GPU.js mode(s) this test needs and activates the gpu backend in the first (the last
 * one activated stays active; call `activateGpuMode` to switch between them). Skips the test, with the
 * reason, when one is unavailable — or fails it when DSELECT_K_EXPECT_GPU_MODE names that mode.
 */
export function needGpuMode(ctx: TestContext, ...modes: [GpuTestMode, ...GpuTestMode[]]): GpuBackend {
  const meta: GpuTestMeta = { needs: modes, ran: [] };
  ctx.task.meta.gpu = meta;
  for (const mode of modes) {
    const why = gpuModeUnavailable(mode);
    if (why === null) continue;
    if (process.env.DSELECT_K_EXPECT_GPU_MODE === mode) {
      throw new Error(`this test needs GPU.js mode '${mode}', which DSELECT_K_EXPECT_GPU_MODE requires here, but it is unavailable: ${why}`);
    }
    meta.skipped = `needs GPU.js mode '${mode}': ${why}`;
    ctx.skip(meta.skipped);
  }
  let gpu: GpuBackend | null = null;
  for (const mode of [...modes].reverse()) gpu = activateGpuMode(ctx, mode);
  return gpu!;
}

/** Makes the gpu backend run `mode` (quietly) and checks that GPU.js really runs it: no substitute. */
export function activateGpuMode(ctx: TestContext, mode: GpuTestMode): GpuBackend {
  setBackendNotices(false);
  registerGpuBackend();
  const info = (mode === 'auto' ? setBackend('gpu') : setBackend('gpu', { gpuMode: mode })) as GpuBackendInfo;
  const b = backend();
  if (!(b instanceof GpuBackend)) throw new Error('setBackend(gpu) did not activate the GpuBackend');
  if (mode !== 'auto' && b.mode !== mode) throw new Error(`asked GPU.js for mode '${mode}', it ran '${b.mode}' (${info.device}): a substitute is not accepted`);
  const ran = ctx.task.meta.gpu?.ran;
  if (ran && !ran.includes(b.mode)) ran.push(b.mode);
  if (mode !== 'auto') {
    // A kernel GPU.js degraded to another mode during this test ran on a substitute: fail the test.
    const before = b.device.degraded.length;
    ctx.onTestFinished(() => {
      const substituted = b.device.degraded.slice(before);
      if (substituted.length > 0 && !degradeAllowed.has(ctx.task.id)) {
        throw new Error(`GPU.js ran ${substituted.map((d) => `'${d.kernel}' in mode '${d.mode}' (${d.reason})`).join(', ')} instead of mode '${mode}'`);
      }
    });
  }
  return b;
}

const degradeAllowed = new Set<string>();

/** For the test that makes GPU.js degrade a kernel on purpose: its substitute is what it checks. */
export function allowDegradedKernels(ctx: TestContext): void {
  degradeAllowed.add(ctx.task.id);
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
