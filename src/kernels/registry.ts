import type { Backend, BackendInfo, BackendName, GpuModeRequest } from './backend.js';

/** Options for `setBackend`. */
export interface BackendOptions {
  /**
   * gpu only: the GPU.js mode to run — 'auto' (GPU.js picks headlessgl/webgl → webasm → cpu),
   * 'headlessgl', 'webgl2', 'webgl', 'webasm' or 'cpu'. Default: the DSELECT_K_GPU_MODE environment
   * variable, else 'auto'. A mode that cannot run here is an error, never a silent substitute.
   */
  gpuMode?: GpuModeRequest;
}

type BackendFactory = (opts: BackendOptions) => Backend;

/** The active backend. The core's setup registers `cpu`; `dselect-k/gpu` registers `gpu`. */
const factories = new Map<BackendName, BackendFactory>();
const instances = new Map<string, Backend>();
let active: Backend | null = null;
let activeName: BackendName = 'cpu';

/** Registers a backend; its factory runs on the first `setBackend(name)` (so heavy libraries load lazily). */
export function registerBackend(name: BackendName, factory: BackendFactory): void {
  factories.set(name, factory);
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
