import { assembleModule, FunctionBuilder, uleb, wasmApi, type Local, type WasmMemory } from './assembler.js';

/**
 * What the float32 SIMD kernels of the op packs share: the extra opcodes they use, one module per
 * pack with its own memory, and the copy-in layout of a call. A call copies its operands into the
 * module's memory, runs 4 lanes at a time and copies the result back out (~0.5 ns per element here
 * against ~2–4 ns for a JS loop). Kernels return false when they do not apply (no SIMD, switched off
 * by configureFusedKernels, float64, shapes they do not cover, too large); the caller then runs JS.
 */
export type KernelFn = (...args: number[]) => void;

const PAGE = 65536;
/** 1 GiB: larger calls run in JS. */
export const MAX_KERNEL_PAGES = 16384;

/** The shared assembler plus the opcodes the packs' kernels need. */
export class KernelBuilder extends FunctionBuilder {
  private op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }
  private simd(code: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(code), ...imm);
  }
  ne(): this { return this.op(0x47); }
  i32Load(offset = 0): this { return this.op(0x28, 2, ...uleb(offset)); }
  f64PromoteF32(): this { return this.op(0xbb); }
  f32x4ExtractLane0(): this { return this.simd(0x1f, 0); }
  f32Ne(): this { return this.op(0x5c); }
  f64Add(): this { return this.op(0xa0); }
  f32DemoteF64(): this { return this.op(0xb6); }
  f32Const(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.op(0x43, ...b);
  }
  f32x4Splat(): this { return this.simd(0x13); }
  f32x4Gt(): this { return this.simd(0x44); }
  v128And(): this { return this.simd(0x4e); }
  f32x4Sqrt(): this { return this.simd(0xe3); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Div(): this { return this.simd(0xe7); }
  f32x4Max(): this { return this.simd(0xe9); }
  f64x2PromoteLow(): this { return this.simd(0x5f); }
  f64x2ExtractLane(lane: number): this { return this.simd(0x21, lane); }
  /** while (counter < end) { body; counter += step } (body runs only if counter < end). */
  forRange(counter: Local, end: Local, step: number, body: () => void): this {
    return this.ifElse(
      () => this.get(counter).get(end).ltS(),
      () =>
        this.doWhile(
          () => {
            body();
            this.get(counter).i32(step).add().set(counter);
          },
          () => this.get(counter).get(end).ltS(),
        ),
    );
  }
}

let enabled = true;
const modules: WasmKernelModule<string>[] = [];

export interface FusedKernelOptions {
  /** Run the packs' float32 kernels on WebAssembly SIMD when the engine has it (default true); false: their JS kernels. */
  simd?: boolean;
}

/** Chooses between the SIMD and JS versions of the packs' kernels; returns the choice and whether SIMD runs. */
export function configureFusedKernels(opts: FusedKernelOptions = {}): { simd: boolean; running: 'wasm-simd' | 'js' } {
  if (opts.simd !== undefined) {
    if (typeof opts.simd !== 'boolean') throw new Error(`configureFusedKernels: simd must be true or false, got ${String(opts.simd)}`);
    enabled = opts.simd;
  }
  const available = wasmApi !== undefined && modules.every((m) => m.available());
  return { simd: enabled, running: enabled && available ? 'wasm-simd' : 'js' };
}

/** A pack's kernels, instantiated on first use in a memory of their own. */
export interface ReadyKernels<Names extends string> {
  f32: Float32Array;
  i32: Int32Array;
  f64: Float64Array;
  fns: Record<Names, KernelFn>;
}

interface Instance<Names extends string> extends ReadyKernels<Names> {
  memory: WasmMemory;
}

export class WasmKernelModule<Names extends string> {
  private instance: Instance<Names> | null | undefined;

  constructor(
    private readonly names: readonly Names[],
    private readonly build: () => FunctionBuilder[],
  ) {
    modules.push(this);
  }

  /** Whether this engine runs these kernels (built on first call). */
  available(): boolean {
    if (this.instance === undefined) this.instance = this.instantiate();
    return this.instance !== null;
  }

  /** The kernels with memory for `bytes` (grown as needed, never shrunk), or null when they cannot run. */
  ready(bytes: number): ReadyKernels<Names> | null {
    if (!enabled || !this.available() || bytes > MAX_KERNEL_PAGES * PAGE) return null;
    const k = this.instance!;
    const have = k.memory.buffer.byteLength;
    if (bytes > have) {
      k.memory.grow(Math.ceil((bytes - have) / PAGE));
      k.f32 = new Float32Array(k.memory.buffer);
      k.i32 = new Int32Array(k.memory.buffer);
      k.f64 = new Float64Array(k.memory.buffer);
    }
    return k;
  }

  private instantiate(): Instance<Names> | null {
    if (!wasmApi) return null;
    try {
      const bytes = assembleModule(this.build(), { shared: false, maximumPages: MAX_KERNEL_PAGES });
      if (!wasmApi.validate(bytes)) return null; // no SIMD in this engine
      const memory = new wasmApi.Memory({ initial: 16, maximum: MAX_KERNEL_PAGES });
      const ex = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { mem: memory } }).exports;
      const fns = {} as Record<Names, KernelFn>;
      for (const name of this.names) {
        const fn = ex[name];
        if (typeof fn !== 'function') return null;
        fns[name] = fn as KernelFn;
      }
      return { memory, fns, f32: new Float32Array(memory.buffer), i32: new Int32Array(memory.buffer), f64: new Float64Array(memory.buffer) };
    } catch {
      return null;
    }
  }
}

/** Bump layout of one call's buffers in a module's memory (16-byte aligned, byte offsets). */
export class CallLayout {
  private next = 0;
  /** Row length in elements, for calls that lay out row blocks (0 when unused). */
  constructor(readonly cols = 0) {}
  take(bytes: number): number {
    const at = this.next;
    this.next += Math.ceil(bytes / 16) * 16;
    return at;
  }
  get size(): number {
    return this.next;
  }
}

export function isF32(...arrays: readonly (ArrayLike<number> | null)[]): boolean {
  return arrays.every((a) => a === null || a instanceof Float32Array);
}
