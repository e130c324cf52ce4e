import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/kernels/cpu/backend.js';
import { configureFusedKernels } from '../src/kernels/cpu/wasm/kernel-module.js';
import { adamUpdateInto, cpuAdamUpdate } from '../src/packs/adam-update/cpu.js';
import { adamUpdateKernels, type AdamUpdateArgs } from '../src/packs/adam-update/kernels.js';
import { adamUpdateWasm } from '../src/packs/adam-update/wasm.js';
import { biasActivationGradInto, biasActivationInto, cpuBiasActivation } from '../src/packs/bias-activation/cpu.js';
import { biasActivationKernels, type FusedActivation } from '../src/packs/bias-activation/kernels.js';
import { biasActivationWasm, reluGradWasm } from '../src/packs/bias-activation/wasm.js';
import { cpuExpertMixture, mixRowsGradInto, mixRowsInto } from '../src/packs/expert-mixture/cpu.js';
import { expertMixtureKernels } from '../src/packs/expert-mixture/kernels.js';
import { mixRowsGradWasm, mixRowsWasm } from '../src/packs/expert-mixture/wasm.js';
import { configureBufferPool } from '../src/kernels/cpu/host.js';
import { Linear, MLP, Rng, tensor, tidy, type DType, type TypedArray } from '../src/index.js';
import { biasActivation, mixRows } from '../src/advanced.js';
import { PACK_GRADCHECK_CASES } from '../src/checks/index.js';
import type { Storage } from '../src/tensor/storage.js';

const cpu = new CpuBackend();
const DTYPES: readonly DType[] = ['float32', 'float64'];

function array(dtype: DType, n: number, value: (i: number) => number): TypedArray {
  const a = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = value(i);
  return a;
}

const values = (s: Storage): number[] => Array.from(s.readSync());
const stored = (dtype: DType, v: number): number => (dtype === 'float32' ? Math.fround(v) : v);

describe('fused kernels (cpu) against plain references', () => {
  for (const dtype of DTYPES) {
    it(`relu (unary and fused) is exact at the edges: −0, ±∞, NaN (${dtype})`, () => {
      const edge = [-0, 0, -Infinity, Infinity, NaN, -NaN, 0 * -Infinity, -1e-30, 1e-30, -2.5, 3.25];
      const x = array(dtype, edge.length, (i) => edge[i]!);
      const expected = edge.map((v) => stored(dtype, Math.max(v, 0)));
      const viaUnary = values(cpu.unary('relu', cpu.fromHost(x)));
      const viaFused = values(cpuBiasActivation.forward(cpu.fromHost(x), [edge.length], null, 'relu'));
      for (const out of [viaUnary, viaFused]) {
        out.forEach((v, i) => expect(Object.is(v, expected[i]) || (Number.isNaN(v) && Number.isNaN(expected[i])), `relu(${edge[i]}) = ${v}`).toBe(true));
      }
      expect(values(cpu.unary('step', cpu.fromHost(x)))).toEqual(edge.map((v) => (v > 0 ? 1 : 0)));
    });

    it(`biasActivation and its backward match separate add / relu / reduce (${dtype})`, () => {
      const rng = new Rng(3);
      const [rows, cols] = [7, 5];
      const x = array(dtype, rows * cols, () => rng.normal());
      const bias = array(dtype, cols, () => rng.normal());
      const g = array(dtype, rows * cols, () => rng.normal());
      for (const activation of ['identity', 'relu'] as FusedActivation[]) {
        const y = cpuBiasActivation.forward(cpu.fromHost(x), [rows, cols], cpu.fromHost(bias), activation);
        const expectedY = Array.from(x, (v, i) => {
          const s = stored(dtype, v + bias[i % cols]!);
          return activation === 'relu' ? Math.max(s, 0) : s;
        });
        expect(values(y)).toEqual(expectedY);
        const grad = cpuBiasActivation.backward(activation, cpu.fromHost(g), y, [rows, cols], true);
        const expectedGx = Array.from(g, (v, i) => (activation === 'identity' ? v : v * (expectedY[i]! > 0 ? 1 : 0)));
        expect(values(grad.x)).toEqual(expectedGx);
        const expectedBias = Array.from({ length: cols }, (_, j) => {
          let acc = 0;
          for (let r = 0; r < rows; r++) acc += expectedGx[r * cols + j]!;
          return stored(dtype, acc);
        });
        values(grad.bias!).forEach((v, j) => expect(v).toBeCloseTo(expectedBias[j]!, dtype === 'float32' ? 5 : 13));
        expect(cpuBiasActivation.backward(activation, cpu.fromHost(g), y, [rows, cols], false).bias).toBeNull();
      }
    });

    it(`adamUpdate matches the step written out in double precision (${dtype})`, () => {
      const rng = new Rng(4);
      const n = 50;
      const [p, g, m] = [0, 1, 2].map(() => array(dtype, n, () => rng.normal()));
      const v = array(dtype, n, () => Math.abs(rng.normal()));
      for (const [decoupled, weightDecay] of [[false, 0], [false, 0.1], [true, 0.05]] as const) {
        const args: AdamUpdateArgs = { lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay, decoupled, step: 3 };
        const r = cpuAdamUpdate.update(cpu.fromHost(p), cpu.fromHost(g), cpu.fromHost(m), cpu.fromHost(v), args);
        for (let i = 0; i < n; i++) {
          const gi = decoupled ? g[i]! : g[i]! + weightDecay * p[i]!;
          const mi = 0.8 * m[i]! + 0.2 * gi;
          const vi = 0.99 * v[i]! + 0.01 * gi * gi;
          const base = decoupled ? p[i]! * (1 - 0.01 * weightDecay) : p[i]!;
          const pi = base - ((0.01 / (1 - 0.8 ** 3)) * mi) / (Math.sqrt(vi) / Math.sqrt(1 - 0.99 ** 3) + 1e-6);
          const digits = dtype === 'float32' ? 6 : 13;
          expect(r.m.readSync()[i]).toBeCloseTo(mi, digits);
          expect(r.v.readSync()[i]).toBeCloseTo(vi, digits);
          expect(r.param.readSync()[i]).toBeCloseTo(pi, digits);
        }
      }
    });
  }

  for (const dtype of DTYPES) {
    it(`mixRows and its backward match the sums written out, row subsets included (${dtype})`, () => {
      const rng = new Rng(7);
      const [rows, qCols, cols] = [5, 4, 3];
      const q = array(dtype, rows * qCols, (i) => (i % 3 === 0 ? 0 : rng.normal()));
      const index = [null, Int32Array.from([4, 1, 2]), null];
      const fs = index.map((ix) => array(dtype, (ix ? ix.length : rows) * cols, () => rng.normal()));
      const columns = [2, 0, 2];
      const terms = fs.map((f, i) => ({ f: cpu.fromHost(f), column: columns[i]!, rows: index[i]! }));
      const g = array(dtype, rows * cols, () => rng.normal());
      const out = cpuExpertMixture.forward(cpu.fromHost(q), qCols, terms, rows, cols);
      const digits = dtype === 'float32' ? 6 : 14;
      const expectedOut = new Array<number>(rows * cols).fill(0);
      const expectedGq = new Array<number>(rows * qCols).fill(0);
      const expectedGf = fs.map((f) => new Array<number>(f.length).fill(0));
      fs.forEach((f, i) => {
        const count = f.length / cols;
        for (let k = 0; k < count; k++) {
          const r = index[i] ? index[i]![k]! : k;
          const w = q[r * qCols + columns[i]!]!;
          for (let j = 0; j < cols; j++) {
            expectedOut[r * cols + j]! += w * f[k * cols + j]!;
            expectedGq[r * qCols + columns[i]!]! += g[r * cols + j]! * f[k * cols + j]!;
            expectedGf[i]![k * cols + j] = w * g[r * cols + j]!;
          }
        }
      });
      values(out).forEach((v, i) => expect(v).toBeCloseTo(expectedOut[i]!, digits));
      const grad = cpuExpertMixture.backward(cpu.fromHost(q), qCols, terms, cpu.fromHost(g), rows, cols, true, [true, false, true]);
      expect(grad.fs[1]).toBeNull();
      values(grad.q!).forEach((v, i) => expect(v).toBeCloseTo(expectedGq[i]!, digits));
      for (const i of [0, 2]) values(grad.fs[i]!).forEach((v, k) => expect(v).toBeCloseTo(expectedGf[i]![k]!, digits));
    });
  }

  it('the generic versions (what the gpu backend runs) agree with the fused cpu kernels', () => {
    const rng = new Rng(5);
    const shape = [6, 4];
    const x = cpu.fromHost(array('float64', 24, () => rng.normal()));
    const bias = cpu.fromHost(array('float64', 4, () => rng.normal()));
    const g = cpu.fromHost(array('float64', 24, () => rng.normal()));
    for (const activation of ['identity', 'relu'] as FusedActivation[]) {
      for (const b of [bias, null]) {
        const fused = cpuBiasActivation.forward(x, shape, b, activation);
        expect(values(biasActivationKernels.genericOn(cpu).forward(x, shape, b, activation))).toEqual(values(fused));
        const ref = cpuBiasActivation.backward(activation, g, fused, shape, true);
        const parts = biasActivationKernels.genericOn(cpu).backward(activation, g, fused, shape, true);
        expect(values(parts.x)).toEqual(values(ref.x));
        values(parts.bias!).forEach((v, j) => expect(v).toBeCloseTo(values(ref.bias!)[j]!, 13));
      }
    }
    const q = cpu.fromHost(array('float64', 18, () => rng.normal()));
    const subset = cpu.fromHost(array('float64', 8, () => rng.normal()));
    const terms = [
      { f: x, column: 2, rows: null },
      { f: subset, column: 0, rows: Int32Array.from([5, 0]) },
      { f: g, column: 0, rows: null },
    ];
    const mixed = cpuExpertMixture.forward(q, 3, terms, 6, 4);
    values(expertMixtureKernels.genericOn(cpu).forward(q, 3, terms, 6, 4)).forEach((value, i) => expect(value).toBeCloseTo(values(mixed)[i]!, 13));
    const ref = cpuExpertMixture.backward(q, 3, terms, x, 6, 4, true, [true, true, true]);
    const parts = expertMixtureKernels.genericOn(cpu).backward(q, 3, terms, x, 6, 4, true, [true, true, true]);
    values(parts.q!).forEach((value, i) => expect(value).toBeCloseTo(values(ref.q!)[i]!, 13));
    parts.fs.forEach((s, k) => values(s!).forEach((value, i) => expect(value).toBeCloseTo(values(ref.fs[k]!)[i]!, 13)));
    const v = cpu.fromHost(array('float64', 24, () => Math.abs(rng.normal())));
    for (const decoupled of [false, true]) {
      const args: AdamUpdateArgs = { lr: 0.02, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled, step: 2 };
      const fused = cpuAdamUpdate.update(x, g, g, v, args);
      const parts = adamUpdateKernels.genericOn(cpu).update(x, g, g, v, args);
      for (const key of ['param', 'm', 'v'] as const) {
        values(parts[key]).forEach((value, i) => expect(value).toBeCloseTo(values(fused[key])[i]!, 12));
      }
    }
  });
});

describe('WebAssembly SIMD fused kernels (float32) against the JS kernels', () => {
  const rng = new Rng(11);
  const f32 = (n: number, value: () => number = () => rng.normal()): Float32Array => Float32Array.from({ length: n }, value);
  const hasSimd = biasActivationWasm(f32(4), f32(4), 4, true, new Float32Array(4));

  it('run here (this Node has WebAssembly SIMD) and decline float64 and odd row lengths', () => {
    expect(hasSimd).toBe(true);
    expect(biasActivationWasm(new Float64Array(8), new Float64Array(4), 4, true, new Float64Array(8))).toBe(false);
    expect(biasActivationWasm(f32(6), f32(3), 3, true, new Float32Array(6))).toBe(false);
    expect(mixRowsWasm(f32(4), 2, [{ f: f32(6), column: 0, rows: null }], 2, 3, new Float32Array(6))).toBe(false);
    try {
      expect(configureFusedKernels({ simd: false })).toEqual({ simd: false, running: 'js' });
      expect(biasActivationWasm(f32(4), f32(4), 4, true, new Float32Array(4))).toBe(false);
    } finally {
      expect(configureFusedKernels({ simd: true })).toEqual({ simd: true, running: 'wasm-simd' });
    }
    expect(() => configureFusedKernels({ simd: 'no' as never })).toThrow('configureFusedKernels: simd must be true or false, got no');
  });

  it('bias + ReLU and its backward give exactly the JS results, edge values included', () => {
    const [rows, cols] = [9, 12];
    const edges = [-0, 0, -Infinity, Infinity, NaN, 0 * -Infinity];
    const x = f32(rows * cols, () => (rng.uniform() < 0.1 ? edges[rng.int(edges.length)]! : rng.normal()));
    const bias = f32(cols);
    for (const relu of [true, false]) {
      const [w, j] = [new Float32Array(rows * cols), new Float32Array(rows * cols)];
      expect(biasActivationWasm(x, bias, cols, relu, w)).toBe(true);
      biasActivationInto(x, bias, cols, relu ? 'relu' : 'identity', j);
      w.forEach((v, i) => expect(Object.is(v, j[i]) || (Number.isNaN(v) && Number.isNaN(j[i]!)), `element ${i}: ${v} vs ${j[i]}`).toBe(true));
    }
    // The backward walks 16-column stripes down the rows, narrower ones at a row's end: widths of
    // every kind, and sums over enough rows to show any change of order.
    for (const [r, c] of [[rows, cols], [9, 16], [33, 36], [5, 76], [130, 128]] as const) {
      const xs = f32(r * c, () => (rng.uniform() < 0.1 ? edges[rng.int(edges.length)]! : rng.normal()));
      const y = new Float32Array(r * c);
      biasActivationInto(xs, f32(c), c, 'relu', y);
      const g = f32(r * c, () => rng.normal() * 10 ** rng.int(6));
      const [gw, gj, bw, bj] = [new Float32Array(r * c), new Float32Array(r * c), new Float32Array(c), new Float32Array(c)];
      expect(reluGradWasm(g, y, c, gw, bw)).toBe(true);
      biasActivationGradInto('relu', g, y, c, gj, bj);
      expect(Array.from(gw)).toEqual(Array.from(gj));
      expect(Array.from(bw), `bias gradient [${r}, ${c}]`).toEqual(Array.from(bj));
      expect(reluGradWasm(g, y, c, gw.fill(7), null)).toBe(true);
      expect(Array.from(gw)).toEqual(Array.from(gj));
    }
  });

  it('mixRows and its backward (row subsets included) agree with the JS kernels to float32 rounding', () => {
    const [rows, qCols, cols] = [6, 5, 8];
    const q = f32(rows * qCols, () => (rng.uniform() < 0.3 ? 0 : rng.uniform()));
    const index = [null, Int32Array.from([5, 2, 3]), null];
    const terms = index.map((ix, i) => ({ f: f32((ix ? ix.length : rows) * cols), column: [4, 1, 4][i]!, rows: ix }));
    const [w, j] = [new Float32Array(rows * cols), new Float32Array(rows * cols)];
    expect(mixRowsWasm(q, qCols, terms, rows, cols, w)).toBe(true);
    mixRowsInto(q, qCols, terms, rows, cols, j);
    w.forEach((v, i) => expect(v).toBeCloseTo(j[i]!, 5));
    const g = f32(rows * cols);
    const gqW = new Float32Array(rows * qCols);
    const gqJ = new Float32Array(rows * qCols);
    const gfW = terms.map((t, i) => (i === 0 ? null : new Float32Array(t.f.length)));
    const gfJ = terms.map((t, i) => (i === 0 ? null : new Float32Array(t.f.length)));
    expect(mixRowsGradWasm(q, qCols, terms, g, rows, cols, gqW, gfW)).toBe(true);
    mixRowsGradInto(q, qCols, terms, g, rows, cols, gqJ, gfJ);
    gqW.forEach((v, i) => expect(v).toBeCloseTo(gqJ[i]!, 5));
    [1, 2].forEach((k) => expect(Array.from(gfW[k]!)).toEqual(Array.from(gfJ[k]!)));
    expect(mixRowsGradWasm(q, qCols, terms, g, rows, cols, null, [null, new Float32Array(24), null])).toBe(true);
  });

  it('Adam agrees with the JS kernel (float32 arithmetic), lengths not a multiple of 4 included', () => {
    for (const n of [1, 7, 64]) {
      const [p, g, m] = [f32(n), f32(n), f32(n)];
      const v = f32(n, () => Math.abs(rng.normal()));
      for (const [decoupled, weightDecay] of [[false, 0], [false, 0.1], [true, 0.05]] as const) {
        const args: AdamUpdateArgs = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay, decoupled, step: 4 };
        const outW = [0, 1, 2].map(() => new Float32Array(n)) as [Float32Array, Float32Array, Float32Array];
        const outJ = [0, 1, 2].map(() => new Float32Array(n)) as [Float32Array, Float32Array, Float32Array];
        expect(adamUpdateWasm(p, g, m, v, args, ...outW)).toBe(true);
        adamUpdateInto(p, g, m, v, args, ...outJ);
        outW.forEach((a, k) => a.forEach((value, i) => expect(Math.abs(value - outJ[k]![i]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(outJ[k]![i]!)))));
      }
    }
  });
});

describe('biasActivation op and the fused dense layer', () => {
  it('has gradient checks in its pack', () => {
    expect(PACK_GRADCHECK_CASES['bias-activation']!.length).toBeGreaterThanOrEqual(3);
    expect(PACK_GRADCHECK_CASES['expert-mixture']!.length).toBeGreaterThanOrEqual(2);
  });

  it('mixRows checks its operands', () => {
    const q = tensor([[0.5, 0.5]]);
    expect(() => mixRows(q, [tensor([[1, 2]])], [2])).toThrow('mixRows: column 2 for fs[0] is outside [0, 2)');
    expect(() => mixRows(q, [tensor([[1, 2]]), tensor([[1, 2, 3]])], [0, 1])).toThrow('mixRows: fs[1] [1,3] must be [1, 2], with q [1,2] and fs[0] [1,2]');
    expect(() => mixRows(q, [tensor([[1, 2]])], [0, 1])).toThrow('mixRows: needs one column index (and row list, if given) per term, got 1 terms, 2 columns');
    expect(() => mixRows(q, [tensor([[1, 2], [3, 4]])], [0], [Int32Array.from([0, 1])])).toThrow('mixRows: row 1 for fs[0] is outside [0, 1)');
    expect(Array.from(mixRows(q, [tensor([[1, 2]]), tensor([[3, 4]])], [0, 1]).toArray())).toEqual([2, 3]);
  });

  it('checks the bias shape and returns x itself for identity without a bias', () => {
    const x = tensor([[1, -2, 3]]);
    expect(() => biasActivation(x, tensor([1, 2]), 'relu')).toThrow('biasActivation: bias [2] must be [3], the last dim of x [1,3]');
    expect(biasActivation(x, null, 'identity')).toBe(x);
    expect(Array.from(biasActivation(x, tensor([0.5, 0.5, -4]), 'relu').toArray())).toEqual([1.5, 0, 0]);
  });

  it('Linear.forwardActivated equals relu(forward(x)), values and gradients', () => {
    const layer = new Linear(3, 4, { rng: new Rng(6), dtype: 'float64' });
    const x = tensor([[0.3, -1.2, 2.0], [1.5, 0.7, -0.4]], { dtype: 'float64', requiresGrad: true });
    const fused = layer.forwardActivated(x, 'relu');
    const plain = layer.forward(x).relu();
    expect(Array.from(fused.toArray())).toEqual(Array.from(plain.toArray()));
    const grads = (y: typeof fused): number[][] => {
      layer.zeroGrad();
      x.zeroGrad();
      y.sum().backward();
      return [x, layer.weight, layer.bias!].map((t) => Array.from(t.grad!.toArray()));
    };
    expect(grads(fused)).toEqual(grads(plain));
    // Activations without a fused kernel are applied after the bias.
    const t = layer.forwardActivated(x, 'tanh');
    expect(Array.from(t.toArray())).toEqual(Array.from(layer.forward(x).tanh().toArray()));
  });

  it('an MLP built with unknown activation names still fails at construction', () => {
    expect(() => new MLP({ inputDim: 2, hidden: [3], outputDim: 1, activation: 'gelu' as never })).toThrow("activation: unknown activation 'gelu'");
  });
});

describe('cpu output-array pool', () => {
  it('hands a released array to the next kernel of that length, zeroed, and never recycles user data', () => {
    const before = configureBufferPool();
    const user = new Float32Array(256).fill(7);
    const userStorage = cpu.fromHost(user);
    const first = cpu.unary('neg', userStorage);
    const firstArray = first.readSync();
    first.dispose();
    first.dispose(); // a second release must not park the array twice
    const second = cpu.fill(256, 0, 'float32');
    expect(second.readSync()).toBe(firstArray);
    expect(Array.from(second.readSync()).every((v) => v === 0)).toBe(true);
    const third = cpu.fill(256, 0, 'float32');
    expect(third.readSync()).not.toBe(firstArray);
    userStorage.dispose();
    expect(cpu.fill(256, 1, 'float32').readSync()).not.toBe(user);
    expect(Array.from(user).every((v) => v === 7)).toBe(true);
    expect(configureBufferPool().reused).toBeGreaterThan(before.reused);
  });

  it('kernels that skip zeroing (matmul, elementwise) overwrite every element of a recycled array', () => {
    for (const [m, k, n] of [[16, 0, 8], [16, 3, 8], [64, 40, 72]] as const) {
      const dirty = cpu.fill(m * n, 7, 'float32');
      dirty.dispose(); // parked in the pool with every element 7
      const a = cpu.fromHost(Float32Array.from({ length: m * k }, (_, i) => (i % 5) - 2));
      const b = cpu.fromHost(Float32Array.from({ length: k * n }, (_, i) => (i % 3) - 1));
      const c = cpu.matmul(a, b, { aShape: [m, k], bShape: [k, n], transA: false, transB: false, outShape: [m, n] });
      const av = a.readSync();
      const bv = b.readSync();
      const cv = c.readSync();
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let p = 0; p < k; p++) acc += av[i * k + p]! * bv[p * n + j]!;
          expect(cv[i * n + j]).toBe(acc);
        }
      }
      c.dispose();
    }
  });

  it('tidy releases intermediates into the pool; limit 0 turns recycling off', () => {
    const x = tensor(Array.from({ length: 300 }, (_, i) => i - 150));
    tidy(() => {
      x.relu().exp();
    });
    const reusedBefore = configureBufferPool().reused;
    tidy(() => {
      x.relu().exp();
    });
    expect(configureBufferPool().reused).toBeGreaterThanOrEqual(reusedBefore + 2);
    const previous = configureBufferPool().limitBytes;
    try {
      expect(configureBufferPool({ limitBytes: 0 }).heldBytes).toBe(0);
      tidy(() => {
        x.relu();
      });
      expect(configureBufferPool().heldBytes).toBe(0);
    } finally {
      configureBufferPool({ limitBytes: previous });
    }
    expect(() => configureBufferPool({ limitBytes: -1 })).toThrow('configureBufferPool: limitBytes must be a finite number ≥ 0, got -1');
  });
});
