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
   * True while the elements are still to be computed (a deferred elementwise chain of the cpu
   * backend): reading them computes them. Absent or false for every other storage.
   */
  readonly deferred?: boolean;
  /**
   * The elements, read back asynchronously: waits for the work that produces them, then copies them
   * to the host. Absent on storages whose `readSync` always works (the cpu backend's).
   */
  read?(): Promise<TypedArray>;
  dispose(): void;
  readonly disposed: boolean;
}

/**
 * Plain typed-array storage: the cpu backend's storage and the staging form of every new tensor.
 * A deferred one (a subclass that overrides compute(): the cpu backend's pending elementwise
 * chains) is created with only its dtype and size and gets its array on first read.
 */
export class HostStorage implements Storage {
  refs = 0;
  disposed = false;
  readonly dtype: DType;
  readonly size: number;
  private array: TypedArray | null;

  constructor(
    data: TypedArray | { readonly dtype: DType; readonly size: number },
    readonly backend: string = 'host',
  ) {
    if (ArrayBuffer.isView(data)) {
      this.array = data;
      this.dtype = dtypeOfArray(data);
      this.size = data.length;
    } else {
      this.array = null;
      this.dtype = data.dtype;
      this.size = data.size;
    }
  }

  /** The elements (computed first, if deferred). */
  get data(): TypedArray {
    return this.array ?? this.settle();
  }

  get deferred(): boolean {
    return this.array === null;
  }

  readSync(): TypedArray {
    return this.data;
  }

  dispose(): void {
    this.disposed = true;
  }

  /** A deferred storage's elements; only deferred subclasses are asked. */
  protected compute(): TypedArray {
    throw new Error(`HostStorage: ${this.size} ${this.dtype} elements were never given and cannot be computed`);
  }

  /** Gives a deferred storage its elements (computed by compute(), or in one pass with another storage's). */
  protected resolve(data: TypedArray): void {
    this.array = data;
  }

  private settle(): TypedArray {
    const data = this.compute();
    this.array = data;
    return data;
  }
}
