/**
 * A minimal WebAssembly binary writer: just the opcodes our SIMD kernels use, with structured
 * control flow helpers. Produces a module that imports its memory as `env.mem`. See the WebAssembly
 * core spec §5 (binary format) and the SIMD proposal for the encodings.
 */
// The slice of the WebAssembly API used here (the project's lib settings carry no DOM/wasm types).
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Memory: new (descriptor: { initial: number; maximum: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}
export const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

export const I32 = 0x7f;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof V128;

export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function name(s: string): number[] {
  return [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, bytes: number[]): number[] {
  return [id, ...uleb(bytes.length), ...bytes];
}

/** An i32 local (or parameter) index, or a v128 one; both are plain indices in the binary. */
export type Local = number;

/** Builds one function body. Parameters are i32 and come first; `local` declares more. */
export class FunctionBuilder {
  readonly code: number[] = [];
  private readonly declared: ValType[] = [];

  constructor(
    readonly exportName: string | null,
    readonly paramCount: number,
  ) {}

  param(i: number): Local {
    return i;
  }

  local(type: ValType): Local {
    this.declared.push(type);
    return this.paramCount + this.declared.length - 1;
  }

  private emit(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }

  get(l: Local): this { return this.emit(0x20, ...uleb(l)); }
  set(l: Local): this { return this.emit(0x21, ...uleb(l)); }
  tee(l: Local): this { return this.emit(0x22, ...uleb(l)); }
  i32(v: number): this { return this.emit(0x41, ...sleb(v)); }
  add(): this { return this.emit(0x6a); }
  sub(): this { return this.emit(0x6b); }
  mul(): this { return this.emit(0x6c); }
  eq(): this { return this.emit(0x46); }
  ltS(): this { return this.emit(0x48); }
  ltU(): this { return this.emit(0x49); }
  geS(): this { return this.emit(0x4e); }
  select(): this { return this.emit(0x1b); }
  call(funcIndex: number): this { return this.emit(0x10, ...uleb(funcIndex)); }

  /** Pushes min(x, y) of two signed i32 locals. */
  minS(x: Local, y: Local): this {
    return this.get(x).get(y).get(x).get(y).ltS().select();
  }

  /** local += value (value already computed by `push`). */
  addTo(l: Local, push: (f: this) => void): this {
    this.get(l);
    push(this);
    return this.add().set(l);
  }

  // Memory: alignment is log2 bytes; offsets are constant byte offsets added to the address.
  f32Load(offset = 0): this { return this.emit(0x2a, 2, ...uleb(offset)); }
  f64Load(offset = 0): this { return this.emit(0x2b, 3, ...uleb(offset)); }
  f32Store(offset = 0): this { return this.emit(0x38, 2, ...uleb(offset)); }
  f64Store(offset = 0): this { return this.emit(0x39, 3, ...uleb(offset)); }
  f32Zero(): this { return this.emit(0x43, 0, 0, 0, 0); }
  f32Add(): this { return this.emit(0x92); }
  f64Add(): this { return this.emit(0xa0); }
  f64Zero(): this { return this.emit(0x44, 0, 0, 0, 0, 0, 0, 0, 0); }

  v128Load(offset = 0): this { return this.emit(0xfd, 0x00, 4, ...uleb(offset)); }
  v128Store(offset = 0): this { return this.emit(0xfd, 0x0b, 4, ...uleb(offset)); }
  v128Load32Splat(offset = 0): this { return this.emit(0xfd, 0x09, 2, ...uleb(offset)); }
  v128Load64Splat(offset = 0): this { return this.emit(0xfd, 0x0a, 3, ...uleb(offset)); }
  v128Zero(): this { return this.emit(0xfd, 0x0c, ...new Array<number>(16).fill(0)); }
  f32x4Add(): this { return this.emit(0xfd, ...uleb(0xe4)); }
  f32x4Mul(): this { return this.emit(0xfd, ...uleb(0xe6)); }
  f64x2Add(): this { return this.emit(0xfd, ...uleb(0xf0)); }
  f64x2Mul(): this { return this.emit(0xfd, ...uleb(0xf2)); }

  /** do { body } while (cond leaves non-zero). The body runs at least once. */
  doWhile(body: () => void, cond: () => void): this {
    this.emit(0x03, 0x40);
    body();
    cond();
    return this.emit(0x0d, 0, 0x0b);
  }

  /** if (cond leaves non-zero) { then } else { otherwise } */
  ifElse(cond: () => void, then: () => void, otherwise?: () => void): this {
    cond();
    this.emit(0x04, 0x40);
    then();
    if (otherwise) {
      this.emit(0x05);
      otherwise();
    }
    return this.emit(0x0b);
  }

  /** The function body as the code section wants it: size, local declarations, code, end. */
  body(): number[] {
    const groups: number[][] = [];
    for (const t of this.declared) groups.push([...uleb(1), t]);
    const bytes = [...vector(groups), ...this.code, 0x0b];
    return [...uleb(bytes.length), ...bytes];
  }
}

/** How `env.mem` is imported: a shared memory (for threads) needs its maximum declared. */
export interface MemoryImport {
  shared: boolean;
  maximumPages: number;
}

/** A module of i32-parameter, no-result functions over one imported memory `env.mem`. */
export function assembleModule(functions: readonly FunctionBuilder[], memory: MemoryImport): Uint8Array {
  const arities = [...new Set(functions.map((f) => f.paramCount))];
  const types = section(1, vector(arities.map((n) => [0x60, ...vector(new Array<number[]>(n).fill([I32])), ...vector([])])));
  const limits = memory.shared ? [0x03, ...uleb(1), ...uleb(memory.maximumPages)] : [0x01, ...uleb(1), ...uleb(memory.maximumPages)];
  const imports = section(2, vector([[...name('env'), ...name('mem'), 0x02, ...limits]]));
  const funcs = section(3, vector(functions.map((f) => uleb(arities.indexOf(f.paramCount)))));
  const exported = functions.map((f, i) => (f.exportName ? [...name(f.exportName), 0x00, ...uleb(i)] : null)).filter((e): e is number[] => e !== null);
  const exports = section(7, vector(exported));
  const code = section(10, vector(functions.map((f) => f.body())));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...imports, ...funcs, ...exports, ...code]);
}
