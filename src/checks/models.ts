import type { GradcheckCase } from '../autograd/gradcheck.js';
import { add, mul } from '../autograd/ops/elementwise.js';
import { sum } from '../autograd/ops/reduce.js';
import { Linear } from '../nn/linear.js';
import { bceWithLogitsLoss, mseLoss, softmaxCrossEntropy } from '../nn/losses.js';
import { MLP } from '../nn/mlp.js';
import { withParameters, type Module } from '../nn/module.js';
import { rand, randn, tensor } from '../tensor/creation.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { DSelectKGate } from '../moe/dselect-gate.js';
import type { Gate } from '../moe/gate.js';
import { MMoE } from '../moe/mmoe.js';
import { MoE } from '../moe/moe-layer.js';
import { NoisyTopKGate } from '../moe/noisy-top-k-gate.js';
import { SoftmaxGate } from '../moe/softmax-gate.js';
import { TopKGate } from '../moe/top-k-gate.js';
import { StackedMMoE } from '../moe/stacked-mmoe.js';
import type { StaticGateBankSpec } from '../moe/static-gate-bank.js';
import { stackedMseLosses } from '../moe/train/dataset.js';
import { Activation } from '../nn/activation-layer.js';
import { Dropout } from '../nn/dropout.js';
import { Embedding } from '../nn/embedding.js';
import { LayerNorm } from '../nn/layer-norm.js';
import { Sequential } from '../nn/sequential.js';

const F64 = { dtype: 'float64' } as const;

/** Overwrites a parameter (by dotted name) with given values, to place a check at a chosen point. */
function setParameter(module: Module, name: string, values: readonly number[]): void {
  const p = module.namedParameters().find(([n]) => n === name)?.[1];
  if (!p) throw new Error(`model checks: no parameter '${name}'`);
  p.setStorage(tensor([...values], { ...F64, shape: p.shape }).storage);
}

export interface ModelCheck {
  module: Module;
  /** Inputs other than the parameters (fresh tensors each call). */
  data: () => Tensor[];
  /** Output to differentiate, given the data tensors (parameters are already swapped in). */
  run: (...data: Tensor[]) => Tensor;
}

/** A gradient check of a whole module; `module()` gives the module it checks (for the coverage test). */
export interface ModuleGradcheckCase extends GradcheckCase {
  module(): Module;
}

export function isModuleCase(c: GradcheckCase): c is ModuleGradcheckCase {
  return typeof (c as Partial<ModuleGradcheckCase>).module === 'function';
}

/**
 * A gradient check of a whole module: the inputs are its data tensors followed by copies of every
 * parameter, and the function runs the module with those parameters swapped in. The model is built
 * on first use so importing the package stays cheap.
 */
export function moduleCase(name: string, build: () => ModelCheck): ModuleGradcheckCase {
  let built: (ModelCheck & { dataCount: number }) | null = null;
  const get = (): ModelCheck & { dataCount: number } => {
    if (built === null) {
      const check = build();
      built = { ...check, dataCount: check.data().length };
    }
    return built;
  };
  return {
    name,
    module: () => get().module,
    fn: (...inputs: Tensor[]) => {
      const m = get();
      return withParameters(m.module, inputs.slice(m.dataCount), () => m.run(...inputs.slice(0, m.dataCount)));
    },
    inputs: () => {
      const m = get();
      return [...m.data(), ...m.module.parameters().map((p) => tensor(p.toArray(), { ...F64, shape: p.shape }))];
    },
  };
}

/** Σ outputs ⊙ fixed random weights, so every output element matters. */
export function project(y: Tensor, seed: number): Tensor {
  return sum(mul(y, randn(y.shape, { ...F64, rng: new Rng(seed) })));
}

const x = (rows: number, cols: number, seed: number) => (): Tensor[] => [randn([rows, cols], { ...F64, rng: new Rng(seed) })];

function gateCase(name: string, makeGate: (rng: Rng) => Gate, opts: { rows?: number; inputDim: number; training?: boolean; prepare?: (g: Gate) => void; seed?: number }): ModuleGradcheckCase {
  return moduleCase(name, () => {
    const gate = makeGate(new Rng(opts.seed ?? 11));
    opts.prepare?.(gate);
    return {
      module: gate,
      data: x(opts.rows ?? 5, opts.inputDim, 21),
      run: (input) => {
        gate.train(opts.training ?? true);
        if (gate instanceof NoisyTopKGate) gate.rng = new Rng(5);
        const { weights, regularization } = gate.forward(input!);
        const projected = project(weights, 31);
        return regularization ? add(projected, regularization) : projected;
      },
    };
  });
}

/** MMoE with static Top-k (2 of 4) or static softmax gates, MLP experts and towers: the training loss. */
function staticBaselineMMoECase(name: string, kind: 'top-k' | 'softmax'): ModuleGradcheckCase {
  return moduleCase(name, () => {
    const rng = new Rng(kind === 'top-k' ? 43 : 44);
    const experts = Array.from({ length: 4 }, () => new MLP({ inputDim: 3, hidden: [3], outputDim: 2, activation: 'tanh', rng, dtype: 'float64' }));
    const gates = [0, 1].map(() => (kind === 'top-k' ? new TopKGate({ numExperts: 4, k: 2, perExample: false, rng, dtype: 'float64' }) : new SoftmaxGate({ numExperts: 4, perExample: false, rng, dtype: 'float64' })));
    const towers = [0, 1].map(() => new Linear(2, 1, { rng, dtype: 'float64' }));
    const model = new MMoE({ experts, gates, towers });
    // Logits far apart (no near-ties for the top-k choice); task 1 never uses experts 0 and 3.
    setParameter(model, 'gates.0.alpha', [0.4, -0.3, 0.9, 0.1]);
    setParameter(model, 'gates.1.alpha', [-0.5, 0.7, 0.2, -0.8]);
    const targets = [randn([6, 1], { ...F64, rng: new Rng(17) }), randn([6, 1], { ...F64, rng: new Rng(18) })];
    return {
      module: model,
      data: x(6, 3, 19),
      run: (input) => {
        model.train();
        const { outputs } = model.forward(input!);
        return add(mseLoss(outputs[0]!, targets[0]!), mseLoss(outputs[1]!, targets[1]!));
      },
    };
  });
}

/** StackedMMoE (gates and towers stacked over 3 tasks): the training loss through the stacked-loss path of fit. */
function stackedMMoECase(name: string, gate: StaticGateBankSpec, numExperts: number, prepare: (m: StackedMMoE) => void): ModuleGradcheckCase {
  return moduleCase(name, () => {
    // tanh experts: away from ReLU kinks (an all-zero hidden row would put a zero-bias ReLU output exactly at 0).
    const expertFactory = (_: number, rng: Rng): MLP => new MLP({ inputDim: 3, hidden: [3], outputDim: 2, activation: 'tanh', outputActivation: 'tanh', rng, dtype: 'float64' });
    const model = new StackedMMoE({ inputDim: 3, numTasks: 3, numExperts, gate, expertFactory, expertOutputDim: 2, towerHidden: [2], seed: 61, dtype: 'float64' });
    prepare(model);
    const targets = randn([5, 3], { ...F64, rng: new Rng(62) });
    return {
      module: model,
      data: x(5, 3, 63),
      run: (input) => {
        model.train();
        const out = model.forward(input!);
        const loss = sum(stackedMseLosses(out.stackedOutputs!, targets));
        return out.regularization ? add(loss, out.regularization) : loss;
      },
    };
  });
}

function mmoeCase(name: string, perExample: boolean, numExperts: number): ModuleGradcheckCase {
  return moduleCase(name, () => {
    const rng = new Rng(perExample ? 41 : 42);
    const experts = Array.from({ length: numExperts }, () => new MLP({ inputDim: 3, hidden: [3], outputDim: 2, activation: 'tanh', rng, dtype: 'float64' }));
    const gates = [0, 1].map(
      () => new DSelectKGate({ numExperts, k: 2, gamma: 1, perExample, inputDim: 3, entropyWeight: 0.1, rng, dtype: 'float64' }),
    );
    const towers = [0, 1].map(() => new Linear(2, 1, { rng, dtype: 'float64' }));
    const model = new MMoE({ experts, gates, towers });
    if (perExample) {
      // Steep maps so that some rows saturate some smooth-steps (exact zeros per row: gather/scatter path).
      setParameter(model, 'gates.0.zMap.weight', [2.1, -1.7, 0.9, 0.3, 1.8, -2.2, -1.4, 0.6, 2.4, 0.2, -0.4, 0.5]);
      setParameter(model, 'gates.0.zMap.bias', [0.7, -0.3, 0.1, 0.9]);
      setParameter(model, 'gates.1.zMap.weight', [-1.9, 0.4, 1.1, 0.8, -2.5, 0.3, 1.6, 1.2, -0.7, 0.05, 0.1, -0.2]);
      setParameter(model, 'gates.1.zMap.bias', [-0.6, 0.2, 0.8, -0.1]);
    } else {
      // Some bits saturated (|z| > γ/2), some not: q has exact zeros, so experts are skipped.
      // Task 0 selects among codes {4, 5} and {3, 7}; task 1 among {2, 3} and {0, 1, 4, 5} (5..7 unreachable).
      setParameter(model, 'gates.0.z', [0.71, -0.9, 0.13, -0.2, 0.64, 0.58]);
      setParameter(model, 'gates.1.z', [-0.83, 0.92, 0.05, 0.27, -0.66, 0.19]);
    }
    const targets = [randn([6, 1], { ...F64, rng: new Rng(7) }), randn([6, 1], { ...F64, rng: new Rng(8) })];
    return {
      module: model,
      data: x(6, 3, 9),
      run: (input) => {
        model.train();
        const { outputs, regularization } = model.forward(input!);
        const loss = add(mseLoss(outputs[0]!, targets[0]!), mseLoss(outputs[1]!, targets[1]!));
        return regularization ? add(loss, regularization) : loss;
      },
    };
  });
}

/** Gradient checks of the layers, losses, gates and whole models built on the engine (float64). */
export const modelGradcheckCases: readonly GradcheckCase[] = [
  moduleCase('Linear', () => {
    const layer = new Linear(4, 3, { rng: new Rng(1), dtype: 'float64' });
    setParameter(layer, 'bias', [0.1, -0.2, 0.3]);
    return { module: layer, data: x(5, 4, 2), run: (input) => layer.forward(input!) };
  }),
  moduleCase('MLP (relu)', () => {
    const mlp = new MLP({ inputDim: 4, hidden: [5, 3], outputDim: 2, activation: 'relu', rng: new Rng(3), dtype: 'float64' });
    return { module: mlp, data: x(4, 4, 4), run: (input) => mlp.forward(input!) };
  }),
  moduleCase('LayerNorm (last dim, affine)', () => {
    const norm = new LayerNorm(5, { dtype: 'float64' });
    setParameter(norm, 'weight', [1.2, -0.7, 0.4, 2.0, 0.9]);
    setParameter(norm, 'bias', [0.1, -0.3, 0.25, 0, 0.6]);
    return { module: norm, data: x(4, 5, 61), run: (input) => project(norm.forward(input!), 62) };
  }),
  moduleCase('LayerNorm (last two dims [3, 4], no affine, eps 1e-3)', () => {
    const norm = new LayerNorm([3, 4], { elementwiseAffine: false, eps: 1e-3, dtype: 'float64' });
    return { module: norm, data: () => [randn([2, 3, 4], { ...F64, rng: new Rng(63) })], run: (input) => project(norm.forward(input!), 64) };
  }),
  moduleCase('Dropout (training, p = 0.4, fixed mask)', () => {
    const dropout = new Dropout(0.4, { seed: 7 });
    const linear = new Linear(4, 6, { rng: new Rng(65), dtype: 'float64' });
    const model = new Sequential([linear, dropout]);
    return {
      module: model,
      data: x(5, 4, 66),
      run: (input) => {
        model.train();
        dropout.onEpochStart(0); // the same mask in every evaluation of the finite differences
        return project(model.forward(input!), 67);
      },
    };
  }),
  moduleCase('Embedding (repeated indices [2, 3] → [2, 3, 4])', () => {
    const embedding = new Embedding(5, 4, { rng: new Rng(68), dtype: 'float64' });
    const indices = tensor([[4, 0, 4], [2, 2, 1]], F64);
    return { module: embedding, data: () => [], run: () => project(embedding.forward(indices), 69) };
  }),
  moduleCase('Sequential (Linear → LayerNorm → tanh → Dropout (eval) → Linear)', () => {
    const rng = new Rng(70);
    const model = new Sequential([new Linear(3, 6, { rng, dtype: 'float64' }), new LayerNorm(6, { dtype: 'float64' }), new Activation('tanh'), new Dropout(0.5, { seed: 1 }), new Linear(6, 2, { rng, dtype: 'float64' })]);
    setParameter(model, '1.weight', [0.8, 1.1, -0.6, 1.4, 0.9, 1.0]);
    return {
      module: model,
      data: x(4, 3, 71),
      run: (input) => {
        model.eval();
        return project(model.forward(input!), 72);
      },
    };
  }),
  {
    name: 'mseLoss',
    fn: (p, t) => mseLoss(p!, t!),
    inputs: () => [randn([4, 3], { ...F64, rng: new Rng(1) }), randn([4, 3], { ...F64, rng: new Rng(2) })],
  },
  {
    name: 'bceWithLogitsLoss',
    fn: (logits, t) => bceWithLogitsLoss(logits!, t!),
    inputs: () => [tensor([[-3.2, 0.4], [1.7, -0.6], [25, -30]], F64), rand([3, 2], { ...F64, rng: new Rng(3) })],
  },
  {
    name: 'softmaxCrossEntropy',
    fn: (logits) => softmaxCrossEntropy(logits!, [2, 0, 1, 2]),
    inputs: () => [randn([4, 3], { ...F64, rng: new Rng(4), std: 2 })],
  },
  gateCase('SoftmaxGate (per example)', (rng) => new SoftmaxGate({ numExperts: 4, inputDim: 3, rng, dtype: 'float64' }), { inputDim: 3 }),
  gateCase('SoftmaxGate (static)', (rng) => new SoftmaxGate({ numExperts: 4, perExample: false, rng, dtype: 'float64' }), { inputDim: 3 }),
  gateCase('TopKGate (k = 2 of 5)', (rng) => new TopKGate({ numExperts: 5, inputDim: 3, k: 2, rng, dtype: 'float64' }), { inputDim: 3 }),
  gateCase('TopKGate (static, k = 2 of 5)', (rng) => new TopKGate({ numExperts: 5, k: 2, perExample: false, rng, dtype: 'float64' }), {
    inputDim: 3,
    prepare: (g) => setParameter(g, 'alpha', [0.3, -0.2, 0.8, 0.05, -0.6]),
  }),
  gateCase(
    'NoisyTopKGate (k = 2 of 5, training: noise and load balancing)',
    (rng) => new NoisyTopKGate({ numExperts: 5, inputDim: 3, k: 2, balanceWeight: 1, rng, dtype: 'float64' }),
    {
      inputDim: 3,
      rows: 6,
      // Non-zero noise weights so the noise scale depends on x and its gradient is checked too.
      prepare: (g) => setParameter(g, 'noise.weight', [0.3, -0.5, 0.2, 0.1, 0.4, -0.3, -0.2, 0.6, 0.1, 0.5, -0.1, 0.2, 0.3, 0.2, -0.4]),
    },
  ),
  gateCase(
    'DSelectKGate (static, n = 5, k = 3, γ = 0.8, entropy + reachability)',
    (rng) => new DSelectKGate({ numExperts: 5, k: 3, gamma: 0.8, entropyWeight: 0.3, rng, dtype: 'float64' }),
    { inputDim: 3, prepare: (g) => setParameter(g, 'z', [0.55, -0.1, 0.2, -0.3, 0.25, 0.05, 0.12, -0.6, -0.35]) },
  ),
  gateCase(
    'DSelectKGate (per example, n = 8, k = 2, entropy)',
    (rng) => new DSelectKGate({ numExperts: 8, k: 2, perExample: true, inputDim: 3, entropyWeight: 0.2, rng, dtype: 'float64' }),
    { inputDim: 3, rows: 4 },
  ),
  moduleCase('MoE layer (Top-k gate: experts on a subset of rows)', () => {
    const rng = new Rng(51);
    const experts = Array.from({ length: 4 }, () => new MLP({ inputDim: 3, hidden: [4], outputDim: 2, activation: 'tanh', rng, dtype: 'float64' }));
    const moe = new MoE({ experts, gate: new TopKGate({ numExperts: 4, inputDim: 3, k: 2, rng, dtype: 'float64' }) });
    return { module: moe, data: x(6, 3, 52), run: (input) => project(moe.forward(input!).output, 53) };
  }),
  // 5 experts (not a power of 2): the reachability penalty is part of the loss too.
  mmoeCase('MMoE, static DSelect-k gates (2 tasks, 5 experts, k = 2, training loss)', false, 5),
  mmoeCase('MMoE, per-example DSelect-k gates (2 tasks, 4 experts, k = 2, training loss)', true, 4),
  staticBaselineMMoECase('MMoE, static Top-k gates (2 tasks, 4 experts, k = 2, training loss)', 'top-k'),
  staticBaselineMMoECase('MMoE, static softmax gates (2 tasks, 4 experts, training loss)', 'softmax'),
  // 5 experts: the reachability penalty joins the entropy; some bits saturated, so expert 4… may be skipped.
  stackedMMoECase('StackedMMoE, static DSelect-k (3 tasks, 5 experts, k = 2, entropy + reachability)', { type: 'dselect-k', k: 2, gamma: 1, entropyWeight: 0.2 }, 5, (m) =>
    setParameter(m, 'gates.z', [0.71, -0.9, 0.13, -0.2, 0.64, 0.58, -0.83, 0.92, 0.05, 0.27, -0.66, 0.19, 0.31, -0.12, 0.44, 0.08, -0.27, 0.36]),
  ),
  stackedMMoECase('StackedMMoE, static Top-k (3 tasks, 4 experts, k = 2)', { type: 'top-k', k: 2 }, 4, (m) =>
    setParameter(m, 'gates.alpha', [0.4, -0.3, 0.9, 0.1, -0.5, 0.7, 0.2, -0.8, 0.6, 0.35, -0.4, -0.1]),
  ),
  stackedMMoECase('StackedMMoE, static softmax (3 tasks, 4 experts)', { type: 'softmax' }, 4, () => {}),
];
