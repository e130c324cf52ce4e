import type { Storage } from '../../tensor/storage.js';
import type { GpuJsValue, GpuJsWebGpuHandle } from './gpujs.js';

/** A device-side value: a GL texture, a typed array (webasm/cpu modes) or a WebGPU buffer handle. */
export type DeviceValue = GpuJsValue | GpuJsWebGpuHandle;

/** What a GpuStorage needs from the device that owns it. */
export interface GpuStorageOwner {
  /**
   * Reads a device value back to the host synchronously; throws on a device that cannot (webgpu,
   * where `value` is null while the storage is pending).
   */
  read(value: DeviceValue | null, size: number): Float32Array;
  /** Reads the storage back asynchronously, after the work that produces it (absent: `read` is used). */
  readAsync?(storage: GpuStorage): Promise<Float32Array>;
  /** Releases a device value (deletes the texture or buffer). */
  release(value: DeviceValue): void;
  /** Bookkeeping for the live-storage count. */
  storageDisposed(storage: GpuStorage): void;
}

/**
 * float32 elements resident on a GPU.js device: a pipeline texture on the GL modes, a storage buffer
 * on webgpu, the typed array a kernel returned on webasm/cpu (where GPU.js has no device memory).
 * Immutable once produced, so the host copy made by the first read stays valid until `dispose`.
 *
 * On webgpu a storage can be *pending*: its kernel is enqueued but not yet run (its shader is still
 * being built, or an input is itself pending). Work queued on it holds a use (`retain`), so a
 * `dispose` while that work waits only marks it; the device value goes when the last use ends.
 */
export class GpuStorage implements Storage {
  readonly backend = 'gpu';
  readonly dtype = 'float32' as const;
  refs = 0;
  private value: DeviceValue | null;
  private host: Float32Array | null;
  private released = false;
  private freed = false;
  private uses = 0;
  private pendingValue: boolean;
  private failure: Error | null = null;

  /**
   * `value` is null for empty storages and for pending ones (`pending` true); `host` seeds the cache
   * when the data came from the host. `offset` (webgpu only) places the elements inside a larger
   * buffer shared with other storages (the parts of a kernel that writes several results at once).
   */
  constructor(
    readonly owner: GpuStorageOwner,
    value: DeviceValue | null,
    readonly size: number,
    host: Float32Array | null = null,
    pending = false,
    readonly offset = 0,
  ) {
    this.value = value;
    this.pendingValue = pending;
    this.host = host ?? (value instanceof Float32Array ? value : null);
    if (value === null && size !== 0 && !pending) throw new Error(`GpuStorage: no device value for ${size} elements`);
  }

  get disposed(): boolean {
    return this.released;
  }

  /** True while the kernel producing this storage waits in the device queue. */
  get pending(): boolean {
    return this.pendingValue;
  }

  /** The error of the queued kernel that was to produce this storage, if it failed. */
  get error(): Error | null {
    return this.failure;
  }

  /** The device-side value, to pass as a kernel argument. */
  get deviceValue(): DeviceValue {
    if (this.released) throw new Error(`gpu backend: storage of ${this.size} elements was used after dispose()`);
    return this.queuedValue;
  }

  /** The device value for work enqueued before a `dispose` (it holds a use, so the value still exists). */
  get queuedValue(): DeviceValue {
    if (this.failure) throw this.failure;
    if (this.pendingValue) throw new Error(`gpu backend: storage of ${this.size} elements is still pending in the device queue`);
    if (this.value === null) throw new Error('gpu backend: an empty storage has no device value');
    return this.value;
  }

  /** True when the elements live in device memory (a texture or a buffer; or pending on webgpu) rather than in host memory. */
  get onTexture(): boolean {
    return this.pendingValue || (this.value !== null && !(this.value instanceof Float32Array));
  }

  /** The host copy, if one exists (from an upload or an earlier read). */
  get hostCopy(): Float32Array | null {
    return this.host;
  }

  /** Sets the value of a pending storage (its queued kernel ran). */
  resolve(value: DeviceValue): void {
    this.value = value;
    this.pendingValue = false;
    this.freeIfUnused();
  }

  /** Marks a pending storage as failed: reads and kernels that use it rethrow `error`. */
  fail(error: Error): void {
    this.failure = error;
    this.pendingValue = false;
    this.freeIfUnused();
  }

  /** Work that will read this storage later holds it (a queued kernel, a readback in flight). */
  retain(): void {
    this.uses++;
  }

  unretain(): void {
    this.uses--;
    this.freeIfUnused();
  }

  readSync(): Float32Array {
    if (this.released) throw new Error(`gpu backend: storage of ${this.size} elements was read after dispose()`);
    if (this.host !== null) return this.host;
    if (this.failure) throw this.failure;
    this.host = this.value === null && !this.pendingValue ? new Float32Array(0) : this.owner.read(this.value, this.size);
    return this.host;
  }

  async read(): Promise<Float32Array> {
    if (this.released) throw new Error(`gpu backend: storage of ${this.size} elements was read after dispose()`);
    if (this.host !== null) return this.host;
    if (!this.owner.readAsync) return this.readSync();
    this.retain();
    try {
      const data = await this.owner.readAsync(this);
      if (!this.released) this.host = data;
      return data;
    } finally {
      this.unretain();
    }
  }

  dispose(): void {
    if (this.released) return;
    this.released = true;
    this.freeIfUnused();
    this.owner.storageDisposed(this);
  }

  private freeIfUnused(): void {
    if (!this.released || this.uses > 0 || this.pendingValue || this.freed) return;
    this.freed = true;
    if (this.value !== null) this.owner.release(this.value);
    this.value = null;
    this.host = null;
  }
}
