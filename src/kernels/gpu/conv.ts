import type { Conv2dGeometry, PoolGeometry } from '../backend.js';
import type { SourceSpec } from './elementwise.js';
import { kernelSource, lit, splitIndex } from './source.js';

/**
 * Image kernels, the gpu twins of src/kernels/cpu/conv.ts: im2col and its adjoint col2im (a
 * convolution is im2col then one batched matmul), max pooling and its backward. One thread per output
 * element; window loops have literal bounds. Columns are [N, C·kH·kW, outH·outW], row (c·kH + kh)·kW + kw.
 */

function geoKey(geo: Conv2dGeometry): string {
  return `${geo.inputShape.join('x')}:k${geo.kernelH}x${geo.kernelW}:s${geo.stride}:p${geo.padding}`;
}

/** [N, C, H, W] → columns; 0 where the window covers padding. */
export function im2colSource(geo: Conv2dGeometry): SourceSpec {
  const [n, c, h, w] = geo.inputShape as [number, number, number, number];
  const { kernelH, kernelW, stride, padding, outH, outW } = geo;
  return {
    key: `im2col:${geoKey(geo)}`,
    source: () =>
      kernelSource(
        ['x'],
        splitIndex('this.thread.x', [n, c, kernelH, kernelW, outH, outW], 'c') +
          `const ih = c4 * ${lit(stride)} - ${lit(padding)} + c2;\n` +
          `const iw = c5 * ${lit(stride)} - ${lit(padding)} + c3;\n` +
          `if (ih < 0 || ih >= ${lit(h)} || iw < 0 || iw >= ${lit(w)}) { return 0; }\n` +
          `return x[((c0 * ${lit(c)} + c1) * ${lit(h)} + ih) * ${lit(w)} + iw];\n`,
      ),
  };
}

/**
 * Columns → image: each pixel sums the column entries that read it, over (kh, kw) in order — the
 * order in which the cpu kernel adds them.
 */
export function col2imSource(geo: Conv2dGeometry): SourceSpec {
  const [n, c, h, w] = geo.inputShape as [number, number, number, number];
  const { kernelH, kernelW, stride, padding, outH, outW } = geo;
  const rows = c * kernelH * kernelW;
  const onGrid = (v: string): string => (stride === 1 ? '' : ` && Math.floor(${v} / ${lit(stride)}) * ${lit(stride)} === ${v}`);
  const div = (v: string): string => (stride === 1 ? v : `Math.floor(${v} / ${lit(stride)})`);
  return {
    key: `col2im:${geoKey(geo)}`,
    source: () =>
      kernelSource(
        ['cols'],
        splitIndex('this.thread.x', [n, c, h, w], 'c') +
          'let acc = 0;\n' +
          `for (let kh = 0; kh < ${lit(kernelH)}; kh++) {\n` +
          `const th = c2 + ${lit(padding)} - kh;\n` +
          `if (th >= 0${onGrid('th')}) {\n` +
          `const oh = ${div('th')};\n` +
          `if (oh < ${lit(outH)}) {\n` +
          `for (let kw = 0; kw < ${lit(kernelW)}; kw++) {\n` +
          `const tw = c3 + ${lit(padding)} - kw;\n` +
          `if (tw >= 0${onGrid('tw')}) {\n` +
          `const ow = ${div('tw')};\n` +
          `if (ow < ${lit(outW)}) {\n` +
          `acc += cols[((c0 * ${lit(rows)} + (c1 * ${lit(kernelH)} + kh) * ${lit(kernelW)} + kw) * ${lit(outH)} + oh) * ${lit(outW)} + ow];\n` +
          '}\n}\n}\n}\n}\n}\n' +
          'return acc;\n',
      ),
  };
}

function poolKey(geo: PoolGeometry): string {
  return `${geo.inputShape.join('x')}:k${geo.kernel}:s${geo.stride}`;
}

/**
 * Max pooling: the maximum of each window (`argmax` false) or the flat input index of its first
 * maximum (`argmax` true), scanning as the cpu kernel does; a NaN wins over numbers.
 */
export function maxPoolSource(geo: PoolGeometry, argmax: boolean): SourceSpec {
  const [n, c, h, w] = geo.inputShape as [number, number, number, number];
  const { kernel, stride, outH, outW } = geo;
  return {
    key: `maxPool${argmax ? 'Argmax' : 'Values'}:${poolKey(geo)}`,
    source: () =>
      kernelSource(
        ['x'],
        splitIndex('this.thread.x', [n * c, outH, outW], 'c') +
          `const corner = (c0 * ${lit(h)} + c1 * ${lit(stride)}) * ${lit(w)} + c2 * ${lit(stride)};\n` +
          'let best = x[corner];\nlet at = corner;\n' +
          `for (let kh = 0; kh < ${lit(kernel)}; kh++) {\n` +
          `for (let kw = 0; kw < ${lit(kernel)}; kw++) {\n` +
          `const i = corner + kh * ${lit(w)} + kw;\n` +
          'const v = x[i];\n' +
          'if (v > best || (v !== v && best === best)) { best = v; at = i; }\n' +
          '}\n}\n' +
          (argmax ? 'return at;\n' : 'return best;\n'),
      ),
  };
}

/**
 * Max pooling's backward: each input element sums the gradients of the windows whose maximum it was,
 * windows in increasing output order (the cpu kernel's order of addition).
 */
export function maxPoolBackwardSource(geo: PoolGeometry): SourceSpec {
  const [n, c, h, w] = geo.inputShape as [number, number, number, number];
  const { kernel, stride, outH, outW } = geo;
  // Windows covering a row/column: output positions floor(i/stride) − span + 1 … floor(i/stride), increasing.
  const span = Math.ceil(kernel / stride);
  const spatial = outH * outW;
  const down = (v: string): string => (stride === 1 ? v : `Math.floor(${v} / ${lit(stride)})`);
  return {
    key: `maxPoolBackward:${poolKey(geo)}`,
    source: () =>
      kernelSource(
        ['g', 'argmax'],
        splitIndex('this.thread.x', [n * c, h, w], 'c') +
          `const ohTop = ${down('c1')};\n` +
          `const owTop = ${down('c2')};\n` +
          `const me = (c0 * ${lit(h)} + c1) * ${lit(w)} + c2;\n` +
          'let acc = 0;\n' +
          `for (let dh = 0; dh < ${lit(span)}; dh++) {\n` +
          `const oh = ohTop - ${lit(span - 1)} + dh;\n` +
          `if (oh >= 0 && oh < ${lit(outH)} && oh * ${lit(stride)} + ${lit(kernel)} > c1) {\n` +
          `for (let dw = 0; dw < ${lit(span)}; dw++) {\n` +
          `const ow = owTop - ${lit(span - 1)} + dw;\n` +
          `if (ow >= 0 && ow < ${lit(outW)} && ow * ${lit(stride)} + ${lit(kernel)} > c2) {\n` +
          `const o = c0 * ${lit(spatial)} + oh * ${lit(outW)} + ow;\n` +
          'if (argmax[o] === me) { acc += g[o]; }\n' +
          '}\n}\n}\n}\n' +
          'return acc;\n',
      ),
  };
}
