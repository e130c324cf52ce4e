import { backend } from '../../kernels/registry.js';
import type { GpuBackend } from '../../kernels/gpu/backend.js';
import { cpuConvPoolRelu } from './cpu.js';
import { convPoolReluKernels, type ConvPoolReluKernels } from './kernels.js';

// Registered under the name 'gpu', so the active backend is a GpuBackend whenever these run.
const gpu = (): GpuBackend => backend() as GpuBackend;

/** No GPU.js kernel yet: the cpu kernels run on read-back data, announced and listed by the gpu backend. */
export const gpuConvPoolRelu: ConvPoolReluKernels = {
  forward(x, weight, bias, geo) {
    const [values, codes] = gpu().runOnCpu('convPoolRelu', bias ? [x, weight, bias] : [x, weight], ([hx, hw, hb]) => {
      const r = cpuConvPoolRelu.forward(hx!, hw!, hb ?? null, geo);
      return [r.values, r.codes];
    });
    return { values: values!, codes: codes! };
  },
  backward(g, values, codes, x, weight, geo, needs) {
    const [gx, gw, gb] = gpu().runOnCpu('convPoolReluBackward', [g, values, codes, x, weight], ([hg, hv, hc, hx, hw]) => {
      const r = cpuConvPoolRelu.backward(hg!, hv!, hc!, hx!, hw!, geo, needs);
      return [r.x, r.weight, r.bias];
    });
    return { x: gx ?? null, weight: gw ?? null, bias: gb ?? null };
  },
};

export function registerConvPoolReluGpuKernels(): void {
  convPoolReluKernels.register('gpu', gpuConvPoolRelu);
}
