import { afterAll, describe, expect, it } from 'vitest';
import type { ConvPoolGeometry } from '../src/packs/conv-pool-relu/kernels.js';
import { convPoolReluBackwardInto, convPoolReluInto } from '../src/packs/conv-pool-relu/cpu-reference.js';
import { convPoolReluBackwardWasm, convPoolReluWasm, convWasmAvailable, shutdownConvWorkers, type ConvForwardMethod } from '../src/packs/conv-pool-relu/wasm.js';
import { configureMatmul } from '../src/kernels/cpu/matmul-config.js';
import { useWorkerThreads } from '../src/node/worker-threads.js';
import { heapFloat32 } from '../src/kernels/cpu/heap.js';
import { add, concat, conv2d, conv2dPoolRelu, maxPool2d, mul, relu, reshape, Rng, slice, sum, tensor, type Tensor } from '../src/index.js';

/**
 * The fused conv → max-pool → bias → ReLU layer: its WebAssembly SIMD kernels against the JS
 * reference kernels, and the op against the unfused ops. Two kinds of data:
 *  - "dyadic": small integers times powers of two, so every product and sum is exact in float32 and
 *    the order of summation cannot matter: the kernels must agree bit for bit, window codes (ties
 *    included: small integers tie often) and gradients too;
 *  - normal random data: agreement to float32 rounding, |a − b| ≤ TOL·(1 + |b|).
 * The Winograd forward (3×3 and 5×5 kernels) rounds differently by construction (its transforms
 * carry fractions like 1/6): it is held to the tolerance on both kinds of data, and its window codes
 * to the reference's wherever the window's two largest values are further apart than that.
 */
const TOL = 1e-4;

interface Case {
  name: string;
  n: number;
  c: number;
  h: number;
  w: number;
  f: number;
  kh: number;
  kw: number;
  pad: number;
  /** Grouped conv (default 1): weight [f, c/groups, kh, kw]. */
  groups?: number;
}

// The CNN expert's two layers, then odd shapes: padding, non-square, 1×1 / 2×6 / 3×3 / 9-wide kernels
// (every vector-per-row variant of the input-gradient kernel), filters not a multiple of the 5-filter
// tile, channels not a multiple of 4, odd pooled widths (the compacting path), batch 1.
const CASES: readonly Case[] = [
  { name: 'expert conv1 (1→10, 5×5, 36×36)', n: 3, c: 1, h: 36, w: 36, f: 10, kh: 5, kw: 5, pad: 0 },
  { name: 'expert conv2 (10→20, 5×5, 16×16)', n: 2, c: 10, h: 16, w: 16, f: 20, kh: 5, kw: 5, pad: 0 },
  { name: '3×3 padding 1, non-square 9×7, 4 filters', n: 1, c: 3, h: 9, w: 7, f: 4, kh: 3, kw: 3, pad: 1 },
  { name: '1×1 kernel, 7 filters', n: 2, c: 6, h: 5, w: 8, f: 7, kh: 1, kw: 1, pad: 0 },
  { name: 'odd pooled width (11×13 → 4×5), 12 filters', n: 1, c: 2, h: 11, w: 13, f: 12, kh: 3, kw: 3, pad: 0 },
  { name: '2×6 kernel, padding 2', n: 1, c: 3, h: 10, w: 12, f: 3, kh: 2, kw: 6, pad: 2 },
  { name: '3×9 kernel (3 vectors per row), 1 filter', n: 2, c: 2, h: 14, w: 20, f: 1, kh: 3, kw: 9, pad: 0 },
  { name: '2×13 kernel (4 vectors per row), padding 1', n: 1, c: 5, h: 6, w: 17, f: 6, kh: 2, kw: 13, pad: 1 },
  // Grouped: the batched CNN experts' second layer (4 experts of 10 → 20), and odd groups (padding, a
  // filter tile that straddles nothing, the compacting path with padded filter tiles per group).
  { name: 'grouped: 4 experts of 10→20, 5×5, 16×16', n: 3, c: 40, h: 16, w: 16, f: 80, kh: 5, kw: 5, pad: 0, groups: 4 },
  { name: 'grouped: 3 groups of 2→3, 3×3, padding 1, 9×11', n: 2, c: 6, h: 9, w: 11, f: 9, kh: 3, kw: 3, pad: 1, groups: 3 },
  { name: 'grouped: 2 groups of 5→7, 5×5, odd pooled width', n: 5, c: 10, h: 12, w: 15, f: 14, kh: 5, kw: 5, pad: 0, groups: 2 },
];

function geometry(k: Case, pool = 2, stride = 1): ConvPoolGeometry {
  const outH = Math.floor((k.h + 2 * k.pad - k.kh) / stride) + 1;
  const outW = Math.floor((k.w + 2 * k.pad - k.kw) / stride) + 1;
  return {
    inputShape: [k.n, k.c, k.h, k.w],
    kernelH: k.kh,
    kernelW: k.kw,
    stride,
    padding: k.pad,
    outH,
    outW,
    pool,
    pooledH: Math.floor(outH / pool),
    pooledW: Math.floor(outW / pool),
    groups: k.groups ?? 1,
  };
}

/** Integers in [−range, range] times `scale` (a power of two): exact float32 arithmetic. */
function dyadic(rng: Rng, n: number, range: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => (Math.floor(rng.uniform() * (2 * range + 1)) - range) * scale);
}

function normal(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

interface Layer {
  x: Float32Array;
  w: Float32Array;
  b: Float32Array;
  g: Float32Array;
  geo: ConvPoolGeometry;
  outputs: number;
}

function layer(k: Case, data: 'dyadic' | 'normal', seed: number): Layer {
  const rng = new Rng(seed);
  const geo = geometry(k);
  const outputs = k.n * k.f * geo.pooledH * geo.pooledW;
  const make = (n: number, range: number, scale: number): Float32Array => (data === 'dyadic' ? dyadic(rng, n, range, scale) : normal(rng, n));
  return { x: make(k.n * k.c * k.h * k.w, 3, 1), w: make((k.f * k.c * k.kh * k.kw) / (k.groups ?? 1), 4, 1 / 8), b: make(k.f, 4, 1 / 4), g: make(outputs, 4, 1 / 8), geo, outputs };
}

/** Threads the last SIMD call ran on. */
let threadsRan: number | false = false;

function forwardBoth(l: Layer, method: ConvForwardMethod = 'direct'): { js: [Float32Array, Float32Array]; wasm: [Float32Array, Float32Array] } {
  const js: [Float32Array, Float32Array] = [new Float32Array(l.outputs), new Float32Array(l.outputs)];
  const wasm: [Float32Array, Float32Array] = [new Float32Array(l.outputs), new Float32Array(l.outputs)];
  convPoolReluInto(l.x, l.w, l.b, l.geo, ...js);
  threadsRan = convPoolReluWasm(l.x, l.w, l.b, l.geo, ...wasm, method);
  expect(threadsRan).not.toBe(false);
  return { js, wasm };
}

interface Grads {
  x: Float32Array;
  weight: Float32Array;
  bias: Float32Array;
}

function backwardBoth(l: Layer, values: Float32Array, codes: Float32Array): { js: Grads; wasm: Grads } {
  const make = (): Grads => ({ x: new Float32Array(l.x.length), weight: new Float32Array(l.w.length), bias: new Float32Array(l.b.length) });
  const js = make();
  const wasm = make();
  convPoolReluBackwardInto(l.g, values, codes, l.x, l.w, l.geo, js);
  threadsRan = convPoolReluBackwardWasm(l.g, values, codes, l.x, l.w, l.geo, wasm);
  expect(threadsRan).not.toBe(false);
  return { js, wasm };
}

/** The four conv outputs (pre-pool, bias added) of every window, in the layer's output order, in float64. */
function convOutputs(l: Layer): number[][] {
  const [n, c, h, w] = l.geo.inputShape as [number, number, number, number];
  const { kernelH: kh, kernelW: kw, padding: pad, pooledH, pooledW } = l.geo;
  const f = l.b.length;
  const at = (img: number, ch: number, y: number, x: number): number => (y < 0 || y >= h || x < 0 || x >= w ? 0 : l.x[((img * c + ch) * h + y) * w + x]!);
  const out: number[][] = [];
  for (let img = 0; img < n; img++) {
    for (let fi = 0; fi < f; fi++) {
      for (let qh = 0; qh < pooledH; qh++) {
        for (let qw = 0; qw < pooledW; qw++) {
          const window: number[] = [];
          for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
            let s = l.b[fi]!;
            // Filter fi sees its group's channels only.
            const cg = c / (l.geo.groups ?? 1);
            const first = Math.floor(fi / (f / (l.geo.groups ?? 1))) * cg;
            for (let ch = 0; ch < cg; ch++) {
              for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) s += l.w[((fi * cg + ch) * kh + y) * kw + x]! * at(img, first + ch, 2 * qh + dy + y - pad, 2 * qw + dx + x - pad);
            }
            window.push(s);
          }
          out.push(window);
        }
      }
    }
  }
  return out;
}

function expectClose(actual: Float32Array, expected: Float32Array, what: string): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i]!, expected[i]!];
    if (!(Math.abs(a - e) <= TOL * (1 + Math.abs(e)))) expect.fail(`${what}[${i}] = ${a}, reference ${e}`);
  }
}

describe.runIf(convWasmAvailable())('conv → max-pool 2 → bias → ReLU: SIMD kernels against the JS reference', () => {
  for (const [i, k] of CASES.entries()) {
    it(`bit for bit on exact (dyadic) data: ${k.name}`, () => {
      const l = layer(k, 'dyadic', 100 + i);
      const { js, wasm } = forwardBoth(l);
      expect(wasm[0]).toEqual(js[0]);
      expect(wasm[1]).toEqual(js[1]);
      // Ties happen and are broken the same way (first maximum in scan order).
      expect(new Set(js[1]).size).toBeGreaterThan(1);
      const grads = backwardBoth(l, ...js);
      expect(grads.wasm).toEqual(grads.js);
    });

    it(`within float32 rounding on normal data: ${k.name}`, () => {
      const l = layer(k, 'normal', 200 + i);
      const { js, wasm } = forwardBoth(l);
      expectClose(wasm[0], js[0], 'values');
      // The backward gets the same window codes, so it must agree whatever the forward's near-ties did.
      const grads = backwardBoth(l, ...js);
      expectClose(grads.wasm.x, grads.js.x, 'dx');
      expectClose(grads.wasm.weight, grads.js.weight, 'dw');
      expectClose(grads.wasm.bias, grads.js.bias, 'db');
    });
  }

  it('takes the first NaN of a window as its maximum and keeps it through the ReLU, like maxPool2d and relu', () => {
    const l = layer(CASES[2]!, 'dyadic', 300);
    l.x[17] = NaN;
    const { js, wasm } = forwardBoth(l);
    expect(js[0].some(Number.isNaN)).toBe(true);
    expect(Array.from(wasm[0], (v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual(Array.from(js[0], (v) => (Number.isNaN(v) ? 'NaN' : v)));
    expect(wasm[1]).toEqual(js[1]);
  });

  it('computes only the gradients asked for', () => {
    const l = layer(CASES[1]!, 'dyadic', 301);
    const { js } = forwardBoth(l);
    const weight = new Float32Array(l.w.length);
    expect(convPoolReluBackwardWasm(l.g, js[0], js[1], l.x, l.w, l.geo, { x: null, weight, bias: null })).toBe(1);
    expect(weight).toEqual(backwardBoth(l, ...js).js.weight);
  });

  for (const [i, k] of CASES.entries()) {
    if (k.kh !== k.kw || (k.kh !== 3 && k.kh !== 5)) continue;
    it(`Winograd F(2×2, ${k.kh}×${k.kh}) forward within tolerance: ${k.name}`, () => {
      for (const data of ['normal', 'dyadic'] as const) {
        const l = layer(k, data, 500 + i);
        const { js, wasm } = forwardBoth(l, 'winograd');
        expectClose(wasm[0], js[0], `values (${data})`);
        const conv = convOutputs(l);
        let compared = 0;
        for (let o = 0; o < l.outputs; o++) {
          const [top, second] = [...conv[o]!].sort((a, b) => b - a);
          if (top! - second! > TOL * (1 + Math.abs(top!))) {
            compared++;
            if (wasm[1][o] !== js[1][o]) expect.fail(`code[${o}] = ${wasm[1][o]}, reference ${js[1][o]} (window ${conv[o]!.join(', ')})`);
          }
        }
        expect(compared).toBeGreaterThan(l.outputs / 2);
      }
    });
  }

  it('declines geometries it has no kernel for (stride 2, pool 3; Winograd for a 2×6 kernel), touching nothing', () => {
    const k = CASES[0]!;
    const l = layer(k, 'dyadic', 302);
    const cases: [ConvPoolGeometry, Layer, ConvForwardMethod][] = [
      [geometry(k, 2, 2), l, 'auto'],
      [geometry(k, 3), l, 'auto'],
      [geometry(CASES[5]!), layer(CASES[5]!, 'dyadic', 303), 'winograd'],
    ];
    for (const [geo, data, method] of cases) {
      const out = new Float32Array(data.outputs).fill(7);
      expect(convPoolReluWasm(data.x, data.w, data.b, geo, out, out, method)).toBe(false);
      expect(out.every((v) => v === 7)).toBe(true);
    }
  });

  // Tensors live in the heap, where the kernels read and write them in place (the arrays above are
  // ordinary ones, which they copy): same results bit for bit, and nothing written outside the outputs.
  const heapCases: readonly Case[] = [...CASES, { ...CASES[1]!, name: 'expert conv2, 8 images (Winograd lanes in place)', n: 8 }, { ...CASES[2]!, name: '3×3 padding 1, 4 images', n: 4 }];
  for (const [i, k] of heapCases.entries()) {
    it(`gives the same results with its operands in the heap: ${k.name}`, () => {
      const l = layer(k, 'normal', 600 + i);
      const onHeap = (a: Float32Array): Float32Array => {
        const h = heapFloat32(a.length);
        if (!h) throw new Error('no heap');
        h.set(a);
        return h;
      };
      const guarded = (n: number): { a: Float32Array; guard: Float32Array } => ({ a: onHeap(new Float32Array(n).fill(3)), guard: onHeap(new Float32Array(64).fill(7)) });
      const methods: ConvForwardMethod[] = k.kh === k.kw && (k.kh === 3 || k.kh === 5) ? ['direct', 'winograd'] : ['direct'];
      for (const method of methods) {
        const plain = forwardBoth(l, method).wasm;
        const [values, codes] = [guarded(l.outputs), guarded(l.outputs)];
        expect(convPoolReluWasm(onHeap(l.x), onHeap(l.w), onHeap(l.b), l.geo, values.a, codes.a, method)).not.toBe(false);
        expect(values.a).toEqual(plain[0]);
        expect(codes.a).toEqual(plain[1]);
        for (const { guard } of [values, codes]) expect(guard.every((v) => v === 7)).toBe(true);
      }
      const { js } = forwardBoth(l);
      const plain = backwardBoth(l, ...js).wasm;
      const grads = { x: guarded(l.x.length), weight: guarded(l.w.length), bias: guarded(l.b.length) };
      const out = { x: grads.x.a, weight: grads.weight.a, bias: grads.bias.a };
      expect(convPoolReluBackwardWasm(onHeap(l.g), onHeap(js[0]), onHeap(js[1]), onHeap(l.x), onHeap(l.w), l.geo, out)).not.toBe(false);
      expect(out).toEqual(plain);
      for (const { guard } of Object.values(grads)) expect(guard.every((v) => v === 7)).toBe(true);
    });
  }

  describe('on two threads (worker_threads over a shared memory)', () => {
    afterAll(() => {
      configureMatmul({ threads: 1 });
      shutdownConvWorkers();
    });

    it('splits the batch and gives the one-thread results bit for bit', () => {
      // Above CONV_PARALLEL_MIN_MACS: 9 images (an odd split) of the expert's second layer.
      const l = layer({ ...CASES[1]!, n: 9 }, 'dyadic', 303);
      const one = forwardBoth(l);
      const oneWinograd = forwardBoth(l, 'winograd');
      const oneGrads = backwardBoth(l, ...one.js);
      expect(threadsRan).toBe(1);
      useWorkerThreads({ threads: 2 });
      const two = forwardBoth(l);
      expect(threadsRan).toBe(2);
      expect(two.wasm).toEqual(one.wasm);
      expect(forwardBoth(l, 'winograd').wasm).toEqual(oneWinograd.wasm);
      expect(threadsRan).toBe(2);
      const twoGrads = backwardBoth(l, ...one.js);
      expect(threadsRan).toBe(2);
      expect(twoGrads.wasm).toEqual(oneGrads.wasm);
    });

    it('splits grouped layers too (each group over both threads), bit for bit', () => {
      const grouped = CASES.find((k) => k.groups === 4)!;
      const l = layer({ ...grouped, n: 9 }, 'dyadic', 304);
      configureMatmul({ threads: 1 });
      const one = forwardBoth(l, 'winograd');
      const oneGrads = backwardBoth(l, ...one.js);
      expect(threadsRan).toBe(1);
      useWorkerThreads({ threads: 2 });
      expect(forwardBoth(l, 'winograd').wasm).toEqual(one.wasm);
      expect(threadsRan).toBe(2);
      expect(backwardBoth(l, ...one.js).wasm).toEqual(oneGrads.wasm);
      expect(threadsRan).toBe(2);
    });
  });
});

describe('conv2dPoolRelu (the op) against relu(maxPool2d(conv2d(x, w)) + b)', () => {
  const unfused = (x: Tensor, w: Tensor, b: Tensor, stride: number, padding: number, pool: number): Tensor =>
    relu(add(maxPool2d(conv2d(x, w, null, { stride, padding }), pool), reshape(b, [b.shape[0]!, 1, 1])));

  const settings = [
    { name: 'the SIMD path (stride 1, pool 2, padding 1)', stride: 1, padding: 1, pool: 2 },
    { name: 'the JS path (stride 2)', stride: 2, padding: 0, pool: 2 },
    { name: 'the JS path (pool 3)', stride: 1, padding: 0, pool: 3 },
  ];
  for (const s of settings) {
    it(`matches values and gradients exactly on exact float32 data: ${s.name}`, () => {
      const rng = new Rng(400);
      const shapes = { x: [2, 3, 13, 11], w: [6, 3, 3, 3], b: [6] };
      const make = (shape: number[], range: number, scale: number): Tensor => {
        const t = tensor(Array.from(dyadic(rng, shape.reduce((p, d) => p * d, 1), range, scale)), { shape });
        t.requiresGrad = true;
        return t;
      };
      const [x, w, b] = [make(shapes.x, 3, 1), make(shapes.w, 4, 1 / 8), make(shapes.b, 4, 1 / 4)];
      const fused = conv2dPoolRelu(x, w, b, s);
      const reference = unfused(x, w, b, s.stride, s.padding, s.pool);
      expect(fused.shape).toEqual(reference.shape);
      expect(fused.toArray()).toEqual(reference.toArray());
      const g = tensor(Array.from(dyadic(rng, fused.size, 4, 1 / 8)), { shape: fused.shape });
      const grads = (y: Tensor): number[][] => {
        for (const t of [x, w, b]) t.zeroGrad();
        sum(mul(y, g)).backward();
        return [x, w, b].map((t) => Array.from(t.grad!.toArray()));
      };
      expect(grads(conv2dPoolRelu(x, w, b, s))).toEqual(grads(unfused(x, w, b, s.stride, s.padding, s.pool)));
    });
  }

  it('grouped: equals one op per group on that group\'s channels, values and gradients, exactly (float32 SIMD and float64 JS)', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const rng = new Rng(410);
      const make = (shape: number[], range: number, scale: number): Tensor => {
        const t = tensor(Array.from(dyadic(rng, shape.reduce((p, d) => p * d, 1), range, scale)), { shape, dtype });
        t.requiresGrad = true;
        return t;
      };
      // 3 groups of 10 → 20 channels, 5×5 (the batched CNN experts' second layer, Winograd in float32).
      const [x, w, b] = [make([5, 30, 16, 16], 3, 1), make([60, 10, 5, 5], 4, 1 / 8), make([60], 4, 1 / 4)];
      const grouped = conv2dPoolRelu(x, w, b, { groups: 3 });
      const parts = [0, 1, 2].map((g) => conv2dPoolRelu(slice(x, [0, 10 * g, 0, 0], [5, 10, 16, 16]), slice(w, [20 * g, 0, 0, 0], [20, 10, 5, 5]), slice(b, [20 * g], [20])));
      const separate = concat(parts, 1);
      expect(grouped.toArray()).toEqual(separate.toArray());
      const g = tensor(Array.from(dyadic(rng, grouped.size, 4, 1 / 8)), { shape: grouped.shape, dtype });
      const grads = (y: Tensor): number[][] => {
        for (const t of [x, w, b]) t.zeroGrad();
        sum(mul(y, g)).backward();
        return [x, w, b].map((t) => Array.from(t.grad!.toArray()));
      };
      expect(grads(conv2dPoolRelu(x, w, b, { groups: 3 }))).toEqual(grads(concat([0, 1, 2].map((gi) => conv2dPoolRelu(slice(x, [0, 10 * gi, 0, 0], [5, 10, 16, 16]), slice(w, [20 * gi, 0, 0, 0], [20, 10, 5, 5]), slice(b, [20 * gi], [20]))), 1)));
    }
    const x = tensor(new Array(2 * 6 * 8 * 8).fill(1), { shape: [2, 6, 8, 8] });
    expect(() => conv2dPoolRelu(x, tensor(new Array(4 * 2 * 9).fill(1), { shape: [4, 2, 3, 3] }), null, { groups: 4 })).toThrow(/conv2dPoolRelu: 4 groups must divide the input's 6 channels and the weight's 4 filters/);
    expect(() => conv2dPoolRelu(x, tensor(new Array(4 * 2 * 9).fill(1), { shape: [4, 2, 3, 3] }), null, { groups: 2 })).toThrow(/conv2dPoolRelu: input has 6 channels but weight expects 4 \(2 per group × 2 groups\)/);
  });

  it('works without a bias and names the op and shapes in its errors', () => {
    const x = tensor(Array.from({ length: 2 * 1 * 6 * 6 }, (_, i) => (i % 7) - 3), { shape: [2, 1, 6, 6] });
    const w = tensor(Array.from({ length: 2 * 9 }, (_, i) => (i % 5) / 4 - 0.5), { shape: [2, 1, 3, 3] });
    expect(conv2dPoolRelu(x, w, null).toArray()).toEqual(relu(maxPool2d(conv2d(x, w), 2)).toArray());
    expect(() => conv2dPoolRelu(x, tensor([1, 2, 3, 4], { shape: [1, 4, 1, 1] }), null)).toThrow(/conv2dPoolRelu: input has 1 channels but weight expects 4: input \[2,\s?1,\s?6,\s?6\], weight \[1,\s?4,\s?1,\s?1\]/);
    expect(() => conv2dPoolRelu(x, w, null, { pool: 5 })).toThrow(/conv2dPoolRelu: a 3×3 conv \(stride 1, padding 0\) then a 5×5 pool does not fit the input/);
    expect(() => conv2dPoolRelu(x, w, tensor([1, 2, 3]))).toThrow(/conv2dPoolRelu: bias must have shape \[2\]/);
  });
});

describe('conv-pool-relu pack', () => {
  it('its cpu kernels (SIMD for float32) agree with its generic kernels (what a backend without its own runs)', async () => {
    const { CpuBackend } = await import('../src/kernels/cpu/backend.js');
    const { convPoolReluKernels } = await import('../src/packs/conv-pool-relu/kernels.js');
    const { cpuConvPoolRelu } = await import('../src/packs/conv-pool-relu/cpu.js');
    const cpu = new CpuBackend();
    const generic = convPoolReluKernels.genericOn(cpu);
    const rng = new Rng(41);
    const geo: ConvPoolGeometry = { inputShape: [3, 4, 10, 9], kernelH: 3, kernelW: 3, stride: 1, padding: 1, outH: 10, outW: 9, pool: 2, pooledH: 5, pooledW: 4 };
    const data = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());
    const [x, w, b] = [cpu.fromHost(data(3 * 4 * 10 * 9)), cpu.fromHost(data(5 * 4 * 3 * 3)), cpu.fromHost(data(5))];
    const mine = cpuConvPoolRelu.forward(x, w, b, geo);
    const ref = generic.forward(x, w, b, geo);
    const close = (a: ArrayLike<number>, e: ArrayLike<number>): void => {
      expect(a.length).toBe(e.length);
      for (let i = 0; i < e.length; i++) expect(Math.abs(a[i]! - e[i]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(e[i]!)));
    };
    close(mine.values.readSync(), ref.values.readSync());
    const g = cpu.fromHost(data(mine.values.size));
    const needs = { x: true, weight: true, bias: true };
    const gm = cpuConvPoolRelu.backward(g, mine.values, mine.codes, x, w, geo, needs);
    const gr = generic.backward(g, ref.values, ref.codes, x, w, geo, needs);
    close(gm.x!.readSync(), gr.x!.readSync());
    close(gm.weight!.readSync(), gr.weight!.readSync());
    close(gm.bias!.readSync(), gr.bias!.readSync());
  });
});
