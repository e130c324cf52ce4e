import { describe, expect, it } from 'vitest';
import type { Conv2dGeometry, PoolGeometry } from '../src/kernels/backend.js';
import { col2imInto, im2colInto, maxPool2dBackwardInto, maxPool2dInto } from '../src/kernels/cpu/conv.js';
import { col2imWasm, im2colWasm, maxPool2dBackwardWasm, maxPool2dWasm } from '../src/kernels/cpu/conv-layout-wasm.js';
import { convWasmAvailable } from '../src/packs/conv-pool-relu/wasm.js';
import { Rng } from '../src/index.js';

/**
 * The generic image kernels (im2col, col2im, max-pool and its backward) on WebAssembly against the
 * JS kernels of conv.ts: the same loops in the same order, so the results must be identical, on
 * random data with NaNs and ties, for odd geometries.
 */
function conv(n: number, c: number, h: number, w: number, kh: number, kw: number, stride: number, padding: number): Conv2dGeometry {
  return { inputShape: [n, c, h, w], kernelH: kh, kernelW: kw, stride, padding, outH: Math.floor((h + 2 * padding - kh) / stride) + 1, outW: Math.floor((w + 2 * padding - kw) / stride) + 1 };
}

function pool(n: number, c: number, h: number, w: number, kernel: number, stride: number): PoolGeometry {
  return { inputShape: [n, c, h, w], kernel, stride, outH: Math.floor((h - kernel) / stride) + 1, outW: Math.floor((w - kernel) / stride) + 1 };
}

function data(seed: number, n: number, withNaN = false): Float32Array {
  const rng = new Rng(seed);
  // Quarter steps: ties are frequent, sums are exact.
  const a = Float32Array.from({ length: n }, () => Math.floor(rng.uniform() * 9 - 4) / 4);
  if (withNaN) a[Math.floor(n / 3)] = NaN;
  return a;
}

const same = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]) || (Number.isNaN(v) && Number.isNaN(b[i])));

const CONVS: [string, Conv2dGeometry][] = [
  ['5×5 on 36×36 (the CNN expert)', conv(2, 1, 36, 36, 5, 5, 1, 0)],
  ['3×3 stride 2 padding 1, non-square', conv(2, 3, 9, 7, 3, 3, 2, 1)],
  ['1×1', conv(1, 5, 4, 6, 1, 1, 1, 0)],
  ['2×3 stride 3 padding 2', conv(1, 2, 7, 11, 2, 3, 3, 2)],
  ['kernel as large as the padded input', conv(1, 2, 3, 3, 5, 4, 1, 1)],
];

const POOLS: [string, PoolGeometry][] = [
  ['2×2 of odd sizes', pool(2, 3, 5, 7, 2, 2)],
  ['3×3 stride 2 (overlapping)', pool(1, 2, 7, 9, 3, 2)],
  ['2×2 stride 1', pool(2, 1, 4, 5, 2, 1)],
];

describe.runIf(convWasmAvailable())('generic image kernels: WebAssembly against the JS kernels', () => {
  for (const [name, geo] of CONVS) {
    it(`im2col and col2im are identical: ${name}`, () => {
      const [n, c, h, w] = geo.inputShape as [number, number, number, number];
      const x = data(1, n * c * h * w, true);
      const colsLength = n * c * geo.kernelH * geo.kernelW * geo.outH * geo.outW;
      const [js, wasm] = [new Float32Array(colsLength), new Float32Array(colsLength).fill(9)];
      im2colInto(x, geo, js);
      expect(im2colWasm(x, geo, wasm)).toBe(true);
      expect(same(wasm, js)).toBe(true);
      const cols = data(2, colsLength);
      const [back, backWasm] = [new Float32Array(x.length), new Float32Array(x.length).fill(9)];
      col2imInto(cols, geo, back);
      expect(col2imWasm(cols, geo, backWasm)).toBe(true);
      expect(same(backWasm, back)).toBe(true);
    });
  }

  for (const [name, geo] of POOLS) {
    it(`max-pool and its backward are identical (first maximum, NaN wins): ${name}`, () => {
      const [n, c, h, w] = geo.inputShape as [number, number, number, number];
      const x = data(3, n * c * h * w, true);
      const outputs = n * c * geo.outH * geo.outW;
      const js = [new Float32Array(outputs), new Float32Array(outputs)] as const;
      const wasm = [new Float32Array(outputs), new Float32Array(outputs)] as const;
      maxPool2dInto(x, geo, ...js);
      expect(maxPool2dWasm(x, geo, ...wasm)).toBe(true);
      expect(same(wasm[0], js[0])).toBe(true);
      expect(wasm[1]).toEqual(js[1]);
      const g = data(4, outputs);
      const [back, backWasm] = [new Float32Array(x.length), new Float32Array(x.length).fill(9)];
      maxPool2dBackwardInto(g, js[1], geo, back);
      expect(maxPool2dBackwardWasm(g, js[1], backWasm)).toBe(true);
      expect(backWasm).toEqual(back);
    });
  }
});
