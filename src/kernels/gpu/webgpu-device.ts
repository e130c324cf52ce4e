import { kernelSettings } from './device.js';
import { DeviceQueue, type QueuedLaunch } from './device-queue.js';
import type { SourceSpec } from './elementwise.js';
import type {
  GpuBufferLike,
  GpuJsArgument,
  GpuJsAsyncKernel,
  GpuJsModule,
  GpuJsWebGpuContext,
  GpuJsWebGpuHandle,
  GpuJsWebGpuInstance,
} from './gpujs.js';
import type { DegradedKernel, GpuDeviceStats, GpuModeRequest, KernelDevice, KernelInput } from './kernel-device.js';
import { kernelSource, lit, MAX_GPU_ELEMENTS } from './source.js';
import { GpuStorage, type DeviceValue, type GpuStorageOwner } from './storage.js';
import { adapterSummary, type WebGpuAdapterInfo, type WebGpuStart } from './webgpu-context.js';

// GPUBufferUsage / GPUMapMode values, fixed by the WebGPU spec (the globals exist only where WebGPU does).
const USAGE_MAP_READ = 0x0001;
const USAGE_COPY_SRC = 0x0004;
const USAGE_COPY_DST = 0x0008;
const USAGE_STORAGE = 0x0080;
const MAP_MODE_READ = 0x0001;

/** The message of every synchronous read of a device result on webgpu. */
export const WEBGPU_SYNC_READ_ERROR =
  'gpu backend (webgpu): results on a WebGPU device can only be read back asynchronously — use `await tensor.data()` or ' +
  '`await tensor.itemAsync()` (and `fitAsync` / `evaluateAsync` for training) instead of toArray() / item() / a synchronous read';

/**
 * GPU.js's webgpu mode behind the synchronous engine: WGSL compute shaders over storage buffers,
 * every result a device-resident buffer. Launches go through an in-order `DeviceQueue`: once a
 * kernel's shader is built a launch is submitted on the spot (GPU.js submits synchronously and only
 * its readback is asynchronous); the first launch of each kernel waits for the build, and launches
 * behind it wait in order. Readback is `read()` (a Promise); `readSync` of a computed result throws
 * `WEBGPU_SYNC_READ_ERROR`. Uploads and fills write buffers directly (no kernel).
 */
export class WebGpuDevice implements KernelDevice, GpuStorageOwner {
  readonly mode = 'webgpu' as const;
  readonly readsSync = false;
  readonly degraded: readonly DegradedKernel[] = [];
  readonly modeSummary = 'webgpu';
  readonly driver: string;
  readonly adapter: WebGpuAdapterInfo;
  private readonly gpu: GpuJsWebGpuInstance;
  private readonly context: GpuJsWebGpuContext;
  private readonly kernels = new Map<string, GpuJsAsyncKernel>();
  private readonly queue = new DeviceQueue();
  private live = 0;
  private liveBuffers = 0;
  private launches = 0;

  constructor(
    private readonly lib: GpuJsModule,
    start: WebGpuStart,
    readonly requested: GpuModeRequest,
  ) {
    this.context = start.context;
    this.adapter = start.adapter;
    this.driver = adapterSummary(start.adapter);
    this.gpu = new lib.GPU({ mode: 'webgpu' }) as unknown as GpuJsWebGpuInstance;
  }

  setDegradeListener(): void {
    // GPU.js's webgpu kernels either build or throw; they never run in another mode.
  }

  stats(): GpuDeviceStats {
    return { liveStorages: this.live, liveTextures: this.liveBuffers, glTextures: null, kernels: this.kernels.size, launches: this.launches, queued: this.queue.length };
  }

  run(spec: SourceSpec, outSize: number, inputs: readonly KernelInput[]): GpuStorage {
    if (outSize === 0) return this.wrap(null, 0);
    const largest = Math.max(outSize, ...inputs.map((x) => (typeof x === 'number' ? 0 : x instanceof GpuStorage ? x.size : x.length)));
    if (largest > MAX_GPU_ELEMENTS) {
      throw new Error(
        `gpu backend: ${spec.key.split(':')[0]} on ${largest} elements exceeds the ${MAX_GPU_ELEMENTS} (2^24) the gpu kernels index exactly in float32; use the cpu backend for tensors this large`,
      );
    }
    for (const x of inputs) if (x instanceof GpuStorage && x.owner !== this) throw new Error('gpu backend: a storage of another GPU.js device reached a kernel without being adopted');
    // Parts of a shared buffer at an offset the kernel does not expect get a buffer of their own first.
    const compacted: GpuStorage[] = [];
    let position = 0;
    inputs = inputs.map((x) => {
      if (!(x instanceof GpuStorage)) return x;
      const expected = spec.inputOffsets?.[position++] ?? 0;
      if (x.offset === expected) return x;
      const own = this.run(offsetCopySource(x.size, x.offset), x.size, [x]);
      compacted.push(own);
      return own;
    });
    const key = `${spec.key}|${outSize}`;
    let kernel = this.kernels.get(key);
    if (!kernel) {
      const grid = spec.grid && spec.grid.width * spec.grid.height === outSize ? spec.grid : null;
      kernel = grid
        ? this.gpu.createKernel(grid.source(), { ...kernelSettings(outSize), output: [grid.width, grid.height] })
        : this.gpu.createKernel(spec.source(), kernelSettings(outSize));
      this.kernels.set(key, kernel);
    }
    const output = new GpuStorage(this, null, outSize, null, true);
    this.live++;
    try {
      this.queue.push(this.launch(kernel, inputs, output));
    } catch (e) {
      output.fail(e as Error);
      output.dispose();
      throw e;
    } finally {
      for (const c of compacted) c.dispose(); // released once the launch that reads it has run
    }
    return output;
  }

  /** The parts of `whole` as storages sharing its buffer (each holds a reference to it). */
  split(whole: GpuStorage, sizes: readonly number[]): GpuStorage[] {
    if (sizes.reduce((a, b) => a + b, 0) !== whole.size) throw new Error(`gpu backend: split sizes [${sizes.join(', ')}] do not add up to ${whole.size}`);
    const made: GpuStorage[] = [];
    let at = 0;
    for (const n of sizes) {
      const part = new GpuStorage(this, null, n, null, true, whole.offset + at);
      at += n;
      made.push(part);
      this.live++;
    }
    // The parts resolve when `whole` does (at once unless it is still queued).
    const resolveParts = (): void => {
      const handle = whole.queuedValue as GpuJsWebGpuHandle;
      for (const part of made) {
        part.resolve(new this.lib.WebGPUBufferResult({ buffer: handle.buffer, output: [part.size], componentCount: 1, context: this.context, kernel: null }));
        this.liveBuffers++;
      }
      whole.dispose();
    };
    if (!whole.pending) resolveParts();
    else this.queue.push({ inputs: [whole], outputs: made, canSubmitNow: () => !whole.pending, submitNow: resolveParts, submitLater: async () => resolveParts() });
    return made;
  }

  upload(data: Float32Array): GpuStorage {
    const n = data.length;
    if (n === 0) return this.wrap(null, 0);
    return this.wrap(this.bufferWith(data), n, data);
  }

  fill(size: number, value: number): GpuStorage {
    if (size === 0) return this.wrap(null, 0);
    const data = new Float32Array(size).fill(value);
    return this.wrap(this.bufferWith(data), size, size <= 4096 ? data : null);
  }

  /** Resolves when every enqueued launch has been submitted and the GPU has finished it. */
  async ready(): Promise<void> {
    await this.queue.flush();
    await this.context.device.queue.onSubmittedWorkDone();
  }

  read(): Float32Array {
    throw new Error(WEBGPU_SYNC_READ_ERROR);
  }

  /** Waits for the launches before it, then copies the buffer to a mappable one and maps it. */
  async readAsync(storage: GpuStorage): Promise<Float32Array> {
    if (storage.pending) await this.queue.settle();
    const handle = storage.queuedValue as GpuJsWebGpuHandle; // rethrows the error of a failed launch
    if (this.context.isLost) throw new Error('gpu backend (webgpu): the WebGPU device was lost; its buffers no longer hold data');
    const device = this.context.device;
    const bytes = storage.size * 4;
    const staging = device.createBuffer({ size: bytes, usage: USAGE_MAP_READ | USAGE_COPY_DST });
    try {
      const encoder = device.createCommandEncoder();
      encoder.copyBufferToBuffer(handle.buffer, storage.offset * 4, staging, 0, bytes);
      device.queue.submit([encoder.finish()]);
      await staging.mapAsync(MAP_MODE_READ, 0, bytes);
      const out = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
      staging.unmap();
      return out;
    } finally {
      staging.destroy();
    }
  }

  release(value: DeviceValue): void {
    (value as GpuJsWebGpuHandle).delete();
    this.liveBuffers--;
  }

  storageDisposed(): void {
    this.live--;
  }

  private launch(kernel: GpuJsAsyncKernel, inputs: readonly KernelInput[], output: GpuStorage): QueuedLaunch {
    const storages = inputs.filter((x): x is GpuStorage => x instanceof GpuStorage);
    const args = (): GpuJsArgument[] => inputs.map((x) => (x instanceof GpuStorage ? (x.queuedValue as GpuJsWebGpuHandle) : x));
    return {
      inputs: storages,
      outputs: [output],
      canSubmitNow: () => kernel.kernel.built && storages.every((s) => !s.pending),
      submitNow: () => {
        const impl = kernel.kernel;
        // Built: GPU.js submits synchronously and returns an already-resolved Promise of a handle on
        // `outputBuffer`. That handle is unreachable without awaiting, so its reference is handed to
        // ours: one handle, one reference, released by dispose.
        void impl.run(...args());
        const buffer = impl.outputBuffer;
        if (!buffer) throw new Error('gpu backend (webgpu): GPU.js ran a kernel but left no output buffer');
        const handle = new this.lib.WebGPUBufferResult({ buffer, output: [output.size], componentCount: 1, context: this.context, kernel: impl });
        buffer._refs = (buffer._refs ?? 1) - 1;
        this.produced(output, handle);
      },
      submitLater: async () => {
        // GPU.js's handle carries the kernel's output dims (2-D for grid kernels): replaced by a flat one.
        const theirs = await kernel(...args());
        const handle = new this.lib.WebGPUBufferResult({ buffer: theirs.buffer, output: [output.size], componentCount: 1, context: this.context, kernel: kernel.kernel });
        theirs.delete();
        this.produced(output, handle);
      },
    };
  }

  private produced(output: GpuStorage, handle: GpuJsWebGpuHandle): void {
    this.launches++;
    this.liveBuffers++;
    output.resolve(handle);
  }

  private bufferWith(data: Float32Array): GpuJsWebGpuHandle {
    const device = this.context.device;
    const buffer: GpuBufferLike = device.createBuffer({ size: data.byteLength, usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST });
    device.queue.writeBuffer(buffer, 0, data);
    return new this.lib.WebGPUBufferResult({ buffer, output: [data.length], componentCount: 1, context: this.context, kernel: null });
  }

  private wrap(value: DeviceValue | null, size: number, host: Float32Array | null = null): GpuStorage {
    const s = new GpuStorage(this, value, size, host);
    this.live++;
    if (value !== null) this.liveBuffers++;
    return s;
  }
}

/** A copy of `size` elements starting at `offset` of its input (a part of a shared buffer made standalone). */
function offsetCopySource(size: number, offset: number): SourceSpec {
  return {
    key: `offsetCopy:${size}:${offset}`,
    inputOffsets: [offset],
    source: () => kernelSource(['x'], `return x[this.thread.x + ${lit(offset)}];\n`),
  };
}
