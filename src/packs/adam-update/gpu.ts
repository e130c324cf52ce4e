import type { GpuBackend } from '../../kernels/gpu/backend.js';
import type { SourceSpec } from '../../kernels/gpu/elementwise.js';
import { kernelSource, lit } from '../../kernels/gpu/source.js';
import { GpuStorage } from '../../kernels/gpu/storage.js';
import { backend } from '../../kernels/registry.js';
import { cpuAdamUpdate } from './cpu.js';
import { adamUpdateKernels, type AdamUpdateKernels } from './kernels.js';

// Registered under the name 'gpu', so the active backend is a GpuBackend whenever these run.
const gpu = (): GpuBackend => backend() as GpuBackend;

type AdamOutput = 'param' | 'm' | 'v';

/**
 * The whole Adam/AdamW update of one element (cpu.ts's formulation), returning the new parameter,
 * m or v: a step is three launches of this one source on the GL modes (GPU.js kernels have one output
 * and a GL texture cannot be shared between results), one launch of `adamFusedSource` elsewhere —
 * against about fifteen launches of the generic composition. The step-dependent factors are
 * uniforms: one compiled kernel serves every step.
 */
export function adamSource(size: number, output: AdamOutput): SourceSpec {
  const ret = output === 'param' ? 'return p * shrink - (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + eps);\n' : output === 'm' ? 'return mi;\n' : 'return vi;\n';
  return {
    key: `adam:${output}:${size}`,
    source: () =>
      kernelSource(
        ['param', 'grad', 'm', 'v', 'beta1', 'beta2', 'c1', 'c2', 'l2', 'shrink', 'stepSize', 'invSqrtBc2', 'eps'],
        'const p = param[this.thread.x];\n' +
          'const gi = grad[this.thread.x] + l2 * p;\n' +
          'const mi = beta1 * m[this.thread.x] + c1 * gi;\n' +
          'const vi = beta2 * v[this.thread.x] + c2 * gi * gi;\n' +
          ret,
      ),
  };
}

/**
 * The whole step in one launch: thread t < n writes the new parameter, n ≤ t < 2n the new m,
 * 2n ≤ t < 3n the new v, each computing element t mod n's update. The result is split into three
 * storages sharing the buffer; m and v then sit at offsets n and 2n of it, which the next step's
 * kernel reads directly (`offsets`: where param, m and v start in their buffers).
 */
export function adamFusedSource(size: number, offsets: readonly [number, number, number]): SourceSpec {
  const [op, om, ov] = offsets.map(lit) as [string, string, string];
  return {
    key: `adamFused:${size}:${offsets.join(',')}`,
    inputOffsets: [offsets[0], 0, offsets[1], offsets[2]],
    source: () =>
      kernelSource(
        ['param', 'grad', 'm', 'v', 'beta1', 'beta2', 'c1', 'c2', 'l2', 'shrink', 'stepSize', 'invSqrtBc2', 'eps'],
        `const part = this.thread.x >= ${lit(2 * size)} ? 2 : (this.thread.x >= ${lit(size)} ? 1 : 0);\n` +
          `const i = this.thread.x - part * ${lit(size)};\n` +
          `const p = param[${op} + i];\n` +
          'const gi = grad[i] + l2 * p;\n' +
          `const mi = beta1 * m[${om} + i] + c1 * gi;\n` +
          `const vi = beta2 * v[${ov} + i] + c2 * gi * gi;\n` +
          'if (part === 0) { return p * shrink - (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + eps); }\n' +
          'if (part === 1) { return mi; }\n' +
          'return vi;\n',
      ),
  };
}

export const gpuAdamUpdate: AdamUpdateKernels = {
  update(param, grad, m, v, args) {
    const b = gpu();
    if (b.needsCpu([param, grad, m, v])) {
      const r = cpuAdamUpdate.update(b.hostOf(param), b.hostOf(grad), b.hostOf(m), b.hostOf(v), args);
      return { param: b.fromCpu(r.param), m: b.fromCpu(r.m), v: b.fromCpu(r.v) };
    }
    const { lr, beta1, beta2, eps, weightDecay, decoupled, step } = args;
    const uniforms = [
      beta1,
      beta2,
      1 - beta1,
      1 - beta2,
      decoupled ? 0 : weightDecay,
      decoupled ? 1 - lr * weightDecay : 1,
      lr / (1 - beta1 ** step),
      1 / Math.sqrt(1 - beta2 ** step),
      eps,
    ];
    const n = param.size;
    if (b.splits) {
      const offsets = [param, m, v].map((s) => (s instanceof GpuStorage ? s.offset : 0)) as [number, number, number];
      const whole = b.launch(adamFusedSource(n, offsets), 3 * n, [param, grad, m, v, ...uniforms]);
      const [p, mNew, vNew] = b.split(whole, [n, n, n])!;
      return { param: p!, m: mNew!, v: vNew! };
    }
    // GL textures cannot be shared between results: one launch per result.
    const run = (output: AdamOutput) => b.launch(adamSource(n, output), n, [param, grad, m, v, ...uniforms]);
    return { param: run('param'), m: run('m'), v: run('v') };
  },
};

export function registerAdamUpdateGpuKernels(): void {
  adamUpdateKernels.register('gpu', gpuAdamUpdate);
}
