import type { Backend, BackendInfo, BinaryOp, Conv2dGeometry, MatmulArgs, PoolGeometry, ReduceOp, UnaryOp } from '../backend.js';
import { CpuBackend } from '../cpu/backend.js';
import { logsumexpComposed } from '../logsumexp.js';
import { noticeOnce, type BackendOptions } from '../registry.js';
import type { DType, TypedArray } from '../../tensor/dtype.js';
import { sizeOf, type Shape } from '../../tensor/shape.js';
import { HostStorage, type Storage } from '../../tensor/storage.js';
import { GpuDevice, REQUESTABLE_GPU_MODES } from './device.js';
import { binarySource, clampSource, unarySource, whereSource, type SourceSpec } from './elementwise.js';
import { loadGpuJs } from './gpujs.js';
import type { DegradedKernel, GpuDeviceStats, GpuMode, GpuModeRequest, KernelDevice } from './kernel-device.js';
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
import { col2imSource, im2colSource, maxPoolBackwardSource, maxPoolSource } from './conv.js';
import { aroundAxis, argmaxSource, logSumExpSource, planReduce, reduceParts, reduceSource, softmaxApplySource } from './reduce.js';
import { requestedGpuMode } from './start.js';
import { GpuStorage } from './storage.js';
import { startedWebGpu, webGpuStatus, type WebGpuAdapterInfo } from './webgpu-context.js';
import { WebGpuDevice } from './webgpu-device.js';

/**
 * Kernels the gpu backend runs on the cpu kernels (float32 data is read back, computed, uploaded):
 * none since conv, pooling and the fused conv-pool-relu got their GPU.js kernels; float64 (every
 * kernel) is listed apart.
 */
export const GPU_FALLBACK_KERNELS: readonly string[] = Object.freeze([]);

/** What `info()` of the gpu backend reports beyond the common fields. */
export interface GpuBackendInfo extends BackendInfo {
  name: 'gpu';
  /** The mode asked for ('auto' unless given). */
  requestedMode: GpuModeRequest;
  /** What executes the kernels: the GL driver (e.g. Mesa's software rasteriser), the WebGPU adapter, or the host CPU. */
  device: string;
  /** On webgpu: the adapter (vendor, architecture, device, fallback adapter or not); null on the other modes. */
  adapter: WebGpuAdapterInfo | null;
  /** Whether WebGPU answered in this process: 'running', 'not probed …' or 'unavailable: <reason>'. */
  webgpu: string;
  /** False on webgpu: results are read with `await t.data()` / `await t.itemAsync()`. */
  readsSync: boolean;
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
  readonly device: KernelDevice;
  private readonly cpu = new CpuBackend();
  private readonly used = new Set<string>();
  /** Storages uploaded for the kernel call in progress (released when it returns). */
  private readonly adopted: GpuStorage[] = [];

  constructor(opts: BackendOptions = {}) {
    const requested = requestedGpuMode(opts);
    if (!REQUESTABLE_GPU_MODES.has(requested)) {
      throw new Error(`setBackend('gpu'): unknown GPU.js mode '${String(requested)}' (expected one of ${[...REQUESTABLE_GPU_MODES].join(', ')})`);
    }
    if (requested === 'webgpu') {
      const start = startedWebGpu();
      if (!start) {
        throw new Error(
          "setBackend('gpu', { gpuMode: 'webgpu' }): WebGPU starts asynchronously (adapter, device, self-test); " +
            "start it with `await setBackendAsync('gpu', { gpuMode: 'webgpu' })`" +
            (webGpuStatus().startsWith('unavailable') ? ` — and here it is ${webGpuStatus()}` : ''),
        );
      }
      this.device = new WebGpuDevice(loadGpuJs(), start, requested);
    } else {
      this.device = new GpuDevice(requested);
    }
    this.device.setDegradeListener((d) =>
      noticeOnce(`gpu-degraded:${d.kernel}`, `GPU.js ran gpu kernel '${d.kernel}' in mode '${d.mode}', not '${this.device.mode}' (${d.reason})`),
    );
    noticeOnce(`gpu-mode:${requested}:${this.device.mode}`, `gpu backend: GPU.js runs mode '${this.device.mode}' on ${this.device.driver}`);
  }

  /** The mode GPU.js really ran the self-test in. */
  get mode(): GpuMode {
    return this.device.mode;
  }

  get readsSync(): boolean {
    return this.device.readsSync;
  }

  /** Resolves when every enqueued kernel has run (webgpu); rejects with a queued kernel's error. */
  ready(): Promise<void> {
    return this.device.ready();
  }

  info(): GpuBackendInfo {
    return {
      name: 'gpu',
      mode: this.device.modeSummary,
      fallbacks: [...GPU_FALLBACK_KERNELS, 'float64 (every kernel)'],
      requestedMode: this.device.requested,
      device: this.device.driver,
      adapter: this.device instanceof WebGpuDevice ? this.device.adapter : null,
      webgpu: this.device instanceof WebGpuDevice ? 'running' : webGpuStatus(),
      readsSync: this.device.readsSync,
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

  logsumexp(x: Storage, shape: Shape, axes: readonly number[]): Storage {
    // The composed kernels (each on the device); float64 goes to the cpu backend whole.
    if (x.dtype === 'float64') return this.float64('', () => this.cpu.logsumexp(this.host(x), shape, axes));
    return logsumexpComposed(this, x, shape, axes);
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
    const [n, c] = geo.inputShape as [number, number];
    const size = n * c * geo.kernelH * geo.kernelW * geo.outH * geo.outW;
    return this.compute([x], () => this.cpu.im2col(this.host(x), geo), () => this.device.run(im2colSource(geo), size, [this.dev(x)]));
  }

  col2im(cols: Storage, geo: Conv2dGeometry): Storage {
    const size = sizeOf(geo.inputShape);
    return this.compute([cols], () => this.cpu.col2im(this.host(cols), geo), () => this.device.run(col2imSource(geo), size, [this.dev(cols)]));
  }

  maxPool2d(x: Storage, geo: PoolGeometry): { values: Storage; argmax: Storage } {
    const [n, c] = geo.inputShape as [number, number];
    const size = n * c * geo.outH * geo.outW;
    const part = (argmax: boolean): Storage =>
      this.compute(
        [x],
        () => {
          const r = this.cpu.maxPool2d(this.host(x), geo);
          return argmax ? r.argmax : r.values;
        },
        () => this.device.run(maxPoolSource(geo, argmax), size, [this.dev(x)]),
      );
    return { values: part(false), argmax: part(true) };
  }

  maxPool2dBackward(g: Storage, argmax: Storage, geo: PoolGeometry): Storage {
    return this.compute(
      [g, argmax],
      () => this.cpu.maxPool2dBackward(this.host(g), this.host(argmax), geo),
      () => this.device.run(maxPoolBackwardSource(geo), sizeOf(geo.inputShape), [this.dev(g), this.dev(argmax)]),
    );
  }

  /**
   * Runs a pack's GPU.js kernel: `spec` over `inputs` (device storages, uploaded if needed) and the
   * scalar `args`, producing `size` values; float64 or empty inputs run `onCpu` on host copies.
   */
  runPackKernel(spec: SourceSpec, size: number, inputs: readonly Storage[], args: readonly number[], onCpu: (hostInputs: HostStorage[]) => Storage): Storage {
    return this.runKernel(spec, size, [...inputs, ...args], onCpu);
  }

  /**
   * Runs a GPU.js kernel over `args` in order: storages (uploaded if they live elsewhere), host floats
   * (index lists) and numbers (uniforms). With a float64 or empty storage among them, `onCpu` runs
   * instead on host copies of the storages (in order) and its float32 result is uploaded.
   */
  runKernel(spec: SourceSpec, size: number, args: readonly KernelArg[], onCpu: (hostStorages: HostStorage[]) => Storage): Storage {
    const storages = args.filter(isStorage);
    return this.compute(
      storages,
      () => onCpu(storages.map((s) => this.host(s))),
      () => this.device.run(spec, size, args.map((a) => (isStorage(a) ? this.dev(a) : a))),
    );
  }

  /**
   * Whether a pack kernel over `inputs` must run on the cpu kernels instead: float64 inputs (GPU.js
   * computes in float32; announced once) or an empty one. The pack then calls its cpu kernels with
   * `hostOf` views and brings the results back with `fromCpu`.
   */
  needsCpu(inputs: readonly Storage[]): boolean {
    if (inputs.some((s) => s.dtype === 'float64')) return this.float64('', () => true);
    return inputs.some((s) => s.size === 0);
  }

  /** A host view of `s` for the cpu kernels (a readback for device storages). */
  hostOf(s: Storage): HostStorage {
    return this.host(s);
  }

  /** A cpu kernel's result as a storage of this backend (float32 moves to the device). */
  fromCpu(s: Storage): Storage {
    return this.toDevice(s);
  }

  /**
   * The consecutive parts of a kernel result as storages of their own, without a copy (so one launch
   * can produce several results); null on the GL modes, which cannot share a texture that way.
   */
  split(whole: Storage, sizes: readonly number[]): Storage[] | null {
    if (!(whole instanceof GpuStorage) || whole.owner !== this.device) throw new Error('gpu backend: split() takes a storage of this device');
    return this.device.split(whole, sizes);
  }

  /** Whether `split` works on this device (not on the GL modes). */
  get splits(): boolean {
    return this.device.mode !== 'headlessgl' && this.device.mode !== 'webgl' && this.device.mode !== 'webgl2';
  }

  /** Launches a pack's GPU.js kernel over `args` (float32 storages, host floats, numbers) on the device. */
  launch(spec: SourceSpec, size: number, args: readonly KernelArg[]): Storage {
    return this.compute(
      args.filter(isStorage),
      () => {
        throw new Error(`gpu backend: ${spec.key.split(':')[0]} was launched with float64 or empty inputs (check needsCpu first)`);
      },
      () => this.device.run(spec, size, args.map((a) => (isStorage(a) ? this.dev(a) : a))),
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

/** An argument of `runKernel`: a storage, host floats (an index list) or a number (a uniform). */
export type KernelArg = Storage | Float32Array | number;

function isStorage(a: KernelArg): a is Storage {
  return typeof a === 'object' && !(a instanceof Float32Array);
}

function asFloat32(data: TypedArray): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}
