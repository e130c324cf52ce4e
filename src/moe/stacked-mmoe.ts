import { add, relu } from '../autograd/ops/elementwise.js';
import { matmul } from '../autograd/ops/matmul.js';
import { expand, gather, reshape, slice, stack, transpose, unsqueeze } from '../autograd/ops/shape.js';
import { noGrad } from '../autograd/engine.js';
import { glorotUniform, heUniform, initContext, zerosInit } from '../nn/init.js';
import { MLP } from '../nn/mlp.js';
import { expertsTogetherPay, forwardExpertsTogether } from '../nn/cnn-expert.js';
import { Module, type Layer, type StateDict } from '../nn/module.js';
import { ModuleList } from '../nn/module-list.js';
import { assertPositiveInteger } from '../nn/validate.js';
import type { DType } from '../tensor/dtype.js';
import { getGlobalRng, Rng } from '../tensor/random.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { zeros } from '../tensor/creation.js';
import type { GateDiagnostics } from './gate-diagnostics.js';
import type { MMoE, MultiTaskOutput } from './mmoe.js';
import { StaticGateBank, type StaticGateBankSpec } from './static-gate-bank.js';

/**
 * T task towers (ReLU MLPs of one shape) held as stacked weights [T, in, out] and biases [T, 1, out]:
 * h [T, B, d] → [T, B, o] in one batched matmul per layer. Each task's slice has the initial
 * distribution of an `MLP` tower (He uniform before a ReLU, Glorot uniform last, zero biases).
 */
export class StackedTowers extends Module {
  readonly numTasks: number;
  readonly widths: readonly number[];

  constructor(opts: { numTasks: number; inputDim: number; hidden: readonly number[]; outputDim: number; rng?: Rng; dtype?: DType }) {
    super();
    assertPositiveInteger('StackedTowers', 'numTasks', opts.numTasks);
    this.numTasks = opts.numTasks;
    this.widths = [opts.inputDim, ...opts.hidden, opts.outputDim];
    this.widths.forEach((w, i) => assertPositiveInteger('StackedTowers', `widths[${i}]`, w));
    for (let i = 0; i + 1 < this.widths.length; i++) {
      const [fanIn, fanOut] = [this.widths[i]!, this.widths[i + 1]!];
      const ctx = initContext(fanIn, fanOut, opts);
      const last = i + 2 === this.widths.length;
      this.addParameter(`weight${i}`, (last ? glorotUniform : heUniform)([this.numTasks, fanIn, fanOut], ctx));
      this.addParameter(`bias${i}`, zerosInit([this.numTasks, 1, fanOut], ctx));
    }
  }

  forward(h: Tensor): Tensor {
    if (h.ndim !== 3 || h.shape[0] !== this.numTasks || h.shape[2] !== this.widths[0]) {
      throw new Error(`StackedTowers: input ${formatShape(h.shape)} must be [tasks = ${this.numTasks}, batch, ${this.widths[0]}]`);
    }
    const layers = this.widths.length - 1;
    let y = h;
    for (let i = 0; i < layers; i++) {
      y = add(matmul(y, this.param(`weight${i}`)), this.param(`bias${i}`));
      if (i + 1 < layers) y = relu(y);
    }
    return y;
  }
}

export interface StackedMMoEConfig {
  inputDim: number;
  numTasks: number;
  numExperts: number;
  gate: StaticGateBankSpec;
  /** Hidden widths of each MLP expert (default [64]). */
  expertHidden?: readonly number[];
  /** Width of each expert's output (default 32). */
  expertOutputDim?: number;
  /** Hidden widths of each task tower (default []: linear). */
  towerHidden?: readonly number[];
  /** Output width of every task (default 1). */
  taskOutputDim?: number;
  /** Replaces the MLP experts; must map x to [B, expertOutputDim]. */
  expertFactory?: (index: number, rng: Rng) => Layer;
  /** Skip experts no task's gate uses (default true; exact). */
  sparse?: boolean;
  seed?: number;
  rng?: Rng;
  dtype?: DType;
}

/**
 * An MMoE with static gates (one weight vector per task) whose gates and towers are stacked over the
 * tasks: y_t = tower_t(Σ_e q_t,e · f_e(x)) for every t at once, the mixture being one matmul
 * q [T, n] · F [n, B·d]. It is the model `buildMMoE` makes with static gates and MLP towers — the same
 * function of the same parameters, tested against it — but a training step costs a fixed number of ops
 * instead of some dozens per task, which is what makes 128-task runs affordable on a CPU.
 * `forward` also returns `stackedOutputs` [T, B, o], which `fit` and `evaluate` use to compute all
 * squared-error losses at once.
 */
export class StackedMMoE extends Module {
  readonly experts: ModuleList<Layer>;
  readonly gates: StaticGateBank;
  readonly towers: StackedTowers;
  readonly expertOutputDim: number;
  readonly inputDim: number;
  sparse: boolean;

  constructor(config: StackedMMoEConfig) {
    super();
    const owner = 'StackedMMoE';
    assertPositiveInteger(owner, 'inputDim', config.inputDim);
    assertPositiveInteger(owner, 'numTasks', config.numTasks);
    assertPositiveInteger(owner, 'numExperts', config.numExperts);
    const rng = config.rng ?? (config.seed !== undefined ? new Rng(config.seed) : getGlobalRng());
    const dtype = config.dtype;
    this.inputDim = config.inputDim;
    this.expertOutputDim = config.expertOutputDim ?? 32;
    assertPositiveInteger(owner, 'expertOutputDim', this.expertOutputDim);
    const experts: Layer[] = [];
    for (let e = 0; e < config.numExperts; e++) {
      experts.push(
        config.expertFactory
          ? config.expertFactory(e, rng)
          : new MLP({ inputDim: config.inputDim, hidden: config.expertHidden ?? [64], outputDim: this.expertOutputDim, activation: 'relu', outputActivation: 'relu', rng, dtype }),
      );
    }
    this.experts = this.addModule('experts', new ModuleList(experts));
    this.gates = this.addModule('gates', new StaticGateBank(config.gate, { numTasks: config.numTasks, numExperts: config.numExperts, rng, ...(dtype ? { dtype } : {}) }));
    this.towers = this.addModule(
      'towers',
      new StackedTowers({ numTasks: config.numTasks, inputDim: this.expertOutputDim, hidden: config.towerHidden ?? [], outputDim: config.taskOutputDim ?? 1, rng, ...(dtype ? { dtype } : {}) }),
    );
    this.sparse = config.sparse ?? true;
  }

  get numTasks(): number {
    return this.gates.numTasks;
  }

  get numExperts(): number {
    return this.experts.length;
  }

  forward(x: Tensor): MultiTaskOutput {
    const batch = x.shape[0]!;
    const T = this.numTasks;
    const n = this.numExperts;
    const { weights: q, regularization } = this.gates.forward();
    let used = Array.from({ length: n }, (_, e) => e);
    if (this.sparse) {
      const host = q.storage.readSync();
      used = used.filter((e) => {
        for (let t = 0; t < T; t++) if (host[t * n + e] !== 0) return true;
        return false;
      });
    }
    const d = this.expertOutputDim;
    let mixed: Tensor;
    if (used.length === 0) {
      // Every gate gives every expert exactly 0 (DSelect-k selectors on unreachable codes): a zero mixture.
      mixed = zeros([T, batch, d], { dtype: q.dtype });
    } else {
      // CNN experts of one architecture run together where it pays (one conv per layer for all of them).
      const together = expertsTogetherPay() ? forwardExpertsTogether(used.map((e) => this.experts.at(e)), x) : null;
      const outputs = used.map((e, i) => {
        const out = together ? together[i]! : this.experts.at(e).forward(x);
        if (out.ndim !== 2 || out.shape[0] !== batch || out.shape[1] !== d) {
          throw new Error(`StackedMMoE: expert ${e} returned ${formatShape(out.shape)}, expected [batch = ${batch}, expertOutputDim = ${d}]`);
        }
        return out;
      });
      const features = reshape(stack(outputs, 0), [used.length, batch * d]);
      const weights = used.length === n ? q : gather(q, used, 1);
      mixed = reshape(matmul(weights, features), [T, batch, d]);
    }
    const stacked = this.towers.forward(mixed);
    const o = stacked.shape[2]!;
    let outputs: Tensor[] | null = null;
    let gateWeights: Tensor[] | null = null;
    return {
      stackedOutputs: stacked,
      regularization,
      get outputs(): Tensor[] {
        outputs ??= Array.from({ length: T }, (_, t) => reshape(slice(stacked, [t, 0, 0], [1, batch, o]), [batch, o]));
        return outputs;
      },
      get gateWeights(): Tensor[] {
        gateWeights ??= Array.from({ length: T }, (_, t) => expand(slice(q, [t, 0], [1, n]), [batch, n]));
        return gateWeights;
      },
    };
  }

  /** Each task's gate diagnostics (static gates: `x` is not needed and ignored). */
  diagnostics(x?: Tensor): GateDiagnostics[] {
    void x;
    return this.gates.diagnostics();
  }
}

/**
 * The state dict of the StackedMMoE equal to `model` (an MMoE whose gates are static DSelect-k, Top-k or
 * softmax gates of one kind and whose towers are MLPs of one shape): experts as they are, gate
 * parameters stacked over tasks, tower weights [out, in] transposed and stacked into [T, in, out].
 */
export function stackedStateFromMMoE(model: MMoE): StateDict {
  const owner = 'stackedStateFromMMoE';
  const state = model.stateDict();
  const T = model.numTasks;
  const out: StateDict = {};
  for (const [name, t] of Object.entries(state)) if (name.startsWith('experts.')) out[name] = t;
  const gate = model.gates.at(0);
  if (model.gates.items.some((g) => g.perExample || g.kind !== gate.kind)) throw new Error(`${owner}: every gate must be static and of one kind`);
  const stackRows = (name: (t: number) => string): Tensor =>
    noGrad(() => stack(Array.from({ length: T }, (_, t) => {
      const v = state[name(t)];
      if (!v) throw new Error(`${owner}: the MMoE has no parameter '${name(t)}'`);
      return v;
    }), 0));
  if (gate.kind === 'dselect-k') out['gates.z'] = stackRows((t) => `gates.${t}.z`);
  out['gates.alpha'] = stackRows((t) => `gates.${t}.alpha`);
  const layers = Object.keys(state).filter((n) => /^towers\.0\.layers\.\d+\.weight$/.test(n)).length;
  if (layers === 0) throw new Error(`${owner}: the towers are not MLPs (no towers.0.layers.0.weight)`);
  for (let i = 0; i < layers; i++) {
    out[`towers.weight${i}`] = noGrad(() => transpose(stackRows((t) => `towers.${t}.layers.${i}.weight`), [0, 2, 1]));
    out[`towers.bias${i}`] = noGrad(() => unsqueeze(stackRows((t) => `towers.${t}.layers.${i}.bias`), 1));
  }
  return out;
}
