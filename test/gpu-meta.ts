/**
 * The GPU.js mode a gpu test declares it needs ('auto': whatever GPU.js picks; nothing mode-specific
 * asserted; 'webgl2', 'webgpu': in Chromium, the browser tests).
 */
export type GpuTestMode = 'headlessgl' | 'webasm' | 'cpu' | 'auto' | 'webgl2' | 'webgpu';

/** What `needGpuMode` (gpu-helpers.ts) records on a test for the summary reporter (gpu-mode-summary.ts). */
export interface GpuTestMeta {
  needs: GpuTestMode[];
  /** The modes GPU.js really ran for it. */
  ran: string[];
  /** Why it was skipped, when it was. */
  skipped?: string;
}

declare module 'vitest' {
  interface TaskMeta {
    gpu?: GpuTestMeta;
  }
}
