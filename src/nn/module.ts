import { noGrad } from '../autograd/engine.js';
import { cast } from '../autograd/ops/elementwise.js';
import { backend } from '../kernels/registry.js';
import { formatShape, shapesEqual } from '../tensor/shape.js';
import { keep } from '../tensor/scope.js';
import type { RngState } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { summary } from './summary.js';

/** Parameter name → tensor. `stateDict()` returns copies; `loadStateDict` copies values in. */
export type StateDict = Record<string, Tensor>;

export interface LoadStateDictOptions {
  /** Reject missing and unexpected entries (default true). Mis-shaped entries are always an error. */
  strict?: boolean;
}

/**
 * Base class of every layer and model: owns named parameters and child modules (in registration
 * order, so names and iteration order are deterministic), a training flag, and state dicts whose
 * names are dotted paths such as `experts.0.layers.1.weight`.
 */
export abstract class Module {
  /** True in training mode (regularisers, noise); false after `eval()`. */
  training = true;
  private readonly ownParameters = new Map<string, Tensor>();
  private readonly childModules = new Map<string, Module>();

  /** Registers a trainable tensor under `name` (it is kept out of any open `tidy` scope). */
  protected addParameter(name: string, value: Tensor): Tensor {
    this.assertFreeName(name);
    value.requiresGrad = true;
    this.ownParameters.set(name, keep(value));
    return value;
  }

  protected addModule<M extends Module>(name: string, module: M): M {
    this.assertFreeName(name);
    if (!(module instanceof Module)) throw new Error(`${this.constructor.name}: child '${name}' is not a Module`);
    this.childModules.set(name, module);
    return module;
  }

  /** The current tensor of a parameter registered by this module. */
  protected param(name: string): Tensor {
    const p = this.ownParameters.get(name);
    if (!p) throw new Error(`${this.constructor.name}: no parameter named '${name}'`);
    return p;
  }

  /** Every trainable tensor, this module's first, then each child's in registration order. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** [dotted name, tensor] pairs, e.g. `['gates.0.z', t]`. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, p] of this.ownParameters) out.push([prefix + name, p]);
    for (const [name, child] of this.childModules) out.push(...child.namedParameters(`${prefix}${name}.`));
    return out;
  }

  /** Direct children with their names. */
  namedChildren(): [string, Module][] {
    return [...this.childModules];
  }

  /** This module and all of its descendants, depth first. */
  modules(): Module[] {
    const out: Module[] = [this];
    for (const child of this.childModules.values()) out.push(...child.modules());
    return out;
  }

  /** Total number of trainable scalars. */
  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /**
   * Called by `fit` on every module at the start of every epoch (0-based): regulariser schedules,
   * reseeding noise and dropout from (seed, epoch) so resumed runs repeat exactly. Default: nothing.
   */
  onEpochStart(epoch: number): void {
    void epoch;
  }

  /**
   * Called by `fit` on every module before every training step, with the step's 0-based index over the
   * whole run (epoch · batches per epoch + batch): per-step schedules. Default: nothing.
   */
  onStep(step: number): void {
    void step;
  }

  /**
   * The state of this module's own training randomness (gate noise, dropout masks), or null when it
   * has none: with it `fit` can resume exactly in the middle of an epoch.
   */
  randomState(): RngState | null {
    return null;
  }

  /** Restores what `randomState()` returned. */
  setRandomState(state: RngState | null): void {
    if (state !== null) throw new Error(`${this.constructor.name}.setRandomState: this module has no random state, got ${JSON.stringify(state)}`);
  }

  /** The module tree with its parameters per module, as a table (see `summary`). */
  toString(): string {
    return summary(this);
  }

  /** Copies of every parameter (detached, owned by the caller), keyed by dotted name. */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [name, p] of this.namedParameters()) {
      out[name] = copyOf(p);
    }
    return out;
  }

  /**
   * Copies values into the existing parameter tensors (their identity is kept, so optimisers holding
   * them stay valid). Values of another dtype are converted to the parameter's dtype. Every problem
   * (missing, unexpected, mis-shaped) is reported in one error.
   */
  loadStateDict(state: StateDict, opts: LoadStateDictOptions = {}): void {
    this.checkStateDict(state, opts);
    const own = new Map(this.namedParameters());
    noGrad(() => {
      for (const [name, p] of own) {
        const value = state[name];
        if (value === undefined) continue;
        const converted = value.dtype === p.dtype ? value : cast(value, p.dtype);
        p.setStorage(copyOf(converted).storage);
        if (converted !== value) converted.dispose();
      }
    });
  }

  /** Throws the error `loadStateDict` would throw for `state`, changing nothing. */
  checkStateDict(state: StateDict, opts: LoadStateDictOptions = {}): void {
    if (typeof state !== 'object' || state === null) {
      throw new Error(`${this.constructor.name}.loadStateDict: state must be an object of tensors, got ${state === null ? 'null' : typeof state}`);
    }
    const strict = opts.strict ?? true;
    const problems: string[] = [];
    const own = new Map(this.namedParameters());
    for (const [name, value] of Object.entries(state)) {
      const p = own.get(name);
      if (!p) {
        if (strict) problems.push(`unexpected entry '${name}' ${describeValue(value)} (the model has no such parameter)`);
        continue;
      }
      if (!(value instanceof Tensor)) {
        problems.push(`entry '${name}' is not a Tensor`);
      } else if (!shapesEqual(value.shape, p.shape)) {
        problems.push(`parameter '${name}' has shape ${formatShape(value.shape)} in the state dict but ${formatShape(p.shape)} in the model`);
      }
    }
    if (strict) {
      for (const name of own.keys()) if (!(name in state)) problems.push(`missing parameter '${name}' ${formatShape(own.get(name)!.shape)}`);
    }
    if (problems.length > 0) {
      throw new Error(`${this.constructor.name}.loadStateDict: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    }
  }

  /** @internal Swaps the tensor behind a dotted parameter name; returns the previous one. */
  swapParameter(dottedName: string, value: Tensor): Tensor {
    const dot = dottedName.indexOf('.');
    const own = dot < 0 ? this.ownParameters.get(dottedName) : undefined;
    if (own) {
      if (!shapesEqual(own.shape, value.shape) || own.dtype !== value.dtype) {
        throw new Error(
          `swapParameter: '${dottedName}' is ${own.dtype} ${formatShape(own.shape)}, got ${value.dtype} ${formatShape(value.shape)}`,
        );
      }
      this.ownParameters.set(dottedName, value);
      return own;
    }
    for (const [name, child] of this.childModules) {
      if (dottedName.startsWith(`${name}.`)) return child.swapParameter(dottedName.slice(name.length + 1), value);
    }
    throw new Error(`swapParameter: ${this.constructor.name} has no parameter '${dottedName}'`);
  }

  private assertFreeName(name: string): void {
    if (name.length === 0 || name.includes('.')) {
      throw new Error(`${this.constructor.name}: parameter/module names must be non-empty and contain no '.', got '${name}'`);
    }
    if (this.ownParameters.has(name) || this.childModules.has(name)) {
      throw new Error(`${this.constructor.name}: '${name}' is already registered`);
    }
  }
}

/** A fresh tensor with a copy of `t`'s elements, outside any tidy scope. */
function copyOf(t: Tensor): Tensor {
  const data = t.storage.readSync().slice();
  return keep(new Tensor(backend().fromHost(data), t.shape));
}

function describeValue(value: unknown): string {
  return value instanceof Tensor ? formatShape(value.shape) : `(${typeof value})`;
}

/**
 * Runs `fn` with `module`'s parameters temporarily replaced by `values` (in `parameters()` order) and
 * restores them afterwards. Used to differentiate a whole model with respect to fresh leaf tensors
 * (gradcheck) without rebuilding it.
 */
export function withParameters<T>(module: Module, values: readonly Tensor[], fn: () => T): T {
  const names = module.namedParameters().map(([n]) => n);
  if (values.length !== names.length) {
    throw new Error(`withParameters: ${module.constructor.name} has ${names.length} parameters, got ${values.length} tensors`);
  }
  const previous: Tensor[] = [];
  try {
    names.forEach((name, i) => previous.push(module.swapParameter(name, values[i]!)));
    return fn();
  } finally {
    previous.forEach((p, i) => module.swapParameter(names[i]!, p));
  }
}

/** A module that maps one tensor to one tensor (experts, towers, MLPs). */
export type Layer = Module & { forward(x: Tensor): Tensor };
