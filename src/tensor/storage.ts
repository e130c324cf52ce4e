import { dtypeOfArray, type DType, type TypedArray } from './dtype.js';

/**
 * Where a tensor's elements live. A backend owns the storages it creates; data of another backend is
 * adopted (copied) when an op on this backend first sees it. Reading back is the only way out.
 */
export interface Storage {
  /** Name of the backend that owns this storage (`'host'` for data not yet seen by any backend). */
  readonly backend: string;
  readonly dtype: DType;
  readonly size: number;
  /** Number of tensors sharing this storage; it is released when the count drops to zero. */
  refs: number;
  /**
   * The elements, row-major. Must not be mutated by the caller; may be the storage's own array.
   * Throws on a device that reads back only asynchronously (WebGPU), naming `read`'s tensor forms.
   */
  readSync(): TypedArray;
  /**
   * The elements, read back asynchronously: waits for the work that produces them, then copies them
   * to the host. Absent on storages whose `readSync` always works (the cpu backend's).
   */
  read?(): Promise<TypedArray>;
  dispose(): void;
  readonly disposed: boolean;
}

/** Plain typed-array storage: the cpu backend's storage and the staging form of every new tensor. */
export class HostStorage implements Storage {
  refs = 0;
  disposed = false;
  readonly dtype: DType;
  constructor(
    readonly data: TypedArray,
    readonly backend: string = 'host',
  ) {
    this.dtype = dtypeOfArray(data);
  }
  get size(): number {
    return this.data.length;
  }
  readSync(): TypedArray {
    return this.data;
  }
  dispose(): void {
    this.disposed = true;
  }
}
