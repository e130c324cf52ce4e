import { wasmApi, type WasmMemory } from './wasm/assembler.js';

/**
 * One WebAssembly memory that float32 kernel outputs live in, so that the SIMD kernels read and
 * write tensors where they are instead of copying them in and out of a module's memory (a 4 MB
 * copy each way costs ~0.3 ms here, about what the whole softmax of [1024, 1024] may take). JS
 * kernels see plain Float32Array views of it and work unchanged.
 *
 * Kinds. By default the heap is a SHARED memory (where SharedArrayBuffer exists: Node, and pages
 * that are cross-origin isolated) that starts at 16 MiB and grows to `maxBytes` (1 GiB): worker
 * threads run kernels on it (threads/kernel-threads.ts), and views of a shared memory stay valid
 * when it grows (the old SharedArrayBuffer keeps its length). Copying into or out of
 * SharedArrayBuffer-backed arrays with TypedArray.prototype.set takes V8's relaxed atomic memcpy,
 * 1.4–1.6× slower (128 KB: 4.2 vs 3.0 µs; 4 MB: 276 vs 168 µs), which stopped mattering once the
 * kernels (gemm, the packs' kernels, elementwise, softmax) used heap operands in place. Without
 * SharedArrayBuffer (a page that is not cross-origin isolated), or with `shared: false`, it is a
 * non-shared memory of fixed size, `maxBytes` reserved at once (views of a non-shared memory would
 * be detached if it grew): V8 and SpiderMonkey commit its pages only when touched (RSS measured
 * here: +0 MB for an untouched 1 GiB heap), smaller sizes are tried where the reservation fails,
 * and every kernel runs on the calling thread. When the heap is full, callers get null and fall
 * back to ordinary typed arrays, which every kernel still accepts (the SIMD ones then copy), so a
 * full heap is slower, never wrong.
 *
 * Lifetime. Blocks are freed explicitly (the buffer pool in host.ts does it when a tensor is
 * disposed and the pool does not keep the array) or, for arrays that are simply dropped, by a
 * FinalizationRegistry once the view is garbage-collected. Finalizers only run when the JS stack
 * is empty, so a long synchronous loop that never disposes can fill the heap: it then falls back
 * as above until the collector catches up. The finalizer watches the view handed out, so a
 * subarray() of it must not outlive it (the engine never keeps one).
 *
 * Layout: [0, STAGING_BYTES) is staging space for small operands that live outside the heap; blocks
 * start after it, 64-byte aligned (a cache line, and whole SIMD vectors).
 */
export const HEAP_ALIGN = 64;
export const STAGING_BYTES = 64 * 1024;
const PAGE = 65536;

export interface HeapOptions {
  /** false: no heap (every tensor in ordinary typed arrays; SIMD kernels copy). Default true. */
  enabled?: boolean;
  /** true: a shared memory that grows (needs SharedArrayBuffer; else the fixed kind); false: the fixed kind. Default true. */
  shared?: boolean;
  /** The most the heap holds: reserved at once by the fixed kind, grown to by the shared one. Default 1 GiB. */
  maxBytes?: number;
}

export interface HeapInfo {
  /** 'shared' (grows), 'fixed' (non-shared, fixed size) or 'off' (none: disabled or no WebAssembly). */
  mode: 'shared' | 'fixed' | 'off';
  /** Current size of the memory, bytes handed out in live blocks, and the most it may grow to. */
  bytes: number;
  liveBytes: number;
  maxBytes: number;
  /** Allocations that found no room and fell back to ordinary arrays. */
  misses: number;
}

const options: Required<HeapOptions> = { enabled: true, shared: true, maxBytes: 2 ** 30 };

/** Block allocator: exact-size free lists, a bump pointer, and coalescing when both come up empty (exported for tests). */
export class Blocks {
  private readonly free = new Map<number, number[]>();
  private readonly live = new Map<number, number>();
  private top = STAGING_BYTES;
  private freedSinceMerge = false;
  liveBytes = 0;

  constructor(public limit: number) {}

  /** A block of `size` bytes (a multiple of HEAP_ALIGN), or −1 if none fits (after `grow` had its say). */
  take(size: number, grow: (needed: number) => boolean): number {
    let at = this.free.get(size)?.pop() ?? -1;
    if (at < 0 && this.top + size > this.limit) {
      if (this.freedSinceMerge) this.merge();
      if (this.top + size > this.limit) at = this.bestFit(size);
      if (at < 0 && !grow(this.top + size)) return -1;
    }
    if (at < 0) {
      at = this.top;
      this.top += size;
    }
    this.live.set(at, size);
    this.liveBytes += size;
    return at;
  }

  release(at: number): void {
    const size = this.live.get(at);
    if (size === undefined) throw new Error(`heap: free of ${at}, which is not an allocated block`);
    this.live.delete(at);
    this.liveBytes -= size;
    if (at + size === this.top) this.top = at;
    else this.push(at, size);
    this.freedSinceMerge = true;
  }

  private push(at: number, size: number): void {
    let list = this.free.get(size);
    if (!list) {
      list = [];
      this.free.set(size, list);
    }
    list.push(at);
  }

  /** Joins neighbouring free blocks and gives a free run that ends at the top back to the bump pointer. */
  private merge(): void {
    const blocks: [number, number][] = [];
    for (const [size, list] of this.free) for (const at of list) blocks.push([at, size]);
    blocks.sort((a, b) => a[0] - b[0]);
    this.free.clear();
    const merged: [number, number][] = [];
    for (const [at, size] of blocks) {
      const last = merged[merged.length - 1];
      if (last && last[0] + last[1] === at) last[1] += size;
      else merged.push([at, size]);
    }
    const end = merged[merged.length - 1];
    if (end && end[0] + end[1] === this.top) {
      this.top = end[0];
      merged.pop();
    }
    for (const [at, size] of merged) this.push(at, size);
    this.freedSinceMerge = false;
  }

  /** The smallest free block of at least `size` bytes, split; −1 if none. */
  private bestFit(size: number): number {
    let best = -1;
    for (const [s, list] of this.free) if (s > size && list.length > 0 && (best < 0 || s < best)) best = s;
    if (best < 0) return -1;
    const at = this.free.get(best)!.pop()!;
    this.push(at + size, best - size);
    return at;
  }
}

interface HeapState {
  memory: WasmMemory;
  shared: boolean;
  maxBytes: number;
  blocks: Blocks;
  /** Every buffer object the memory has had (a shared memory hands out a new one per growth). */
  buffers: Set<ArrayBufferLike>;
  buffer: ArrayBufferLike;
  /** Frees the block of a view that was dropped without being released. */
  finalizer: FinalizationRegistry<number>;
  misses: number;
}

let state: HeapState | null | undefined;

function create(): HeapState | null {
  if (!options.enabled || !wasmApi) return null;
  const attempts: [shared: boolean, initialPages: number, maxPages: number][] = [];
  const maxPages = Math.floor(options.maxBytes / PAGE);
  if (options.shared && typeof SharedArrayBuffer === 'function') attempts.push([true, Math.min(256, maxPages), maxPages]);
  // Where a large reservation fails (32-bit address spaces, some mobile browsers), smaller ones.
  for (const pages of [maxPages, 4096, 1024]) if (pages <= maxPages) attempts.push([false, pages, pages]);
  for (const [shared, initial, maximum] of attempts) {
    if (initial * PAGE <= STAGING_BYTES) continue;
    try {
      const memory = new wasmApi.Memory({ initial, maximum, shared });
      const buffer = memory.buffer;
      const heap: HeapState = {
        memory,
        shared,
        maxBytes: maximum * PAGE,
        blocks: new Blocks(buffer.byteLength),
        buffers: new Set([buffer]),
        buffer,
        finalizer: new FinalizationRegistry((at: number) => heap.blocks.release(at)),
        misses: 0,
      };
      return heap;
    } catch {
      // Not this size or kind here (no SharedArrayBuffer in the page, address space): try the next.
    }
  }
  return null;
}

function heap(): HeapState | null {
  if (state === undefined) state = create();
  return state;
}

/** Grows a shared heap so that `needed` bytes fit (by at least half its size); false if it cannot. */
function grow(h: HeapState, needed: number): boolean {
  if (!h.shared || needed > h.maxBytes) return false;
  const have = h.buffer.byteLength;
  const target = Math.min(h.maxBytes, Math.max(needed, have + (have >> 1)));
  try {
    h.memory.grow(Math.ceil((target - have) / PAGE));
  } catch {
    return false;
  }
  h.buffer = h.memory.buffer;
  h.buffers.add(h.buffer);
  h.blocks.limit = h.buffer.byteLength;
  return true;
}

/** A float32 array of `length` elements (contents unspecified) in the heap, or null (no heap, or full). */
export function heapFloat32(length: number): Float32Array | null {
  const h = heap();
  if (!h || length <= 0) return null;
  const size = Math.ceil((4 * length) / HEAP_ALIGN) * HEAP_ALIGN;
  const at = h.blocks.take(size, (needed) => grow(h, needed));
  if (at < 0) {
    h.misses++;
    return null;
  }
  const view = new Float32Array(h.buffer, at, length);
  h.finalizer.register(view, at, view);
  return view;
}

/** Returns the block of a heap array now (it must not be used afterwards); no-op for other arrays. */
export function freeHeapArray(a: ArrayLike<number>): void {
  const h = state;
  // unregister() is false for a view released before: a second release must not free a block
  // that may belong to another array by now.
  if (!h || !isHeapArray(a) || !h.finalizer.unregister(a)) return;
  h.blocks.release((a as Float32Array).byteOffset);
}

/** Whether `a` is a view into the heap (and so has a byte address kernels can use directly). */
export function isHeapArray(a: ArrayLike<number>): boolean {
  // Checked in this order: reading .buffer of a small on-heap typed array would make V8 allocate one.
  return state != null && a instanceof Float32Array && a.length > 0 && a.byteOffset >= STAGING_BYTES && state.buffers.has(a.buffer);
}

/** Whether float32 arrays can live in the heap here (it exists, or can be created). */
export function heapAvailable(): boolean {
  return heap() !== null;
}

/** The heap's memory and a float32 view of all of it (renewed after growth), or null without a heap. */
export function heapMemory(): { memory: WasmMemory; shared: boolean; maxBytes: number } | null {
  const h = heap();
  return h && { memory: h.memory, shared: h.shared, maxBytes: h.maxBytes };
}

/** The current buffer of the heap (a new object after each growth of a shared heap). */
export function heapBuffer(): ArrayBufferLike | null {
  return heap()?.buffer ?? null;
}

/**
 * Sets the heap up before its first use and returns what is running. Changing options after the
 * heap exists is an error (tensors already live in it).
 */
export function configureHeap(opts: HeapOptions = {}): HeapInfo {
  const keys = Object.keys(opts) as (keyof HeapOptions)[];
  if (keys.length > 0) {
    const unknown = keys.filter((k) => !(k in options));
    if (unknown.length > 0) throw new Error(`configureHeap: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${Object.keys(options).join(', ')})`);
    if (state != null) throw new Error('configureHeap: the heap is already in use; configure it before the first float32 kernel runs');
    for (const k of ['enabled', 'shared'] as const) {
      const v = opts[k];
      if (v !== undefined && typeof v !== 'boolean') throw new Error(`configureHeap: ${k} must be true or false, got ${String(v)}`);
    }
    const v = opts.maxBytes;
    if (v !== undefined && (!Number.isFinite(v) || v < 2 * STAGING_BYTES || v > 2 ** 32)) {
      throw new Error(`configureHeap: maxBytes must be a number of bytes in [${2 * STAGING_BYTES}, 2^32], got ${v}`);
    }
    Object.assign(options, opts);
    state = undefined;
  }
  const h = heap();
  if (!h) return { mode: 'off', bytes: 0, liveBytes: 0, maxBytes: 0, misses: 0 };
  return { mode: h.shared ? 'shared' : 'fixed', bytes: h.buffer.byteLength, liveBytes: h.blocks.liveBytes, maxBytes: h.maxBytes, misses: h.misses };
}
