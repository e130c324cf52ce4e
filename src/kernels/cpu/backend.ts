import type { Backend, BackendInfo, BinaryOp, Conv2dGeometry, MatmulArgs, PoolGeometry, ReduceOp, UnaryOp } from '../backend.js';
import type { DType, TypedArray } from '../../tensor/dtype.js';
import { sizeOf, type Shape } from '../../tensor/shape.js';
import { HostStorage, type Storage } from '../../tensor/storage.js';
import { col2imInto, im2colInto, maxPool2dBackwardInto, maxPool2dInto } from './conv.js';
import { col2imWasm, im2colWasm, maxPool2dBackwardWasm, maxPool2dWasm } from './conv-layout-wasm.js';
import { binaryKernel, clampInto, planBroadcast, unaryKernel, whereInto } from './elementwise.js';
import { deferBinary, deferUnary } from './fusion.js';
import { heapAvailable } from './heap.js';
import { alloc, allocOverwritten, dataOf, wrap, wrapOutput } from './host.js';
import { broadcastToInto, concatInto, gatherInto, oneHotInto, padInto, permuteInto, scatterAddInto, sliceInto } from './layout.js';
import { matmulInto } from './matmul.js';
import { matmulInfo } from './matmul-config.js';
import { argmaxInto, reduceInto, softmaxInto } from './reduce.js';
import { binaryPlanSimd, logsumexpRowsSimd, softmaxRowsSimd, unarySimd } from './simd.js';
import { logsumexpComposed } from '../logsumexp.js';

/** Host tensors at least this long move into the heap when a kernel first sees them (as pooled arrays do). */
const HEAP_ADOPT_MIN = 64;

/** The typed-array backend: every kernel by hand, float32 and float64. */
export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;

  info(): BackendInfo {
    const m = matmulInfo();
    return { name: 'cpu', mode: 'cpu', fallbacks: [], kernels: `matmul: ${m.running}, ${m.threads} thread${m.threads > 1 ? 's' : ''}` };
  }

  adopt(s: Storage): Storage {
    // New float32 tensors move into the WebAssembly heap on first use, so that the SIMD kernels
    // read them in place from then on (one copy, instead of one per SIMD kernel call).
    if (s.backend === 'host' && s.dtype === 'float32' && s.size >= HEAP_ADOPT_MIN && heapAvailable()) {
      const out = allocOverwritten('float32', s.size);
      out.set(s.readSync());
      return wrapOutput(out);
    }
    if (s instanceof HostStorage) return s;
    return wrap(s.readSync().slice());
  }

  fromHost(data: TypedArray): Storage {
    return wrap(data);
  }

  fill(size: number, value: number, dtype: DType): Storage {
    const out = allocOverwritten(dtype, size);
    out.fill(value);
    return wrapOutput(out);
  }

  cast(x: Storage, dtype: DType): Storage {
    const out = allocOverwritten(dtype, x.size);
    out.set(dataOf(x));
    return wrapOutput(out);
  }

  unary(op: UnaryOp, x: Storage): Storage {
    const pending = deferUnary(op, x);
    if (pending) return pending;
    const out = allocOverwritten(x.dtype, x.size);
    const xs = dataOf(x);
    if (!unarySimd(op, xs, out)) unaryKernel(op)(xs, out);
    return wrapOutput(out);
  }

  clamp(x: Storage, low: number, high: number): Storage {
    const out = allocOverwritten(x.dtype, x.size);
    clampInto(dataOf(x), out, low, high);
    return wrapOutput(out);
  }

  binary(op: BinaryOp, a: Storage, aShape: Shape, b: Storage, bShape: Shape, outShape: Shape): Storage {
    const pending = deferBinary(op, a, b, outShape);
    if (pending) return pending;
    const out = allocOverwritten(a.dtype, sizeOf(outShape));
    const [da, db] = [dataOf(a), dataOf(b)];
    const plan = planBroadcast([aShape, bShape], outShape);
    if (!binaryPlanSimd(op, da, db, out, plan)) binaryKernel(op)(da, db, out, plan);
    return wrapOutput(out);
  }

  where(cond: Storage, condShape: Shape, a: Storage, aShape: Shape, b: Storage, bShape: Shape, outShape: Shape): Storage {
    const out = allocOverwritten(a.dtype, sizeOf(outShape));
    whereInto(dataOf(cond), dataOf(a), dataOf(b), out, planBroadcast([condShape, aShape, bShape], outShape));
    return wrapOutput(out);
  }

  reduce(op: ReduceOp, x: Storage, shape: Shape, axes: readonly number[]): Storage {
    const outSize = shape.reduce((p, d, i) => (axes.includes(i) ? p : p * d), 1);
    const out = alloc(x.dtype, outSize);
    reduceInto(op, dataOf(x), shape, axes, out);
    return wrapOutput(out);
  }

  logsumexp(x: Storage, shape: Shape, axes: readonly number[]): Storage {
    // Float32 whose reduced elements are contiguous runs (every dim from the first reduced one on is
    // reduced or 1: the last axis, the trailing ones, all of them): one SIMD row kernel.
    const first = axes.length > 0 ? axes[0]! : shape.length;
    const cols = axes.reduce((p, a) => p * shape[a]!, 1);
    const trailing = shape.every((d, i) => i < first || d === 1 || axes.includes(i));
    if (trailing && cols > 0 && x.dtype === 'float32') {
      const out = allocOverwritten('float32', x.size / cols);
      if (logsumexpRowsSimd(dataOf(x), out, out.length, cols)) return wrapOutput(out);
      wrapOutput(out).dispose();
    }
    return logsumexpComposed(this, x, shape, axes);
  }

  argmax(x: Storage, shape: Shape, axis: number): Storage {
    const out = alloc(x.dtype, x.size / Math.max(1, shape[axis]!));
    argmaxInto(dataOf(x), shape, axis, out);
    return wrapOutput(out);
  }

  matmul(a: Storage, b: Storage, args: MatmulArgs): Storage {
    // gemm's contract: C is overwritten (every kernel writes each element, zeros for k = 0).
    const out = allocOverwritten(a.dtype, sizeOf(args.outShape));
    matmulInto(dataOf(a), dataOf(b), args, out);
    return wrapOutput(out);
  }

  softmax(x: Storage, shape: Shape, axis: number, log: boolean): Storage {
    const out = allocOverwritten(x.dtype, x.size);
    const xs = dataOf(x);
    const n = shape[axis]!;
    const lastAxis = shape.slice(axis + 1).every((d) => d === 1);
    if (!(lastAxis && n > 0 && softmaxRowsSimd(xs, out, x.size / n, n, log))) softmaxInto(xs, shape, axis, log, out);
    return wrapOutput(out);
  }

  permute(x: Storage, shape: Shape, perm: readonly number[]): Storage {
    const out = allocOverwritten(x.dtype, x.size);
    permuteInto(dataOf(x), shape, perm, out);
    return wrapOutput(out);
  }

  broadcastTo(x: Storage, shape: Shape, outShape: Shape): Storage {
    const out = allocOverwritten(x.dtype, sizeOf(outShape));
    broadcastToInto(dataOf(x), shape, outShape, out);
    return wrapOutput(out);
  }

  slice(x: Storage, shape: Shape, begin: readonly number[], size: readonly number[]): Storage {
    const out = allocOverwritten(x.dtype, sizeOf(size));
    sliceInto(dataOf(x), shape, begin, size, out);
    return wrapOutput(out);
  }

  pad(x: Storage, shape: Shape, begin: readonly number[], outShape: Shape): Storage {
    const out = alloc(x.dtype, sizeOf(outShape));
    padInto(dataOf(x), shape, begin, outShape, out);
    return wrapOutput(out);
  }

  concat(xs: readonly Storage[], shapes: readonly Shape[], axis: number): Storage {
    const total = xs.reduce((p, s) => p + s.size, 0);
    const out = allocOverwritten(xs[0]!.dtype, total);
    concatInto(xs.map(dataOf), shapes, axis, out);
    return wrapOutput(out);
  }

  gather(x: Storage, shape: Shape, indices: Int32Array, axis: number): Storage {
    const out = allocOverwritten(x.dtype, (x.size / Math.max(1, shape[axis]!)) * indices.length);
    gatherInto(dataOf(x), shape, indices, axis, out);
    return wrapOutput(out);
  }

  scatterAdd(g: Storage, gShape: Shape, indices: Int32Array, axis: number, outShape: Shape): Storage {
    const out = alloc(g.dtype, sizeOf(outShape));
    scatterAddInto(dataOf(g), gShape, indices, axis, outShape, out);
    return wrapOutput(out);
  }

  oneHot(indices: Int32Array, depth: number, dtype: DType): Storage {
    const out = alloc(dtype, indices.length * depth);
    oneHotInto(indices, depth, out);
    return wrapOutput(out);
  }

  im2col(x: Storage, geo: Conv2dGeometry): Storage {
    const [n, c] = geo.inputShape as [number, number];
    const out = allocOverwritten(x.dtype, n * c * geo.kernelH * geo.kernelW * geo.outH * geo.outW);
    const xs = dataOf(x);
    if (!(xs instanceof Float32Array && im2colWasm(xs, geo, out as Float32Array))) im2colInto(xs, geo, out);
    return wrapOutput(out);
  }

  col2im(cols: Storage, geo: Conv2dGeometry): Storage {
    const out = allocOverwritten(cols.dtype, sizeOf(geo.inputShape));
    const cs = dataOf(cols);
    if (!(cs instanceof Float32Array && col2imWasm(cs, geo, out as Float32Array))) col2imInto(cs, geo, out);
    return wrapOutput(out);
  }

  maxPool2d(x: Storage, geo: PoolGeometry): { values: Storage; argmax: Storage } {
    const [n, c] = geo.inputShape as [number, number];
    const size = n * c * geo.outH * geo.outW;
    const values = allocOverwritten(x.dtype, size);
    const argmax = allocOverwritten(x.dtype === 'float64' ? 'float64' : 'float32', size);
    const xs = dataOf(x);
    if (!(xs instanceof Float32Array && maxPool2dWasm(xs, geo, values as Float32Array, argmax as Float32Array))) maxPool2dInto(xs, geo, values, argmax);
    return { values: wrapOutput(values), argmax: wrapOutput(argmax) };
  }

  maxPool2dBackward(g: Storage, argmax: Storage, geo: PoolGeometry): Storage {
    const out = allocOverwritten(g.dtype, sizeOf(geo.inputShape));
    const [gs, as] = [dataOf(g), dataOf(argmax)];
    if (!(gs instanceof Float32Array && as instanceof Float32Array && maxPool2dBackwardWasm(gs, as, out as Float32Array))) maxPool2dBackwardInto(gs, as, geo, out);
    return wrapOutput(out);
  }
}

