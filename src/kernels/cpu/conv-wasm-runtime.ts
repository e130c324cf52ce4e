import { matmulSettings } from './matmul-config.js';
import { runParts, shutdownKernelThreads, threadsFor } from './threads/kernel-threads.js';
import { wasmApi, type WasmMemory } from './wasm/assembler.js';
import { buildConvModule, CONV_EXPORTS, convModuleFunctions } from './wasm/conv-module.js';
import { WasmKernelModule, type KernelInstance } from './wasm/kernel-module.js';

/**
 * The conv module (wasm/conv-module.ts) twice:
 *  - on the kernel space (`convKernels`), where the fused conv → pool → bias → ReLU kernels of the
 *    conv-pool-relu pack read and write heap tensors in place and split a layer over the kernel
 *    threads (threads/kernel-threads.ts: the pool every other kernel uses);
 *  - on a private memory (`convWasm`), for the generic image kernels of conv-layout-wasm.ts (im2col,
 *    col2im, max-pool), which copy their operands in and run on one thread.
 */
type Fn = (...args: number[]) => void;
export type ConvExport = (typeof CONV_EXPORTS)[number];

/** The conv module on the kernel space (not switched by configureFusedKernels: it has always run). */
export const convKernels = new WasmKernelModule<ConvExport>(CONV_EXPORTS, convModuleFunctions, false);

export interface ConvWasm {
  memory: WasmMemory;
  fns: Record<ConvExport, Fn>;
  f32: Float32Array;
  i32: Int32Array;
}

const PAGE = 65536;
const MAX_PAGES = 16384; // 1 GiB: larger layers run on the JS kernels
/**
 * Below this many multiply-adds of a dense conv (N·F·outH·outW·K) a layer runs on one thread: handing
 * a slice to a worker and waiting for it costs tens of microseconds, the time of ~1M multiply-adds
 * here; 2^21 keeps the hand-off under ~5% of the work. The threads are matmul's (configureMatmul).
 */
export const CONV_PARALLEL_MIN_MACS = 1 << 21;

let state: ConvWasm | null | undefined;

function instantiate(): ConvWasm | null {
  if (!wasmApi) return null;
  try {
    const bytes = buildConvModule({ shared: false, maximumPages: MAX_PAGES });
    if (!wasmApi.validate(bytes)) return null; // no SIMD in this engine
    const memory = new wasmApi.Memory({ initial: 16, maximum: MAX_PAGES });
    const ex = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { mem: memory } }).exports;
    const fns = Object.fromEntries(CONV_EXPORTS.map((name) => [name, ex[name] as Fn])) as ConvWasm['fns'];
    return { memory, fns, f32: new Float32Array(memory.buffer), i32: new Int32Array(memory.buffer) };
  } catch {
    return null;
  }
}

/** The private instance (generic image kernels). */
export function convWasm(): ConvWasm | null {
  if (state === undefined) state = instantiate();
  return state;
}

/** Whether the SIMD conv kernels run here. */
export function convWasmAvailable(): boolean {
  return convKernels.available();
}

/**
 * Stops the worker threads the conv kernels run on. They are the kernel threads now (one pool for
 * every kernel), so this stops those; they start again on the next call that splits.
 */
export function shutdownConvWorkers(): void {
  shutdownKernelThreads();
}

/** Grows the private memory to `bytes` and renews the views; false when that is over the limit. */
export function reserve(w: ConvWasm, bytes: number): boolean {
  if (bytes > MAX_PAGES * PAGE) return false;
  const have = w.memory.buffer.byteLength;
  if (bytes > have) w.memory.grow(Math.ceil((bytes - have) / PAGE));
  if (w.f32.buffer.byteLength !== w.memory.buffer.byteLength) {
    w.f32 = new Float32Array(w.memory.buffer);
    w.i32 = new Int32Array(w.memory.buffer);
  }
  return true;
}

/** Bump allocation of one call's buffers in the private memory (16-byte aligned byte offsets). */
export class Layout {
  private next = 0;
  take(bytes: number): number {
    const at = this.next;
    this.next += Math.ceil(bytes / 16) * 16 + 64; // + slack: vector reads may run up to 3 floats past a buffer
    return at;
  }
  get size(): number {
    return this.next;
  }
}

/** Threads (1 + workers) for a layer of `macs` multiply-adds split by `images` images (or image groups). */
export function convThreads(k: KernelInstance<ConvExport>, macs: number, images: number): number {
  const want = Math.min(matmulSettings().threads, images);
  if (want <= 1 || macs < CONV_PARALLEL_MIN_MACS) return 1;
  return threadsFor(macs, CONV_PARALLEL_MIN_MACS / 2, k.poolIndex, want);
}

/**
 * Runs `name` over images [0, n) split in `parts` ranges: range t with params block paramsOf(t),
 * range 0 on this thread. A range whose worker failed is redone here after `redo(t)` resets it.
 */
export function runSplit(k: KernelInstance<ConvExport>, name: ConvExport, n: number, parts: number, paramsOf: (t: number) => number, redo: (t: number) => void): void {
  const fn = k.fns[name];
  const jobs = Array.from({ length: parts }, (_, t) => [paramsOf(t), Math.round((t * n) / parts), Math.round(((t + 1) * n) / parts)]);
  if (parts <= 1) {
    fn(...jobs[0]!);
    return;
  }
  runParts(k.poolIndex, k.exportIndex[name], jobs, (args) => {
    const t = jobs.indexOf(args as number[]);
    if (t > 0) redo(t); // part t's worker failed: it may have half-written its scratch
    fn(...args);
  });
}
