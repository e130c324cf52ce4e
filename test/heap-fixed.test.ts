import { describe, expect, it } from 'vitest';
import { configureHeap, heapFloat32, isHeapArray } from '../src/kernels/cpu/heap.js';
import { configureSimdKernels } from '../src/kernels/cpu/simd.js';
import { logSoftmax, Rng, tensor, tidy } from '../src/index.js';

// The kind of heap used where SharedArrayBuffer is missing: a non-shared memory of fixed size
// (never grown, since growing would detach every view). 1 MiB here, so that it fills up.
configureHeap({ shared: false, maxBytes: 2 ** 20 });

describe('fixed (non-shared) heap', () => {
  it('never grows: allocations past its size fall back to ordinary arrays', () => {
    const info = configureHeap();
    expect(info.mode).toBe('fixed');
    const first = heapFloat32(1000)!;
    first[999] = 5;
    const blocks: (Float32Array | null)[] = [];
    for (let i = 0; i < 10; i++) blocks.push(heapFloat32(64 * 1024));
    expect(blocks.some((b) => b === null)).toBe(true);
    expect(configureHeap().bytes).toBe(info.bytes);
    expect(first[999]).toBe(5);
  });

  it('ops give the same results whether their operands are in the heap or not', () => {
    expect(configureSimdKernels().running).toBe('wasm-simd');
    const rng = new Rng(5);
    const x = tensor(Array.from({ length: 64 * 100 }, () => rng.normal()), { shape: [64, 100] });
    const run = (): number[] => tidy(() => Array.from(logSoftmax(x.mul(2).add(x.exp()), -1).sigmoid().toArray()));
    const crowded = run(); // the heap is nearly full: most arrays are ordinary ones
    const viaJs = (() => {
      configureSimdKernels({ simd: false });
      try {
        return run();
      } finally {
        configureSimdKernels({ simd: true });
      }
    })();
    crowded.forEach((v, i) => expect(Math.abs(v - viaJs[i]!)).toBeLessThan(1e-5));
    expect(isHeapArray(new Float32Array(100))).toBe(false);
  });
});
