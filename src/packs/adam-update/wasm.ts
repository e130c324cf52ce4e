import { I32, V128, type Local } from '../../kernels/cpu/wasm/assembler.js';
import { KernelCall } from '../../kernels/cpu/kernel-call.js';
import { kernelSpace } from '../../kernels/cpu/kernel-space.js';
import { PARALLEL_MIN_ELEMENTS, splitRun } from '../../kernels/cpu/simd.js';
import { isF32, KernelBuilder, WasmKernelModule } from '../../kernels/cpu/wasm/kernel-module.js';
import type { AdamUpdateArgs } from './kernels.js';

/** A WebAssembly SIMD (f32x4) version of cpu.ts's Adam step, in float32 arithmetic (as PyTorch does) instead of doubles. */

/**
 * adam(p, g, m, v, outP, outM, outV, bytes, params): one Adam/AdamW step over `bytes` (a multiple of
 * 16) in float32; params = [β1, 1−β1, β2, 1−β2, stepSize, 1/√(1−β2ᵗ), eps, λ (L2), shrink] as f32.
 */
function adam(): KernelBuilder {
  const f = new KernelBuilder('adam', 9);
  const [p, g, m, v, outP, outM, outV, bytes, params] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const k = f.local(I32);
  const c = Array.from({ length: 9 }, () => f.local(V128));
  const [b1, c1, b2, c2, stepSize, invBc2, eps, l2, shrink] = c as [Local, Local, Local, Local, Local, Local, Local, Local, Local];
  const gi = f.local(V128);
  const pi = f.local(V128);
  const mi = f.local(V128);
  const vi = f.local(V128);
  c.forEach((l, idx) => f.get(params).v128Load32Splat(4 * idx).set(l));
  f.i32(0).set(k);
  f.forRange(k, bytes, 16, () => {
    f.get(p).get(k).add().v128Load().set(pi);
    // g' = g + λ·p (λ = 0 for Adam without L2 and for AdamW)
    f.get(g).get(k).add().v128Load().get(pi).get(l2).f32x4Mul().f32x4Add().set(gi);
    f.get(m).get(k).add().v128Load().get(b1).f32x4Mul().get(gi).get(c1).f32x4Mul().f32x4Add().set(mi);
    f.get(v).get(k).add().v128Load().get(b2).f32x4Mul().get(gi).get(gi).f32x4Mul().get(c2).f32x4Mul().f32x4Add().set(vi);
    f.get(outM).get(k).add().get(mi).v128Store();
    f.get(outV).get(k).add().get(vi).v128Store();
    // p' = p·shrink − stepSize·m / (√v·(1/√(1−β2ᵗ)) + eps)
    f.get(outP).get(k).add();
    f.get(pi).get(shrink).f32x4Mul();
    f.get(stepSize).get(mi).f32x4Mul();
    f.get(vi).f32x4Sqrt().get(invBc2).f32x4Mul().get(eps).f32x4Add();
    f.f32x4Div().f32x4Sub();
    f.v128Store();
  });
  return f;
}

const module = new WasmKernelModule(['adam'], () => [adam()]);

/** One Adam/AdamW step in float32 arithmetic; false for float64. */
export function adamUpdateWasm(
  p: ArrayLike<number>,
  g: ArrayLike<number>,
  m: ArrayLike<number>,
  v: ArrayLike<number>,
  args: AdamUpdateArgs,
  outP: Float32Array | Float64Array,
  outM: Float32Array | Float64Array,
  outV: Float32Array | Float64Array,
): boolean {
  if (!isF32(p, g, m, v, outP, outM, outV) || outP.length === 0) return false;
  const k = module.ready();
  if (!k) return false;
  const n = outP.length;
  const call = new KernelCall(kernelSpace()!);
  const { lr, beta1, beta2, eps, weightDecay, decoupled, step } = args;
  const params = [beta1, 1 - beta1, beta2, 1 - beta2, lr / (1 - beta1 ** step), 1 / Math.sqrt(1 - beta2 ** step), eps, decoupled ? 0 : weightDecay, decoupled ? 1 - lr * weightDecay : 1];
  const pp = call.scratch(4 * params.length);
  // Whole vectors where the arrays are; the last n mod 4 elements through a padded scratch copy,
  // so that no lane reads or writes past an array (and every element gets the same arithmetic).
  const body = n & ~3;
  const tail = n - body;
  const arrays = [p, g, m, v, outP, outM, outV] as Float32Array[];
  const ptr = arrays.map((a, i) => (i < 4 ? call.input(a, 0, body) : call.output(a, 0, body)));
  const tailPtr = tail > 0 ? arrays.map(() => call.scratch(16)) : [];
  if (!call.ok) return call.abandon(), false;
  const views = call.views;
  views.f32.set(params, pp / 4);
  // Threads take element ranges (every element's arithmetic is its own).
  if (body > 0) splitRun(k, 'adam', body, PARALLEL_MIN_ELEMENTS, 16, (s, len) => [...ptr.map((a) => a + 4 * s), 4 * len, pp]);
  if (tail > 0) {
    for (let i = 0; i < 4; i++) {
      views.f32.fill(0, tailPtr[i]! / 4, tailPtr[i]! / 4 + 4);
      views.f32.set(arrays[i]!.subarray(body, n), tailPtr[i]! / 4);
    }
    k.fns.adam(tailPtr[0]!, tailPtr[1]!, tailPtr[2]!, tailPtr[3]!, tailPtr[4]!, tailPtr[5]!, tailPtr[6]!, 16, pp);
    for (let i = 4; i < 7; i++) arrays[i]!.set(views.f32.subarray(tailPtr[i]! / 4, tailPtr[i]! / 4 + tail), body);
  }
  call.finish();
  return true;
}
