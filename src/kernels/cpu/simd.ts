import type { TypedArray } from '../../tensor/dtype.js';
import type { BroadcastPlan } from './elementwise.js';
import { KernelCall } from './kernel-call.js';
import { kernelSpace } from './kernel-space.js';
import { runParts, threadsFor } from './threads/kernel-threads.js';
import { wasmApi } from './wasm/assembler.js';
import { WasmKernelModule, type KernelInstance } from './wasm/kernel-module.js';
import { BINARY_SIMD_OPS, elementwiseFunctions, UNARY_SIMD_OPS } from './wasm/math-module.js';
import { logsumexpRows, softmaxRows } from './wasm/softmax-module.js';

/**
 * Runs the float32 elementwise and softmax kernels of wasm/ on the kernel space: heap operands in
 * place, others copied in for the call (KernelCall). Large calls are split across worker threads
 * (threads/kernel-threads.ts) in element ranges or whole rows, so every element gets exactly the
 * arithmetic it gets on one thread: results do not depend on the thread count. Every entry point
 * returns false, touching nothing, when it does not apply (no WebAssembly SIMD, float64, switched
 * off, too small to pay for the call): the caller then runs the JS kernel. Results differ from the
 * JS kernels only for exp, log, tanh, sigmoid and softplus (and softmax, which uses exp), within
 * the errors tabled in test/simd-math.test.ts.
 */
const EXPORTS = [...UNARY_SIMD_OPS.map((op) => `un_${op}`), ...BINARY_SIMD_OPS.map((op) => `bin_${op}`), 'softmax_rows', 'log_softmax_rows', 'logsumexp_rows'];
const module = new WasmKernelModule(EXPORTS, () => [...elementwiseFunctions(), softmaxRows(false), softmaxRows(true), logsumexpRows()], false);

let enabled = true;

/** Below this many elements the call into WebAssembly costs more than the JS loop... */
const MIN_ELEMENTS = 32;
/** ... and below this many, copying operands into a private memory and back does. */
const MIN_ELEMENTS_COPIED = 256;
/**
 * Elements per thread from which an elementwise call or softmax is split across threads: a
 * hand-off to a worker and the wait for it cost ~5–10 µs here, the time of ~2^15 elements of the
 * cheapest op (an add) on one thread.
 */
export const PARALLEL_MIN_ELEMENTS = 1 << 15;
/** Parts start at multiples of this many elements (one cache line), so threads never share a line of output. */
const PART_ALIGN = 16;

/** The kernels, if they pay for a call over `n` elements (`anySize`: tests reach every length). */
function ready(n: number, anySize: boolean): KernelInstance<string> | null {
  if (!enabled) return null;
  const k = module.instance();
  if (!k) return null;
  return anySize || n >= (kernelSpace()!.onHeap ? MIN_ELEMENTS : MIN_ELEMENTS_COPIED) ? k : null;
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
  return { simd: enabled, running: enabled && wasmApi && module.instance() ? 'wasm-simd' : 'js' };
}

/** Whether the SIMD elementwise kernels are switched on and run here (the fused chains follow the same switch). */
export function simdKernelsOn(): boolean {
  return enabled && module.instance() !== null;
}

/**
 * Calls a kernel export with the arguments in `a`, spelled out: a spread call (`fn(...a)`) keeps V8
 * from inlining its JS-to-WebAssembly wrapper (measured: ~2.5% of a training step in the wrapper).
 */
export function callKernel(fn: (...args: number[]) => void, a: readonly number[]): void {
  switch (a.length) {
    case 3: return fn(a[0]!, a[1]!, a[2]!);
    case 4: return fn(a[0]!, a[1]!, a[2]!, a[3]!);
    case 5: return fn(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!);
    case 6: return fn(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!);
    case 7: return fn(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!);
    case 8: return fn(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!);
    case 9: return fn(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!);
    default: return fn(...a);
  }
}

/**
 * Runs `name` over `count` units (elements or rows) split in up to the configured threads, each
 * part at least `minUnits` long and starting at a multiple of `align`; args(start, length) gives a
 * part's arguments.
 */
export function splitRun(k: KernelInstance<string>, name: string, count: number, minUnits: number, align: number, args: (start: number, length: number) => number[]): void {
  const fn = k.fns[name]!;
  const threads = threadsFor(count, minUnits, k.poolIndex);
  if (threads <= 1) {
    callKernel(fn, args(0, count));
    return;
  }
  const parts: number[][] = [];
  let start = 0;
  for (let t = 0; t < threads; t++) {
    const end = t === threads - 1 ? count : Math.min(count, Math.ceil((((t + 1) * count) / threads) / align) * align);
    if (end > start) parts.push(args(start, end - start));
    start = end;
  }
  runParts(k.poolIndex, k.exportIndex[name]!, parts, (a) => callKernel(fn, a));
}

const UNARY_SET = new Set<string>(UNARY_SIMD_OPS);
const BINARY_SET = new Set<string>(BINARY_SIMD_OPS);

/** out = op(x) elementwise; false when it does not apply (`anySize`: also below the size where it pays, for tests). */
export function unarySimd(op: string, x: TypedArray, out: TypedArray, anySize = false): boolean {
  if (!UNARY_SET.has(op) || !(x instanceof Float32Array && out instanceof Float32Array)) return false;
  const k = ready(out.length, anySize);
  if (!k) return false;
  const call = new KernelCall(kernelSpace()!);
  const [px, po] = [call.input(x), call.output(out)];
  if (!call.ok) return call.abandon(), false;
  splitRun(k, `un_${op}`, out.length, PARALLEL_MIN_ELEMENTS, PART_ALIGN, (s, n) => [px + 4 * s, po + 4 * s, n]);
  call.finish();
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
  const call = new KernelCall(kernelSpace()!);
  const [pa, pb, po] = [call.input(a), call.input(b), call.output(out)];
  if (!call.ok) return call.abandon(), false;
  const name = `bin_${op}`;
  if (rows === 1) {
    // One row: split along it (a broadcast side stays where it is).
    const [sa, sb] = [mode === 2 ? 0 : 4, mode === 1 ? 0 : 4];
    splitRun(k, name, cols, PARALLEL_MIN_ELEMENTS, PART_ALIGN, (s, n) => [pa + sa * s, pb + sb * s, po + 4 * s, 1, n, 0, 0, mode]);
  } else {
    splitRun(k, name, rows, Math.ceil(PARALLEL_MIN_ELEMENTS / cols), 1, (s, n) => [pa + 4 * aRow * s, pb + 4 * bRow * s, po + 4 * cols * s, n, cols, 4 * aRow, 4 * bRow, mode]);
  }
  call.finish();
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
  const call = new KernelCall(kernelSpace()!);
  const [px, po] = [call.input(x), call.output(out)];
  if (!call.ok) return call.abandon(), false;
  const name = log ? 'log_softmax_rows' : 'softmax_rows';
  splitRun(k, name, rows, Math.ceil(PARALLEL_MIN_ELEMENTS / cols), 1, (s, n) => [px + 4 * cols * s, po + 4 * cols * s, n, cols]);
  call.finish();
  return true;
}

/**
 * log Σ exp of each contiguous row of `cols` values into out[r] (max-shifted; a row of −∞ gives −∞,
 * +∞ in a row +∞, NaN in a row NaN, as the composed kernels do); false when it does not apply.
 */
export function logsumexpRowsSimd(x: TypedArray, out: TypedArray, rows: number, cols: number, anySize = false): boolean {
  if (!(x instanceof Float32Array && out instanceof Float32Array) || out.length !== rows || x.length !== rows * cols) return false;
  const k = ready(x.length, anySize);
  if (!k) return false;
  const call = new KernelCall(kernelSpace()!);
  const [px, po] = [call.input(x), call.output(out)];
  if (!call.ok) return call.abandon(), false;
  splitRun(k, 'logsumexp_rows', rows, Math.ceil(PARALLEL_MIN_ELEMENTS / Math.max(1, cols)), 1, (s, n) => [px + 4 * cols * s, po + 4 * s, n, cols]);
  call.finish();
  return true;
}
