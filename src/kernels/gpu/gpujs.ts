/**
 * Loading GPU.js on demand, and the small part of its surface the gpu backend uses. GPU.js (and the
 * native `gl` it may pull in) is loaded only when `setBackend('gpu')` creates the backend, never at
 * import time. `setBackend` is synchronous, so in Node the CommonJS package is loaded with a
 * `createRequire` obtained through `process.getBuiltinModule` (no static `node:` import, so bundlers
 * targeting browsers are not forced to resolve it); in a browser the `GPU` global of GPU.js's
 * script build is used.
 */

/** A GPU.js pipeline texture (GL modes): the device-resident result of a kernel. */
export interface GpuJsTexture {
  readonly size: readonly number[];
  readonly output: readonly number[];
  /** RGBA float texels, one value per texel in R for single-precision non-packed output. */
  renderValues(): Float32Array | null;
  delete(): void;
}

/** What a GPU.js kernel run returns in pipeline mode: a texture on GL, a typed array elsewhere. */
export type GpuJsValue = GpuJsTexture | Float32Array;

/**
 * A GPU.js webgpu pipeline result: a storage buffer on the device, refcounted on `buffer._refs`
 * (GPU.js destroys the buffer when the count reaches zero).
 */
export interface GpuJsWebGpuHandle {
  readonly buffer: GpuBufferLike;
  readonly output: readonly number[];
  readonly type: 'WebGPUBuffer';
  /** Reads the buffer back (through the producing kernel). */
  toArray(): Promise<Float32Array>;
  delete(): void;
}

export type GpuJsArgument = GpuJsValue | GpuJsWebGpuHandle | number;

/** The callable GPU.js returns from createKernel; `.kernel` is the implementation that really runs. */
export interface GpuJsKernel {
  (...args: GpuJsArgument[]): GpuJsValue;
  readonly kernel: object & { fallbackReason?: string | null };
}

/**
 * The part of a GPU.js WebGPUKernel the webgpu device drives: once `built`, `run` submits the
 * dispatch synchronously and returns a resolved Promise of the result handle, whose buffer is
 * `outputBuffer` until the next run (immutable pipeline kernels get a fresh buffer per run).
 */
export interface GpuJsWebGpuKernelImpl {
  readonly built: boolean;
  readonly outputBuffer: GpuBufferLike | null;
  readonly context: GpuJsWebGpuContext | null;
  run(...args: GpuJsArgument[]): Promise<GpuJsWebGpuHandle>;
}

/** The callable of a webgpu kernel: every call returns a Promise (the first one builds the shader). */
export interface GpuJsAsyncKernel {
  (...args: GpuJsArgument[]): Promise<GpuJsWebGpuHandle>;
  readonly kernel: GpuJsWebGpuKernelImpl;
}

/** The few WebGPU API members used (typed here: the DOM's WebGPU types are not part of this build). */
export interface GpuBufferLike {
  readonly size: number;
  _refs?: number;
  destroy(): void;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
}

export interface GpuDeviceLike {
  readonly limits: Record<string, number>;
  readonly queue: {
    writeBuffer(buffer: GpuBufferLike, offset: number, data: Float32Array): void;
    submit(commands: unknown[]): void;
    onSubmittedWorkDone(): Promise<void>;
  };
  createBuffer(desc: { size: number; usage: number; mappedAtCreation?: boolean }): GpuBufferLike;
  createCommandEncoder(): {
    copyBufferToBuffer(src: GpuBufferLike, srcOffset: number, dst: GpuBufferLike, dstOffset: number, size: number): void;
    finish(): unknown;
  };
}

export interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

export interface GpuAdapterLike {
  readonly info?: GpuAdapterInfoLike;
  readonly isFallbackAdapter?: boolean;
  readonly limits: Record<string, number>;
}

/** GPU.js's shared WebGPU context: one adapter and device for every webgpu kernel of the page/process. */
export interface GpuJsWebGpuContext {
  readonly adapter: GpuAdapterLike;
  readonly device: GpuDeviceLike;
  readonly isLost: boolean;
}

export interface GpuJsKernelSettings {
  output: number[];
  pipeline: boolean;
  immutable: boolean;
  precision: 'single';
  tactic: 'precision';
  optimizeFloatMemory: boolean;
}

export interface GpuJsInstance {
  readonly mode: string;
  /** The shared WebGL context once a GL kernel exists, else null. */
  readonly context: unknown;
  createKernel(source: string, settings: GpuJsKernelSettings): GpuJsKernel;
  destroy(): unknown;
}

/** A GPU.js instance in webgpu mode: its kernels are asynchronous. */
export interface GpuJsWebGpuInstance {
  createKernel(source: string, settings: GpuJsKernelSettings): GpuJsAsyncKernel;
}

type KernelClass = abstract new (...args: never[]) => object;

export interface GpuJsModule {
  GPU: (new (settings?: { mode?: string }) => GpuJsInstance) & {
    readonly isHeadlessGLSupported: boolean;
    readonly isWebAssemblySupported: boolean;
    readonly isWebGPUSupported: boolean;
  };
  HeadlessGLKernel: KernelClass;
  WebGLKernel: KernelClass;
  WebGL2Kernel: KernelClass;
  WebGPUKernel: KernelClass;
  WebAssemblyKernel: KernelClass;
  CPUKernel: KernelClass;
  WebGPUBufferResult: new (settings: {
    buffer: GpuBufferLike;
    output: number[];
    componentCount: number;
    context: GpuJsWebGpuContext;
    kernel: GpuJsWebGpuKernelImpl | null;
  }) => GpuJsWebGpuHandle;
  WebGPUContext: { readonly isSupported: boolean; acquire(): Promise<GpuJsWebGpuContext> };
}

let cached: GpuJsModule | null = null;

/** The GPU.js module, loaded on first call. Throws a clear error when it cannot be found. */
export function loadGpuJs(): GpuJsModule {
  if (cached) return cached;
  const global = globalThis as { GPU?: unknown; process?: { getBuiltinModule?: (id: string) => unknown } };
  const getBuiltin = global.process?.getBuiltinModule;
  let loaded: unknown;
  let reason = '';
  if (typeof getBuiltin === 'function') {
    const nodeModule = getBuiltin.call(global.process, 'node:module') as
      | { createRequire(from: string): (id: string) => unknown }
      | undefined;
    if (nodeModule) {
      try {
        loaded = nodeModule.createRequire(import.meta.url)('gpu.js');
      } catch (e) {
        reason = (e as Error).message.split('\n')[0]!;
      }
    }
  }
  if (!loaded && typeof global.GPU === 'function') {
    // Browser script build: the namespace is the GPU class itself with the kernels attached.
    loaded = global.GPU;
  }
  if (!isGpuJsModule(loaded)) {
    throw new Error(
      "setBackend('gpu'): GPU.js could not be loaded" +
        (reason ? `: ${reason}` : ' (no require in this environment and no global GPU)') +
        '. GPU.js is an optional peer dependency of dselect-k: install it with `npm install gpu.js`, or stay on the cpu backend.',
    );
  }
  cached = loaded;
  return loaded;
}

function isGpuJsModule(x: unknown): x is GpuJsModule {
  if (x === null || (typeof x !== 'object' && typeof x !== 'function')) return false;
  const m = x as Record<string, unknown>;
  return typeof m.GPU === 'function' && typeof m.CPUKernel === 'function' && typeof m.WebAssemblyKernel === 'function';
}
