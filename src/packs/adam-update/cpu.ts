import { allocOverwritten, dataOf, wrapOutput } from '../../kernels/cpu/host.js';
import type { TypedArray } from '../../tensor/dtype.js';
import type { AdamUpdateArgs, AdamUpdateKernels } from './kernels.js';
import { adamUpdateWasm } from './wasm.js';

/**
 * Adam / AdamW (PyTorch): g' = g + λp (Adam with L2), m ← β1 m + (1−β1) g', v ← β2 v + (1−β2) g'²,
 * p ← p' − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps) with p' = p (Adam) or p·(1 − lr·λ) (AdamW).
 * The update uses this step's m and v before they are rounded for storage (one fewer rounding; a
 * resumed run still repeats exactly, since every step starts from the stored values).
 */
export function adamUpdateInto(
  p: TypedArray,
  g: TypedArray,
  m: TypedArray,
  v: TypedArray,
  args: AdamUpdateArgs,
  outP: TypedArray,
  outM: TypedArray,
  outV: TypedArray,
): void {
  const { lr, beta1, beta2, eps, weightDecay, decoupled, step } = args;
  const stepSize = lr / (1 - beta1 ** step);
  const invSqrtBc2 = 1 / Math.sqrt(1 - beta2 ** step);
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const l2 = decoupled ? 0 : weightDecay;
  const shrink = decoupled ? 1 - lr * weightDecay : 1;
  const n = outP.length;
  for (let i = 0; i < n; i++) {
    const pi = p[i]!;
    const gi = l2 === 0 ? g[i]! : g[i]! + l2 * pi;
    const mi = beta1 * m[i]! + c1 * gi;
    const vi = beta2 * v[i]! + c2 * gi * gi;
    outM[i] = mi;
    outV[i] = vi;
    outP[i] = (shrink === 1 ? pi : pi * shrink) - (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + eps);
  }
}

export const cpuAdamUpdate: AdamUpdateKernels = {
  update(param, grad, m, v, args) {
    const n = param.size;
    const [p, mOut, vOut] = [allocOverwritten(param.dtype, n), allocOverwritten(param.dtype, n), allocOverwritten(param.dtype, n)];
    const ins = [dataOf(param), dataOf(grad), dataOf(m), dataOf(v)] as const;
    if (!adamUpdateWasm(...ins, args, p, mOut, vOut)) adamUpdateInto(...ins, args, p, mOut, vOut);
    return { param: wrapOutput(p), m: wrapOutput(mOut), v: wrapOutput(vOut) };
  },
};
