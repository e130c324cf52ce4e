import { freeHeapArray, HEAP_ALIGN, heapFloat32, heapMemory, isHeapArray, STAGING_BYTES } from './heap.js';
import { wasmApi, type WasmMemory } from './wasm/assembler.js';

/**
 * The memory every float32 WebAssembly kernel module runs on: the heap (heap.ts), where tensors
 * live and kernels use their operands in place, or, without a heap (switched off, or no room for
 * one), a private memory that every operand is copied into. One memory for all modules, so that a
 * worker thread can run any of their exports (when it is shared) and one call can hand its
 * operands from module to module.
 *
 * Scratch. Operands outside the heap, and a call's temporaries (a gemm's packed panels, term
 * records), get scratch space from a stack: the staging area [0, STAGING_BYTES) of the heap, then
 * an overflow block in the heap that is kept between calls (and replaced by a larger one when a
 * call needs more while it is empty), or the whole private memory. A call takes what it needs and
 * gives it back when it ends, in LIFO order, so a kernel may run another one (a pending
 * elementwise chain computed while a pack kernel gathers its operands) without either clobbering
 * the other's scratch.
 */
const PAGE = 65536;
/** 1 GiB: a private memory never grows past this (larger calls run on the JS kernels). */
export const PRIVATE_MAX_PAGES = 16384;

export interface KernelSpace {
  memory: WasmMemory;
  shared: boolean;
  maxPages: number;
  /** True for the heap (tensors in place); false for a private memory (every operand copied). */
  onHeap: boolean;
}

let space: KernelSpace | null | undefined;
let views: { buffer: ArrayBufferLike; f32: Float32Array; f64: Float64Array; i32: Int32Array } | null = null;
/** Scratch stack pointer (bytes), and the overflow block's (bytes used of it). */
let stackTop = 0;
let overflow: Float32Array | null = null;
let overflowTop = 0;

function create(): KernelSpace | null {
  if (!wasmApi) return null;
  const heap = heapMemory();
  if (heap) return { memory: heap.memory, shared: heap.shared, maxPages: heap.maxBytes / PAGE, onHeap: true };
  try {
    return { memory: new wasmApi.Memory({ initial: 16, maximum: PRIVATE_MAX_PAGES }), shared: false, maxPages: PRIVATE_MAX_PAGES, onHeap: false };
  } catch {
    return null;
  }
}

/** The kernels' memory, or null where there is no WebAssembly. */
export function kernelSpace(): KernelSpace | null {
  if (space === undefined) space = create();
  return space;
}

/** float32 / float64 / int32 views of all of the space (renewed when it grew). */
export function spaceViews(s: KernelSpace): { f32: Float32Array; f64: Float64Array; i32: Int32Array } {
  const buffer = s.memory.buffer;
  if (!views || views.buffer !== buffer) views = { buffer, f32: new Float32Array(buffer), f64: new Float64Array(buffer), i32: new Int32Array(buffer) };
  return views;
}

/** Whether a kernel on `s` can use `a` where it is (a heap float32 array). */
export function usableInPlace(s: KernelSpace, a: ArrayLike<number>): a is Float32Array {
  return s.onHeap && isHeapArray(a);
}

/** Takes `bytes` of scratch (HEAP_ALIGN-aligned); −1 when it does not fit. */
export function pushScratch(s: KernelSpace, bytes: number): number {
  const size = Math.ceil(bytes / HEAP_ALIGN) * HEAP_ALIGN;
  const at = stackTop;
  if (!s.onHeap) {
    const have = s.memory.buffer.byteLength;
    if (at + size > have) {
      if (at + size > PRIVATE_MAX_PAGES * PAGE) return -1;
      s.memory.grow(Math.ceil((at + size - have) / PAGE));
    }
    stackTop = at + size;
    return at;
  }
  if (at + size <= STAGING_BYTES) {
    stackTop = at + size;
    return at;
  }
  if (!overflow || overflowTop + size > overflow.byteLength) {
    if (overflowTop > 0) return -1;
    const bigger = heapFloat32(Math.max(size, 2 * (overflow?.byteLength ?? 0)) / 4);
    if (!bigger) return -1;
    if (overflow) freeHeapArray(overflow);
    overflow = bigger;
  }
  const from = overflow.byteOffset + overflowTop;
  overflowTop += size;
  return from;
}

/** The scratch stack's position, to hand back to `popScratch` when a call ends. */
export function scratchMark(): [number, number] {
  return [stackTop, overflowTop];
}

export function popScratch(mark: readonly [number, number]): void {
  [stackTop, overflowTop] = mark;
}
