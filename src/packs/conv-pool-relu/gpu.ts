import type { MatmulArgs } from '../../kernels/backend.js';
import type { GpuBackend } from '../../kernels/gpu/backend.js';
import type { SourceSpec } from '../../kernels/gpu/elementwise.js';
import { kernelSource, lit, splitIndex } from '../../kernels/gpu/source.js';
import { backend } from '../../kernels/registry.js';
import type { Storage } from '../../tensor/storage.js';
import { reluGradSource } from '../bias-activation/gpu.js';
import { cpuConvPoolRelu } from './cpu.js';
import { convPoolReluKernels, filtersOf, type ConvPoolGeometry, type ConvPoolReluKernels } from './kernels.js';

// Registered under the name 'gpu', so the active backend is a GpuBackend whenever these run.
const gpu = (): GpuBackend => backend() as GpuBackend;

/**
 * conv → max-pool → bias → ReLU as GPU.js kernels: the convolution is the gpu backend's im2col and one
 * batched matmul; one kernel pools, adds the bias and applies ReLU, another records each window's winner
 * (`codes`: dy·pool + dx, first maximum in scan order, NaN wins — the cpu kernel's). The backward
 * scatters each window's ReLU-masked gradient to its winner, then runs the conv's backward (matmuls,
 * col2im) on it; the bias gradient is its sum per filter.
 */

function geoKey(geo: ConvPoolGeometry, filters: number): string {
  return `${geo.inputShape.join('x')}:f${filters}:o${geo.outH}x${geo.outW}:p${geo.pool}`;
}

/** Per pooled output [N, F, pooledH, pooledW] of the conv output [N, F, outH·outW]: relu(max + bias), or the winner's code. */
export function convPoolSource(geo: ConvPoolGeometry, filters: number, withBias: boolean, codes: boolean): SourceSpec {
  const n = geo.inputShape[0]!;
  const { outH, outW, pool, pooledH, pooledW } = geo;
  const finish = codes
    ? 'return code;\n'
    : (withBias ? 'const v = best + b[c1];\n' : 'const v = best;\n') + 'if (v > 0 || v !== v) { return v; }\nreturn 0;\n';
  return {
    key: `convPool${codes ? 'Codes' : withBias ? 'Bias' : 'Values'}:${geoKey(geo, filters)}`,
    source: () =>
      kernelSource(
        withBias && !codes ? ['conv', 'b'] : ['conv'],
        splitIndex('this.thread.x', [n, filters, pooledH, pooledW], 'c') +
          `const corner = (c0 * ${lit(filters)} + c1) * ${lit(outH * outW)} + c2 * ${lit(pool * outW)} + c3 * ${lit(pool)};\n` +
          'let best = conv[corner];\nlet code = 0;\n' +
          `for (let dy = 0; dy < ${lit(pool)}; dy++) {\n` +
          `for (let dx = 0; dx < ${lit(pool)}; dx++) {\n` +
          `const v = conv[corner + dy * ${lit(outW)} + dx];\n` +
          `if (v > best || (v !== v && best === best)) { best = v; code = dy * ${lit(pool)} + dx; }\n` +
          '}\n}\n' +
          finish,
      ),
  };
}

/** The conv output's gradient [N, F, outH·outW]: a window's masked gradient `gp` at its winner, 0 elsewhere (and outside every window). */
export function convPoolScatterSource(geo: ConvPoolGeometry, filters: number): SourceSpec {
  const n = geo.inputShape[0]!;
  const { outH, outW, pool, pooledH, pooledW } = geo;
  const down = (v: string): string => (pool === 1 ? v : `Math.floor(${v} / ${lit(pool)})`);
  return {
    key: `convPoolScatter:${geoKey(geo, filters)}`,
    source: () =>
      kernelSource(
        ['gp', 'codes'],
        splitIndex('this.thread.x', [n * filters, outH, outW], 'c') +
          `const qh = ${down('c1')};\n` +
          `const qw = ${down('c2')};\n` +
          `if (qh >= ${lit(pooledH)} || qw >= ${lit(pooledW)}) { return 0; }\n` +
          `const o = c0 * ${lit(pooledH * pooledW)} + qh * ${lit(pooledW)} + qw;\n` +
          `const code = (c1 - qh * ${lit(pool)}) * ${lit(pool)} + c2 - qw * ${lit(pool)};\n` +
          'if (codes[o] === code) { return gp[o]; }\nreturn 0;\n',
      ),
  };
}

function convShapes(geo: ConvPoolGeometry): { k: number; positions: number; n: number } {
  const [n, c] = geo.inputShape as [number, number];
  return { k: c * geo.kernelH * geo.kernelW, positions: geo.outH * geo.outW, n };
}

export const gpuConvPoolRelu: ConvPoolReluKernels = {
  forward(x, weight, bias, geo) {
    const b = gpu();
    if (b.needsCpu(bias ? [x, weight, bias] : [x, weight])) {
      const r = cpuConvPoolRelu.forward(b.hostOf(x), b.hostOf(weight), bias && b.hostOf(bias), geo);
      return { values: b.fromCpu(r.values), codes: b.fromCpu(r.codes) };
    }
    const f = filtersOf(weight, geo);
    const { k, positions, n } = convShapes(geo);
    const cols = b.im2col(x, geo); // [N, K, P]
    const args: MatmulArgs = { aShape: [f, k], bShape: [n, k, positions], transA: false, transB: false, outShape: [n, f, positions] };
    const conv = b.matmul(weight, cols, args);
    cols.dispose();
    const size = n * f * geo.pooledH * geo.pooledW;
    const values = b.launch(convPoolSource(geo, f, bias !== null, false), size, bias ? [conv, bias] : [conv]);
    const codes = b.launch(convPoolSource(geo, f, false, true), size, [conv]);
    conv.dispose();
    return { values, codes };
  },
  backward(g, values, codes, x, weight, geo, needs) {
    const b = gpu();
    if (b.needsCpu([g, values, codes, x, weight])) {
      const r = cpuConvPoolRelu.backward(b.hostOf(g), b.hostOf(values), b.hostOf(codes), b.hostOf(x), b.hostOf(weight), geo, needs);
      return { x: r.x && b.fromCpu(r.x), weight: r.weight && b.fromCpu(r.weight), bias: r.bias && b.fromCpu(r.bias) };
    }
    const f = filtersOf(weight, geo);
    const { k, positions, n } = convShapes(geo);
    const windows = geo.pooledH * geo.pooledW;
    const gp = b.launch(reluGradSource(g.size), g.size, [g, values]); // the gradient through ReLU, per window
    const bias = needs.bias ? b.reduce('sum', gp, [n, f, windows], [0, 2]) : null;
    let weightGrad: Storage | null = null;
    let xGrad: Storage | null = null;
    if (needs.weight || needs.x) {
      const gconv = b.launch(convPoolScatterSource(geo, f), n * f * positions, [gp, codes]); // [N, F, P]
      if (needs.weight) {
        const cols = b.im2col(x, geo); // [N, K, P]
        const perImage = b.matmul(gconv, cols, { aShape: [n, f, positions], bShape: [n, k, positions], transA: false, transB: true, outShape: [n, f, k] });
        cols.dispose();
        weightGrad = b.reduce('sum', perImage, [n, f * k], [0]);
        perImage.dispose();
      }
      if (needs.x) {
        const colsGrad = b.matmul(weight, gconv, { aShape: [f, k], bShape: [n, f, positions], transA: true, transB: false, outShape: [n, k, positions] });
        xGrad = b.col2im(colsGrad, geo);
        colsGrad.dispose();
      }
      gconv.dispose();
    }
    gp.dispose();
    return { x: xGrad, weight: weightGrad, bias };
  },
};

export function registerConvPoolReluGpuKernels(): void {
  convPoolReluKernels.register('gpu', gpuConvPoolRelu);
}
