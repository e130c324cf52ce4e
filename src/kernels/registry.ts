import type { Backend, BackendInfo, BackendName, GpuModeRequest } from './backend.js';

/** Options for `setBackend`. */
export interface BackendOptions {
  /**
   * gpu only: the GPU.js mode to run — 'webgpu' (WGSL compute shaders; asynchronous readback, started
   * with `setBackendAsync`), 'headlessgl', 'webgl2', 'webgl', 'webasm', 'cpu', or 'auto': with
   * `setBackendAsync`, webgpu where an adapter answers, else GPU.js's order headlessgl/webgl2/webgl →
   * webasm → cpu (the synchronous `setBackend` uses that order directly). Default: the
   * DSELECT_K_GPU_MODE environment variable, else 'auto'. A mode that cannot run here is an error,
   * never a silent substitute.
   */
  gpuMode?: GpuModeRequest;
}

type BackendFactory = (opts: BackendOptions) => Backend;
/** Asynchronous start of a backend: acquires what the factory needs and resolves 'auto' choices. */
type BackendPreparer = (opts: BackendOptions) => Promise<BackendOptions>;

/** The active backend. The core's setup registers `cpu`; `dselect-k/gpu` registers `gpu`. */
const factories = new Map<BackendName, BackendFactory>();
const preparers = new Map<BackendName, BackendPreparer>();
const instances = new Map<string, Backend>();
let active: Backend | null = null;
let activeName: BackendName = 'cpu';

/**
 * Registers a backend; its factory runs on the first `setBackend(name)` (so heavy libraries load
 * lazily). `prepare`, when given, is what `setBackendAsync` awaits first (e.g. a WebGPU adapter).
 */
export function registerBackend(name: BackendName, factory: BackendFactory, prepare?: BackendPreparer): void {
  factories.set(name, factory);
  if (prepare) preparers.set(name, prepare);
  else preparers.delete(name);
}

function instantiate(name: BackendName, opts: BackendOptions): Backend {
  const key = `${name}:${opts.gpuMode ?? ''}`;
  let b = instances.get(key);
  if (!b) {
    const factory = factories.get(name);
    if (!factory) {
      const registered = [...factories.keys()].join(', ') || 'none';
      if (name === 'gpu') {
        throw new Error(
          "setBackend('gpu'): the gpu backend is not loaded; import { registerGpuBackend } from 'dselect-k/gpu' and call it first " +
            `(it needs the optional peer dependency gpu.js: npm install gpu.js). Registered backends: ${registered}`,
        );
      }
      throw new Error(`setBackend: unknown backend '${name}' (registered: ${registered})`);
    }
    b = factory(opts);
    instances.set(key, b);
  }
  return b;
}

/**
 * Makes `name` the backend every op runs on and returns what really runs (for gpu: the GPU.js mode).
 * Tensors of the previous backend move over when an op first uses them. Throws (leaving the active
 * backend unchanged) when the backend cannot start.
 */
export function setBackend(name: BackendName, opts: BackendOptions = {}): BackendInfo {
  active = instantiate(name, opts);
  activeName = name;
  return active.info();
}

/**
 * `setBackend` for backends that start asynchronously: awaits the backend's start (for gpu: a WebGPU
 * adapter and device where 'webgpu' or 'auto' asks for one, and the self-test), activates it, and
 * resolves with what really runs. Works for every backend (cpu resolves at once).
 */
export async function setBackendAsync(name: BackendName, opts: BackendOptions = {}): Promise<BackendInfo> {
  if (!factories.has(name)) instantiate(name, opts); // the same clear error as setBackend
  const prepare = preparers.get(name);
  const resolved = prepare ? await prepare(opts) : opts;
  const [before, beforeName] = [active, activeName];
  const info = setBackend(name, resolved);
  try {
    await ready();
  } catch (e) {
    [active, activeName] = [before, beforeName];
    throw e;
  }
  return info;
}

/**
 * Resolves when the active backend has built, submitted and finished every kernel enqueued so far
 * (at once on backends that run kernels synchronously). Rejects with the error of a kernel that failed.
 */
export async function ready(): Promise<void> {
  await backend().ready?.();
}

export function backend(): Backend {
  if (!active) active = instantiate(activeName, {});
  return active;
}

/** The active backend's name and the mode that actually runs (never a GPU that was not used). */
export function getBackend(): BackendInfo {
  return backend().info();
}

// One-time notices (e.g. a kernel the gpu backend runs on the cpu kernels): visible by default,
// silenced with setBackendNotices(false) or DSELECT_K_NOTICES=0.
let noticesEnabled = readNoticeEnv();
const noticed = new Set<string>();

function readNoticeEnv(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.DSELECT_K_NOTICES !== '0';
}

/** Turns the one-time backend notices (console.warn) on or off; they are still recorded either way. */
export function setBackendNotices(enabled: boolean): void {
  noticesEnabled = enabled;
}

/** Warns once per `key`; returns true the first time. */
export function noticeOnce(key: string, message: string): boolean {
  if (noticed.has(key)) return false;
  noticed.add(key);
  if (noticesEnabled) console.warn(`dselect-k: ${message}`);
  return true;
}
