import type { TypedArray } from '../../tensor/dtype.js';
import type { BroadcastPlan } from './elementwise.js';
import { freeHeapArray, heapBuffer, heapFloat32, heapMemory, isHeapArray, STAGING_BYTES } from './heap.js';
import { assembleModule, wasmApi, type WasmMemory } from './wasm/assembler.js';
import { BINARY_SIMD_OPS, elementwiseFunctions, UNARY_SIMD_OPS, type BinarySimdOp, type UnarySimdOp } from './wasm/math-module.js';
import { softmaxRows } from './wasm/softmax-module.js';

/**
 * Runs the float32 elementwise and softmax kernels of wasm/ on the heap (heap.ts). Operands that
 * live in the heap are used in place; others (user arrays, a full heap) are copied in for the call
 * (small ones into the staging area, larger ones into temporary heap blocks) and results copied
 * out. Without a heap (switched off, or no memory for one) the module gets a private memory and
 * every operand is copied, as the fused kernels do. Every entry point returns false, touching
 * nothing, when it does not apply (no WebAssembly SIMD, float64, switched off, too small to pay
 * for the call): the caller then runs the JS kernel. Results differ from the JS kernels only for
 * exp, log, tanh, sigmoid and softplus (and softmax, which uses exp), within the errors tabled in
 * test/simd-math.test.ts.
 */
type Fn = (...args: number[]) => void;

interface Kernels {
  unary: Record<UnarySimdOp, Fn>;
  binary: Record<BinarySimdOp, Fn>;
  softmaxRows: Fn;
  logSoftmaxRows: Fn;
  /** The heap's memory, or (onHeap false) a private one that every operand is copied into. */
  memory: WasmMemory;
  onHeap: boolean;
  /** A float32 view of all of `memory`, renewed when it grows. */
  view: Float32Array;
}

let kernels: Kernels | null | undefined;
let enabled = true;

const PAGE = 65536;
const PRIVATE_MAX_PAGES = 16384; // 1 GiB: larger calls run in JS
/** Below this many elements the call into WebAssembly costs more than the JS loop... */
const MIN_ELEMENTS = 32;
/** ... and below this many, copying operands into a private memory and back does. */
const MIN_ELEMENTS_COPIED = 256;

function instantiate(): Kernels | null {
  if (!wasmApi) return null;
  const heap = heapMemory();
  try {
    const memory = heap?.memory ?? new wasmApi.Memory({ initial: 16, maximum: PRIVATE_MAX_PAGES });
    const imported = heap ? { shared: heap.shared, maximumPages: heap.maxBytes / PAGE } : { shared: false, maximumPages: PRIVATE_MAX_PAGES };
    const bytes = assembleModule([...elementwiseFunctions(), softmaxRows(false), softmaxRows(true)], imported);
    if (!wasmApi.validate(bytes)) return null; // no SIMD in this engine
    const ex = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { mem: memory } }).exports;
    const pick = <K extends string>(names: readonly K[], prefix: string): Record<K, Fn> =>
      Object.fromEntries(names.map((n) => [n, ex[`${prefix}${n}`] as Fn])) as Record<K, Fn>;
    return {
      unary: pick(UNARY_SIMD_OPS, 'un_'),
      binary: pick(BINARY_SIMD_OPS, 'bin_'),
      softmaxRows: ex['softmax_rows'] as Fn,
      logSoftmaxRows: ex['log_softmax_rows'] as Fn,
      memory,
      onHeap: heap !== null,
      view: new Float32Array(memory.buffer),
    };
  } catch {
    return null;
  }
}

/** The kernels, if they pay for a call over `n` elements (`anySize`: tests reach every length). */
function ready(n: number, anySize: boolean): Kernels | null {
  if (!enabled) return null;
  if (kernels === undefined) kernels = instantiate();
  const k = kernels;
  return k && (anySize || n >= (k.onHeap ? MIN_ELEMENTS : MIN_ELEMENTS_COPIED)) ? k : null;
}

export interface SimdKernelOptions {
  /** Run float32 elementwise ops and softmax on WebAssembly SIMD when the engine has it (default true). */
  simd?: boolean;
}

/** Switches the SIMD elementwise/softmax kernels on or off; returns the choice and what runs. */
export function configureSimdKernels(opts: SimdKernelOptions = {}): { simd: boolean; running: 'wasm-simd' | 'js' } {
  if (opts.simd !== undefined) {
    if (typeof opts.simd !== 'boolean') throw new Error(`configureSimdKernels: simd must be true or false, got ${String(opts.simd)}`);
    enabled = opts.simd;
  }
  if (enabled && kernels === undefined) kernels = instantiate();
  return { simd: enabled, running: enabled && kernels ? 'wasm-simd' : 'js' };
}

/** Byte addresses for one call: heap arrays in place, the rest copied in, and out by finish(). */
class Placement {
  /** Bytes used of the staging area (heap) or of the private memory. */
  private staged = 0;
  private readonly temps: Float32Array[] = [];
  private readonly copyBack: [from: number, to: Float32Array][] = [];
  ok = true;

  constructor(private readonly k: Kernels) {
    this.refresh();
  }

  private refresh(): void {
    const buffer = this.k.onHeap ? heapBuffer() : this.k.memory.buffer;
    if (buffer && buffer !== this.k.view.buffer) this.k.view = new Float32Array(buffer);
  }

  /** Address of `a`'s data (−1 and ok = false if there is no room). */
  input(a: Float32Array): number {
    if (this.k.onHeap && isHeapArray(a)) return a.byteOffset;
    const at = this.room(a.length);
    if (at >= 0) this.k.view.set(a, at >> 2);
    return at;
  }

  output(a: Float32Array): number {
    if (this.k.onHeap && isHeapArray(a)) return a.byteOffset;
    const at = this.room(a.length);
    if (at >= 0) this.copyBack.push([at, a]);
    return at;
  }

  private room(length: number): number {
    const bytes = Math.ceil((4 * length) / 64) * 64;
    const at = this.staged;
    if (!this.k.onHeap) {
      // The private memory is ours alone: bump-allocate from 0, growing it as needed.
      const have = this.k.memory.buffer.byteLength;
      if (at + bytes > have) {
        if (at + bytes > PRIVATE_MAX_PAGES * PAGE) return this.fail();
        this.k.memory.grow(Math.ceil((at + bytes - have) / PAGE));
        this.refresh();
      }
      this.staged += bytes;
      return at;
    }
    if (at + bytes <= STAGING_BYTES) {
      this.staged += bytes;
      return at;
    }
    const t = heapFloat32(length);
    if (!t) return this.fail();
    this.temps.push(t);
    this.refresh();
    return t.byteOffset;
  }

  private fail(): number {
    this.ok = false;
    return -1;
  }

  finish(): void {
    for (const [from, to] of this.copyBack) to.set(this.k.view.subarray(from >> 2, (from >> 2) + to.length));
    for (const t of this.temps) freeHeapArray(t);
  }

  /** Frees temporaries without copying (the call did not run). */
  abandon(): void {
    for (const t of this.temps) freeHeapArray(t);
  }
}

const UNARY_SET = new Set<string>(UNARY_SIMD_OPS);
const BINARY_SET = new Set<string>(BINARY_SIMD_OPS);

/** out = op(x) elementwise; false when it does not apply (`anySize`: also below the size where it pays, for tests). */
export function unarySimd(op: string, x: TypedArray, out: TypedArray, anySize = false): boolean {
  if (!UNARY_SET.has(op) || !(x instanceof Float32Array && out instanceof Float32Array)) return false;
  const k = ready(out.length, anySize);
  if (!k) return false;
  const p = new Placement(k);
  const [px, po] = [p.input(x), p.output(out)];
  if (!p.ok) return p.abandon(), false;
  k.unary[op as UnarySimdOp](px, po, out.length);
  p.finish();
  return true;
}

/**
 * out = a op b over rows × cols of out (contiguous). Row r of a starts at element r·aRow, of b at
 * r·bRow; mode 0: both rows contiguous, 1: b's row is one broadcast value, 2: a's is.
 */
export function binarySimd(op: string, a: TypedArray, b: TypedArray, out: TypedArray, rows: number, cols: number, aRow: number, bRow: number, mode: 0 | 1 | 2, anySize = false): boolean {
  if (!BINARY_SET.has(op) || !(a instanceof Float32Array && b instanceof Float32Array && out instanceof Float32Array)) return false;
  const k = ready(out.length, anySize);
  if (!k) return false;
  const p = new Placement(k);
  const [pa, pb, po] = [p.input(a), p.input(b), p.output(out)];
  if (!p.ok) return p.abandon(), false;
  k.binary[op as BinarySimdOp](pa, pb, po, rows, cols, 4 * aRow, 4 * bRow, mode);
  p.finish();
  return true;
}

/**
 * out = a op b for the broadcast plans the SIMD kernel covers: same shape, a scalar on either
 * side, and plans that collapse to rows × cols with each operand's row either contiguous or one
 * broadcast value (a bias row, a per-row column, an outer sum). False otherwise.
 */
export function binaryPlanSimd(op: string, a: TypedArray, b: TypedArray, out: TypedArray, plan: BroadcastPlan, anySize = false): boolean {
  const n = out.length;
  if (plan.kind === 'same') return binarySimd(op, a, b, out, 1, n, 0, 0, 0, anySize);
  if (plan.kind === 'scalarA') return binarySimd(op, a, b, out, 1, n, 0, 0, 2, anySize);
  if (plan.kind === 'scalarB') return binarySimd(op, a, b, out, 1, n, 0, 0, 1, anySize);
  const { dims, strides } = plan;
  if (dims.length > 2) return false;
  const [sa, sb] = strides as [number[], number[]];
  const last = dims.length - 1;
  const [ia, ib] = [sa[last]!, sb[last]!];
  const mode = ia === 1 && ib === 1 ? 0 : ia === 1 && ib === 0 ? 1 : ia === 0 && ib === 1 ? 2 : -1;
  if (mode < 0) return false;
  const rows = last === 1 ? dims[0]! : 1;
  return binarySimd(op, a, b, out, rows, dims[last]!, last === 1 ? sa[0]! : 0, last === 1 ? sb[0]! : 0, mode as 0 | 1 | 2, anySize);
}

/** Stable (log-)softmax of each contiguous row of `cols` values; false when it does not apply. */
export function softmaxRowsSimd(x: TypedArray, out: TypedArray, rows: number, cols: number, log: boolean, anySize = false): boolean {
  if (!(x instanceof Float32Array && out instanceof Float32Array)) return false;
  const k = ready(out.length, anySize);
  if (!k) return false;
  const p = new Placement(k);
  const [px, po] = [p.input(x), p.output(out)];
  if (!p.ok) return p.abandon(), false;
  (log ? k.logSoftmaxRows : k.softmaxRows)(px, po, rows, cols);
  p.finish();
  return true;
}
