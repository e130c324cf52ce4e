import { reshape } from '../autograd/ops/shape.js';
import { Module, type Layer } from '../nn/module.js';
import { ModuleList } from '../nn/module-list.js';
import type { Tensor } from '../tensor/tensor.js';
import { mixExperts } from './expert-mixture.js';
import type { Gate } from './gate.js';
import type { GateDiagnostics } from './gate-diagnostics.js';

export interface MoEOptions {
  experts: readonly Layer[];
  gate: Gate;
  /** Skip experts whose gate weight is exactly 0 (default true; exact, see `mixExperts`). */
  sparse?: boolean;
}

export interface MoEOutput {
  /** Σ_e q_e · f_e(x), [B, expert output dims…]. */
  output: Tensor;
  /** Gate weights [B, numExperts]. */
  weights: Tensor;
  /** The gate's regulariser (training mode only), else null. */
  regularization: Tensor | null;
}

/** A mixture-of-experts layer: y = Σ_e q_e(x) · f_e(x) with one gate. */
export class MoE extends Module {
  readonly experts: ModuleList<Layer>;
  readonly gate: Gate;
  sparse: boolean;

  constructor(opts: MoEOptions) {
    super();
    checkExperts('MoE', opts.experts, [opts.gate]);
    this.experts = this.addModule('experts', new ModuleList(opts.experts));
    this.gate = this.addModule('gate', opts.gate);
    this.sparse = opts.sparse ?? true;
  }

  get numExperts(): number {
    return this.experts.length;
  }

  forward(x: Tensor): MoEOutput {
    // The gate sees flat feature rows (images are flattened); the experts see x as given.
    const { weights, regularization } = this.gate.forward(x.ndim > 2 ? reshape(x, [x.shape[0]!, -1]) : x);
    const [output] = mixExperts(x, this.experts.items, [weights], this.sparse);
    return { output: output!, weights, regularization };
  }

  diagnostics(x?: Tensor): GateDiagnostics {
    return this.gate.diagnostics(x !== undefined && x.ndim > 2 ? reshape(x, [x.shape[0]!, -1]) : x);
  }

  /** `diagnostics` with an asynchronous readback (every backend, webgpu included). */
  diagnosticsAsync(x?: Tensor): Promise<GateDiagnostics> {
    return this.gate.diagnosticsAsync(x !== undefined && x.ndim > 2 ? reshape(x, [x.shape[0]!, -1]) : x);
  }
}

export function checkExperts(owner: string, experts: readonly Layer[], gates: readonly Gate[]): void {
  if (!Array.isArray(experts) || experts.length < 2) {
    throw new Error(`${owner}: needs at least 2 experts, got ${Array.isArray(experts) ? experts.length : String(experts)}`);
  }
  experts.forEach((e, i) => {
    if (!(e instanceof Module) || typeof (e as { forward?: unknown }).forward !== 'function') {
      throw new Error(`${owner}: expert ${i} is not a Module with forward(x)`);
    }
  });
  if (new Set(experts).size !== experts.length) throw new Error(`${owner}: the same expert module is listed twice`);
  gates.forEach((g, t) => {
    if (g.numExperts !== experts.length) {
      throw new Error(`${owner}: gate ${t} (${g.kind}) has numExperts = ${g.numExperts} but there are ${experts.length} experts`);
    }
  });
}
