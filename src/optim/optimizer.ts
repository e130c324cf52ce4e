import { noGrad } from '../autograd/engine.js';
import { backend } from '../kernels/registry.js';
import { formatShape, shapesEqual } from '../tensor/shape.js';
import { keep, tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';

/** Where an optimiser gets its parameters: a list of tensors or anything with `parameters()` (a Module). */
export type ParameterSource = Iterable<Tensor> | { parameters(): Tensor[] };

/** Everything needed to continue an optimisation exactly: hyperparameters, step counts and slot tensors. */
export interface OptimizerState {
  type: string;
  hyperparameters: Record<string, number | boolean>;
  /** Per parameter (in the optimiser's order): how many updates it has received. */
  steps: number[];
  /** Slot tensors keyed `<parameter index>.<slot name>`, e.g. `3.exp_avg`. */
  slots: Record<string, Tensor>;
}

/**
 * Base of SGD/Adam/AdamW. `step()` updates every parameter that has a gradient, under `noGrad` and
 * inside `tidy` (no tensor survives a step except the new values), and writes the result into the
 * parameter's own tensor with `setStorage`, so parameters keep their identity.
 */
export abstract class Optimizer {
  readonly params: readonly Tensor[];
  /** Learning rate; may be changed between steps (schedules). */
  lr: number;
  private readonly slotTensors: Map<string, Tensor>[];
  private readonly paramSteps: number[];

  protected constructor(
    readonly type: string,
    source: ParameterSource,
    lr: number,
  ) {
    const list = isModuleLike(source) ? source.parameters() : [...source];
    list.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new Error(`${type}: parameter ${i} is not a Tensor`);
    });
    if (list.length === 0) throw new Error(`${type}: no parameters to optimise`);
    if (new Set(list).size !== list.length) throw new Error(`${type}: the same parameter tensor appears twice`);
    assertPositive(type, 'lr', lr);
    this.params = list;
    this.lr = lr;
    this.slotTensors = list.map(() => new Map());
    this.paramSteps = list.map(() => 0);
  }

  /** Clears every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /** One update of every parameter that has a gradient (parameters without one are left alone). */
  step(): void {
    // 0 is allowed here (a schedule may end or start at 0); the constructor asks for a rate > 0.
    if (typeof this.lr !== 'number' || !Number.isFinite(this.lr) || this.lr < 0) throw new Error(`${this.type}: lr must be a finite number ≥ 0, got ${String(this.lr)}`);
    noGrad(() =>
      tidy(() => {
        this.params.forEach((p, i) => {
          if (p.grad === null) return;
          this.paramSteps[i]!++;
          this.update(i, p, p.grad, this.paramSteps[i]!);
        });
      }),
    );
  }

  /** Computes the new value of parameter `index` (step `t`, counted from 1) and assigns it with `assign`. */
  protected abstract update(index: number, param: Tensor, grad: Tensor, t: number): void;

  protected abstract hyperparameters(): Record<string, number | boolean>;
  protected abstract setHyperparameters(h: Record<string, number | boolean>): void;
  /** Throws (naming `where`) when `setHyperparameters(h)` would leave invalid values; changes nothing. */
  protected abstract checkHyperparameters(h: Record<string, number | boolean>, where: string): void;

  /** Writes `value` into `target` in place (target keeps its identity). */
  protected assign(target: Tensor, value: Tensor): void {
    target.setStorage(value.storage);
  }

  /** The slot tensor `name` of parameter `index`, or null before its first update. */
  protected getSlot(index: number, name: string): Tensor | null {
    return this.slotTensors[index]!.get(name) ?? null;
  }

  /** Creates slot `name` of parameter `index` holding a copy of `value`'s elements. */
  protected setSlot(index: number, name: string, value: Tensor): Tensor {
    const existing = this.slotTensors[index]!.get(name);
    if (existing) {
      this.assign(existing, value);
      return existing;
    }
    const t = keep(new Tensor(value.storage, value.shape));
    this.slotTensors[index]!.set(name, t);
    return t;
  }

  /** A snapshot (copies) of the optimiser's state, for checkpoints. */
  stateDict(): OptimizerState {
    const slots: Record<string, Tensor> = {};
    this.slotTensors.forEach((m, i) => {
      for (const [name, t] of m) slots[`${i}.${name}`] = copy(t);
    });
    return { type: this.type, hyperparameters: { lr: this.lr, ...this.hyperparameters() }, steps: [...this.paramSteps], slots };
  }

  /** Restores a state from `stateDict()`; its type, parameter count and slot shapes must match. */
  loadStateDict(state: OptimizerState): void {
    const parsed = this.checkStateDict(state);
    const { lr, ...rest } = state.hyperparameters ?? {};
    if (typeof lr === 'number') this.lr = lr;
    this.setHyperparameters(rest);
    this.slotTensors.forEach((m) => m.clear());
    for (const [index, name, t] of parsed) this.slotTensors[index]!.set(name, copy(t));
    state.steps.forEach((s, i) => (this.paramSteps[i] = s));
  }

  /** Throws the error `loadStateDict` would throw for `state`, changing nothing; returns its slots by parameter. */
  checkStateDict(state: OptimizerState): [index: number, slot: string, value: Tensor][] {
    const where = `${this.type}.loadStateDict`;
    if (typeof state !== 'object' || state === null) throw new Error(`${where}: state must be an object`);
    if (state.type !== this.type) throw new Error(`${where}: state is for ${String(state.type)}, not ${this.type}`);
    const h = state.hyperparameters;
    if (typeof h !== 'object' || h === null || Array.isArray(h)) throw new Error(`${where}: hyperparameters must be an object, got ${JSON.stringify(h)}`);
    assertPositive(`${where}: hyperparameters`, 'lr', readNumber(h, 'lr', this.lr, where));
    this.checkHyperparameters(h, where);
    if (!Array.isArray(state.steps) || state.steps.length !== this.params.length) {
      throw new Error(`${where}: state has ${Array.isArray(state.steps) ? state.steps.length : 'no'} parameter step counts, the optimiser has ${this.params.length} parameters`);
    }
    const problems: string[] = [];
    const parsed: [number, string, Tensor][] = [];
    for (const [key, t] of Object.entries(state.slots ?? {})) {
      const match = /^(\d+)\.(.+)$/.exec(key);
      const index = match ? Number(match[1]) : -1;
      const p = this.params[index];
      if (!match || p === undefined) {
        problems.push(`slot '${key}' does not name a parameter index in [0, ${this.params.length})`);
      } else if (!(t instanceof Tensor) || !shapesEqual(t.shape, p.shape)) {
        problems.push(`slot '${key}' has shape ${t instanceof Tensor ? formatShape(t.shape) : '(not a tensor)'} but parameter ${index} has shape ${formatShape(p.shape)}`);
      } else if (t.dtype !== p.dtype) {
        problems.push(`slot '${key}' is ${t.dtype} but parameter ${index} is ${p.dtype}`);
      } else {
        parsed.push([index, match[2]!, t]);
      }
    }
    state.steps.forEach((s, i) => {
      if (!Number.isInteger(s) || s < 0) problems.push(`step count ${i} is ${s}, expected an integer ≥ 0`);
    });
    if (problems.length > 0) throw new Error(`${where}: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    return parsed;
  }
}

function copy(t: Tensor): Tensor {
  return keep(new Tensor(backend().fromHost(t.storage.readSync().slice()), t.shape));
}

function isModuleLike(source: ParameterSource): source is { parameters(): Tensor[] } {
  return typeof (source as { parameters?: unknown }).parameters === 'function';
}

export function assertPositive(owner: string, name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${owner}: ${name} must be a finite number > 0, got ${String(value)}`);
  }
}

export function assertInRange(owner: string, name: string, value: number, low: number, highExclusive: number): void {
  if (typeof value !== 'number' || !(value >= low && value < highExclusive)) {
    throw new Error(`${owner}: ${name} must be in [${low}, ${highExclusive}), got ${String(value)}`);
  }
}

/** h[name] when present (it must then be a number), else `fallback`. */
export function readNumber(h: Record<string, number | boolean>, name: string, fallback: number, where = 'readNumber'): number {
  if (!Object.hasOwn(h, name)) return fallback;
  const v = h[name];
  if (typeof v !== 'number') throw new Error(`${where}: hyperparameter ${name} must be a number, got ${JSON.stringify(v)}`);
  return v;
}
