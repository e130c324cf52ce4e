import { freeHeapArray, heapFloat32 } from './heap.js';
import { popScratch, pushScratch, scratchMark, spaceViews, usableInPlace, type KernelSpace } from './kernel-space.js';

/**
 * Byte addresses of one kernel call's operands in the kernel space: heap float32 arrays in place,
 * anything else (user arrays, float64, int32 index lists, arrays a full heap could not hold)
 * copied into scratch for the call and, for outputs, copied back by finish(). Scratch comes from
 * the space's stack or, when that is full, from temporary heap blocks. A call that finds no room
 * sets ok = false; the caller then abandons it and runs its JS kernel.
 */
type Operand = Float32Array | Float64Array | Int32Array;

export class KernelCall {
  private readonly mark = scratchMark();
  private readonly temps: Float32Array[] = [];
  private readonly copyBack: [at: number, to: Operand, offset: number, length: number][] = [];
  ok = true;

  constructor(readonly space: KernelSpace) {}

  /** Address of element `offset` of `a`, to be read by the kernel (copied in unless in place). */
  input(a: Operand, offset = 0, length = a.length - offset): number {
    if (usableInPlace(this.space, a)) return a.byteOffset + 4 * offset;
    const at = this.room(length * a.BYTES_PER_ELEMENT);
    if (at >= 0) this.copyIn(a, offset, length, at);
    return at;
  }

  /** Address of element `offset` of `a`, which the kernel writes in full (copied back by finish()). */
  output(a: Operand, offset = 0, length = a.length - offset): number {
    if (usableInPlace(this.space, a)) return a.byteOffset + 4 * offset;
    const at = this.room(length * a.BYTES_PER_ELEMENT);
    if (at >= 0) this.copyBack.push([at, a, offset, length]);
    return at;
  }

  /** Like output, for a kernel that reads `a` too or writes only part of it. */
  inout(a: Operand, offset = 0, length = a.length - offset): number {
    const at = this.output(a, offset, length);
    if (at >= 0 && !usableInPlace(this.space, a)) this.copyIn(a, offset, length, at);
    return at;
  }

  /** `bytes` of scratch (contents unspecified), 64-byte aligned. */
  scratch(bytes: number): number {
    return this.room(bytes);
  }

  /** Views of the space (valid until the next allocation that may grow it). */
  get views(): { f32: Float32Array; f64: Float64Array; i32: Int32Array } {
    return spaceViews(this.space);
  }

  private copyIn(a: Operand, offset: number, length: number, at: number): void {
    const v = this.views;
    const src = offset === 0 && length === a.length ? a : a.subarray(offset, offset + length);
    if (a instanceof Float32Array) v.f32.set(src as Float32Array, at >> 2);
    else if (a instanceof Float64Array) v.f64.set(src as Float64Array, at >> 3);
    else v.i32.set(src as Int32Array, at >> 2);
  }

  private room(bytes: number): number {
    if (bytes <= 0) return pushScratch(this.space, 0);
    const at = pushScratch(this.space, bytes);
    if (at >= 0) return at;
    if (this.space.onHeap) {
      const t = heapFloat32(Math.ceil(bytes / 4));
      if (t) {
        this.temps.push(t);
        return t.byteOffset;
      }
    }
    this.ok = false;
    return -1;
  }

  /** Copies outputs that were not in place back and frees the call's scratch. */
  finish(): void {
    const v = this.views;
    for (const [at, to, offset, length] of this.copyBack) {
      if (to instanceof Float32Array) to.set(v.f32.subarray(at >> 2, (at >> 2) + length), offset);
      else if (to instanceof Float64Array) to.set(v.f64.subarray(at >> 3, (at >> 3) + length), offset);
      else to.set(v.i32.subarray(at >> 2, (at >> 2) + length), offset);
    }
    this.abandon();
  }

  /** Frees the call's scratch without copying anything back (the kernel did not run). */
  abandon(): void {
    for (const t of this.temps) freeHeapArray(t);
    this.temps.length = 0;
    popScratch(this.mark);
  }
}
