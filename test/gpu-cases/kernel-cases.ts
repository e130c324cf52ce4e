import type { Backend, BinaryOp, Conv2dGeometry, MatmulArgs, PoolGeometry, ReduceOp, UnaryOp } from '../../src/kernels/backend.js';
import type { CpuBackend } from '../../src/kernels/cpu/backend.js';
import { cpuAdamUpdate } from '../../src/packs/adam-update/cpu.js';
import { gpuAdamUpdate } from '../../src/packs/adam-update/gpu.js';
import type { AdamUpdateArgs } from '../../src/packs/adam-update/kernels.js';
import { cpuBiasActivation } from '../../src/packs/bias-activation/cpu.js';
import { cpuConvPoolRelu } from '../../src/packs/conv-pool-relu/cpu.js';
import { gpuConvPoolRelu } from '../../src/packs/conv-pool-relu/gpu.js';
import type { ConvPoolGeometry } from '../../src/packs/conv-pool-relu/kernels.js';
import { gpuBiasActivation } from '../../src/packs/bias-activation/gpu.js';
import { cpuDSelect } from '../../src/packs/dselect/cpu.js';
import { gpuDSelect } from '../../src/packs/dselect/gpu.js';
import { cpuExpertMixture } from '../../src/packs/expert-mixture/cpu.js';
import { gpuExpertMixture } from '../../src/packs/expert-mixture/gpu.js';
import type { MixTerm } from '../../src/packs/expert-mixture/kernels.js';
import { Rng } from '../../src/tensor/random.js';
import { broadcastShapes, sizeOf, type Shape } from '../../src/tensor/shape.js';
import { HostStorage, type Storage } from '../../src/tensor/storage.js';
import { ELEMENTWISE, EXACT, type Tolerance } from './compare.js';

/**
 * Every gpu kernel against its cpu twin, as data: one list run by the Node tests on the synchronous
 * GPU.js modes (headlessgl / webasm) and by the Chromium test on webgpu. A case runs the same
 * computation on the cpu backend (with the cpu pack kernels) and on the gpu backend (with the gpu pack
 * kernels) from the same float32 inputs. Tolerances are float32's: elementwise |Δ| ≤ 1e-6 + 2e-5·|cpu|
 * (GPU transcendentals are not correctly rounded); sums and products relative to Σ|terms| (the cpu
 * sums in float64).
 */
export type Side = 'cpu' | 'gpu';

export interface KernelCase {
  group: string;
  name: string;
  inputs: HostStorage[];
  /** The computation on `b` over its own copies of the inputs. */
  run(b: Backend, ins: readonly Storage[], side: Side): Storage | Storage[];
  /** Tolerance of each output (one for all), computed on the cpu from the host inputs. */
  tol?: (cpu: CpuBackend, ins: readonly HostStorage[]) => Tolerance | Tolerance[];
  /** Replaces the tolerance check of output `i`: an error sentence or null. */
  check?: (gpu: Float32Array, cpu: Float32Array, i: number) => string | null;
}

let rng = new Rng(20240611);

function random(size: number, low = -2, high = 2): HostStorage {
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = rng.uniformIn(low, high);
  return new HostStorage(data);
}

function hostOf(values: ArrayLike<number>): HostStorage {
  return new HostStorage(Float32Array.from(values));
}

/** Values on a 0.5 grid, so that ties (eq, le, maximum) really happen. */
function grid(size: number, low: number, high: number): HostStorage {
  return hostOf(Array.from({ length: size }, () => Math.round(rng.uniformIn(low, high) * 2) / 2));
}

const abs = (cpu: CpuBackend, s: Storage): Storage => cpu.unary('abs', s);

/** Sums: |Δ| ≤ 1e-6 + 1e-6·Σ|terms|, the scale computed by `scale`. */
const sumTol = (scale: (cpu: CpuBackend, ins: readonly HostStorage[]) => Storage) => (cpu: CpuBackend, ins: readonly HostStorage[]): Tolerance => ({
  atol: 1e-6,
  rtol: 1e-6,
  scale: scale(cpu, ins).readSync(),
});

function elementwiseCases(): KernelCase[] {
  const out: KernelCase[] = [];
  const group = 'elementwise';
  const shape = [37, 29];
  const ranges: Record<UnaryOp, [number, number][]> = {
    neg: [[-3, 3]],
    exp: [[-20, 20]],
    log: [[0.01, 50]],
    sqrt: [[0, 50]],
    abs: [[-3, 3]],
    tanh: [[-3, 3], [-60, 60]],
    sigmoid: [[-3, 3], [-90, 90]],
    relu: [[-3, 3]],
    softplus: [[-3, 3], [-90, 90]],
    sign: [[-3, 3]],
    step: [[-3, 3]],
    square: [[-30, 30]],
    reciprocal: [[0.05, 20], [-20, -0.05]],
  };
  for (const op of Object.keys(ranges) as UnaryOp[]) {
    for (const [lo, hi] of ranges[op]) {
      const x = random(sizeOf(shape), lo, hi);
      x.data[0] = op === 'log' || op === 'reciprocal' ? lo : 0; // the kink / sign boundary itself
      out.push({ group, name: `unary ${op} on [${lo}, ${hi})`, inputs: [x], run: (b, [a]) => b.unary(op, a!), tol: () => ELEMENTWISE });
    }
  }
  const pairs: [Shape, Shape][] = [
    [[5, 7], [5, 7]],
    [[5, 7], [7]],
    [[5, 1], [1, 7]],
    [[2, 3, 4, 5], [3, 1, 5]],
    [[], [4, 6]],
    [[4, 6], []],
    [[3, 1, 4], [2, 1, 5, 1]],
    [[1], [3]],
  ];
  const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];
  for (const op of ops) {
    for (const [as, bs] of pairs) {
      const o = broadcastShapes('test', as, bs);
      const a = op === 'pow' ? random(sizeOf(as), 0.1, 3) : grid(sizeOf(as), -3, 3);
      const bv = op === 'div' ? random(sizeOf(bs), 0.5, 3) : op === 'pow' ? random(sizeOf(bs), -2, 2) : grid(sizeOf(bs), -3, 3);
      out.push({ group, name: `binary ${op} ${JSON.stringify(as)} ∘ ${JSON.stringify(bs)}`, inputs: [a, bv], run: (b, [x, y]) => b.binary(op, x!, as, y!, bs, o), tol: () => ELEMENTWISE });
    }
  }
  out.push({
    group,
    name: 'pow with negative bases, zero and integer exponents',
    inputs: [hostOf([-2, -2, -1.5, -3, 0, 0, 0, 2, -2, 4]), hostOf([2, 3, 2, -1, 2, 0, -1, 0.5, 0, -0.5])],
    run: (b, [x, y]) => b.binary('pow', x!, [10], y!, [10], [10]),
    // GL has no ∞ literal (FLT_MAX there); everything else to 5 digits.
    check: (g, c) => {
      for (let i = 0; i < c.length; i++) {
        const ok = c[i] === Infinity ? g[i]! > 3e38 : Math.abs(g[i]! - c[i]!) <= 5e-6 * Math.max(1, Math.abs(c[i]!));
        if (!ok) return `element ${i}: gpu ${g[i]} vs cpu ${c[i]}`;
      }
      return null;
    },
  });
  const cond = hostOf(Array.from({ length: 4 * 6 }, () => (rng.uniform() < 0.5 ? 0 : 1)));
  out.push({
    group,
    name: 'where with three-way broadcasting',
    inputs: [cond, random(5 * 6), random(4 * 5)],
    run: (b, [c, x, y]) => b.where(c!, [4, 1, 6], x!, [5, 6], y!, [4, 5, 1], [4, 5, 6]),
    tol: () => EXACT,
  });
  out.push({
    group,
    name: 'where (same shapes)',
    inputs: [hostOf([1, 0, 1, 0]), random(4), random(4)],
    run: (b, [c, x, y]) => b.where(c!, [4], x!, [4], y!, [4], [4]),
    tol: () => EXACT,
  });
  const x = random(300, -3, 3);
  for (const [lo, hi] of [[-0.5, 0.7], [-Infinity, 0], [0, Infinity], [1, 1]] as [number, number][]) {
    out.push({ group, name: `clamp(${lo}, ${hi})`, inputs: [x], run: (b, [a]) => b.clamp(a!, lo, hi), tol: () => EXACT });
  }
  return out;
}

function reduceCases(): KernelCase[] {
  const out: KernelCase[] = [];
  const group = 'reductions and softmax';
  const ops: ReduceOp[] = ['sum', 'max', 'min'];
  const shapes: [Shape, number[]][] = [
    ...[[], [0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]].map((axes): [Shape, number[]] => [[6, 7, 8], axes]),
    // Long reductions take two passes on the gpu.
    [[3, 9000], [1]],
    [[20000], [0]],
    [[7000, 3], [0]],
    [[40, 30, 20], [0, 2]],
    [[2, 3, 9000], [0, 2]],
  ];
  for (const op of ops) {
    for (const [shape, axes] of shapes) {
      out.push({
        group,
        name: `reduce ${op} of ${JSON.stringify(shape)} over ${JSON.stringify(axes)}`,
        inputs: [random(sizeOf(shape))],
        run: (b, [x]) => b.reduce(op, x!, shape, axes),
        tol: op === 'sum' ? sumTol((cpu, [x]) => cpu.reduce('sum', abs(cpu, x!), shape, axes)) : () => ELEMENTWISE,
      });
    }
  }
  const x = random(6 * 7 * 8);
  for (const axis of [0, 1, 2]) {
    out.push({ group, name: `argmax axis ${axis}`, inputs: [x], run: (b, [a]) => b.argmax(a!, [6, 7, 8], axis), tol: () => EXACT });
  }
  for (const range of [3, 60]) {
    const s = random(4 * 5 * 6, -range, range);
    for (const axis of [0, 1, 2]) {
      for (const log of [false, true]) {
        out.push({
          group,
          name: `${log ? 'log-' : ''}softmax axis ${axis}, logits ±${range}`,
          inputs: [s],
          run: (b, [a]) => b.softmax(a!, [4, 5, 6], axis, log),
          tol: () => ({ atol: log ? 2e-5 : 1e-6, rtol: 1e-5 }),
        });
      }
    }
    // The gpu's composed logsumexp against the cpu's row kernel (trailing axes) and composed path.
    for (const axes of [[2], [1, 2], [0], [0, 1, 2]]) {
      out.push({ group, name: `logsumexp over ${JSON.stringify(axes)}, logits ±${range}`, inputs: [s], run: (b, [a]) => b.logsumexp(a!, [4, 5, 6], axes), tol: () => ({ atol: 2e-5, rtol: 1e-5 }) });
    }
  }
  return out;
}

function matmulCases(): KernelCase[] {
  const out: KernelCase[] = [];
  const flags: [boolean, boolean][] = [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ];
  for (const [ta, tb] of flags) {
    // Stored shapes: a is [m, k] (or [k, m] when transposed), b is [k, n] (or [n, k]).
    const A = (batch: number[], m: number, k: number): number[] => [...batch, ...(ta ? [k, m] : [m, k])];
    const B = (batch: number[], k: number, n: number): number[] => [...batch, ...(tb ? [n, k] : [k, n])];
    const shapes: [Shape, Shape][] = [
      [A([], 5, 7), B([], 7, 3)],
      [A([], 1, 9), B([], 9, 1)],
      [A([], 33, 130), B([], 130, 17)],
      [A([2, 3], 9, 5), B([3], 5, 10)], // batched, and big enough for webgpu's 2-D launch
      [A([2, 3], 4, 5), B([2, 3], 5, 6)],
      [A([2, 1], 4, 5), B([3], 5, 6)],
      [A([4], 3, 2), B([], 2, 5)],
      [A([], 3, 2), B([4], 2, 5)],
    ];
    for (const [aShape, bShape] of shapes) {
      const ra = aShape.length;
      const rb = bShape.length;
      const m = ta ? aShape[ra - 1]! : aShape[ra - 2]!;
      const n = tb ? bShape[rb - 2]! : bShape[rb - 1]!;
      const batch = broadcastShapes('test', aShape.slice(0, -2), bShape.slice(0, -2));
      const args: MatmulArgs = { aShape, bShape, transA: ta, transB: tb, outShape: [...batch, m, n] };
      out.push({
        group: 'matmul',
        name: `matmul ${JSON.stringify(aShape)}${ta ? 'ᵀ' : ''} @ ${JSON.stringify(bShape)}${tb ? 'ᵀ' : ''}`,
        inputs: [random(sizeOf(aShape)), random(sizeOf(bShape))],
        run: (b, [x, y]) => b.matmul(x!, y!, args),
        tol: sumTol((cpu, [x, y]) => cpu.matmul(abs(cpu, x!), abs(cpu, y!), args)),
      });
    }
  }
  return out;
}

function layoutCases(): KernelCase[] {
  const out: KernelCase[] = [];
  const group = 'layout';
  const shape = [3, 4, 5];
  const x = random(sizeOf(shape));
  for (const perm of [[0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1], [2, 0, 1]]) {
    out.push({ group, name: `permute ${perm}`, inputs: [x], run: (b, [a]) => b.permute(a!, shape, perm), tol: () => EXACT });
  }
  const small = random(4);
  for (const [s, o] of [
    [[4], [3, 4]],
    [[4, 1], [4, 6]],
    [[1, 4], [2, 3, 4]],
  ] as [Shape, Shape][]) {
    out.push({ group, name: `broadcastTo ${s} → ${o}`, inputs: [small], run: (b, [a]) => b.broadcastTo(a!, s, o), tol: () => EXACT });
  }
  for (const [begin, size] of [
    [[0, 0, 0], [3, 4, 5]],
    [[1, 0, 2], [2, 4, 3]],
    [[0, 3, 0], [3, 1, 5]],
    [[2, 1, 4], [1, 2, 1]],
  ] as [number[], number[]][]) {
    out.push({ group, name: `slice ${begin} + ${size}`, inputs: [x], run: (b, [a]) => b.slice(a!, shape, begin, size), tol: () => EXACT });
    out.push({ group, name: `pad ${size} at ${begin} in ${shape}`, inputs: [random(sizeOf(size))], run: (b, [a]) => b.pad(a!, size, begin, shape), tol: () => EXACT });
  }
  for (const axis of [0, 1]) {
    const shapes: Shape[] = axis === 0 ? [[2, 3], [4, 3], [0, 3], [1, 3]] : [[3, 2], [3, 4], [3, 0], [3, 1]];
    out.push({ group, name: `concat axis ${axis} with an empty part`, inputs: shapes.map((s) => random(sizeOf(s))), run: (b, xs) => b.concat(xs, shapes, axis), tol: () => EXACT });
  }
  const many: Shape[] = Array.from({ length: 19 }, (_, i) => [2, 1 + (i % 3)]);
  out.push({ group, name: 'concat of 19 inputs (more than one kernel takes)', inputs: many.map((s) => random(sizeOf(s))), run: (b, xs) => b.concat(xs, many, 1), tol: () => EXACT });
  const gShape = [3, 5, 4];
  const gx = random(sizeOf(gShape));
  const idx = Int32Array.from([4, 0, 0, 2, 4, 1]);
  for (const axis of [0, 1, 2]) {
    const ind = Int32Array.from(idx.filter((i) => i < gShape[axis]!));
    out.push({ group, name: `gather axis ${axis}`, inputs: [gx], run: (b, [a]) => b.gather(a!, gShape, ind, axis), tol: () => EXACT });
    const from = [...gShape];
    from[axis] = ind.length;
    out.push({
      group,
      name: `scatterAdd axis ${axis} (repeated indices accumulate)`,
      inputs: [random(sizeOf(from))],
      run: (b, [g]) => b.scatterAdd(g!, from, ind, axis, gShape),
      tol: () => ({ atol: 1e-6, rtol: 1e-6 }),
    });
  }
  out.push({ group, name: 'oneHot', inputs: [], run: (b) => b.oneHot(idx, 5, 'float32'), tol: () => EXACT });
  return out;
}

function convCases(): KernelCase[] {
  const out: KernelCase[] = [];
  const group = 'conv and pooling';
  const convs: Conv2dGeometry[] = [
    geometry([2, 3, 6, 6], 3, 3, 1, 1),
    geometry([2, 1, 36, 36], 5, 5, 1, 0), // the paper's first conv
    geometry([1, 2, 7, 9], 3, 3, 2, 1), // stride 2, padding, odd sizes
    geometry([2, 2, 5, 6], 2, 3, 3, 2), // rectangular kernel, stride 3
  ];
  for (const geo of convs) {
    const label = `${JSON.stringify(geo.inputShape)} k${geo.kernelH}×${geo.kernelW} s${geo.stride} p${geo.padding}`;
    const [n, c] = geo.inputShape as [number, number];
    out.push({ group, name: `im2col ${label}`, inputs: [random(sizeOf(geo.inputShape))], run: (b, [x]) => b.im2col(x!, geo), tol: () => EXACT });
    out.push({
      group,
      name: `col2im ${label}`,
      inputs: [random(n * c * geo.kernelH * geo.kernelW * geo.outH * geo.outW)],
      run: (b, [cols]) => b.col2im(cols!, geo),
      tol: sumTol((cpu, [cols]) => cpu.col2im(abs(cpu, cols!), geo)),
    });
  }
  const pools: PoolGeometry[] = [pool([2, 3, 6, 6], 2, 2), pool([1, 2, 7, 7], 3, 2), pool([2, 1, 4, 5], 2, 1), pool([1, 2, 5, 7], 2, 2), pool([2, 10, 32, 32], 2, 2)];
  for (const geo of pools) {
    const label = `${JSON.stringify(geo.inputShape)} k${geo.kernel} s${geo.stride}`;
    const x = grid(sizeOf(geo.inputShape), -3, 3); // ties: the first maximum must win on both
    const outSize = geo.inputShape[0]! * geo.inputShape[1]! * geo.outH * geo.outW;
    out.push({
      group,
      name: `maxPool2d values and argmax ${label}`,
      inputs: [x],
      run: (b, [a]) => {
        const r = b.maxPool2d(a!, geo);
        return [r.values, r.argmax];
      },
      tol: () => EXACT,
    });
    out.push({
      group,
      name: `maxPool2dBackward ${label}`,
      inputs: [x, random(outSize)],
      run: (b, [a, g]) => {
        const r = b.maxPool2d(a!, geo);
        r.values.dispose();
        const back = b.maxPool2dBackward(g!, r.argmax, geo);
        r.argmax.dispose();
        return back;
      },
      tol: () => ({ atol: 1e-6, rtol: 1e-6 }),
    });
  }
  return out;
}

function geometry(inputShape: number[], kernelH: number, kernelW: number, stride: number, padding: number): Conv2dGeometry {
  const [, , h, w] = inputShape as [number, number, number, number];
  return { inputShape, kernelH, kernelW, stride, padding, outH: Math.floor((h + 2 * padding - kernelH) / stride) + 1, outW: Math.floor((w + 2 * padding - kernelW) / stride) + 1 };
}

function pool(inputShape: number[], kernel: number, stride: number): PoolGeometry {
  const [, , h, w] = inputShape as [number, number, number, number];
  return { inputShape, kernel, stride, outH: Math.floor((h - kernel) / stride) + 1, outW: Math.floor((w - kernel) / stride) + 1 };
}

function dselectCases(): KernelCase[] {
  const out: KernelCase[] = [];
  const group = 'DSelect-k kernels';
  for (const gamma of [1, 0.5, 2]) {
    const x = random(200, -gamma, gamma);
    x.data[0] = gamma / 2;
    x.data[1] = -gamma / 2;
    for (const d of [false, true]) {
      out.push({
        group,
        name: `smoothStep γ=${gamma}${d ? ' derivative' : ''}, including ±γ/2`,
        inputs: [x],
        run: (_b, [a], side) => (side === 'cpu' ? cpuDSelect : gpuDSelect).smoothStep(a!, gamma, d),
        tol: () => ELEMENTWISE,
      });
    }
  }
  for (const [m, n] of [
    [3, 8],
    [3, 5],
    [1, 2],
    [4, 16],
  ] as [number, number][]) {
    const rows = 6;
    const s = random(rows * m, 0, 1);
    s.data[0] = 0;
    s.data[1] = 1; // saturated factors: the leave-one-out product must not divide by them
    out.push({ group, name: `selectorForward m=${m} n=${n}`, inputs: [s], run: (_b, [a], side) => (side === 'cpu' ? cpuDSelect : gpuDSelect).selectorForward(a!, rows, m, n), tol: () => ELEMENTWISE });
    out.push({
      group,
      name: `selectorBackward m=${m} n=${n}`,
      inputs: [s, random(rows * n)],
      run: (_b, [a, g], side) => (side === 'cpu' ? cpuDSelect : gpuDSelect).selectorBackward(a!, g!, rows, m, n),
      tol: () => ({ atol: 1e-6, rtol: 1e-5 }),
    });
  }
  return out;
}

function packCases(): KernelCase[] {
  const out: KernelCase[] = [];
  const group = 'fused pack kernels';
  // bias + activation
  for (const shape of [[37, 29], [29], [4, 3, 5]] as Shape[]) {
    const cols = shape[shape.length - 1]!;
    for (const activation of ['relu', 'identity'] as const) {
      out.push({
        group,
        name: `biasActivation ${activation} forward ${JSON.stringify(shape)}`,
        inputs: [random(sizeOf(shape)), random(cols)],
        run: (_b, [x, bias], side) => (side === 'cpu' ? cpuBiasActivation : gpuBiasActivation).forward(x!, shape, bias!, activation),
        tol: () => ({ atol: 1e-6, rtol: 1e-6 }),
      });
    }
    for (const withBias of [true, false]) {
      const y = random(sizeOf(shape));
      y.data[0] = 0; // ReLU's kink: y > 0 is false there
      out.push({
        group,
        name: `biasActivation relu backward ${JSON.stringify(shape)}${withBias ? ' with the bias gradient' : ''}`,
        inputs: [random(sizeOf(shape)), y],
        run: (_b, [g, yy], side) => {
          const r = (side === 'cpu' ? cpuBiasActivation : gpuBiasActivation).backward('relu', g!, yy!, shape, withBias);
          return r.bias ? [r.x, r.bias] : [r.x];
        },
        tol: (cpu, [g]) => [EXACT, { atol: 1e-6, rtol: 1e-6, scale: cpu.reduce('sum', abs(cpu, g!), shape, shape.map((_, i) => i).slice(0, -1)).readSync() }],
      });
    }
  }
  out.push({
    group,
    name: 'biasActivation relu without a bias',
    inputs: [random(50)],
    run: (_b, [x], side) => (side === 'cpu' ? cpuBiasActivation : gpuBiasActivation).forward(x!, [5, 10], null, 'relu'),
    tol: () => EXACT,
  });
  // expert mixture: dense terms, subsets of rows, more terms than one launch takes, a repeated column
  const rows = 13;
  const cols = 6;
  const qCols = 5;
  const subset = (list: number[]): Int32Array => Int32Array.from(list);
  const layouts: { name: string; columns: number[]; subsets: (Int32Array | null)[] }[] = [
    { name: '3 dense terms', columns: [0, 2, 4], subsets: [null, null, null] },
    { name: 'subsets of rows', columns: [1, 3, 0], subsets: [subset([0, 5, 12, 3]), null, subset([7])] },
    { name: '9 terms (three launches), a repeated column', columns: [0, 1, 2, 3, 4, 0, 1, 2, 3], subsets: [null, subset([2, 4, 6]), null, null, subset([12, 0]), null, null, subset([1]), null] },
  ];
  for (const layout of layouts) {
    const q = random(rows * qCols, 0, 1);
    q.data[3] = 0; // a weight of exactly 0 adds nothing
    const fs = layout.subsets.map((s) => random((s ? s.length : rows) * cols));
    const terms = (ins: readonly Storage[]): MixTerm[] => layout.columns.map((column, i) => ({ f: ins[1 + i]!, column, rows: layout.subsets[i]! }));
    const kernels = (side: Side) => (side === 'cpu' ? cpuExpertMixture : gpuExpertMixture);
    const weightedScale = (cpu: CpuBackend, ins: readonly HostStorage[]): Storage =>
      cpuExpertMixture.forward(abs(cpu, ins[0]!), qCols, layout.columns.map((column, i) => ({ f: abs(cpu, ins[1 + i]!), column, rows: layout.subsets[i]! })), rows, cols);
    out.push({
      group,
      name: `mixRows forward, ${layout.name}`,
      inputs: [q, ...fs],
      run: (_b, ins, side) => kernels(side).forward(ins[0]!, qCols, terms(ins), rows, cols),
      tol: sumTol(weightedScale),
    });
    const g = random(rows * cols);
    out.push({
      group,
      name: `mixRows backward, ${layout.name}`,
      inputs: [q, ...fs, g],
      run: (_b, ins, side) => {
        const r = kernels(side).backward(ins[0]!, qCols, terms(ins), ins[ins.length - 1]!, rows, cols, true, layout.columns.map(() => true));
        return [r.q!, ...r.fs.map((s) => s!)];
      },
      tol: (cpu, ins) => {
        // q's gradient: dot products, relative to Σ|g·f|; each f's gradient: one product, elementwise.
        const ga = abs(cpu, ins[ins.length - 1]!);
        const gq = cpuExpertMixture.backward(abs(cpu, ins[0]!), qCols, layout.columns.map((column, i) => ({ f: abs(cpu, ins[1 + i]!), column, rows: layout.subsets[i]! })), ga, rows, cols, true, layout.columns.map(() => false));
        return [{ atol: 1e-6, rtol: 1e-6, scale: gq.q!.readSync() }, ...layout.columns.map(() => ({ atol: 1e-7, rtol: 1e-6 }))];
      },
    });
  }
  // Adam / AdamW
  const n = 1000;
  const steps: [string, AdamUpdateArgs][] = [
    ['Adam, step 1', { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 1 }],
    ['Adam with L2, step 7', { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.01, decoupled: false, step: 7 }],
    ['AdamW, step 1000', { lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled: true, step: 1000 }],
  ];
  for (const [label, args] of steps) {
    out.push({
      group,
      name: `adam update: ${label}`,
      inputs: [random(n), random(n, -0.1, 0.1), random(n, -0.01, 0.01), random(n, 0, 1e-4)],
      run: (_b, [p, g, m, v], side) => {
        const r = (side === 'cpu' ? cpuAdamUpdate : gpuAdamUpdate).update(p!, g!, m!, v!, args);
        return [r.param, r.m, r.v];
      },
      tol: () => [{ atol: 1e-6, rtol: 1e-6 }, { atol: 1e-9, rtol: 1e-5 }, { atol: 1e-12, rtol: 1e-5 }],
    });
  }
  const args2: AdamUpdateArgs = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 2 };
  out.push({
    group,
    name: 'adam update: two steps, the second reading the first one’s results',
    inputs: [random(n), random(n, -0.1, 0.1), random(n, -0.01, 0.01), random(n, 0, 1e-4), random(n, -0.1, 0.1)],
    run: (_b, [p, g, m, v, g2], side) => {
      const k = side === 'cpu' ? cpuAdamUpdate : gpuAdamUpdate;
      const r1 = k.update(p!, g!, m!, v!, steps[0]![1]);
      const r2 = k.update(r1.param, g2!, r1.m, r1.v, args2);
      return [r2.param, r2.m, r2.v, r1.param];
    },
    tol: () => [{ atol: 1e-6, rtol: 1e-6 }, { atol: 1e-9, rtol: 1e-5 }, { atol: 1e-12, rtol: 1e-5 }, { atol: 1e-6, rtol: 1e-6 }],
  });
  return out;
}

/**
 * The fused conv → max-pool → bias → ReLU block. Inputs on a 0.5 grid and weights in {−1, −½, 0, ½, 1}
 * make every conv output an exact float32 sum, so the pooled values and the winners (first maximum in
 * scan order, ties included) are exact on both sides; the backward's sums are compared to max|cpu|.
 */
function convPoolCases(): KernelCase[] {
  const out: KernelCase[] = [];
  const group = 'fused conv → max-pool → bias → ReLU';
  const weights = (n: number): HostStorage => hostOf(Array.from({ length: n }, () => (Math.floor(rng.uniform() * 5) - 2) / 2));
  const layouts: { label: string; geo: ConvPoolGeometry; filters: number; bias: boolean }[] = [
    { label: "the paper's first block: [2,1,36,36], 10 filters 5×5, pool 2", geo: convPool([2, 1, 36, 36], 5, 1, 0, 2), filters: 10, bias: true },
    { label: '[2,3,7,9], 4 filters 3×3 padding 1, pool 2 (a row and a column outside every window)', geo: convPool([2, 3, 7, 9], 3, 1, 1, 2), filters: 4, bias: true },
    { label: '[1,2,8,8], 3 filters 3×3 stride 2 padding 1, pool 3, no bias', geo: convPool([1, 2, 8, 8], 3, 2, 1, 3), filters: 3, bias: false },
  ];
  const side = (s: Side) => (s === 'cpu' ? cpuConvPoolRelu : gpuConvPoolRelu);
  for (const { label, geo, filters, bias } of layouts) {
    const [, c] = geo.inputShape as [number, number];
    const x = grid(sizeOf(geo.inputShape), -3, 3);
    const w = weights(filters * c * geo.kernelH * geo.kernelW);
    const b = grid(filters, -2, 2);
    const pooled = geo.inputShape[0]! * filters * geo.pooledH * geo.pooledW;
    out.push({
      group,
      name: `forward: values and winners, ${label}`,
      inputs: bias ? [x, w, b] : [x, w],
      run: (_b, [xs, ws, bs], s) => {
        const r = side(s).forward(xs!, ws!, bs ?? null, geo);
        return [r.values, r.codes];
      },
      tol: () => EXACT,
    });
    const g = random(pooled);
    for (const needs of [{ x: true, weight: true, bias }, { x: false, weight: true, bias: false }, { x: true, weight: false, bias: false }]) {
      out.push({
        group,
        name: `backward (${Object.entries(needs).filter(([, v]) => v).map(([k]) => k).join(', ')}), ${label}`,
        inputs: bias ? [x, w, g, b] : [x, w, g],
        run: (_b, [xs, ws, gs, bs], s) => {
          const k = side(s);
          const f = k.forward(xs!, ws!, bs ?? null, geo);
          const r = k.backward(gs!, f.values, f.codes, xs!, ws!, geo, needs);
          f.values.dispose();
          f.codes.dispose();
          return [r.x, r.weight, r.bias].filter((t): t is Storage => t !== null);
        },
        tol: (cpu, ins) => {
          const f = cpuConvPoolRelu.forward(ins[0]!, ins[1]!, ins[3] ?? null, geo);
          const r = cpuConvPoolRelu.backward(ins[2]!, f.values, f.codes, ins[0]!, ins[1]!, geo, needs);
          return [r.x, r.weight, r.bias].filter((t): t is Storage => t !== null).map((t) => {
            const max = cpu.reduce('max', abs(cpu, t), [t.size], [0]).readSync()[0]!;
            return { atol: 1e-6 + 1e-5 * max, rtol: 0 };
          });
        },
      });
    }
  }
  return out;
}

function convPool(inputShape: number[], kernel: number, stride: number, padding: number, pool: number): ConvPoolGeometry {
  const g = geometry(inputShape, kernel, kernel, stride, padding);
  return { ...g, pool, pooledH: Math.floor(g.outH / pool), pooledW: Math.floor(g.outW / pool) };
}

/** Every kernel case, in a fixed order with fixed data (names are unique). */
export function kernelCases(): KernelCase[] {
  rng = new Rng(20240611);
  return [...elementwiseCases(), ...reduceCases(), ...matmulCases(), ...layoutCases(), ...convCases(), ...dselectCases(), ...packCases(), ...convPoolCases()];
}
