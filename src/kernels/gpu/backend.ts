import type { Backend, BackendInfo, BinaryOp, Conv2dGeometry, MatmulArgs, PoolGeometry, ReduceOp, UnaryOp } from '../backend.js';
import { CpuBackend } from '../cpu/backend.js';
import { noticeOnce, type BackendOptions } from '../registry.js';
import type { DType, TypedArray } from '../../tensor/dtype.js';
import { sizeOf, type Shape } from '../../tensor/shape.js';
import { HostStorage, type Storage } from '../../tensor/storage.js';
import { GpuDevice, type DegradedKernel, type GpuDeviceStats, type GpuMode, type GpuModeRequest } from './device.js';
import { binarySource, clampSource, unarySource, whereSource, type SourceSpec } from './elementwise.js';
import {
  broadcastToSource,
  concatSource,
  gatherSource,
  MAX_CONCAT_INPUTS,
  oneHotSource,
  padSource,
  permuteSource,
  scatterAddSource,
  sliceSource,
} from './layout.js';
import { matmulSource } from './matmul.js';
import { aroundAxis, argmaxSource, logSumExpSource, planReduce, reduceParts, reduceSource, softmaxApplySource } from './reduce.js';
import { GpuStorage } from './storage.js';

/** Kernels the gpu backend runs on the cpu kernels (float32 data is read back, computed, uploaded). */
export const GPU_FALLBACK_KERNELS: readonly string[] = Object.freeze(['im2col', 'col2im', 'maxPool2d', 'maxPool2dBackward', 'convPoolRelu', 'convPoolReluBackward']);

/** What `info()` of the gpu backend reports beyond the common fields. */
export interface GpuBackendInfo extends BackendInfo {
  name: 'gpu';
  /** The mode asked for ('auto' unless given). */
  requestedMode: GpuModeRequest;
  /** What executes the kernels: the GL driver (e.g. Mesa's software rasteriser) or the host CPU. */
  device: string;
  /** Fallbacks that have actually run so far ('float64' when float64 tensors went to the cpu kernels). */
  fallbacksUsed: readonly string[];
  /** Kernels GPU.js itself ran in another mode than `mode` (e.g. degraded to cpu), with its reason. */
  degraded: readonly DegradedKernel[];
  stats: GpuDeviceStats;
}

/**
 * GPU.js kernels with the data kept on the device: every float32 result is a GpuStorage (a texture
 * on GL modes) that the next kernel reads directly; `readSync` is the only readback. float64 is not
 * something GPU.js computes, so float64 tensors run on the cpu kernels — an explicit, documented
 * fallback listed in `info().fallbacks` and announced once — never a silent cast to float32.
 */
export class GpuBackend implements Backend {
  readonly name = 'gpu' as const;
  readonly device: GpuDevice;
  private readonly cpu = new CpuBackend();
  private readonly used = new Set<string>();
  /** Storages uploaded for the kernel call in progress (released when it returns). */
  private readonly adopted: GpuStorage[] = [];

  constructor(opts: BackendOptions = {}) {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.DSELECT_K_GPU_MODE;
    const requested = opts.gpuMode ?? ((env || 'auto') as GpuModeRequest);
    this.device = new GpuDevice(requested);
    this.device.setDegradeListener((d) =>
      noticeOnce(`gpu-degraded:${d.kernel}`, `GPU.js ran gpu kernel '${d.kernel}' in mode '${d.mode}', not '${this.device.mode}' (${d.reason})`),
    );
    noticeOnce(`gpu-mode:${requested}:${this.device.mode}`, `gpu backend: GPU.js runs mode '${this.device.mode}' on ${this.device.driver}`);
  }

  /** The mode GPU.js really ran the self-test in. */
  get mode(): GpuMode {
    return this.device.mode;
  }

  info(): GpuBackendInfo {
    return {
      name: 'gpu',
      mode: this.device.modeSummary,
      fallbacks: [...GPU_FALLBACK_KERNELS, 'float64 (every kernel)'],
      requestedMode: this.device.requested,
      device: this.device.driver,
      fallbacksUsed: [...this.used],
      degraded: [...this.device.degraded],
      stats: this.device.stats(),
    };
  }

  adopt(s: Storage): Storage {
    if (s instanceof GpuStorage && s.owner === this.device) return s;
    if (s.dtype === 'float64') return s instanceof HostStorage ? s : new HostStorage(s.readSync().slice(), 'cpu');
    return this.device.upload(asFloat32(s.readSync()));
  }

  fromHost(data: TypedArray): Storage {
    return data instanceof Float64Array ? this.cpu.fromHost(data) : this.device.upload(data);
  }

  fill(size: number, value: number, dtype: DType): Storage {
    return dtype === 'float64' ? this.cpu.fill(size, value, dtype) : this.device.fill(size, value);
  }

  cast(x: Storage, dtype: DType): Storage {
    if (x.dtype === dtype) return x;
    if (dtype === 'float64') return new HostStorage(Float64Array.from(x.readSync()), 'cpu');
    return this.device.upload(Float32Array.from(x.readSync()));
  }

  unary(op: UnaryOp, x: Storage): Storage {
    return this.compute([x], () => this.cpu.unary(op, this.host(x)), () => this.device.run(unarySource(op, x.size), x.size, [this.dev(x)]));
  }

  clamp(x: Storage, low: number, high: number): Storage {
    return this.compute(
      [x],
      () => this.cpu.clamp(this.host(x), low, high),
      () => this.device.run(clampSource(x.size), x.size, [this.dev(x), low, high]),
    );
  }

  binary(op: BinaryOp, a: Storage, aShape: Shape, b: Storage, bShape: Shape, outShape: Shape): Storage {
    return this.compute(
      [a, b],
      () => this.cpu.binary(op, this.host(a), aShape, this.host(b), bShape, outShape),
      () => this.device.run(binarySource(op, aShape, bShape, outShape), sizeOf(outShape), [this.dev(a), this.dev(b)]),
    );
  }

  where(cond: Storage, condShape: Shape, a: Storage, aShape: Shape, b: Storage, bShape: Shape, outShape: Shape): Storage {
    return this.compute(
      [cond, a, b],
      () => this.cpu.where(this.host(cond), condShape, this.host(a), aShape, this.host(b), bShape, outShape),
      () =>
        this.device.run(whereSource(condShape, aShape, bShape, outShape), sizeOf(outShape), [this.dev(cond), this.dev(a), this.dev(b)]),
    );
  }

  reduce(op: ReduceOp, x: Storage, shape: Shape, axes: readonly number[]): Storage {
    return this.compute(
      [x],
      () => this.cpu.reduce(op, this.host(x), shape, axes),
      () => {
        const plan = planReduce(shape, axes);
        const parts = reduceParts(plan);
        if (parts === 1) return this.device.run(reduceSource(op, plan, 1), plan.outSize, [this.dev(x)]);
        const partial = this.device.run(reduceSource(op, plan, parts), plan.outSize * parts, [this.dev(x)]);
        try {
          return this.reduce(op, partial, [plan.outSize, parts], [1]);
        } finally {
          partial.dispose();
        }
      },
    );
  }

  argmax(x: Storage, shape: Shape, axis: number): Storage {
    const [outer, n, inner] = aroundAxis(shape, axis);
    return this.compute(
      [x],
      () => this.cpu.argmax(this.host(x), shape, axis),
      () => this.device.run(argmaxSource(outer, n, inner), outer * inner, [this.dev(x)]),
    );
  }

  matmul(a: Storage, b: Storage, args: MatmulArgs): Storage {
    return this.compute(
      [a, b],
      () => this.cpu.matmul(this.host(a), this.host(b), args),
      () => this.device.run(matmulSource(args), sizeOf(args.outShape), [this.dev(a), this.dev(b)]),
    );
  }

  softmax(x: Storage, shape: Shape, axis: number, log: boolean): Storage {
    const [outer, n, inner] = aroundAxis(shape, axis);
    return this.compute(
      [x],
      () => this.cpu.softmax(this.host(x), shape, axis, log),
      () => {
        const lse = this.device.run(logSumExpSource(outer, n, inner), outer * inner, [this.dev(x)]);
        try {
          return this.device.run(softmaxApplySource(outer, n, inner, log), x.size, [this.dev(x), lse]);
        } finally {
          lse.dispose();
        }
      },
    );
  }

  permute(x: Storage, shape: Shape, perm: readonly number[]): Storage {
    return this.compute(
      [x],
      () => this.cpu.permute(this.host(x), shape, perm),
      () => this.device.run(permuteSource(shape, perm), x.size, [this.dev(x)]),
    );
  }

  broadcastTo(x: Storage, shape: Shape, outShape: Shape): Storage {
    return this.compute(
      [x],
      () => this.cpu.broadcastTo(this.host(x), shape, outShape),
      () => this.device.run(broadcastToSource(shape, outShape), sizeOf(outShape), [this.dev(x)]),
    );
  }

  slice(x: Storage, shape: Shape, begin: readonly number[], size: readonly number[]): Storage {
    return this.compute(
      [x],
      () => this.cpu.slice(this.host(x), shape, begin, size),
      () => this.device.run(sliceSource(shape, begin, size), sizeOf(size), [this.dev(x)]),
    );
  }

  pad(x: Storage, shape: Shape, begin: readonly number[], outShape: Shape): Storage {
    return this.compute(
      [x],
      () => this.cpu.pad(this.host(x), shape, begin, outShape),
      () => this.device.run(padSource(shape, begin, outShape), sizeOf(outShape), [this.dev(x)]),
    );
  }

  concat(xs: readonly Storage[], shapes: readonly Shape[], axis: number): Storage {
    const total = xs.reduce((p, s) => p + s.size, 0);
    // Empty inputs contribute nothing (and cannot be kernel arguments): leave them out.
    const keep = xs.map((_, i) => i).filter((i) => xs[i]!.size > 0);
    return this.compute(
      keep.length > 0 ? keep.map((i) => xs[i]!) : xs,
      () => this.cpu.concat(xs.map((s) => this.host(s)), shapes, axis),
      () => {
        if (keep.length === 1) return this.dev(xs[keep[0]!]!);
        const parts = keep.map((i) => this.dev(xs[i]!));
        const partShapes = keep.map((i) => shapes[i]!);
        if (parts.length <= MAX_CONCAT_INPUTS) return this.device.run(concatSource(partShapes, axis), total, parts);
        // More inputs than texture units: join them in groups, then join the groups.
        const groups: Storage[] = [];
        const groupShapes: Shape[] = [];
        let out: Storage | null = null;
        try {
          for (let i = 0; i < parts.length; i += MAX_CONCAT_INPUTS) {
            const shapesHere = partShapes.slice(i, i + MAX_CONCAT_INPUTS);
            groups.push(this.concat(parts.slice(i, i + MAX_CONCAT_INPUTS), shapesHere, axis));
            const joined = [...shapesHere[0]!];
            joined[axis] = shapesHere.reduce((p, s) => p + s[axis]!, 0);
            groupShapes.push(joined);
          }
          out = this.concat(groups, groupShapes, axis);
          return out;
        } finally {
          // A group of one input is that input itself: release only the groups made here.
          for (const g of groups) if (g !== out && !parts.includes(g as GpuStorage)) g.dispose();
        }
      },
    );
  }

  gather(x: Storage, shape: Shape, indices: Int32Array, axis: number): Storage {
    const [outer, dim, inner] = aroundAxis(shape, axis);
    return this.compute(
      [x],
      () => this.cpu.gather(this.host(x), shape, indices, axis),
      () =>
        indices.length === 0
          ? this.device.run(gatherSource(outer, dim, inner, 0), 0, [])
          : this.device.run(gatherSource(outer, dim, inner, indices.length), outer * indices.length * inner, [
              this.dev(x),
              Float32Array.from(indices),
            ]),
    );
  }

  scatterAdd(g: Storage, gShape: Shape, indices: Int32Array, axis: number, outShape: Shape): Storage {
    const [outer, dim, inner] = aroundAxis(outShape, axis);
    return this.compute(
      [g],
      () => this.cpu.scatterAdd(this.host(g), gShape, indices, axis, outShape),
      () =>
        this.device.run(scatterAddSource(outer, dim, inner, indices.length), sizeOf(outShape), [this.dev(g), Float32Array.from(indices)]),
    );
  }

  oneHot(indices: Int32Array, depth: number, dtype: DType): Storage {
    if (dtype === 'float64') return this.float64('oneHot', () => this.cpu.oneHot(indices, depth, dtype));
    if (indices.length === 0 || depth === 0) return this.device.fill(indices.length * depth, 0);
    return this.device.run(oneHotSource(indices.length, depth), indices.length * depth, [Float32Array.from(indices)]);
  }

  im2col(x: Storage, geo: Conv2dGeometry): Storage {
    return this.viaCpu('im2col', [x], () => this.cpu.im2col(this.host(x), geo));
  }

  col2im(cols: Storage, geo: Conv2dGeometry): Storage {
    return this.viaCpu('col2im', [cols], () => this.cpu.col2im(this.host(cols), geo));
  }

  maxPool2d(x: Storage, geo: PoolGeometry): { values: Storage; argmax: Storage } {
    if (x.dtype === 'float64') return this.float64('maxPool2d', () => this.cpu.maxPool2d(this.host(x), geo));
    this.noteFallback('maxPool2d');
    const r = this.cpu.maxPool2d(this.host(x), geo);
    return { values: this.toDevice(r.values), argmax: this.toDevice(r.argmax) };
  }

  maxPool2dBackward(g: Storage, argmax: Storage, geo: PoolGeometry): Storage {
    return this.viaCpu('maxPool2dBackward', [g], () => this.cpu.maxPool2dBackward(this.host(g), this.host(argmax), geo));
  }

  /**
   * Runs a pack's kernel that has no GPU.js version on the cpu kernels: the inputs are read back,
   * `run` computes on host copies, float32 results are uploaded again; listed in `fallbacksUsed` and
   * announced once (float64 runs there anyway, as for every kernel).
   */
  runOnCpu(kernel: string, inputs: readonly Storage[], run: (hostInputs: HostStorage[]) => (Storage | null)[]): (Storage | null)[] {
    const go = (): (Storage | null)[] => run(inputs.map((s) => this.host(s)));
    if (inputs.some((s) => s.dtype === 'float64')) return this.float64(kernel, go);
    this.noteFallback(kernel);
    return go().map((s) => s && this.toDevice(s));
  }

  /**
   * Runs a pack's GPU.js kernel: `spec` over `inputs` (device storages, uploaded if needed) and the
   * scalar `args`, producing `size` values; float64 or empty inputs run `onCpu` on host copies.
   */
  runPackKernel(spec: SourceSpec, size: number, inputs: readonly Storage[], args: readonly number[], onCpu: (hostInputs: HostStorage[]) => Storage): Storage {
    return this.compute(
      inputs,
      () => onCpu(inputs.map((s) => this.host(s))),
      () => this.device.run(spec, size, [...inputs.map((s) => this.dev(s)), ...args]),
    );
  }

  /**
   * Runs `onDevice`, unless the inputs are float64 (the cpu kernels, announced once) or one is empty
   * (nothing to compute: the cpu kernel produces the identity-filled result, which is uploaded).
   */
  private compute(inputs: readonly Storage[], onCpu: () => Storage, onDevice: () => Storage): Storage {
    if (inputs.some((s) => s.dtype === 'float64')) return this.float64('', onCpu);
    if (inputs.some((s) => s.size === 0)) return this.toDevice(onCpu());
    const mark = this.adopted.length;
    let out: Storage | null = null;
    try {
      out = onDevice();
      return out;
    } finally {
      // Inputs that reached the kernel without being adopted first were uploaded for this call only.
      for (const t of this.adopted.splice(mark)) if (t !== out && t.refs === 0) t.dispose();
    }
  }

  private float64<T>(kernel: string, run: () => T): T {
    this.used.add('float64');
    noticeOnce(
      'gpu-float64',
      'gpu backend: float64 tensors run on the cpu kernels (GPU.js computes in float32 only); cast to float32 to use the GPU' +
        (kernel ? ` (first: ${kernel})` : ''),
    );
    return run();
  }

  private viaCpu(kernel: string, inputs: readonly Storage[], run: () => Storage): Storage {
    if (inputs.some((s) => s.dtype === 'float64')) return this.float64(kernel, run);
    this.noteFallback(kernel);
    return this.toDevice(run());
  }

  private noteFallback(kernel: string): void {
    this.used.add(kernel);
    noticeOnce(`gpu-fallback:${kernel}`, `gpu backend: '${kernel}' has no GPU.js kernel yet and runs on the cpu kernels (data is read back and uploaded again)`);
  }

  /** This device's storage for float32 input `s` (uploaded for the current kernel if it lives elsewhere). */
  private dev(s: Storage): GpuStorage {
    if (s instanceof GpuStorage && s.owner === this.device) return s;
    const own = this.adopt(s);
    if (!(own instanceof GpuStorage)) throw new Error(`gpu backend: expected float32 data on the device, got ${s.dtype}`);
    this.adopted.push(own);
    return own;
  }

  /** A host view of `s` for the cpu kernels (a readback for device storages). */
  private host(s: Storage): HostStorage {
    return s instanceof HostStorage ? s : new HostStorage(s.readSync(), 'cpu');
  }

  /** A cpu-kernel result moved to the device (float32), with its host copy kept as the read cache. */
  private toDevice(s: Storage): Storage {
    return s.dtype === 'float64' ? s : this.device.upload(asFloat32(s.readSync()));
  }
}

function asFloat32(data: TypedArray): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}
