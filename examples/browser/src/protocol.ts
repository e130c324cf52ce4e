import type { DemoSettings } from './settings.js';
import type { GpuModeRequest } from 'dselect-k/gpu';

/** Messages between the page and the training worker (structured-clone friendly: plain data only). */

/** The WebGPU adapter as the gpu backend reports it (`getBackend().adapter`). */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The adapter's own flag: a fallback adapter is a software implementation (SwiftShader in Chromium). */
  isFallbackAdapter: boolean | null;
  /** A CPU implementation (fallback adapter, SwiftShader, llvmpipe…): never called a GPU. */
  software: boolean;
}

/** What `getBackend()` said, with the gpu backend's extra fields when it is the gpu backend. */
export interface BackendReport {
  name: string;
  /** The GPU.js mode(s) that really ran kernels ('cpu' for the cpu backend). */
  mode: string;
  kernels?: string;
  requestedMode?: string;
  /** What executes the kernels (the WebGL renderer, the WebGPU adapter, or the host CPU). */
  device?: string;
  /** On webgpu: the adapter; null on the other gpu modes. */
  adapter?: AdapterReport | null;
  /** False on webgpu: results are read back asynchronously only. */
  readsSync: boolean;
  fallbacks: readonly string[];
  fallbacksUsed?: readonly string[];
  /** Kernels GPU.js ran in another mode than asked. */
  degraded?: readonly { kernel: string; mode: string; reason: string }[];
}

export interface GateSnapshot {
  /** Mean weight of each expert (the weight vector itself for a static gate). */
  weights: number[];
  /** DSelect-k: fraction of single-expert selectors that are exactly one-hot; null for other gates. */
  binarySelectors: number | null;
  /** Experts with a non-zero weight, by decreasing weight. */
  selected: number[];
}

export interface EpochReport {
  epoch: number;
  /** Mean task loss Σ_t L_t over the epoch's rows. */
  loss: number;
  taskLosses: number[];
  regularization: number;
  validationLoss: number;
  validationTaskLosses: number[];
  seconds: number;
}

export type ToWorker =
  | { type: 'train'; settings: DemoSettings }
  | { type: 'probe'; modes: readonly GpuModeRequest[] };

export interface ProbeResult {
  mode: GpuModeRequest;
  backend: BackendReport | null;
  error: string | null;
}

export type FromWorker =
  /** `readEvery`: steps whose losses stay on the device before one readback (0: every step read at once). */
  | { type: 'started'; backend: BackendReport; taskGroups: number[]; batches: number; readEvery: number; setupSeconds: number }
  /** Objective (losses + regularisers) of one training step; `at` is the epoch position (epoch + batch / batches). */
  | { type: 'step'; at: number; objective: number }
  | { type: 'gates'; at: number; gates: GateSnapshot[] }
  | { type: 'epoch'; report: EpochReport; backend: BackendReport }
  | { type: 'done'; epochs: number; seconds: number; backend: BackendReport; gates: GateSnapshot[] }
  | { type: 'probe'; results: ProbeResult[] }
  | { type: 'error'; message: string };
