import type { GpuBackend } from '../../kernels/gpu/backend.js';
import type { SourceSpec } from '../../kernels/gpu/elementwise.js';
import { kernelSource, splitIndex } from '../../kernels/gpu/source.js';
import { backend } from '../../kernels/registry.js';
import type { Shape } from '../../tensor/shape.js';
import { cpuBiasActivation } from './cpu.js';
import { biasActivationKernels, type BiasActivationKernels } from './kernels.js';

// Registered under the name 'gpu', so the active backend is a GpuBackend whenever these run.
const gpu = (): GpuBackend => backend() as GpuBackend;

/** activation(x + bias[col]) over [rows, cols] in one kernel (ReLU as the gpu's unary relu: v > 0 ? v : 0). */
export function biasActivationSource(rows: number, cols: number, relu: boolean): SourceSpec {
  return {
    key: `biasActivation:${relu ? 'relu' : 'identity'}:${rows}x${cols}`,
    source: () =>
      kernelSource(
        ['x', 'b'],
        splitIndex('this.thread.x', [rows, cols], 'c') + 'const v = x[this.thread.x] + b[c1];\n' + (relu ? 'return v > 0 ? v : 0;\n' : 'return v;\n'),
      ),
  };
}

/** g · [y > 0] (ReLU's backward from its output), NaN·0 = NaN as on the cpu. */
export function reluGradSource(size: number): SourceSpec {
  return {
    key: `reluGrad:${size}`,
    source: () => kernelSource(['g', 'y'], `const m = y[this.thread.x] > 0 ? 1 : 0;\nreturn g[this.thread.x] * m;\n`),
  };
}

function lastDim(shape: Shape): number {
  return shape.length > 0 ? shape[shape.length - 1]! : 1;
}

/** The bias + activation epilogue and its backward as GPU.js kernels: one launch forward, two backward (gx, then its row sum). */
export const gpuBiasActivation: BiasActivationKernels = {
  forward(x, shape, bias, activation) {
    const b = gpu();
    if (b.needsCpu(bias ? [x, bias] : [x])) return b.fromCpu(cpuBiasActivation.forward(b.hostOf(x), shape, bias && b.hostOf(bias), activation));
    if (!bias) return biasActivationKernels.genericOn(b).forward(x, shape, null, activation);
    const cols = lastDim(shape);
    return b.launch(biasActivationSource(x.size / cols, cols, activation === 'relu'), x.size, [x, bias]);
  },
  backward(activation, g, y, shape, withBias) {
    const b = gpu();
    if (activation !== 'relu') return biasActivationKernels.genericOn(b).backward(activation, g, y, shape, withBias);
    if (b.needsCpu([g, y])) {
      const r = cpuBiasActivation.backward(activation, b.hostOf(g), b.hostOf(y), shape, withBias);
      return { x: b.fromCpu(r.x), bias: r.bias && b.fromCpu(r.bias) };
    }
    const x = b.launch(reluGradSource(g.size), g.size, [g, y]);
    const rowAxes = shape.map((_, i) => i).slice(0, -1);
    return { x, bias: withBias ? b.reduce('sum', x, shape, rowAxes) : null };
  },
};

export function registerBiasActivationGpuKernels(): void {
  biasActivationKernels.register('gpu', gpuBiasActivation);
}
