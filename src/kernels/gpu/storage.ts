import type { Storage } from '../../tensor/storage.js';
import type { GpuJsValue } from './gpujs.js';

/** What a GpuStorage needs from the device that owns it. */
export interface GpuStorageOwner {
  /** Reads a device value back to the host (the only readback there is). */
  read(value: GpuJsValue, size: number): Float32Array;
  /** Releases a device value (deletes the texture on GL modes). */
  release(value: GpuJsValue): void;
  /** Bookkeeping for the live-storage count. */
  storageDisposed(storage: GpuStorage): void;
}

/**
 * float32 elements resident on a GPU.js device: a pipeline texture on the GL modes, the typed array a
 * kernel returned on webasm/cpu (where GPU.js has no device memory). Immutable once created, so the
 * host copy made by the first `readSync` stays valid until `dispose`.
 */
export class GpuStorage implements Storage {
  readonly backend = 'gpu';
  readonly dtype = 'float32' as const;
  refs = 0;
  private value: GpuJsValue | null;
  private host: Float32Array | null;
  private released = false;

  /** `value` is null only for empty storages; `host` seeds the cache when the data came from the host. */
  constructor(
    readonly owner: GpuStorageOwner,
    value: GpuJsValue | null,
    readonly size: number,
    host: Float32Array | null = null,
  ) {
    this.value = value;
    this.host = host ?? (value instanceof Float32Array ? value : null);
    if (value === null && size !== 0) throw new Error(`GpuStorage: no device value for ${size} elements`);
  }

  get disposed(): boolean {
    return this.released;
  }

  /** The device-side value, to pass as a kernel argument. */
  get deviceValue(): GpuJsValue {
    if (this.released) throw new Error(`gpu backend: storage of ${this.size} elements was used after dispose()`);
    if (this.value === null) throw new Error('gpu backend: an empty storage has no device value');
    return this.value;
  }

  /** True when the elements live in a texture (GL modes) rather than in host memory. */
  get onTexture(): boolean {
    return this.value !== null && !(this.value instanceof Float32Array);
  }

  readSync(): Float32Array {
    if (this.released) throw new Error(`gpu backend: storage of ${this.size} elements was read after dispose()`);
    if (this.host === null) this.host = this.value === null ? new Float32Array(0) : this.owner.read(this.value, this.size);
    return this.host;
  }

  dispose(): void {
    if (this.released) return;
    this.released = true;
    if (this.value !== null) this.owner.release(this.value);
    this.value = null;
    this.host = null;
    this.owner.storageDisposed(this);
  }
}
