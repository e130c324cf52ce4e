import { I32, V128 } from '../../kernels/cpu/wasm/assembler.js';
import { KernelCall } from '../../kernels/cpu/kernel-call.js';
import { kernelSpace } from '../../kernels/cpu/kernel-space.js';
import { PARALLEL_MIN_ELEMENTS, splitRun } from '../../kernels/cpu/simd.js';
import { isF32, WasmKernelModule } from '../../kernels/cpu/wasm/kernel-module.js';
import { loadPartial, storePartial } from '../../kernels/cpu/wasm/math-module.js';
import { SimdBuilder } from '../../kernels/cpu/wasm/simd-builder.js';
import { RowSweeps } from '../../kernels/cpu/wasm/softmax-module.js';
import { VectorMath } from '../../kernels/cpu/wasm/vector-math.js';

/**
 * WebAssembly SIMD (f32x4) versions of cpu.ts's float32 kernels, each one pass over a row: the
 * forward is the logsumexp row kernel's sweeps (core softmax-module.ts: max, exp-sum with the next
 * row's max, m + ln Σ) plus the picked logit; the backward one exp per element. They use the vector
 * exp and log of the softmax kernels, so they differ from the JS twin within float32 rounding
 * (test/softmax-cross-entropy-pack.test.ts states the bounds). Threads take whole rows.
 */

/** softmax_ce_rows(x, loss, rows, cols, labels, lse): lse[r] = log Σ exp(x[r, ·]), loss[r] = lse[r] − x[r, labels[r]]. */
function crossEntropyRows(): SimdBuilder {
  const f = new SimdBuilder('softmax_ce_rows', 6);
  const s = new RowSweeps(f);
  const [loss, labels, lse] = [1, 4, 5];
  const l = f.local(V128);
  s.forEachRow(() => {
    s.expSum(null);
    s.logSumExp(l);
    f.get(lse).get(l).v128Store32Lane(0);
    f.get(loss).get(l).get(s.x).get(labels).i32Load().i32(4).mul().add().v128Load32Zero().f32x4Sub().v128Store32Lane(0);
    for (const p of [loss, labels, lse]) f.get(p).i32(4).add().set(p);
  });
  return f;
}

/**
 * softmax_ce_grad_rows(x, g, dx, rows, cols, labels, lse): dx[r, j] = exp(x[r, j] − lse[r])·g[r],
 * then at j = labels[r] (exp(…) − 1)·g[r] (the same exp, so one-hot lanes cost nothing per element).
 * x − lse ≤ 0 (lse ≥ the row max), the range of the softmax kernels' exp.
 */
function crossEntropyGradRows(): SimdBuilder {
  const f = new SimdBuilder('softmax_ce_grad_rows', 7);
  const [x, g, dx, rows, cols, labels, lse] = [0, 1, 2, 3, 4, 5, 6];
  const math = new VectorMath(f);
  const [r, p, q, end, rem, at, rowBytes] = Array.from({ length: 7 }, () => f.local(I32)) as [number, number, number, number, number, number, number];
  const [lv, gv, v, negInf] = Array.from({ length: 4 }, () => f.local(V128)) as [number, number, number, number];
  f.f32x4(-Infinity).set(negInf);
  f.get(cols).i32(3).and().set(rem);
  f.get(cols).i32(4).mul().set(rowBytes);
  /** v ← exp(v − lse)·g (left in v). */
  const term = (): void => {
    f.get(v).get(lv).f32x4Sub().set(v);
    math.expNonPositiveFlush(v);
    f.get(gv).f32x4Mul().set(v);
  };
  f.i32(0).set(r);
  f.forRange(r, rows, 1, () => {
    f.get(lse).v128Load32Splat().set(lv);
    f.get(g).v128Load32Splat().set(gv);
    f.get(x).set(p);
    f.get(dx).set(q);
    f.get(x).get(cols).i32(~3).and().i32(4).mul().add().set(end);
    f.forRange(p, end, 16, () => {
      f.get(p).v128Load().set(v);
      term();
      f.get(q).get(v).v128Store();
      f.get(q).i32(16).add().set(q);
    });
    f.ifElse(
      () => f.get(rem),
      () => {
        loadPartial(f, p, rem, v, negInf);
        term();
        storePartial(f, q, rem, v);
      },
    );
    // The label's element: (exp(x − lse) − 1)·g.
    f.get(labels).i32Load().i32(4).mul().set(at);
    f.get(x).get(at).add().v128Load32Splat().get(lv).f32x4Sub().set(v);
    math.expNonPositiveFlush(v);
    f.set(v);
    f.get(dx).get(at).add().get(v).f32x4(1).f32x4Sub().get(gv).f32x4Mul().v128Store32Lane(0);
    for (const ptr of [x, dx]) f.get(ptr).get(rowBytes).add().set(ptr);
    for (const ptr of [g, labels, lse]) f.get(ptr).i32(4).add().set(ptr);
  });
  return f;
}

const module = new WasmKernelModule(['softmax_ce_rows', 'softmax_ce_grad_rows'], () => [crossEntropyRows(), crossEntropyGradRows()]);

/** Rows per thread from which a call is split: whole rows of ≥ 2^15 elements per thread. */
const minRows = (cols: number): number => Math.ceil(PARALLEL_MIN_ELEMENTS / Math.max(1, cols));

/** The forward for float32 logits [rows, cols] (cols ≥ 1); false when it does not apply. */
export function softmaxCrossEntropyWasm(x: ArrayLike<number>, labels: Int32Array, rows: number, cols: number, loss: Float32Array | Float64Array, lse: Float32Array | Float64Array): boolean {
  if (!isF32(x, loss, lse) || rows === 0 || cols === 0) return false;
  const k = module.ready();
  if (!k) return false;
  const call = new KernelCall(kernelSpace()!);
  const [px, pl, ploss, plse] = [call.input(x as Float32Array), call.input(labels), call.output(loss), call.output(lse)];
  if (!call.ok) return call.abandon(), false;
  splitRun(k, 'softmax_ce_rows', rows, minRows(cols), 1, (s, n) => [px + 4 * cols * s, ploss + 4 * s, n, cols, pl + 4 * s, plse + 4 * s]);
  call.finish();
  return true;
}

/** The backward for float32 (g, lse [rows]; x, dx [rows, cols]); false when it does not apply. */
export function softmaxCrossEntropyGradWasm(g: ArrayLike<number>, x: ArrayLike<number>, lse: ArrayLike<number>, labels: Int32Array, rows: number, cols: number, dx: Float32Array | Float64Array): boolean {
  if (!isF32(g, x, lse, dx) || rows === 0 || cols === 0) return false;
  const k = module.ready();
  if (!k) return false;
  const call = new KernelCall(kernelSpace()!);
  const [pg, px, plse, pl, pdx] = [call.input(g as Float32Array), call.input(x as Float32Array), call.input(lse as Float32Array), call.input(labels), call.output(dx)];
  if (!call.ok) return call.abandon(), false;
  splitRun(k, 'softmax_ce_grad_rows', rows, minRows(cols), 1, (s, n) => [px + 4 * cols * s, pg + 4 * s, pdx + 4 * cols * s, n, cols, pl + 4 * s, plse + 4 * s]);
  call.finish();
  return true;
}
