import { afterAll, describe, expect, it as vitestIt, type TestContext } from 'vitest';
import type { BinaryOp, MatmulArgs, ReduceOp, UnaryOp } from '../src/kernels/backend.js';
import { CpuBackend } from '../src/kernels/cpu/backend.js';
import { cpuDSelect } from '../src/packs/dselect/cpu.js';
import { gpuDSelect } from '../src/packs/dselect/gpu.js';
import { setBackend } from '../src/index.js';
import { GpuStorage, type GpuBackend } from '../src/gpu/index.js';
import { Rng } from '../src/tensor/random.js';
import { broadcastShapes, sizeOf, type Shape } from '../src/tensor/shape.js';
import { HostStorage, type Storage } from '../src/tensor/storage.js';
import { compare, hostOf, needGpuMode, randomStorage, type GpuTestMode } from './gpu-helpers.js';

/**
 * Every gpu kernel against its cpu twin on random float32 inputs, in the GPU.js mode(s) named by
 * DSELECT_K_GPU_KERNEL_MODES (default: headlessgl — WebGL textures, the gpu backend's device path —
 * and webasm, what GPU.js runs without GL). A mode that cannot run here is reported as skipped.
 * Tolerances are float32's: elementwise |Δ| ≤ 1e-6 + 2e-5·|cpu| (GPU transcendentals are not
 * correctly rounded); sums and products are bounded relative to Σ|terms| (the cpu sums in float64).
 */
const cpu = new CpuBackend();
let gpu: GpuBackend;
let rng: Rng;
/** The mode of the describe block being collected. */
let collecting: GpuTestMode = 'headlessgl';

/** Each test needs the gpu backend in the mode of its describe block (and a generator of its own). */
const it = (name: string, fn: () => void): void => {
  const mode = collecting;
  vitestIt(name, (ctx: TestContext) => {
    gpu = needGpuMode(ctx, mode);
    rng = new Rng(hashName(name));
    fn();
  });
};

function hashName(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

afterAll(() => {
  setBackend('cpu');
});

const MODES = (process.env.DSELECT_K_GPU_KERNEL_MODES ?? 'headlessgl,webasm').split(',') as GpuTestMode[];

const ELEMENTWISE = { atol: 1e-6, rtol: 2e-5 };

function expectClose(name: string, g: Storage, c: Storage, tol: { atol: number; rtol: number; scale?: ArrayLike<number> } = ELEMENTWISE): void {
  expect(g).toBeInstanceOf(GpuStorage);
  const r = compare(g, c, tol);
  expect(r.ok, `${name} [mode ${gpu.info().mode}]: ${r.worst}`).toBe(true);
}

const abs = (s: Storage): Storage => cpu.unary('abs', s);

for (const m of MODES) {
  describe(`GPU.js mode ${m}`, () => {
    collecting = m;
    describe('storage kernels', () => {
      it('fromHost, adopt, fill and cast round-trip exactly', () => {
        const x = randomStorage(rng, 1000);
        expectClose('fromHost', gpu.fromHost(x.data.slice()), x, { atol: 0, rtol: 0 });
        expectClose('adopt', gpu.adopt(x), x, { atol: 0, rtol: 0 });
        // Through a kernel first, so the values really come back from the device.
        const viaDevice = gpu.unary('neg', gpu.unary('neg', gpu.adopt(x)));
        expectClose('neg∘neg', viaDevice, x, { atol: 0, rtol: 0 });
        expectClose('fill', gpu.fill(77, -1.25, 'float32'), cpu.fill(77, -1.25, 'float32'), { atol: 0, rtol: 0 });
        expectClose('fill (large)', gpu.fill(5000, 3.5, 'float32'), cpu.fill(5000, 3.5, 'float32'), { atol: 0, rtol: 0 });
        const wide = gpu.cast(viaDevice, 'float64');
        expect(wide.dtype).toBe('float64');
        expect(Array.from(wide.readSync())).toEqual(Array.from(x.data));
        expectClose('cast back to float32', gpu.cast(wide, 'float32'), x, { atol: 0, rtol: 0 });
      });
    });

    describe('elementwise', () => {
      const shape = [37, 29];
      const inputs: Record<UnaryOp, [number, number][]> = {
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
      for (const op of Object.keys(inputs) as UnaryOp[]) {
        it(`unary ${op}`, () => {
          for (const [lo, hi] of inputs[op]) {
            const x = randomStorage(rng, sizeOf(shape), lo, hi);
            x.data[0] = 0; // the kink / sign boundary itself
            if (op === 'log' || op === 'reciprocal') x.data[0] = lo;
            expectClose(`${op} on [${lo}, ${hi})`, gpu.unary(op, gpu.adopt(x)), cpu.unary(op, x));
          }
        });
      }

      const cases: [Shape, Shape][] = [
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
        it(`binary ${op} with broadcasting`, () => {
          for (const [as, bs] of cases) {
            const out = broadcastShapes('test', as, bs);
            // Values on a 0.5 grid so that ties (eq, le, maximum) really happen.
            const grid = (s: Shape, lo: number, hi: number): HostStorage =>
              hostOf(Array.from({ length: sizeOf(s) }, () => Math.round(rng.uniformIn(lo, hi) * 2) / 2));
            const a = op === 'pow' ? randomStorage(rng, sizeOf(as), 0.1, 3) : grid(as, -3, 3);
            const b = op === 'div' ? randomStorage(rng, sizeOf(bs), 0.5, 3) : op === 'pow' ? randomStorage(rng, sizeOf(bs), -2, 2) : grid(bs, -3, 3);
            expectClose(`${op} ${JSON.stringify(as)} ∘ ${JSON.stringify(bs)}`, gpu.binary(op, gpu.adopt(a), as, gpu.adopt(b), bs, out), cpu.binary(op, a, as, b, bs, out));
          }
        });
      }

      it('pow with negative bases, zero and integer exponents', () => {
        const a = hostOf([-2, -2, -1.5, -3, 0, 0, 0, 2, -2, 4]);
        const b = hostOf([2, 3, 2, -1, 2, 0, -1, 0.5, 0, -0.5]);
        const g = gpu.binary('pow', gpu.adopt(a), [10], gpu.adopt(b), [10], [10]).readSync();
        const c = cpu.binary('pow', a, [10], b, [10], [10]).readSync();
        for (let i = 0; i < 10; i++) {
          if (c[i] === Infinity) expect(g[i]! > 3e38, `pow(${a.data[i]}, ${b.data[i]})`).toBe(true); // GL has no ∞ literal: FLT_MAX
          else expect(g[i], `pow(${a.data[i]}, ${b.data[i]})`).toBeCloseTo(c[i]!, 5);
        }
      });

      it('where with three-way broadcasting', () => {
        const cs = [4, 1, 6];
        const as = [5, 6];
        const bs = [4, 5, 1];
        const out = [4, 5, 6];
        const cond = hostOf(Array.from({ length: sizeOf(cs) }, () => (rng.uniform() < 0.5 ? 0 : 1)));
        const a = randomStorage(rng, sizeOf(as));
        const b = randomStorage(rng, sizeOf(bs));
        expectClose('where', gpu.where(gpu.adopt(cond), cs, gpu.adopt(a), as, gpu.adopt(b), bs, out), cpu.where(cond, cs, a, as, b, bs, out));
        const same = hostOf([1, 0, 1, 0]);
        const x = randomStorage(rng, 4);
        const y = randomStorage(rng, 4);
        expectClose('where (same shapes)', gpu.where(gpu.adopt(same), [4], gpu.adopt(x), [4], gpu.adopt(y), [4], [4]), cpu.where(same, [4], x, [4], y, [4], [4]));
      });

      it('clamp with finite and infinite bounds', () => {
        const x = randomStorage(rng, 300, -3, 3);
        for (const [lo, hi] of [[-0.5, 0.7], [-Infinity, 0], [0, Infinity], [1, 1]] as [number, number][]) {
          expectClose(`clamp(${lo}, ${hi})`, gpu.clamp(gpu.adopt(x), lo, hi), cpu.clamp(x, lo, hi));
        }
      });

      it('smoothStep and its derivative, including the ±γ/2 boundaries', () => {
        for (const gamma of [1, 0.5, 2]) {
          const x = randomStorage(rng, 200, -gamma, gamma);
          x.data[0] = gamma / 2;
          x.data[1] = -gamma / 2;
          for (const d of [false, true]) {
            expectClose(`smoothStep γ=${gamma} d=${d}`, gpuDSelect.smoothStep(gpu.adopt(x), gamma, d), cpuDSelect.smoothStep(x, gamma, d));
          }
        }
      });
    });

    describe('reductions and softmax', () => {
      const ops: ReduceOp[] = ['sum', 'max', 'min'];
      const axesSets = [[], [0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]];
      for (const op of ops) {
        it(`reduce ${op} over every axis set of [6, 7, 8] and long rows`, () => {
          const shape = [6, 7, 8];
          const x = randomStorage(rng, sizeOf(shape));
          for (const axes of axesSets) {
            const tol = op === 'sum' ? { atol: 1e-6, rtol: 1e-6, scale: cpu.reduce('sum', abs(x), shape, axes).readSync() } : ELEMENTWISE;
            expectClose(`${op} axes ${JSON.stringify(axes)}`, gpu.reduce(op, gpu.adopt(x), shape, axes), cpu.reduce(op, x, shape, axes), tol);
          }
          // Long reductions take two passes on the gpu.
          for (const [s, axes] of [
            [[3, 9000], [1]],
            [[20000], [0]],
            [[7000, 3], [0]],
            [[40, 30, 20], [0, 2]],
            [[2, 3, 9000], [0, 2]],
          ] as [Shape, number[]][]) {
            const y = randomStorage(rng, sizeOf(s));
            const tol = op === 'sum' ? { atol: 1e-6, rtol: 1e-6, scale: cpu.reduce('sum', abs(y), s, axes).readSync() } : ELEMENTWISE;
            expectClose(`${op} ${JSON.stringify(s)} axes ${JSON.stringify(axes)}`, gpu.reduce(op, gpu.adopt(y), s, axes), cpu.reduce(op, y, s, axes), tol);
          }
        });
      }

      it('argmax along each axis', () => {
        const shape = [6, 7, 8];
        const x = randomStorage(rng, sizeOf(shape));
        for (const axis of [0, 1, 2]) {
          expectClose(`argmax axis ${axis}`, gpu.argmax(gpu.adopt(x), shape, axis), cpu.argmax(x, shape, axis), { atol: 0, rtol: 0 });
        }
      });

      it('softmax and log-softmax along each axis, with large logits', () => {
        const shape = [4, 5, 6];
        for (const range of [3, 60]) {
          const x = randomStorage(rng, sizeOf(shape), -range, range);
          for (const axis of [0, 1, 2]) {
            for (const log of [false, true]) {
              expectClose(
                `softmax axis ${axis} log=${log} range ±${range}`,
                gpu.softmax(gpu.adopt(x), shape, axis, log),
                cpu.softmax(x, shape, axis, log),
                { atol: log ? 2e-5 : 1e-6, rtol: 1e-5 },
              );
            }
          }
        }
      });
    });

    describe('matmul', () => {
      function check(aShape: Shape, bShape: Shape, transA: boolean, transB: boolean): void {
        const ra = aShape.length;
        const rb = bShape.length;
        const m = transA ? aShape[ra - 1]! : aShape[ra - 2]!;
        const n = transB ? bShape[rb - 2]! : bShape[rb - 1]!;
        const batch = broadcastShapes('test', aShape.slice(0, -2), bShape.slice(0, -2));
        const args: MatmulArgs = { aShape, bShape, transA, transB, outShape: [...batch, m, n] };
        const a = randomStorage(rng, sizeOf(aShape));
        const b = randomStorage(rng, sizeOf(bShape));
        const scale = cpu.matmul(abs(a), abs(b), args).readSync();
        expectClose(
          `matmul ${JSON.stringify(aShape)}${transA ? 'ᵀ' : ''} @ ${JSON.stringify(bShape)}${transB ? 'ᵀ' : ''}`,
          gpu.matmul(gpu.adopt(a), gpu.adopt(b), args),
          cpu.matmul(a, b, args),
          { atol: 1e-6, rtol: 1e-6, scale },
        );
      }
      const flags: [boolean, boolean][] = [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ];
      for (const [ta, tb] of flags) {
        it(`2-D and batched, transA=${ta} transB=${tb}`, () => {
          // Stored shapes: a is [m, k] (or [k, m] when transposed), b is [k, n] (or [n, k]).
          const A = (batch: number[], m: number, k: number): number[] => [...batch, ...(ta ? [k, m] : [m, k])];
          const B = (batch: number[], k: number, n: number): number[] => [...batch, ...(tb ? [n, k] : [k, n])];
          check(A([], 5, 7), B([], 7, 3), ta, tb);
          check(A([], 1, 9), B([], 9, 1), ta, tb);
          check(A([], 33, 130), B([], 130, 17), ta, tb);
          check(A([2, 3], 4, 5), B([2, 3], 5, 6), ta, tb);
          check(A([2, 1], 4, 5), B([3], 5, 6), ta, tb);
          check(A([4], 3, 2), B([], 2, 5), ta, tb);
          check(A([], 3, 2), B([4], 2, 5), ta, tb);
        });
      }
    });

    describe('layout kernels', () => {
      it('permute, broadcastTo, slice and pad', () => {
        const shape = [3, 4, 5];
        const x = randomStorage(rng, sizeOf(shape));
        for (const perm of [[0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1], [2, 0, 1]]) {
          expectClose(`permute ${perm}`, gpu.permute(gpu.adopt(x), shape, perm), cpu.permute(x, shape, perm), { atol: 0, rtol: 0 });
        }
        const small = randomStorage(rng, 4);
        for (const [s, out] of [
          [[4], [3, 4]],
          [[4, 1], [4, 6]],
          [[1, 4], [2, 3, 4]],
        ] as [Shape, Shape][]) {
          expectClose(`broadcastTo ${s}→${out}`, gpu.broadcastTo(gpu.adopt(small), s, out), cpu.broadcastTo(small, s, out), { atol: 0, rtol: 0 });
        }
        for (const [begin, size] of [
          [[0, 0, 0], [3, 4, 5]],
          [[1, 0, 2], [2, 4, 3]],
          [[0, 3, 0], [3, 1, 5]],
          [[2, 1, 4], [1, 2, 1]],
        ]) {
          expectClose(`slice ${begin}+${size}`, gpu.slice(gpu.adopt(x), shape, begin!, size!), cpu.slice(x, shape, begin!, size!), { atol: 0, rtol: 0 });
          expectClose(`pad ${begin} in ${shape}`, gpu.pad(gpu.adopt(cpu.slice(x, shape, begin!, size!)), size!, begin!, shape), cpu.pad(cpu.slice(x, shape, begin!, size!), size!, begin!, shape), {
            atol: 0,
            rtol: 0,
          });
        }
      });

      it('concat of two, of an empty part, and of more inputs than texture units', () => {
        for (const axis of [0, 1]) {
          const shapes: Shape[] = axis === 0 ? [[2, 3], [4, 3], [0, 3], [1, 3]] : [[3, 2], [3, 4], [3, 0], [3, 1]];
          const xs = shapes.map((s) => randomStorage(rng, sizeOf(s)));
          expectClose(`concat axis ${axis}`, gpu.concat(xs.map((x) => gpu.adopt(x)), shapes, axis), cpu.concat(xs, shapes, axis), { atol: 0, rtol: 0 });
        }
        const many: Shape[] = Array.from({ length: 19 }, (_, i) => [2, 1 + (i % 3)]);
        const xs = many.map((s) => randomStorage(rng, sizeOf(s)));
        const before = gpu.info().stats.liveStorages;
        const g = gpu.concat(xs.map((x) => gpu.adopt(x)), many, 1);
        expectClose('concat of 19', g, cpu.concat(xs, many, 1), { atol: 0, rtol: 0 });
        // The intermediate groups are released: only the inputs (19 uploads) and the result remain.
        expect(gpu.info().stats.liveStorages).toBe(before + 19 + 1);
      });

      it('gather, scatterAdd (repeated indices accumulate) and oneHot', () => {
        const shape = [3, 5, 4];
        const x = randomStorage(rng, sizeOf(shape));
        const idx = Int32Array.from([4, 0, 0, 2, 4, 1]);
        for (const axis of [0, 1, 2]) {
          const ind = Int32Array.from(idx.filter((i) => i < shape[axis]!));
          expectClose(`gather axis ${axis}`, gpu.gather(gpu.adopt(x), shape, ind, axis), cpu.gather(x, shape, ind, axis), { atol: 0, rtol: 0 });
          const gShape = [...shape];
          gShape[axis] = ind.length;
          const g = randomStorage(rng, sizeOf(gShape));
          expectClose(`scatterAdd axis ${axis}`, gpu.scatterAdd(gpu.adopt(g), gShape, ind, axis, shape), cpu.scatterAdd(g, gShape, ind, axis, shape), {
            atol: 1e-6,
            rtol: 1e-6,
          });
        }
        expectClose('oneHot', gpu.oneHot(idx, 5, 'float32'), cpu.oneHot(idx, 5, 'float32'), { atol: 0, rtol: 0 });
      });
    });

    describe('DSelect-k selector kernels', () => {
      for (const [m, n] of [
        [3, 8],
        [3, 5],
        [1, 2],
        [4, 16],
      ]) {
        it(`selectorForward/Backward m=${m} n=${n}`, () => {
          const rows = 6;
          const s = randomStorage(rng, rows * m!, 0, 1);
          s.data[0] = 0;
          s.data[1] = 1; // saturated factors: the leave-one-out product must not divide by them
          const g = randomStorage(rng, rows * n!);
          expectClose('selectorForward', gpuDSelect.selectorForward(gpu.adopt(s), rows, m!, n!), cpuDSelect.selectorForward(s, rows, m!, n!));
          expectClose('selectorBackward', gpuDSelect.selectorBackward(gpu.adopt(s), gpu.adopt(g), rows, m!, n!), cpuDSelect.selectorBackward(s, g, rows, m!, n!), {
            atol: 1e-6,
            rtol: 1e-5,
          });
        });
      }
    });

    describe('kernels without a GPU.js version run on the cpu kernels, visibly', () => {
      it('im2col, col2im, maxPool2d and its backward match the cpu and are listed', () => {
        const geo = { inputShape: [2, 3, 6, 6], kernelH: 3, kernelW: 3, stride: 1, padding: 1, outH: 6, outW: 6 };
        const x = randomStorage(rng, sizeOf(geo.inputShape));
        const cols = gpu.im2col(gpu.adopt(x), geo);
        expectClose('im2col', cols, cpu.im2col(x, geo), { atol: 0, rtol: 0 });
        expectClose('col2im', gpu.col2im(cols, geo), cpu.col2im(cpu.im2col(x, geo), geo), { atol: 1e-6, rtol: 1e-6 });
        const pool = { inputShape: [2, 3, 6, 6], kernel: 2, stride: 2, outH: 3, outW: 3 };
        const gp = gpu.maxPool2d(gpu.adopt(x), pool);
        const cp = cpu.maxPool2d(x, pool);
        expectClose('maxPool2d values', gp.values, cp.values, { atol: 0, rtol: 0 });
        expectClose('maxPool2d argmax', gp.argmax, cp.argmax, { atol: 0, rtol: 0 });
        const g = randomStorage(rng, 2 * 3 * 3 * 3);
        expectClose('maxPool2dBackward', gpu.maxPool2dBackward(gpu.adopt(g), gp.argmax, pool), cpu.maxPool2dBackward(g, cp.argmax, pool), { atol: 0, rtol: 0 });
        const info = gpu.info();
        for (const k of ['im2col', 'col2im', 'maxPool2d', 'maxPool2dBackward']) {
          expect(info.fallbacks).toContain(k);
          expect(info.fallbacksUsed).toContain(k);
        }
      });
    });
  });
}
