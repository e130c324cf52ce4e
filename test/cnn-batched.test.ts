import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { add, buildMMoE, CnnExpert, mul, rand, Rng, sum, tensor, type DType, type Tensor } from '../src/index.js';
import { expertsTogetherPay, forwardExpertsTogether } from '../src/nn/cnn-expert.js';
import { configureMatmul } from '../src/kernels/cpu/matmul-config.js';
import { useWorkerThreads } from '../src/node/worker-threads.js';
import { shutdownKernelThreads } from '../src/kernels/cpu/threads/kernel-threads.js';
import { mixExperts } from '../src/moe/expert-mixture.js';

/**
 * CNN experts of one architecture run together (one conv for every expert's first layer, grouped convs
 * after it, batched matmuls for the dense layers) must be the experts run one by one: same outputs and
 * same parameter gradients for the same weights, exactly, in float64 (the JS kernels) and in float32
 * (every filter, group and batch item runs the same SIMD kernel on the same numbers). The input's
 * gradient is one sum over every expert's filters instead of a sum of per-expert sums: equal up to
 * the order of summation (a training step never asks for it: the data needs no gradient).
 */
function experts(count: number, dtype: DType, opts: ConstructorParameters<typeof CnnExpert>[0] = {}): CnnExpert[] {
  const rng = new Rng(7);
  const list = Array.from({ length: count }, () => new CnnExpert({ ...opts, rng, dtype }));
  // Non-zero biases, so that no pre-activation sits on a ReLU kink by construction.
  for (const e of list) for (const [n, p] of e.namedParameters()) if (n.endsWith('bias')) p.setStorage(rand(p.shape, { dtype, low: -0.2, high: 0.2, rng }).storage);
  return list;
}

/** Outputs, and the gradients of every parameter and of x, for Σ_e <out_e, r_e>. */
function run(list: CnnExpert[], x: Tensor, together: boolean): { outputs: number[][]; grads: number[][]; dx: number[] } {
  for (const e of list) e.zeroGrad();
  x.zeroGrad();
  const outs = together ? forwardExpertsTogether(list, x)! : list.map((e) => e.forward(x));
  const rng = new Rng(11);
  let loss: Tensor | null = null;
  for (const o of outs) {
    const term = sum(mul(o, rand(o.shape, { dtype: o.dtype, rng })));
    loss = loss ? add(loss, term) : term;
  }
  loss!.backward();
  return {
    outputs: outs.map((o) => Array.from(o.toArray())),
    grads: list.flatMap((e) => e.parameters().map((p) => Array.from(p.grad!.toArray()))),
    dx: Array.from(x.grad!.toArray()),
  };
}

describe('CNN experts run together (forwardExpertsTogether)', () => {
  const shapes: [string, ConstructorParameters<typeof CnnExpert>[0], number[]][] = [
    ['the paper expert (36×36, conv 5×5×10 → conv 5×5×20 → dense 50 → dense 50), images', {}, [5, 1, 36, 36]],
    ['3×3 kernels, 2 input channels, non-square 14×12, one dense layer, flat rows', { inputShape: [2, 14, 12], filters: [4, 6], kernelSize: 3, dense: [7] }, [3, 2 * 14 * 12]],
  ];
  for (const dtype of ['float64', 'float32'] as const) {
    for (const [name, opts, xShape] of shapes) {
      it(`equals the experts one by one: values and parameter gradients exactly, the input's gradient to rounding (${dtype}): ${name}`, () => {
        const list = experts(3, dtype, opts);
        const x = rand(xShape, { dtype, rng: new Rng(3) });
        x.requiresGrad = true;
        const one = run(list, x, false);
        const all = run(list, x, true);
        expect(all.outputs).toEqual(one.outputs);
        expect(all.grads).toEqual(one.grads);
        const scale = Math.max(...one.dx.map(Math.abs));
        const tol = (dtype === 'float64' ? 1e-13 : 1e-6) * scale;
        one.dx.forEach((v, i) => {
          if (!(Math.abs(all.dx[i]! - v) <= tol)) expect.fail(`dx[${i}] = ${all.dx[i]}, one by one ${v} (tolerance ${tol})`);
        });
      });
    }
  }

  it('declines what it cannot batch: one expert, different architectures, other layers', () => {
    const x = rand([2, 1, 36, 36], { rng: new Rng(1) });
    const [a, b] = experts(2, 'float32');
    expect(forwardExpertsTogether([a!], x)).toBeNull();
    expect(forwardExpertsTogether([a!, new CnnExpert({ filters: [10, 21], rng: new Rng(2) })], x)).toBeNull();
    expect(forwardExpertsTogether([a!, b!, 'not a layer'], x)).toBeNull();
    expect(forwardExpertsTogether([a!, b!], x)).toHaveLength(2);
  });

  afterEach(() => configureMatmul({ threads: 1 }));
  afterAll(() => shutdownKernelThreads());

  it('mixtures run experts together where it pays: the cpu backend with more than one thread', () => {
    configureMatmul({ threads: 1 });
    expect(expertsTogetherPay()).toBe(false);
    useWorkerThreads({ threads: 2 });
    expect(expertsTogetherPay()).toBe(true);
  });

  it('the mixture runs together only the experts needed on every row; sparse evaluation is unchanged', () => {
    useWorkerThreads({ threads: 2 }); // where mixtures batch
    const list = experts(4, 'float64');
    const x = rand([4, 1, 36, 36], { dtype: 'float64', rng: new Rng(5) });
    let alone = 0;
    for (const e of list) {
      const forward = e.forward.bind(e);
      e.forward = (t: Tensor): Tensor => (alone++, forward(t));
    }
    // Gate weights [rows, experts]: experts 0 and 2 non-zero on every row, 1 on rows 1 and 3 only, 3 nowhere.
    const mask = [1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0];
    const q = tensor(Array.from(rand([16], { dtype: 'float64', rng: new Rng(6), low: 0.1, high: 1 }).toArray(), (v, i) => v * mask[i]!), { shape: [4, 4], dtype: 'float64' });
    const [mixed] = mixExperts(x, list, [q], true);
    expect(alone).toBe(1); // expert 1 alone on its two rows; 0 and 2 together; 3 skipped
    const weights = Array.from(q.toArray());
    const expected = [0, 1, 2].map((e) => {
      const out = Array.from(list[e]!.forward(x).toArray());
      return out.map((v, i) => v * weights[Math.floor(i / 50) * 4 + e]!);
    });
    const m = Array.from(mixed!.toArray());
    m.forEach((v, i) => expect(v).toBeCloseTo(expected[0]![i]! + expected[1]![i]! + expected[2]![i]!, 12));
  });

  it('buildMMoE with CNN experts trains through it (same outputs as the experts one by one)', () => {
    useWorkerThreads({ threads: 2 });
    const model = () =>
      buildMMoE({ inputDim: 36 * 36, numTasks: 2, numExperts: 3, gate: { type: 'softmax', perExample: true }, expertOutputDim: 50, taskOutputDims: 10, expertFactory: (_i, rng) => new CnnExpert({ rng, dtype: 'float64' }), seed: 4, dtype: 'float64' });
    const x = rand([3, 1, 36, 36], { dtype: 'float64', rng: new Rng(8) });
    const a = model();
    const b = model();
    const outA = a.forward(x).outputs;
    // The same model with its experts run one by one (forwardExpertsTogether declines a single expert per call).
    const expertsB = b.experts.items as CnnExpert[];
    const gatesB = b.gates.items.map((g) => g.forward(x.reshape([3, -1])).weights);
    const mixedB = gatesB.map((qt) => expertsB.reduce<Tensor | null>((acc, e, i) => {
      const term = mul(e.forward(x), qt.slice([0, i], [3, 1]));
      return acc ? add(acc, term) : term;
    }, null)!);
    const outB = mixedB.map((h, t) => b.towers.at(t).forward(h));
    outA.forEach((o, t) => {
      const [p, r] = [Array.from(o.toArray()), Array.from(outB[t]!.toArray())];
      for (let i = 0; i < r.length; i++) expect(p[i]).toBeCloseTo(r[i]!, 12);
    });
  });
});
