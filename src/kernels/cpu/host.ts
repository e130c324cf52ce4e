import { allocArray, type DType, type TypedArray } from '../../tensor/dtype.js';
import { HostStorage, type Storage } from '../../tensor/storage.js';
import { freeHeapArray, heapFloat32 } from './heap.js';

/** The typed array behind a cpu storage. */
export function dataOf(s: Storage): TypedArray {
  if (!(s instanceof HostStorage)) throw new Error(`cpu backend: storage of backend '${s.backend}' was not adopted first`);
  return s.data;
}

/** Wraps data the caller owns (never recycled). */
export function wrap(data: TypedArray): HostStorage {
  return new HostStorage(data, 'cpu');
}

/**
 * Kernel outputs: typed arrays recycled by exact length. A fresh 128 KB Float32Array costs about as
 * much as one elementwise pass over it (zeroed allocation plus the GC pressure it adds), and a
 * training step allocates the same sizes every time, so arrays released by `dispose` (directly or
 * through `tidy`) are handed to the next kernel that needs that length. `alloc` zeroes a reused array
 * (kernels see what `new Float32Array(n)` gives); `allocOverwritten` skips that for kernels that
 * write every element. Only arrays the pool handed out come back
 * (never user data), and only once their storage is released, i.e. no tensor refers to it any more.
 * New float32 arrays of pooled lengths are views into the WebAssembly heap (heap.ts) when it has
 * room, so the SIMD kernels use them in place; an array the pool does not keep gives its heap block
 * back at once.
 */
const MIN_POOLED_LENGTH = 64;
const DEFAULT_POOL_BYTES = 128 * 1024 * 1024;

interface PoolStats {
  /** Arrays handed out from the pool / freshly allocated since the last reset. */
  reused: number;
  allocated: number;
  /** Bytes currently parked in the pool, and the cap. */
  heldBytes: number;
  limitBytes: number;
}

class ArrayPool {
  private readonly free = { float32: new Map<number, TypedArray[]>(), float64: new Map<number, TypedArray[]>() };
  private held = 0;
  limit = DEFAULT_POOL_BYTES;
  reused = 0;
  allocated = 0;

  acquire(dtype: DType, length: number, zeroed: boolean): TypedArray {
    if (length >= MIN_POOLED_LENGTH) {
      const list = this.free[dtype].get(length);
      const a = list?.pop();
      if (a) {
        this.held -= a.byteLength;
        this.reused++;
        if (zeroed) a.fill(0);
        return a;
      }
    }
    this.allocated++;
    if (dtype === 'float32' && length >= MIN_POOLED_LENGTH) {
      const h = heapFloat32(length);
      if (h) {
        if (zeroed) h.fill(0);
        return h;
      }
    }
    return allocArray(dtype, length);
  }

  release(a: TypedArray): void {
    if (a.length < MIN_POOLED_LENGTH || this.held + a.byteLength > this.limit) {
      freeHeapArray(a);
      return;
    }
    const map = a instanceof Float64Array ? this.free.float64 : this.free.float32;
    let list = map.get(a.length);
    if (!list) {
      list = [];
      map.set(a.length, list);
    }
    list.push(a);
    this.held += a.byteLength;
  }

  clear(): void {
    for (const list of this.free.float32.values()) list.forEach(freeHeapArray);
    this.free.float32.clear();
    this.free.float64.clear();
    this.held = 0;
  }

  stats(): PoolStats {
    return { reused: this.reused, allocated: this.allocated, heldBytes: this.held, limitBytes: this.limit };
  }
}

const pool = new ArrayPool();

/** A storage whose array returns to the pool when the storage is released. */
export class PooledStorage extends HostStorage {
  override dispose(): void {
    if (this.disposed) return;
    super.dispose();
    pool.release(this.data);
  }
}

/** A zero-filled array for a kernel's output (recycled when possible). */
export function alloc(dtype: DType, length: number): TypedArray {
  return pool.acquire(dtype, length, true);
}

/** Like `alloc`, but a recycled array keeps old values: only for kernels that write every element. */
export function allocOverwritten(dtype: DType, length: number): TypedArray {
  return pool.acquire(dtype, length, false);
}

/** Wraps a kernel output from `alloc`; its array goes back to the pool on release. */
export function wrapOutput(data: TypedArray): HostStorage {
  return new PooledStorage(data, 'cpu');
}

export interface BufferPoolOptions {
  /** Most bytes kept for reuse (default 128 MiB); 0 turns recycling off. Lowering it empties the pool. */
  limitBytes?: number;
}

/** Configures the cpu backend's output-array pool and returns its counters. */
export function configureBufferPool(opts: BufferPoolOptions = {}): PoolStats {
  if (opts.limitBytes !== undefined) {
    if (!Number.isFinite(opts.limitBytes) || opts.limitBytes < 0) {
      throw new Error(`configureBufferPool: limitBytes must be a finite number ≥ 0, got ${opts.limitBytes}`);
    }
    if (opts.limitBytes < pool.limit) pool.clear();
    pool.limit = opts.limitBytes;
  }
  return pool.stats();
}
