import type { GradcheckCase } from '../autograd/gradcheck.js';
import { add, mul } from '../autograd/ops/elementwise.js';
import { CnnExpert, forwardExpertsTogether } from '../nn/cnn-expert.js';
import { ModuleList } from '../nn/module-list.js';
import { concat } from '../autograd/ops/shape.js';
import { Linear } from '../nn/linear.js';
import { softmaxCrossEntropy } from '../nn/losses.js';
import type { Module } from '../nn/module.js';
import { rand, randn, tensor } from '../tensor/creation.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { BalancedTopKGate } from '../moe/balanced-gate.js';
import { ConvMoENet } from '../moe/conv-moe.js';
import { DSelectKGate } from '../moe/dselect-gate.js';
import { MMoE } from '../moe/mmoe.js';
import { SoftmaxGate } from '../moe/softmax-gate.js';
import { TopKGate } from '../moe/top-k-gate.js';
import { moduleCase, project, type ModuleGradcheckCase } from './models.js';

const F64 = { dtype: 'float64' } as const;

const images = (shape: number[], seed: number) => (): Tensor[] => [rand(shape, { ...F64, rng: new Rng(seed) })];

/**
 * Biases start at 0; with a tiny net a row whose hidden units are all 0 would then sit exactly on a
 * ReLU kink. Random biases move every pre-activation off 0.
 */
function randomizeBiases<M extends Module>(module: M, seed: number): M {
  const rng = new Rng(seed);
  for (const [n, p] of module.namedParameters()) {
    if (n.endsWith('bias')) p.setStorage(rand(p.shape, { ...F64, low: -0.3, high: 0.3, rng }).storage);
  }
  return module;
}

/** A CNN expert small enough for finite differences: 10×10 → conv3 (2) → pool → conv3 (3) → pool → dense 4 → dense 3. */
function tinyExpert(rng: Rng): CnnExpert {
  return new CnnExpert({ inputShape: [1, 10, 10], filters: [2, 3], kernelSize: 3, pool: 2, dense: [4, 3], rng, dtype: 'float64' });
}

function tinyMMoE(gate: 'softmax' | 'dselect-k' | 'top-k', seed: number): MMoE {
  const rng = new Rng(seed);
  const experts = [tinyExpert(rng), tinyExpert(rng), tinyExpert(rng)];
  const make = (): SoftmaxGate | DSelectKGate | TopKGate =>
    gate === 'softmax'
      ? new SoftmaxGate({ numExperts: 3, inputDim: 100, rng, dtype: 'float64' })
      : gate === 'dselect-k'
        ? new DSelectKGate({ numExperts: 3, k: 2, gamma: 1, entropyWeight: 0.1, rng, dtype: 'float64' })
        : new TopKGate({ numExperts: 3, inputDim: 100, k: 2, rng, dtype: 'float64' });
  const gates = [make(), make()];
  if (gate === 'dselect-k') {
    // Bits partly saturated, partly not, so the reachability penalty (n = 3) and exact zeros both appear.
    gates.forEach((g, t) => {
      const z = g.namedParameters().find(([n]) => n === 'z')![1];
      z.setStorage(tensor(t === 0 ? [0.3, -0.2, -0.1, 0.6] : [-0.7, 0.15, 0.2, -0.25], { ...F64, shape: z.shape }).storage);
    });
  }
  const towers = [new Linear(3, 4, { rng, dtype: 'float64' }), new Linear(3, 4, { rng, dtype: 'float64' })];
  return randomizeBiases(new MMoE({ experts, gates, towers }), seed + 2);
}

function mmoeCase(gate: 'softmax' | 'dselect-k' | 'top-k', seed: number): ModuleGradcheckCase {
  return moduleCase(`MMoE with CNN experts (${gate} gates, 2 tasks, 3 experts, cross-entropy)`, () => {
    const model = tinyMMoE(gate, seed);
    return {
      module: model,
      data: images([4, 1, 10, 10], seed + 1),
      run: (x) => {
        model.train();
        const { outputs, regularization } = model.forward(x!);
        const loss = add(softmaxCrossEntropy(outputs[0]!, [0, 3, 1, 2]), softmaxCrossEntropy(outputs[1]!, [2, 2, 0, 1]));
        return regularization ? add(loss, regularization) : loss;
      },
    };
  });
}

function convMoECase(
  name: string,
  opts: { balance: 'soft' | 'hard' | 'both'; k: number; routerOutput?: boolean; gateInput: 'flatten' | 'avgpool'; seed: number },
): ModuleGradcheckCase {
  return moduleCase(name, () => {
    const net = new ConvMoENet({
      inputShape: [1, 12, 12],
      numClasses: 3,
      numExperts: 4,
      k: opts.k,
      stemFilters: 2,
      expertFilters: 2,
      kernelSize: 3,
      headHidden: [3],
      balance: opts.balance,
      balanceWeight: 0.5,
      capacityFactor: 1,
      routerOutput: opts.routerOutput ?? false,
      gateInput: opts.gateInput,
      rng: new Rng(opts.seed),
      dtype: 'float64',
    });
    randomizeBiases(net, opts.seed + 3);
    // Noise weights away from 0 so the noise scale (and the load term's gradient) depends on the input.
    for (const [n, p] of net.namedParameters()) {
      if (n.endsWith('noise.weight')) p.setStorage(randn(p.shape, { ...F64, std: 0.3, rng: new Rng(opts.seed + 7) }).storage);
    }
    return {
      module: net,
      data: images([6, 1, 12, 12], opts.seed + 1),
      run: (x) => {
        net.train();
        net.gate.rng = new Rng(5);
        const { outputs, regularization } = net.forward(x!);
        let loss = softmaxCrossEntropy(outputs[0]!, [0, 2, 1, 1, 0, 2]);
        if (outputs[1]) loss = add(loss, mul(softmaxCrossEntropy(outputs[1], [0, 1, 0, 1, 1, 0]), 0.1));
        return regularization ? add(loss, regularization) : loss;
      },
    };
  });
}

/** Gradient checks of the CNN experts and the CNN MoE layers (float64). */
export const cnnGradcheckCases: readonly GradcheckCase[] = [
  moduleCase('CnnExpert (10×10, conv3×2 → pool → conv3×3 → pool → dense 4 → dense 3)', () => {
    const expert = randomizeBiases(tinyExpert(new Rng(61)), 64);
    return { module: expert, data: images([3, 1, 10, 10], 62), run: (x) => project(expert.forward(x!), 63) };
  }),
  moduleCase('three CnnExperts run together (forwardExpertsTogether: one conv, a grouped conv, batched dense layers)', () => {
    const rng = new Rng(65);
    const experts = randomizeBiases(new ModuleList([tinyExpert(rng), tinyExpert(rng), tinyExpert(rng)]), 66);
    return { module: experts, data: images([3, 1, 10, 10], 67), run: (x) => project(concat(forwardExpertsTogether(experts.items, x!)!, 1), 68) };
  }),
  mmoeCase('softmax', 71),
  mmoeCase('dselect-k', 72),
  mmoeCase('top-k', 73),
  moduleCase('BalancedTopKGate aux loss (k = 2 of 4, noisy, soft constraint only)', () => {
    const gate = new BalancedTopKGate({ numExperts: 4, inputDim: 3, k: 2, balance: 'soft', balanceWeight: 1, rng: new Rng(81), dtype: 'float64' });
    for (const [n, p] of gate.namedParameters()) if (n === 'noise.weight') p.setStorage(randn(p.shape, { ...F64, std: 0.4, rng: new Rng(82) }).storage);
    return {
      module: gate,
      data: () => [randn([7, 3], { ...F64, rng: new Rng(83) })],
      run: (x) => {
        gate.train();
        gate.rng = new Rng(9);
        return gate.forward(x!).regularization!;
      },
    };
  }),
  moduleCase('BalancedTopKGate aux loss (k = 1 of 4, noisy, importance of the full router probabilities)', () => {
    const gate = new BalancedTopKGate({ numExperts: 4, inputDim: 3, k: 1, balance: 'soft', importance: 'probabilities', balanceWeight: 1, rng: new Rng(84), dtype: 'float64' });
    for (const [n, p] of gate.namedParameters()) if (n === 'noise.weight') p.setStorage(randn(p.shape, { ...F64, std: 0.4, rng: new Rng(85) }).storage);
    return {
      module: gate,
      data: () => [randn([7, 3], { ...F64, rng: new Rng(86) })],
      run: (x) => {
        gate.train();
        gate.rng = new Rng(10);
        const { weights, regularization } = gate.forward(x!);
        return add(project(weights, 87), regularization!);
      },
    };
  }),
  convMoECase('ConvMoENet, top-2 of 4 conv experts, soft constraint (noisy, CV² aux loss, router on the flattened map)', {
    balance: 'soft',
    k: 2,
    gateInput: 'flatten',
    seed: 91,
  }),
  convMoECase('ConvMoENet, top-1 of 4 conv experts, soft + hard constraint (capacity factor 1)', { balance: 'both', k: 1, gateInput: 'avgpool', seed: 92 }),
  convMoECase('ConvMoENet, top-1 with router output (DAMEX objective)', { balance: 'hard', k: 1, routerOutput: true, gateInput: 'avgpool', seed: 93 }),
];
