import type { GpuMode, GpuModeRequest } from '../backend.js';
import type { SourceSpec } from './elementwise.js';
import type { GpuStorage, GpuStorageOwner } from './storage.js';

export type { GpuMode, GpuModeRequest };

/** A kernel input: a storage of this device, a number (uniform), or host floats (e.g. indices). */
export type KernelInput = GpuStorage | number | Float32Array;

/** A kernel that ran somewhere other than the device's mode (GPU.js degraded it, e.g. to cpu). */
export interface DegradedKernel {
  kernel: string;
  mode: GpuMode;
  reason: string;
}

export interface GpuDeviceStats {
  /** GpuStorages created and not yet disposed. */
  liveStorages: number;
  /** Of those, the ones holding device memory (a texture on GL modes, a buffer on webgpu). */
  liveTextures: number;
  /** GL textures created minus deleted since the device started (null off GL): GPU.js's own included. */
  glTextures: number | null;
  /** Compiled kernels (one per op and shape). */
  kernels: number;
  /** Kernel launches so far (uploads and fills that need no kernel are not counted). */
  launches: number;
  /** Launches waiting in the device queue (webgpu: behind a shader build); 0 on synchronous modes. */
  queued: number;
}

/**
 * One GPU.js device as the gpu backend sees it: kernels cached by op and shape, uploads, and an
 * honest record of what runs them. `GpuDevice` drives the synchronous modes (GL, webasm, cpu);
 * `WebGpuDevice` drives webgpu behind an asynchronous, in-order queue.
 */
export interface KernelDevice extends GpuStorageOwner {
  readonly requested: GpuModeRequest;
  /** The mode the self-test kernel ran in. */
  readonly mode: GpuMode;
  /** What executes the kernels (the GL driver, the WebGPU adapter, or the host CPU). */
  readonly driver: string;
  /** False when results can only be read back asynchronously (webgpu). */
  readonly readsSync: boolean;
  readonly degraded: readonly DegradedKernel[];
  /** Every mode kernels really ran in, in order of first use ('headlessgl', or e.g. 'headlessgl+cpu'). */
  readonly modeSummary: string;
  stats(): GpuDeviceStats;
  /** Called once per kernel GPU.js ran in a mode other than the device's. */
  setDegradeListener(fn: (d: DegradedKernel) => void): void;
  /** Runs (or enqueues) the kernel `spec` over `inputs`; the result stays on the device. */
  run(spec: SourceSpec, outSize: number, inputs: readonly KernelInput[]): GpuStorage;
  /** Puts host floats on the device; the host array seeds the storage's readback cache. */
  upload(data: Float32Array): GpuStorage;
  fill(size: number, value: number): GpuStorage;
  /**
   * The consecutive parts of `whole` (sizes summing to its size) as storages of their own without a
   * copy — a kernel then writes several results in one launch — and `whole` released; null where the
   * device cannot share its memory that way (the GL modes). On webgpu a part past the first has an
   * `offset` that only kernels declaring it (`SourceSpec.inputOffsets`) read directly.
   */
  split(whole: GpuStorage, sizes: readonly number[]): GpuStorage[] | null;
  /** Resolves when every kernel enqueued so far has run (rejects with a queued kernel's error). */
  ready(): Promise<void>;
}
