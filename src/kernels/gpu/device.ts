import type { GpuMode, GpuModeRequest } from '../backend.js';
import {
  loadGpuJs,
  type GpuJsArgument,
  type GpuJsInstance,
  type GpuJsKernel,
  type GpuJsKernelSettings,
  type GpuJsModule,
  type GpuJsTexture,
  type GpuJsValue,
} from './gpujs.js';
import { copySource, fillSource, type SourceSpec } from './elementwise.js';
import type { DegradedKernel, GpuDeviceStats, KernelDevice, KernelInput } from './kernel-device.js';
import { MAX_GPU_ELEMENTS } from './source.js';
import { GpuStorage, type DeviceValue, type GpuStorageOwner } from './storage.js';
import { describeWebGlRenderer } from './webgl-renderer.js';

export type { DegradedKernel, GpuDeviceStats, GpuMode, GpuModeRequest, KernelInput };

const GL_MODES: ReadonlySet<GpuMode> = new Set(['headlessgl', 'webgl2', 'webgl']);
/** Every mode `setBackend('gpu', { gpuMode })` accepts. */
export const REQUESTABLE_GPU_MODES: ReadonlySet<string> = new Set(['auto', 'headlessgl', 'webgl2', 'webgl', 'webgpu', 'webasm', 'cpu']);

interface CompiledKernel {
  readonly run: GpuJsKernel;
  /** The implementation object last seen behind `run` and the mode it runs in. */
  impl: object | null;
  mode: GpuMode | null;
}

/**
 * One GPU.js instance in a synchronous mode (headlessgl, webgl2, webgl, webasm, cpu) and everything
 * compiled on it: kernels cached by op and shape, the upload and readback paths, and an honest record
 * of which implementation really ran each kernel.
 */
export class GpuDevice implements GpuStorageOwner, KernelDevice {
  readonly lib: GpuJsModule;
  readonly gpu: GpuJsInstance;
  readonly requested: GpuModeRequest;
  /** The mode the self-test kernel ran in. */
  readonly mode: GpuMode;
  /** True when results live in GL textures (device memory); false when GPU.js returns host arrays. */
  readonly textures: boolean;
  /** What drives GL on this machine, when it can be told (e.g. Mesa's software rasteriser). */
  readonly driver: string;
  readonly degraded: DegradedKernel[] = [];
  readonly readsSync = true;
  private readonly kernels = new Map<string, CompiledKernel>();
  private readonly modes = new Set<GpuMode>();
  private live = 0;
  private liveTex = 0;
  private glCreated = 0;
  private glDeleted = 0;
  private glCounting = false;
  private launches = 0;
  private onDegrade: ((d: DegradedKernel) => void) | null = null;

  constructor(requested: GpuModeRequest) {
    if (requested === 'webgpu') throw new Error('gpu backend: webgpu runs on WebGpuDevice, not on the synchronous GpuDevice');
    this.requested = requested;
    this.lib = loadGpuJs();
    try {
      this.gpu = new this.lib.GPU(requested === 'auto' ? {} : { mode: requested });
    } catch (e) {
      throw new Error(`setBackend('gpu'): GPU.js cannot run mode '${requested}' here: ${(e as Error).message}. ${modeHint(requested)}`);
    }
    let probeMode: GpuMode;
    try {
      probeMode = this.selfTest();
    } catch (e) {
      throw new Error(`setBackend('gpu'): GPU.js failed its self-test in mode '${requested}': ${(e as Error).message}. ${modeHint(requested)}`);
    }
    this.mode = probeMode;
    this.textures = GL_MODES.has(probeMode);
    this.driver =
      probeMode === 'headlessgl' ? detectGlDriver()
      : this.textures ? describeWebGlRenderer(this.gpu.context)
      : probeMode === 'webasm' ? 'WebAssembly on the host CPU (no GPU)' : 'JavaScript on the host CPU (no GPU)';
    if (this.textures) this.countGlTextures();
  }

  /** Called once per kernel GPU.js ran in a mode other than the device's. */
  setDegradeListener(fn: (d: DegradedKernel) => void): void {
    this.onDegrade = fn;
  }

  /** Every mode kernels really ran in, in order of first use ('headlessgl', or e.g. 'headlessgl+cpu'). */
  get modeSummary(): string {
    return [...this.modes].join('+');
  }

  stats(): GpuDeviceStats {
    return {
      liveStorages: this.live,
      liveTextures: this.liveTex,
      glTextures: this.glCounting ? this.glCreated - this.glDeleted : null,
      kernels: this.kernels.size,
      launches: this.launches,
      queued: 0,
    };
  }

  /** Host-array modes (webasm, cpu) split a result into subarrays; GL textures cannot be split. */
  split(whole: GpuStorage, sizes: readonly number[]): GpuStorage[] | null {
    if (this.textures) return null;
    const data = whole.readSync();
    let at = 0;
    const parts = sizes.map((n) => {
      const part = this.wrap(data.subarray(at, at + n), n);
      at += n;
      return part;
    });
    if (at !== whole.size) throw new Error(`gpu backend: split sizes [${sizes.join(', ')}] do not add up to ${whole.size}`);
    whole.dispose();
    return parts;
  }

  /** Kernels run synchronously here: nothing is ever waiting. */
  ready(): Promise<void> {
    return Promise.resolve();
  }

  /** Runs the kernel `spec` (compiled on first use) over `inputs`; the result stays on the device. */
  run(spec: SourceSpec, outSize: number, inputs: readonly KernelInput[]): GpuStorage {
    return this.wrap(outSize === 0 ? null : this.execute(spec, outSize, inputs), outSize);
  }

  /** Puts host floats on the device; the host array seeds the storage's readback cache. */
  upload(data: Float32Array): GpuStorage {
    const n = data.length;
    if (n === 0) return this.wrap(null, 0);
    if (!this.textures) return this.wrap(data.slice(), n);
    return this.wrap(this.execute(copySource(n), n, [data]), n, data);
  }

  fill(size: number, value: number): GpuStorage {
    if (size === 0) return this.wrap(null, 0);
    if (!this.textures) return this.wrap(new Float32Array(size).fill(value), size);
    // Small constants (scalars above all) are read back often: keep their host copy from the start.
    const host = size <= 4096 ? new Float32Array(size).fill(value) : null;
    return this.wrap(this.execute(fillSource(size), size, [value]), size, host);
  }

  private execute(spec: SourceSpec, outSize: number, inputs: readonly KernelInput[]): GpuJsValue {
    const largest = Math.max(outSize, ...inputs.map((x) => (typeof x === 'number' ? 0 : x instanceof GpuStorage ? x.size : x.length)));
    if (largest > MAX_GPU_ELEMENTS) {
      throw new Error(
        `gpu backend: ${spec.key.split(':')[0]} on ${largest} elements exceeds the ${MAX_GPU_ELEMENTS} (2^24) the gpu kernels index exactly in float32; use the cpu backend for tensors this large`,
      );
    }
    const key = `${spec.key}|${outSize}`;
    let k = this.kernels.get(key);
    if (!k) {
      k = { run: this.gpu.createKernel(spec.source(), kernelSettings(outSize)), impl: null, mode: null };
      this.kernels.set(key, k);
    }
    const args = inputs.map((x): GpuJsArgument => (x instanceof GpuStorage ? this.own(x).deviceValue : x));
    this.launches++;
    const value = k.run(...args);
    if (k.run.kernel !== k.impl) this.observe(key, k);
    return value;
  }

  /** A storage of this device holding `s`'s elements (a storage of another device is copied over). */
  own(s: GpuStorage): GpuStorage {
    if (s.owner === this) return s;
    throw new Error('gpu backend: a storage of another GPU.js device reached a kernel without being adopted');
  }

  read(value: DeviceValue | null, size: number): Float32Array {
    if (value instanceof Float32Array) return value;
    if (value === null || !isTexture(value)) throw new Error('gpu backend: this device reads back textures and typed arrays only');
    const raw = value.renderValues();
    if (raw === null) throw new Error('gpu backend: read back a texture that was already deleted');
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = raw[4 * i]!;
    return out;
  }

  release(value: DeviceValue): void {
    if (value instanceof Float32Array) return;
    value.delete();
    this.liveTex--;
  }

  storageDisposed(): void {
    this.live--;
  }

  private wrap(value: GpuJsValue | null, size: number, host: Float32Array | null = null): GpuStorage {
    if (value !== null && value instanceof Float32Array && value.length !== size) {
      throw new Error(`gpu backend: a kernel returned ${value.length} values where ${size} were expected`);
    }
    const s = new GpuStorage(this, value, size, host);
    this.live++;
    if (s.onTexture) this.liveTex++;
    return s;
  }

  private observe(key: string, k: CompiledKernel): void {
    const impl = k.run.kernel;
    const mode = modeOf(impl, this.lib);
    k.impl = impl;
    k.mode = mode;
    this.modes.add(mode);
    if (mode !== this.mode) {
      const d: DegradedKernel = { kernel: key, mode, reason: impl.fallbackReason ?? 'GPU.js switched the implementation' };
      this.degraded.push(d);
      this.onDegrade?.(d);
    }
  }

  /** Uploads, computes and reads back a few values; returns the mode that really ran. */
  private selfTest(): GpuMode {
    const input = new Float32Array([1, -2, 3.5, 0.25, 7]);
    const probe: SourceSpec = { key: 'selfTest', source: () => 'function(a) {\nreturn a[this.thread.x] * 2 + 1;\n}' };
    const k = this.gpu.createKernel(probe.source(), kernelSettings(input.length));
    const value = k(input);
    const mode = modeOf(k.kernel, this.lib);
    const got = this.read(value, input.length);
    if (!(value instanceof Float32Array)) value.delete();
    input.forEach((x, i) => {
      if (got[i] !== x * 2 + 1) throw new Error(`self-test kernel returned [${[...got].join(', ')}] instead of [${[...input].map((v) => v * 2 + 1).join(', ')}]`);
    });
    this.modes.add(mode);
    return mode;
  }

  /** Counts GL texture allocations from here on, so tests can see that training does not leak them. */
  private countGlTextures(): void {
    const gl = this.gpu.context as { createTexture?: () => unknown; deleteTexture?: (t: unknown) => void } | null;
    if (!gl || typeof gl.createTexture !== 'function' || typeof gl.deleteTexture !== 'function') return;
    const create = gl.createTexture.bind(gl);
    const remove = gl.deleteTexture.bind(gl);
    gl.createTexture = () => {
      this.glCreated++;
      return create();
    };
    gl.deleteTexture = (t: unknown) => {
      if (t) this.glDeleted++;
      remove(t);
    };
    this.glCounting = true;
  }
}

function isTexture(value: DeviceValue): value is GpuJsTexture {
  return typeof (value as Partial<GpuJsTexture>).renderValues === 'function';
}

export function kernelSettings(outSize: number): GpuJsKernelSettings {
  // Flat 1-D outputs only: every texture then has the same layout for a given size, so a kernel
  // compiled for one producer's texture accepts any other's.
  return { output: [outSize], pipeline: true, immutable: true, precision: 'single', tactic: 'precision', optimizeFloatMemory: false };
}

export function modeOf(impl: object, lib: GpuJsModule): GpuMode {
  if (impl instanceof lib.HeadlessGLKernel) return 'headlessgl';
  if (impl instanceof lib.WebGL2Kernel) return 'webgl2';
  if (impl instanceof lib.WebGLKernel) return 'webgl';
  if (impl instanceof lib.WebGPUKernel) return 'webgpu';
  if (impl instanceof lib.WebAssemblyKernel) return 'webasm';
  if (impl instanceof lib.CPUKernel) return 'cpu';
  throw new Error(`gpu backend: GPU.js ran an unknown kernel implementation (${impl.constructor.name})`);
}

export function modeHint(mode: GpuModeRequest): string {
  if (mode === 'headlessgl' || mode === 'auto') {
    return "headlessgl needs the optional native 'gl' package built (`npm rebuild gl`, with libx11-dev libxi-dev libxext-dev) and an X display (e.g. `xvfb-run -a node ...`); { gpuMode: 'webasm' } runs everywhere";
  }
  if (mode === 'webgl' || mode === 'webgl2') return 'webgl/webgl2 exist only in browsers';
  return '';
}

/**
 * Which OpenGL driver the process loaded, read from /proc/self/maps (Linux only): headless-gl's
 * RENDERER string is always "ANGLE", which would hide whether a GPU or a software rasteriser ran.
 */
function detectGlDriver(): string {
  const proc = (globalThis as { process?: { platform?: string; getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc || proc.platform !== 'linux' || typeof proc.getBuiltinModule !== 'function') return 'unknown GL driver';
  try {
    const fs = proc.getBuiltinModule('node:fs') as { readFileSync(path: string, enc: 'utf8'): string };
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    const dri = /\/([\w-]+)_dri\.so/.exec(maps)?.[1];
    if (dri === 'swrast' || dri === 'kms_swrast' || (dri === undefined && /libvulkan_lvp|llvmpipe/.test(maps))) {
      return `Mesa software rasteriser (${dri ?? 'llvmpipe'}_dri.so): no GPU`;
    }
    if (dri !== undefined) return `Mesa ${dri} driver (hardware GPU)`;
    if (/libGLX_nvidia|libnvidia-glcore/.test(maps)) return 'NVIDIA proprietary driver (hardware GPU)';
    return 'unknown GL driver';
  } catch {
    return 'unknown GL driver';
  }
}
