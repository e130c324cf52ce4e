import { matmulSettings } from './matmul-config.js';
import { WasmWorkerPool } from './threads/pool.js';
import { workerSpawner } from './threads/spawner.js';
import { wasmApi, type WasmMemory } from './wasm/assembler.js';
import { buildConvModule, CONV_EXPORTS } from './wasm/conv-module.js';

/**
 * The conv kernels' WebAssembly module instance: its memory (shared when SharedArrayBuffer exists, so
 * worker threads can run slices of a layer on it), the views, the bump layout of one call's buffers,
 * and the worker pool.
 */
type Fn = (...args: number[]) => void;
export type ConvExport = (typeof CONV_EXPORTS)[number];

export interface ConvWasm {
  module: object;
  memory: WasmMemory;
  shared: boolean;
  fns: Record<ConvExport, Fn>;
  f32: Float32Array;
  i32: Int32Array;
  pool: WasmWorkerPool | null;
  poolFailed: boolean;
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
  for (const shared of [true, false]) {
    try {
      const bytes = buildConvModule({ shared, maximumPages: MAX_PAGES });
      if (!wasmApi.validate(bytes)) return null; // no SIMD in this engine
      const memory = new wasmApi.Memory({ initial: 16, maximum: MAX_PAGES, shared });
      const module = new wasmApi.Module(bytes);
      const ex = new wasmApi.Instance(module, { env: { mem: memory } }).exports;
      const fns = Object.fromEntries(CONV_EXPORTS.map((name) => [name, ex[name] as Fn])) as ConvWasm['fns'];
      return { module, memory, shared, fns, f32: new Float32Array(memory.buffer), i32: new Int32Array(memory.buffer), pool: null, poolFailed: false };
    } catch {
      // shared memory needs SharedArrayBuffer (cross-origin isolation in browsers): try plain
    }
  }
  return null;
}

export function convWasm(): ConvWasm | null {
  if (state === undefined) state = instantiate();
  return state;
}

/** Whether the SIMD conv kernels run here. */
export function convWasmAvailable(): boolean {
  return convWasm() !== null;
}

/** Stops the conv kernels' worker threads (re-created on the next parallel layer). */
export function shutdownConvWorkers(): void {
  state?.pool?.terminate();
  if (state) state.pool = null;
}

/** Grows the memory to `bytes` and renews the views; false when that is over the limit. */
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

/** Bump allocation of one call's buffers (16-byte aligned byte offsets). */
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

export function threadsFor(w: ConvWasm, macs: number, images: number): number {
  const want = Math.min(matmulSettings().threads, images);
  if (want <= 1 || macs < CONV_PARALLEL_MIN_MACS || !w.shared || w.poolFailed) return 1;
  if (!w.pool || w.pool.size < want - 1) {
    w.pool?.terminate();
    w.pool = WasmWorkerPool.create([{ module: w.module, exportNames: CONV_EXPORTS }], w.memory, want - 1);
    if (!w.pool && workerSpawner()) w.poolFailed = true;
  }
  return w.pool ? want : 1;
}

/**
 * Runs `name` over images [0, n) split in `parts` ranges: range t with params block paramsOf(t),
 * range 0 on this thread. A range whose worker failed is redone here after `redo(t)` resets it.
 */
export function runSplit(w: ConvWasm, name: ConvExport, n: number, parts: number, paramsOf: (t: number) => number, redo: (t: number) => void): void {
  const bounds = Array.from({ length: parts + 1 }, (_, t) => Math.round((t * n) / parts));
  const fn = CONV_EXPORTS.indexOf(name);
  for (let t = 1; t < parts; t++) w.pool!.post(t - 1, 0, fn, [paramsOf(t), bounds[t]!, bounds[t + 1]!]);
  w.fns[name](paramsOf(0), bounds[0]!, bounds[1]!);
  for (let t = 1; t < parts; t++) {
    if (!w.pool!.wait(t - 1)) {
      redo(t);
      w.fns[name](paramsOf(t), bounds[t]!, bounds[t + 1]!);
      w.poolFailed = true;
    }
  }
  if (w.poolFailed) shutdownConvWorkers();
}
