import { I32 } from './wasm/assembler.js';
import { CallLayout, isF32, KernelBuilder, WasmKernelModule } from './wasm/kernel-module.js';

/** bin_OP(a, b, out, bytes): out = a OP b elementwise over `bytes` (a multiple of 16). */
function binarySame(name: string, op: (f: KernelBuilder) => void): KernelBuilder {
  const f = new KernelBuilder(name, 4);
  const [a, b, out, bytes] = [0, 1, 2, 3];
  const k = f.local(I32);
  f.i32(0).set(k);
  f.forRange(k, bytes, 16, () => {
    f.get(out).get(k).add();
    f.get(a).get(k).add().v128Load();
    f.get(b).get(k).add().v128Load();
    op(f);
    f.v128Store();
  });
  return f;
}

const module = new WasmKernelModule(['bin_add', 'bin_sub', 'bin_mul'], () => [
  binarySame('bin_add', (f) => f.f32x4Add()),
  binarySame('bin_sub', (f) => f.f32x4Sub()),
  binarySame('bin_mul', (f) => f.f32x4Mul()),
]);

/** Below this many elements the copies in and out cost more than the JS loop saves. */
const BINARY_MIN_ELEMENTS = 1024;

/**
 * out = a OP b for same-shaped float32 arrays. Bit-identical to the JS kernel, which computes in
 * doubles and rounds once: for +, −, × of two float32 values a double result rounded to float32 is
 * the correctly rounded float32 result (53 ≥ 2·24 + 2 bits, so double rounding is harmless).
 */
export function binarySameWasm(op: string, a: ArrayLike<number>, b: ArrayLike<number>, out: Float32Array | Float64Array): boolean {
  if ((op !== 'add' && op !== 'sub' && op !== 'mul') || !isF32(a, b, out) || out.length < BINARY_MIN_ELEMENTS) return false;
  const n = out.length;
  const bytes = Math.ceil(n / 4) * 16;
  const L = new CallLayout();
  const [pa, pb, po] = [L.take(bytes), L.take(bytes), L.take(bytes)];
  const k = module.ready(L.size);
  if (!k) return false;
  k.f32.set(a as Float32Array, pa / 4);
  k.f32.set(b as Float32Array, pb / 4);
  k.fns[`bin_${op}`](pa, pb, po, bytes);
  out.set(k.f32.subarray(po / 4, po / 4 + n));
  return true;
}
