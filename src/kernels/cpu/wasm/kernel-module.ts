import { kernelSpace } from '../kernel-space.js';
import { registerPoolModule } from '../threads/kernel-threads.js';
import { assembleModule, FunctionBuilder, uleb, wasmApi, type Local } from './assembler.js';

/**
 * What the float32 SIMD kernels of the op packs (and the core's elementwise, softmax, fused-chain
 * and gemm modules) share: the extra opcodes they use, and a module type instantiated on the
 * kernel space (kernel-space.ts), so that kernels read and write heap tensors where they are and
 * worker threads can run their exports. A call places its operands with a KernelCall (in place,
 * or copied when they are not in the heap). Pack kernels return false when they do not apply (no
 * SIMD, switched off by configureFusedKernels, float64, shapes they do not cover, no room); the
 * caller then runs JS.
 */
export type KernelFn = (...args: number[]) => void;

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
  /** Shuffle of two vectors by 16 byte indices (0–15: first, 16–31: second). */
  i8x16Shuffle(bytes: readonly number[]): this { return this.simd(0x0d, ...bytes); }
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

/** A module's exports on the kernel space, and its index for the worker pool. */
export interface KernelInstance<Names extends string> {
  fns: Record<Names, KernelFn>;
  /** The module's index for runParts, and each export's index in it. */
  poolIndex: number;
  exportIndex: Record<Names, number>;
}

export class WasmKernelModule<Names extends string> {
  private inst: KernelInstance<Names> | null | undefined;

  /** `pack`: a pack's kernels, which configureFusedKernels switches (the core's modules have their own switches). */
  constructor(
    private readonly names: readonly Names[],
    private readonly build: () => FunctionBuilder[],
    private readonly pack = true,
  ) {
    if (pack) modules.push(this);
  }

  /** Whether this engine runs these kernels (built on first call). */
  available(): boolean {
    return this.instance() !== null;
  }

  /** The exports, or null when this engine cannot run them (no WebAssembly SIMD). */
  instance(): KernelInstance<Names> | null {
    if (this.inst === undefined) this.inst = this.instantiate();
    return this.inst;
  }

  /** For a pack's kernels: the exports, or null when they are switched off or cannot run. */
  ready(): KernelInstance<Names> | null {
    return this.pack && !enabled ? null : this.instance();
  }

  private instantiate(): KernelInstance<Names> | null {
    const space = kernelSpace();
    if (!wasmApi || !space) return null;
    try {
      const functions = this.build();
      const bytes = assembleModule(functions, { shared: space.shared, maximumPages: space.maxPages });
      if (!wasmApi.validate(bytes)) return null; // no SIMD in this engine
      const ex = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { mem: space.memory } }).exports;
      // Jobs for worker threads name an export by its place in the export section (function order).
      const exported = functions.flatMap((fn) => (fn.exportName ? [fn.exportName] : []));
      const fns = {} as Record<Names, KernelFn>;
      const exportIndex = {} as Record<Names, number>;
      for (const name of this.names) {
        const fn = ex[name];
        if (typeof fn !== 'function') throw new Error(`kernel module: no export ${name}`);
        fns[name] = fn as KernelFn;
        exportIndex[name] = exported.indexOf(name);
      }
      return { fns, exportIndex, poolIndex: registerPoolModule(bytes) };
    } catch {
      return null;
    }
  }
}

export function isF32(...arrays: readonly (ArrayLike<number> | null)[]): boolean {
  return arrays.every((a) => a === null || a instanceof Float32Array);
}
