import { add } from '../autograd/ops/elementwise.js';
import { reshape } from '../autograd/ops/shape.js';
import { Module, type Layer } from '../nn/module.js';
import { ModuleList } from '../nn/module-list.js';
import type { Tensor } from '../tensor/tensor.js';
import { mixExperts } from './expert-mixture.js';
import type { Gate } from './gate.js';
import type { GateDiagnostics } from './gate-diagnostics.js';
import { checkExperts } from './moe-layer.js';

/** What a multi-task model returns for a batch: one output per task plus the summed regularisers. */
export interface MultiTaskOutput {
  outputs: Tensor[];
  /** Σ over gates of their regularisers (training mode), or null when there is none. */
  regularization: Tensor | null;
  /** Each task's gate weights [B, numExperts]. */
  gateWeights: Tensor[];
  /**
   * Every task's output at once, [T, B, o], when the model computes them stacked (StackedMMoE): `fit`
   * and `evaluate` then compute all squared-error losses in one op instead of one chain per task.
   */
  stackedOutputs?: Tensor;
}

/** Anything `fit` can train: a Module with one output per task. */
export type MultiTaskModel = Module & {
  readonly numTasks: number;
  forward(x: Tensor): MultiTaskOutput;
};

export interface MMoEOptions {
  /** Shared experts, each [B, inputDim] → [B, d] (the same d for all). */
  experts: readonly Layer[];
  /** One gate per task over the shared experts. */
  gates: readonly Gate[];
  /** One tower per task, [B, d] → task output. */
  towers: readonly Layer[];
  /** Skip experts no gate uses, per row (default true; exact). */
  sparse?: boolean;
}

/**
 * Multi-gate mixture of experts (Ma et al., 2018): task t's output is tower_t(Σ_e q_t,e(x) · f_e(x)).
 * The experts are shared; each task has its own gate and tower.
 */
export class MMoE extends Module {
  readonly experts: ModuleList<Layer>;
  readonly gates: ModuleList<Gate>;
  readonly towers: ModuleList<Layer>;
  sparse: boolean;

  constructor(opts: MMoEOptions) {
    super();
    if (!Array.isArray(opts.gates) || opts.gates.length < 1) throw new Error('MMoE: needs at least one gate (one per task)');
    if (!Array.isArray(opts.towers) || opts.towers.length !== opts.gates.length) {
      throw new Error(`MMoE: needs one tower per gate: ${opts.gates.length} gates but ${Array.isArray(opts.towers) ? opts.towers.length : String(opts.towers)} towers`);
    }
    checkExperts('MMoE', opts.experts, opts.gates);
    if (new Set(opts.gates).size !== opts.gates.length) throw new Error('MMoE: the same gate module is listed twice; each task needs its own gate');
    this.experts = this.addModule('experts', new ModuleList(opts.experts));
    this.gates = this.addModule('gates', new ModuleList(opts.gates));
    this.towers = this.addModule('towers', new ModuleList(opts.towers));
    this.sparse = opts.sparse ?? true;
  }

  get numTasks(): number {
    return this.gates.length;
  }

  get numExperts(): number {
    return this.experts.length;
  }

  forward(x: Tensor): MultiTaskOutput {
    // Gates see the input as flat feature rows (images are flattened); experts see it as given.
    const gateInput = x.ndim > 2 ? reshape(x, [x.shape[0]!, -1]) : x;
    const gated = this.gates.items.map((g) => g.forward(gateInput));
    const gateWeights = gated.map((g) => g.weights);
    const mixed = mixExperts(x, this.experts.items, gateWeights, this.sparse);
    const outputs = mixed.map((h, t) => this.towers.at(t).forward(h));
    let regularization: Tensor | null = null;
    for (const { regularization: r } of gated) {
      if (r) regularization = regularization ? add(regularization, r) : r;
    }
    return { outputs, regularization, gateWeights };
  }

  /** Each task's gate diagnostics (per-example gates summarise over the rows of x). */
  diagnostics(x?: Tensor): GateDiagnostics[] {
    const flat = flatRows(x);
    try {
      return this.gates.items.map((g) => g.diagnostics(flat ?? x));
    } finally {
      flat?.dispose();
    }
  }

  /** `diagnostics` with an asynchronous readback (every backend, webgpu included). */
  async diagnosticsAsync(x?: Tensor): Promise<GateDiagnostics[]> {
    const flat = flatRows(x);
    try {
      return await Promise.all(this.gates.items.map((g) => g.diagnosticsAsync(flat ?? x)));
    } finally {
      flat?.dispose();
    }
  }
}

/** Images [B, …] as the flat feature rows [B, features] a gate sees; null when x is already rows (or absent). */
function flatRows(x: Tensor | undefined): Tensor | null {
  return x !== undefined && x.ndim > 2 ? reshape(x, [x.shape[0]!, -1]) : null;
}
