import { I32, V128 } from '../../kernels/cpu/wasm/assembler.js';
import { KernelCall } from '../../kernels/cpu/kernel-call.js';
import { kernelSpace } from '../../kernels/cpu/kernel-space.js';
import { PARALLEL_MIN_ELEMENTS, splitRun } from '../../kernels/cpu/simd.js';
import { isF32, KernelBuilder, WasmKernelModule } from '../../kernels/cpu/wasm/kernel-module.js';

/**
 * WebAssembly SIMD (f32x4) versions of cpu.ts's float32 kernels: bias + ReLU over [256, 128] went
 * from 3.9 to 0.5 ns/element here. Bit-identical to the JS kernels. Operands in the heap are used
 * in place (KernelCall).
 */

/** bias_act(x, bias, out, rows, rowBytes): out = act(x + bias) row by row (rowBytes a multiple of 16). */
function biasAct(name: string, relu: boolean): KernelBuilder {
  const f = new KernelBuilder(name, 5);
  const [x, bias, out, rows, rowBytes] = [0, 1, 2, 3, 4];
  const r = f.local(I32);
  const j = f.local(I32);
  const zero = f.local(V128);
  f.v128Zero().set(zero);
  f.i32(0).set(r);
  f.forRange(r, rows, 1, () => {
    f.i32(0).set(j);
    f.forRange(j, rowBytes, 16, () => {
      f.get(out).get(j).add();
      f.get(x).get(j).add().v128Load();
      f.get(bias).get(j).add().v128Load();
      f.f32x4Add();
      if (relu) f.get(zero).f32x4Max();
      f.v128Store();
    });
    f.get(x).get(rowBytes).add().set(x);
    f.get(out).get(rowBytes).add().set(out);
  });
  return f;
}

/** relu_grad(g, y, gx, rows, rowBytes): gx = g·[y > 0] row by row (rowBytes a multiple of 16). */
function reluGrad(): KernelBuilder {
  const f = new KernelBuilder('relu_grad', 5);
  const [g, y, gx, rows, rowBytes] = [0, 1, 2, 3, 4];
  const r = f.local(I32);
  const j = f.local(I32);
  const zero = f.local(V128);
  const one = f.local(V128);
  f.v128Zero().set(zero);
  f.f32Const(1).f32x4Splat().set(one);
  f.i32(0).set(r);
  f.forRange(r, rows, 1, () => {
    f.i32(0).set(j);
    f.forRange(j, rowBytes, 16, () => {
      // gx = g · (mask & 1.0): an exact 0/1 factor, so NaN·0 stays NaN as in the JS kernel.
      f.get(gx).get(j).add();
      f.get(g).get(j).add().v128Load();
      f.get(y).get(j).add().v128Load().get(zero).f32x4Gt().get(one).v128And();
      f.f32x4Mul();
      f.v128Store();
    });
    f.get(g).get(rowBytes).add().set(g);
    f.get(y).get(rowBytes).add().set(y);
    f.get(gx).get(rowBytes).add().set(gx);
  });
  return f;
}

/** Lanes 2, 3 of a vector moved to lanes 0, 1 (for promoting the high half to f64x2). */
const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];

/**
 * relu_grad_bias(g, y, gx, rows, rowBytes, acc, c0, c1): gx = g·[y > 0] for the column bytes
 * [c0, c1) of every row, and acc[j] = Σ_rows gx[r, j] in float64, rows in order, for those columns
 * (acc: 8 bytes per column of the whole row). Column stripes of 16 floats are walked down the
 * rows with the sums in registers (a cache line per row and stripe); stripes narrower than 16
 * floats (the row's end) go one vector at a time. Threads split the columns (each sum whole).
 */
function reluGradBias(): KernelBuilder {
  const f = new KernelBuilder('relu_grad_bias', 8);
  const [g, y, gx, rows, rowBytes, acc, c0, c1] = [0, 1, 2, 3, 4, 5, 6, 7];
  const s = f.local(I32);
  const p = f.local(I32);
  const end = f.local(I32);
  const zero = f.local(V128);
  const one = f.local(V128);
  const v = f.local(V128);
  const sums = Array.from({ length: 8 }, () => f.local(V128));
  f.v128Zero().set(zero);
  f.f32Const(1).f32x4Splat().set(one);
  /** One stripe of `vectors` vectors starting at column byte s. */
  const stripe = (vectors: number): void => {
    for (let i = 0; i < 2 * vectors; i++) f.v128Zero().set(sums[i]!);
    f.get(s).set(p);
    f.get(rows).get(rowBytes).mul().get(s).add().set(end);
    f.forRange(p, end, 0, () => {
      for (let k = 0; k < vectors; k++) {
        f.get(g).get(p).add().v128Load(16 * k);
        f.get(y).get(p).add().v128Load(16 * k).get(zero).f32x4Gt().get(one).v128And();
        f.f32x4Mul().set(v);
        f.get(gx).get(p).add().get(v).v128Store(16 * k);
        f.get(sums[2 * k]!).get(v).f64x2PromoteLow().f64x2Add().set(sums[2 * k]!);
        f.get(sums[2 * k + 1]!).get(v).get(v).i8x16Shuffle(HIGH_HALF).f64x2PromoteLow().f64x2Add().set(sums[2 * k + 1]!);
      }
      f.get(p).get(rowBytes).add().set(p);
    });
    for (let i = 0; i < 2 * vectors; i++) f.get(acc).get(s).i32(2).mul().add().get(sums[i]!).v128Store(16 * i);
  };
  f.get(c0).set(s);
  f.forRange(s, c1, 0, () => {
    f.ifElse(
      () => f.get(c1).get(s).sub().i32(64).geS(),
      () => {
        stripe(4);
        f.get(s).i32(64).add().set(s);
      },
      () => {
        stripe(1);
        f.get(s).i32(16).add().set(s);
      },
    );
  });
  return f;
}

const module = new WasmKernelModule(['bias_relu', 'bias_add', 'relu_grad', 'relu_grad_bias'], () => [biasAct('bias_relu', true), biasAct('bias_add', false), reluGrad(), reluGradBias()]);

/** out = act(x + bias) for float32 with rows of a multiple of 4 (threads take whole rows); false when it does not apply. */
export function biasActivationWasm(x: ArrayLike<number>, bias: ArrayLike<number>, cols: number, relu: boolean, out: Float32Array | Float64Array): boolean {
  if (!isF32(x, bias, out) || cols % 4 !== 0 || cols === 0 || out.length === 0) return false;
  const k = module.ready();
  if (!k) return false;
  const n = out.length;
  const call = new KernelCall(kernelSpace()!);
  const [px, pb, po] = [call.input(x as Float32Array), call.input(bias as Float32Array), call.output(out)];
  if (!call.ok) return call.abandon(), false;
  splitRun(k, relu ? 'bias_relu' : 'bias_add', n / cols, PARALLEL_MIN_ELEMENTS / cols, 1, (r, m) => [px + 4 * cols * r, pb, po + 4 * cols * r, m, 4 * cols]);
  call.finish();
  return true;
}

/** gx = g·[y > 0] and, with biasOut, Σ_rows gx (float64 sums, row order); float32 only. */
export function reluGradWasm(g: ArrayLike<number>, y: ArrayLike<number>, cols: number, gx: Float32Array | Float64Array, biasOut: Float32Array | Float64Array | null): boolean {
  if (!isF32(g, y, gx, biasOut) || cols % 4 !== 0 || cols === 0 || gx.length === 0) return false;
  const k = module.ready();
  if (!k) return false;
  const n = gx.length;
  const rows = n / cols;
  const call = new KernelCall(kernelSpace()!);
  const [pg, py, pgx] = [call.input(g as Float32Array), call.input(y as Float32Array), call.output(gx)];
  const pacc = biasOut ? call.scratch(8 * cols) : 0;
  if (!call.ok) return call.abandon(), false;
  if (biasOut) {
    // Threads take whole 16-float column stripes: every sum stays in row order.
    splitRun(k, 'relu_grad_bias', cols, PARALLEL_MIN_ELEMENTS / rows, 16, (c, w) => [pg, py, pgx, rows, 4 * cols, pacc, 4 * c, 4 * (c + w)]);
    biasOut.set(call.views.f64.subarray(pacc / 8, pacc / 8 + cols));
  } else {
    splitRun(k, 'relu_grad', rows, PARALLEL_MIN_ELEMENTS / cols, 1, (r, m) => [pg + 4 * cols * r, py + 4 * cols * r, pgx + 4 * cols * r, m, 4 * cols]);
  }
  call.finish();
  return true;
}
