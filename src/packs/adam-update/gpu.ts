import type { GpuBackend } from '../../kernels/gpu/backend.js';
import type { SourceSpec } from '../../kernels/gpu/elementwise.js';
import { kernelSource } from '../../kernels/gpu/source.js';
import { backend } from '../../kernels/registry.js';
import { cpuAdamUpdate } from './cpu.js';
import { adamUpdateKernels, type AdamUpdateKernels } from './kernels.js';

// Registered under the name 'gpu', so the active backend is a GpuBackend whenever these run.
const gpu = (): GpuBackend => backend() as GpuBackend;

type AdamOutput = 'param' | 'm' | 'v';

/**
 * The whole Adam/AdamW update of one element (cpu.ts's formulation), returning the new parameter,
 * m or v. GPU.js kernels have one output (webgpu has no kernel maps), so a step is three launches of
 * this one source — against about fifteen launches of the generic composition. The step-dependent
 * factors are uniforms: one compiled kernel serves every step.
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
    const run = (output: AdamOutput) => b.launch(adamSource(param.size, output), param.size, [param, grad, m, v, ...uniforms]);
    return { param: run('param'), m: run('m'), v: run('v') };
  },
};

export function registerAdamUpdateGpuKernels(): void {
  adamUpdateKernels.register('gpu', gpuAdamUpdate);
}
