import type { GpuAdapterLike, GpuJsModule, GpuJsWebGpuContext, GpuJsWebGpuInstance } from './gpujs.js';

/**
 * Starting WebGPU for GPU.js: `navigator.gpu` where the platform has it (browsers); in Node, Dawn
 * from the npm package `webgpu` (a dependency of gpu.js) installed as `navigator.gpu`, whose Linux
 * binary needs GLIBC ≥ 2.38 and GLIBCXX_3.4.32 — detected and explained, never a crash. Then GPU.js's
 * shared context (one adapter, one device) is acquired. Everything here is asynchronous; it runs once
 * per process, from `setBackendAsync('gpu', …)`.
 */

/** What the WebGPU adapter says about itself, and our reading of it. */
export interface WebGpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The adapter's own flag: a fallback adapter is a software implementation (e.g. SwiftShader). */
  isFallbackAdapter: boolean | null;
  /** True when the adapter is a CPU implementation (a fallback adapter, SwiftShader, llvmpipe/lavapipe). */
  software: boolean;
  /** Where navigator.gpu came from: the platform, or Dawn in Node (the `webgpu` package). */
  source: 'navigator.gpu' | 'dawn (npm webgpu)';
}

export interface WebGpuStart {
  context: GpuJsWebGpuContext;
  adapter: WebGpuAdapterInfo;
}

/** Dawn's Linux binary (webgpu 0.2.9) links against these; Debian 12 has glibc 2.36. */
const DAWN_MIN_GLIBC = [2, 38] as const;

let started: WebGpuStart | null = null;
let starting: Promise<WebGpuStart> | null = null;
let lastFailure: string | null = null;

/** Whether WebGPU answered in this process, for `getBackend().webgpu`. */
export function webGpuStatus(): string {
  if (started) return 'running';
  if (lastFailure) return `unavailable: ${lastFailure}`;
  return "not probed (setBackendAsync('gpu') with gpuMode 'auto' or 'webgpu' probes it)";
}

/** The started WebGPU context, if `startWebGpu` has succeeded in this process. */
export function startedWebGpu(): WebGpuStart | null {
  return started;
}

/**
 * Starts WebGPU once (later calls share the result; a failure may be retried). Rejects with an error
 * that says why there is no adapter: no navigator.gpu, Dawn's glibc requirement, no adapter answered.
 */
export function startWebGpu(lib: GpuJsModule, timeoutMs = 30_000): Promise<WebGpuStart> {
  if (started) return Promise.resolve(started);
  if (!starting) {
    starting = start(lib, timeoutMs).then(
      (s) => {
        started = s;
        lastFailure = null;
        return s;
      },
      (e: unknown) => {
        starting = null;
        lastFailure = firstLine(e);
        throw e;
      },
    );
  }
  return starting;
}

async function start(lib: GpuJsModule, timeoutMs: number): Promise<WebGpuStart> {
  const source = installNavigatorGpu();
  let context: GpuJsWebGpuContext;
  try {
    context = await withTimeout(lib.WebGPUContext.acquire(), timeoutMs, `no WebGPU adapter/device after ${timeoutMs / 1000} s`);
  } catch (e) {
    const why = firstLine(e);
    // GPU.js's own message may already say that WebGPU is present; do not say it twice.
    throw new Error(/^WebGPU is present/.test(why) ? why : `WebGPU is present (${source}) but did not start: ${why}`);
  }
  const adapter = describeAdapter(context.adapter, source);
  try {
    await selfTest(lib);
  } catch (e) {
    throw new Error(`the WebGPU adapter (${adapterSummary(adapter)}) failed GPU.js's self-test: ${firstLine(e)}`);
  }
  return { context, adapter };
}

/** One small kernel built, run and read back through GPU.js, before anything relies on the adapter. */
async function selfTest(lib: GpuJsModule): Promise<void> {
  const gpu = new lib.GPU({ mode: 'webgpu' }) as unknown as GpuJsWebGpuInstance;
  const input = new Float32Array([1, -2, 3.5, 0.25, 7]);
  const kernel = gpu.createKernel('function(a) {\nreturn a[this.thread.x] * 2 + 1;\n}', {
    output: [input.length],
    pipeline: true,
    immutable: true,
    precision: 'single',
    tactic: 'precision',
    optimizeFloatMemory: false,
  });
  const handle = await kernel(input);
  try {
    const got = Array.from(await handle.toArray());
    const want = Array.from(input, (x) => x * 2 + 1);
    if (got.join() !== want.join()) throw new Error(`the self-test kernel returned [${got.join(', ')}] instead of [${want.join(', ')}]`);
  } finally {
    handle.delete();
  }
}

/** Makes sure `navigator.gpu` exists; in Node, loads Dawn for it. Returns where it came from. */
function installNavigatorGpu(): WebGpuAdapterInfo['source'] {
  const g = globalThis as { navigator?: { gpu?: unknown }; process?: NodeProcessLike };
  if (g.navigator?.gpu) return 'navigator.gpu';
  const proc = g.process;
  if (!proc || typeof proc.getBuiltinModule !== 'function') {
    throw new Error('WebGPU is not available here: navigator.gpu is missing (a browser without WebGPU, or WebGPU disabled)');
  }
  const glibc = glibcVersion(proc);
  let dawn: { create(flags: string[]): unknown; globals: Record<string, unknown> };
  try {
    const nodeModule = proc.getBuiltinModule('node:module') as { createRequire(from: string): NodeRequireLike };
    const req = nodeModule.createRequire(import.meta.url);
    // `webgpu` is gpu.js's dependency: resolve it from gpu.js's own folder (it need not be hoisted).
    const fromGpuJs = nodeModule.createRequire(req.resolve('gpu.js'));
    dawn = fromGpuJs('webgpu') as typeof dawn;
  } catch (e) {
    throw new Error(dawnLoadError(firstLine(e), glibc));
  }
  const gpu = dawn.create([]);
  Object.assign(globalThis, dawn.globals);
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else g.navigator = { gpu };
  return 'dawn (npm webgpu)';
}

interface NodeProcessLike {
  getBuiltinModule?: (id: string) => unknown;
  report?: { getReport(): unknown };
}

type NodeRequireLike = ((id: string) => unknown) & { resolve(id: string): string };

/** The running glibc ('2.36'), or null off glibc / when Node cannot tell. */
function glibcVersion(proc: NodeProcessLike): string | null {
  try {
    const report = proc.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    return report?.header?.glibcVersionRuntime ?? null;
  } catch {
    return null;
  }
}

/** Explains a failed load of Dawn's native module (the glibc requirement above all). */
export function dawnLoadError(message: string, glibc: string | null): string {
  const tooOld = glibc !== null && compareVersions(glibc, DAWN_MIN_GLIBC) < 0;
  const glibcProblem = /GLIBC_|GLIBCXX_|libstdc\+\+/.test(message) || tooOld;
  if (glibcProblem) {
    return (
      `WebGPU in Node needs Dawn (the npm package 'webgpu', installed with gpu.js), whose Linux binary requires ` +
      `GLIBC ≥ ${DAWN_MIN_GLIBC.join('.')} and GLIBCXX_3.4.32 (Debian 13, Ubuntu 24.04 or newer); this system has glibc ${glibc ?? 'unknown'}` +
      ` (${message}). Use a newer distribution, run in a browser with WebGPU, or pick another gpuMode (headlessgl, webasm)`
    );
  }
  return `WebGPU in Node needs Dawn (the npm package 'webgpu', installed with gpu.js), which did not load: ${message}`;
}

function compareVersions(version: string, min: readonly number[]): number {
  const parts = version.split('.').map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < min.length; i++) {
    const d = (parts[i] ?? 0) - min[i]!;
    if (d !== 0 || Number.isNaN(d)) return Number.isNaN(d) ? 0 : d;
  }
  return 0;
}

/** The adapter's identity, and whether it is a software implementation (never called a GPU then). */
export function describeAdapter(adapter: GpuAdapterLike, source: WebGpuAdapterInfo['source']): WebGpuAdapterInfo {
  const info = adapter.info ?? {};
  const isFallbackAdapter = info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? null;
  const vendor = info.vendor ?? '';
  const architecture = info.architecture ?? '';
  const device = info.device ?? '';
  const description = info.description ?? '';
  const software = isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|software|warp|cpu/i.test(`${vendor} ${architecture} ${device} ${description}`);
  return { vendor, architecture, device, description, isFallbackAdapter, software, source };
}

/** One line naming the adapter honestly, for `getBackend().device`. */
export function adapterSummary(a: WebGpuAdapterInfo): string {
  const name = [a.vendor, a.architecture, a.device, a.description].filter((s) => s !== '').join(' / ') || 'unnamed adapter';
  const kind = a.software ? `software adapter${a.isFallbackAdapter ? ' (fallback adapter)' : ''}: no GPU` : 'hardware adapter (GPU)';
  return `WebGPU ${name}, ${kind}, via ${a.source}`;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}
