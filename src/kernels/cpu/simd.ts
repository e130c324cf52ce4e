import type { TypedArray } from '../../tensor/dtype.js';
import type { BroadcastPlan } from './elementwise.js';
import { freeHeapArray, heapBuffer, heapFloat32, heapMemory, isHeapArray, STAGING_BYTES } from './heap.js';
import { assembleModule, wasmApi } from './wasm/assembler.js';
import { BINARY_SIMD_OPS, elementwiseFunctions, UNARY_SIMD_OPS, type BinarySimdOp, type UnarySimdOp } from './wasm/math-module.js';
import { softmaxRows } from './wasm/softmax-module.js';

/**
 * Runs the float32 elementwise and softmax kernels of wasm/ on the heap (heap.ts). Operands that
 * live in the heap are used in place; others (user arrays, a full heap) are copied in for the call
 * (small ones into the staging area, larger ones into temporary heap blocks) and results copied
 * out. Every entry point returns false, touching nothing, when it does not apply (no WebAssembly
 * SIMD or heap, float64, switched off, too small to pay for the call): the caller then runs the JS
 * kernel. Results differ from the JS kernels only for exp, log, tanh, sigmoid and softplus (and
 * softmax, which uses exp): within the errors tabled in test/simd-math.test.ts.
 */
type Fn = (...args: number[]) => void;

interface Kernels {
  unary: Record<UnarySimdOp, Fn>;
  binary: Record<BinarySimdOp, Fn>;
  softmaxRows: Fn;
  logSoftmaxRows: Fn;
  /** A float32 view of the whole heap, renewed when a shared heap grows. */
  view: Float32Array;
}

let kernels: Kernels | null | undefined;
let enabled = true;

/** Below this many elements the call into WebAssembly costs more than the JS loop. */
const MIN_ELEMENTS = 32;

function instantiate(): Kernels | null {
  const mem = heapMemory();
  if (!wasmApi || !mem) return null;
  try {
    const bytes = assembleModule([...elementwiseFunctions(), softmaxRows(false), softmaxRows(true)], { shared: mem.shared, maximumPages: mem.maxBytes / 65536 });
    if (!wasmApi.validate(bytes)) return null; // no SIMD in this engine
    const ex = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { mem: mem.memory } }).exports;
    const pick = <K extends string>(names: readonly K[], prefix: string): Record<K, Fn> =>
      Object.fromEntries(names.map((n) => [n, ex[`${prefix}${n}`] as Fn])) as Record<K, Fn>;
    return {
      unary: pick(UNARY_SIMD_OPS, 'un_'),
      binary: pick(BINARY_SIMD_OPS, 'bin_'),
      softmaxRows: ex['softmax_rows'] as Fn,
      logSoftmaxRows: ex['log_softmax_rows'] as Fn,
      view: new Float32Array(mem.memory.buffer),
    };
  } catch {
    return null;
  }
}

function ready(): Kernels | null {
  if (!enabled) return null;
  if (kernels === undefined) kernels = instantiate();
  return kernels;
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
  const k = enabled ? ready() : null;
  return { simd: enabled, running: k ? 'wasm-simd' : 'js' };
}

/** Byte addresses for one call: heap arrays in place, the rest staged and copied back by finish(). */
class Placement {
  private staged = 0;
  private readonly temps: Float32Array[] = [];
  private readonly copyBack: [from: number, to: Float32Array][] = [];
  ok = true;

  constructor(private readonly k: Kernels) {
    const buffer = heapBuffer();
    if (buffer !== k.view.buffer && buffer) k.view = new Float32Array(buffer);
  }

  /** Address of `a`'s data (-1 and ok = false if there is no room). */
  input(a: Float32Array): number {
    if (isHeapArray(a)) return a.byteOffset;
    const at = this.room(a.length);
    if (at >= 0) this.k.view.set(a, at >> 2);
    return at;
  }

  output(a: Float32Array): number {
    if (isHeapArray(a)) return a.byteOffset;
    const at = this.room(a.length);
    if (at >= 0) this.copyBack.push([at, a]);
    return at;
  }

  private room(length: number): number {
    const bytes = Math.ceil((4 * length) / 64) * 64;
    if (this.staged + bytes <= STAGING_BYTES) {
      const at = this.staged;
      this.staged += bytes;
      return at;
    }
    const t = heapFloat32(length);
    if (!t) {
      this.ok = false;
      return -1;
    }
    this.temps.push(t);
    if (t.buffer !== this.k.view.buffer) this.k.view = new Float32Array(t.buffer);
    return t.byteOffset;
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

/** out = op(x) elementwise; false when it does not apply (`minElements`: tests lower it to reach every length). */
export function unarySimd(op: string, x: TypedArray, out: TypedArray, minElements = MIN_ELEMENTS): boolean {
  if (!UNARY_SET.has(op) || out.length < minElements || !(x instanceof Float32Array && out instanceof Float32Array)) return false;
  const k = ready();
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
export function binarySimd(op: string, a: TypedArray, b: TypedArray, out: TypedArray, rows: number, cols: number, aRow: number, bRow: number, mode: 0 | 1 | 2, minElements = MIN_ELEMENTS): boolean {
  if (!BINARY_SET.has(op) || out.length < minElements || !(a instanceof Float32Array && b instanceof Float32Array && out instanceof Float32Array)) return false;
  const k = ready();
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
export function binaryPlanSimd(op: string, a: TypedArray, b: TypedArray, out: TypedArray, plan: BroadcastPlan, minElements = MIN_ELEMENTS): boolean {
  const n = out.length;
  if (plan.kind === 'same') return binarySimd(op, a, b, out, 1, n, 0, 0, 0, minElements);
  if (plan.kind === 'scalarA') return binarySimd(op, a, b, out, 1, n, 0, 0, 2, minElements);
  if (plan.kind === 'scalarB') return binarySimd(op, a, b, out, 1, n, 0, 0, 1, minElements);
  const { dims, strides } = plan;
  if (dims.length > 2) return false;
  const [sa, sb] = strides as [number[], number[]];
  const last = dims.length - 1;
  const [ia, ib] = [sa[last]!, sb[last]!];
  const mode = ia === 1 && ib === 1 ? 0 : ia === 1 && ib === 0 ? 1 : ia === 0 && ib === 1 ? 2 : -1;
  if (mode < 0) return false;
  const rows = last === 1 ? dims[0]! : 1;
  return binarySimd(op, a, b, out, rows, dims[last]!, last === 1 ? sa[0]! : 0, last === 1 ? sb[0]! : 0, mode as 0 | 1 | 2, minElements);
}

/** Stable (log-)softmax of each contiguous row of `cols` values; false when it does not apply. */
export function softmaxRowsSimd(x: TypedArray, out: TypedArray, rows: number, cols: number, log: boolean, minElements = MIN_ELEMENTS): boolean {
  if (out.length < minElements || !(x instanceof Float32Array && out instanceof Float32Array)) return false;
  const k = ready();
  if (!k) return false;
  const p = new Placement(k);
  const [px, po] = [p.input(x), p.output(out)];
  if (!p.ok) return p.abandon(), false;
  (log ? k.logSoftmaxRows : k.softmaxRows)(px, po, rows, cols);
  p.finish();
  return true;
}
