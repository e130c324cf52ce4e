import { Activation } from '../nn/activation-layer.js';
import type { ActivationName } from '../nn/activation.js';
import { CnnExpert } from '../nn/cnn-expert.js';
import { Conv2d, Flatten, MaxPool2d } from '../nn/conv2d.js';
import { Dropout } from '../nn/dropout.js';
import { Embedding } from '../nn/embedding.js';
import { LayerNorm } from '../nn/layer-norm.js';
import { Linear } from '../nn/linear.js';
import { MLP } from '../nn/mlp.js';
import { Module, type Layer } from '../nn/module.js';
import { ModuleList } from '../nn/module-list.js';
import { Sequential } from '../nn/sequential.js';
import type { RegularizerReduction } from '../packs/dselect/regularizers.js';
import type { DType } from '../tensor/dtype.js';
import { Rng } from '../tensor/random.js';
import { DSelectKGate } from './dselect-gate.js';
import { entropyScheduleSpec, parseEntropySchedule } from './entropy-schedule.js';
import { Gate } from './gate.js';
import { MMoE } from './mmoe.js';
import { MoE } from './moe-layer.js';
import { NoisyTopKGate } from './noisy-top-k-gate.js';
import { SoftmaxGate } from './softmax-gate.js';
import { TopKGate } from './top-k-gate.js';
import { StackedMMoE } from './stacked-mmoe.js';
import type { StaticGateBankSpec } from './static-gate-bank.js';

/**
 * A model's architecture as plain JSON: enough to rebuild it (with fresh weights) without the config
 * that built it. Stored in the meta of a checkpoint by `saveModel`; `loadModel` rebuilds the module
 * and loads the weights into it. One entry per layer class; a class of your own can be added with
 * `registerModuleType`.
 */
export interface ModuleSpec {
  /** The layer class ('Linear', 'MMoE', 'DSelectKGate', …). */
  type: string;
  /** Its constructor settings (numbers, strings, booleans, arrays) and child specs. */
  [setting: string]: unknown;
}

/** How to describe and rebuild one layer class. `describeChild`/`buildChild` handle nested modules. */
export interface ModuleType<M extends Module = Module> {
  /** The exact class (subclasses are not matched: they may behave differently). */
  readonly moduleClass: abstract new (...args: never[]) => M;
  describe(module: M, describeChild: (child: Module, name: string) => ModuleSpec): Omit<ModuleSpec, 'type'>;
  build(spec: ModuleSpec, buildChild: (spec: unknown, name: string) => Module): M;
}

const ARCHITECTURE_RNG_SEED = 0;
/** Weights are overwritten by the checkpoint; a fixed generator keeps rebuilding cheap and deterministic. */
const rng = (): Rng => new Rng(ARCHITECTURE_RNG_SEED);

function dtypeOf(m: Module): DType {
  return m.parameters()[0]?.dtype ?? 'float32';
}

/** Reads a typed setting from a spec, naming the setting when it is missing or wrong (the caller adds the path). */
class SpecReader {
  constructor(private readonly spec: ModuleSpec) {}

  private fail(key: string, expected: string): never {
    throw new Error(`setting '${key}' must be ${expected}, got ${JSON.stringify(this.spec[key])}`);
  }

  number(key: string): number {
    const v = this.spec[key];
    return typeof v === 'number' && Number.isFinite(v) ? v : this.fail(key, 'a finite number');
  }

  integer(key: string): number {
    const v = this.spec[key];
    return Number.isInteger(v) ? (v as number) : this.fail(key, 'an integer');
  }

  optionalInteger(key: string): number | undefined {
    return this.spec[key] === null || this.spec[key] === undefined ? undefined : this.integer(key);
  }

  boolean(key: string): boolean {
    const v = this.spec[key];
    return typeof v === 'boolean' ? v : this.fail(key, 'true or false');
  }

  /** A boolean that older specs may lack. */
  booleanOr(key: string, fallback: boolean): boolean {
    return this.spec[key] === undefined ? fallback : this.boolean(key);
  }

  string<T extends string>(key: string): T {
    const v = this.spec[key];
    return typeof v === 'string' ? (v as T) : this.fail(key, 'a string');
  }

  integers(key: string): number[] {
    const v = this.spec[key];
    return Array.isArray(v) && v.every((d) => Number.isInteger(d)) ? [...(v as number[])] : this.fail(key, 'an array of integers');
  }

  dtype(): DType {
    const v = this.spec['dtype'] ?? 'float32';
    return v === 'float32' || v === 'float64' ? v : this.fail('dtype', "'float32' or 'float64'");
  }

  children(key: string): unknown[] {
    const v = this.spec[key];
    return Array.isArray(v) ? v : this.fail(key, 'an array of module specs');
  }
}

function layers(children: Module[], owner: string): Layer[] {
  return children.map((c, i) => {
    if (typeof (c as { forward?: unknown }).forward !== 'function') throw new Error(`${owner} child ${i} (${c.constructor.name}) has no forward(x)`);
    return c as Layer;
  });
}

function gates(children: Module[], owner: string): Gate[] {
  return children.map((c, i) => {
    if (!(c instanceof Gate)) throw new Error(`${owner} gate ${i} is a ${c.constructor.name}, not a gate`);
    return c;
  });
}

/** Spelled out (not `Class.name`) so that minified bundles write the same names. */
const BUILT_IN: [string, ModuleType<never>][] = [
  type('Linear', Linear, {
    describe: (m) => ({ inDim: m.inDim, outDim: m.outDim, bias: m.hasBias, dtype: dtypeOf(m) }),
    build: (_s, _c, r) => new Linear(r.integer('inDim'), r.integer('outDim'), { bias: r.boolean('bias'), rng: rng(), dtype: r.dtype() }),
  }),
  type('MLP', MLP, {
    describe: (m) => ({
      inputDim: m.inputDim,
      hidden: m.layers.items.slice(0, -1).map((l) => l.outDim),
      outputDim: m.outputDim,
      activation: m.activation,
      outputActivation: m.outputActivation,
      dtype: dtypeOf(m),
    }),
    build: (_s, _c, r) =>
      new MLP({
        inputDim: r.integer('inputDim'),
        hidden: r.integers('hidden'),
        outputDim: r.integer('outputDim'),
        activation: r.string<ActivationName>('activation'),
        outputActivation: r.string<ActivationName>('outputActivation'),
        rng: rng(),
        dtype: r.dtype(),
      }),
  }),
  type('Conv2d', Conv2d, {
    describe: (m) => ({ inChannels: m.inChannels, outChannels: m.outChannels, kernelSize: [m.kernelH, m.kernelW], stride: m.stride, padding: m.padding, bias: m.hasBias, dtype: dtypeOf(m) }),
    build: (_s, _c, r) => {
      const [kh, kw] = r.integers('kernelSize');
      return new Conv2d(r.integer('inChannels'), r.integer('outChannels'), { kernelSize: [kh!, kw!], stride: r.integer('stride'), padding: r.integer('padding'), bias: r.boolean('bias'), rng: rng(), dtype: r.dtype() });
    },
  }),
  type('CnnExpert', CnnExpert, {
    describe: (m) => {
      const kernels = new Set(m.convs.items.flatMap((c) => [c.kernelH, c.kernelW]));
      if (kernels.size !== 1) throw new Error(`a CnnExpert with mixed kernel sizes ${[...kernels].join(', ')} cannot be described`);
      return {
        inputShape: [...m.inputShape],
        filters: m.convs.items.map((c) => c.outChannels),
        kernelSize: [...kernels][0],
        pool: (m.namedChildren().find(([n]) => n === 'pool')![1] as MaxPool2d).kernel,
        dense: m.dense.items.map((l) => l.outDim),
        dtype: dtypeOf(m),
      };
    },
    build: (_s, _c, r) => {
      const [c, h, w] = r.integers('inputShape');
      return new CnnExpert({ inputShape: [c!, h!, w!], filters: r.integers('filters'), kernelSize: r.integer('kernelSize'), pool: r.integer('pool'), dense: r.integers('dense'), rng: rng(), dtype: r.dtype() });
    },
  }),
  type('MaxPool2d', MaxPool2d, { describe: (m) => ({ kernel: m.kernel, stride: m.stride }), build: (_s, _c, r) => new MaxPool2d(r.integer('kernel'), r.integer('stride')) }),
  type('Flatten', Flatten, { describe: () => ({}), build: () => new Flatten() }),
  type('Activation', Activation, { describe: (m) => ({ name: m.name }), build: (_s, _c, r) => new Activation(r.string<ActivationName>('name')) }),
  type('Dropout', Dropout, { describe: (m) => ({ p: m.p, seed: m.seed }), build: (_s, _c, r) => new Dropout(r.number('p'), { seed: r.integer('seed') }) }),
  type('LayerNorm', LayerNorm, {
    describe: (m) => ({ normalizedShape: [...m.normalizedShape], eps: m.eps, elementwiseAffine: m.elementwiseAffine, dtype: dtypeOf(m) }),
    build: (_s, _c, r) => new LayerNorm(r.integers('normalizedShape'), { eps: r.number('eps'), elementwiseAffine: r.boolean('elementwiseAffine'), dtype: r.dtype() }),
  }),
  type('Embedding', Embedding, {
    describe: (m) => ({ numEmbeddings: m.numEmbeddings, embeddingDim: m.embeddingDim, dtype: dtypeOf(m) }),
    build: (_s, _c, r) => new Embedding(r.integer('numEmbeddings'), r.integer('embeddingDim'), { rng: rng(), dtype: r.dtype() }),
  }),
  type('Sequential', Sequential, {
    describe: (m, child) => ({ layers: m.layers.map((l, i) => child(l, String(i))) }),
    build: (_s, child, r) => new Sequential(layers(r.children('layers').map((c, i) => child(c, String(i))), 'Sequential')),
  }),
  type('ModuleList', ModuleList, {
    describe: (m, child) => ({ items: m.items.map((l, i) => child(l, String(i))) }),
    build: (_s, child, r) => new ModuleList(r.children('items').map((c, i) => child(c, String(i)))),
  }),
  type('DSelectKGate', DSelectKGate, {
    describe: (m) => {
      const schedule = entropyScheduleSpec(m.entropySchedule);
      if (schedule === null) {
        throw new Error('its entropy schedule is a hand-written function, which cannot be stored; use constantSchedule, linearWarmupSchedule, exponentialSchedule or parseEntropySchedule');
      }
      return {
        numExperts: m.numExperts,
        k: m.k,
        gamma: m.gamma,
        perExample: m.perExample,
        inputDim: m.inputDim,
        entropyWeight: m.baseEntropyWeight,
        entropySchedule: schedule,
        regularizerReduction: m.regularizerReduction,
        reachabilityWeight: m.reachabilityWeight,
        dtype: dtypeOf(m),
      };
    },
    build: (_s, _c, r) =>
      new DSelectKGate({
        numExperts: r.integer('numExperts'),
        k: r.integer('k'),
        gamma: r.number('gamma'),
        perExample: r.boolean('perExample'),
        inputDim: r.optionalInteger('inputDim'),
        entropyWeight: r.number('entropyWeight'),
        entropySchedule: parseEntropySchedule(r.string('entropySchedule')),
        regularizerReduction: r.string<RegularizerReduction>('regularizerReduction'),
        reachabilityWeight: r.number('reachabilityWeight'),
        rng: rng(),
        dtype: r.dtype(),
      }),
  }),
  type('SoftmaxGate', SoftmaxGate, {
    describe: (m) => ({ numExperts: m.numExperts, perExample: m.perExample, inputDim: m.inputDim, dtype: dtypeOf(m) }),
    build: (_s, _c, r) => new SoftmaxGate({ numExperts: r.integer('numExperts'), perExample: r.boolean('perExample'), inputDim: r.optionalInteger('inputDim'), rng: rng(), dtype: r.dtype() }),
  }),
  type('TopKGate', TopKGate, {
    describe: (m) => ({ numExperts: m.numExperts, perExample: m.perExample, inputDim: m.inputDim, k: m.k, dtype: dtypeOf(m) }),
    build: (_s, _c, r) =>
      new TopKGate({ numExperts: r.integer('numExperts'), perExample: r.booleanOr('perExample', true), inputDim: r.optionalInteger('inputDim'), k: r.integer('k'), rng: rng(), dtype: r.dtype() }),
  }),
  type('NoisyTopKGate', NoisyTopKGate, {
    describe: (m) => ({ numExperts: m.numExperts, inputDim: m.inputDim, k: m.k, balanceWeight: m.balanceWeight, noiseEpsilon: m.noiseEpsilon, noiseSeed: m.noiseSeed, dtype: dtypeOf(m) }),
    build: (_s, _c, r) =>
      new NoisyTopKGate({
        numExperts: r.integer('numExperts'),
        inputDim: r.integer('inputDim'),
        k: r.integer('k'),
        balanceWeight: r.number('balanceWeight'),
        noiseEpsilon: r.number('noiseEpsilon'),
        noiseSeed: r.integer('noiseSeed'),
        rng: rng(),
        dtype: r.dtype(),
      }),
  }),
  type('MoE', MoE, {
    describe: (m, child) => ({ experts: m.experts.items.map((e, i) => child(e, `experts.${i}`)), gate: child(m.gate, 'gate'), sparse: m.sparse }),
    build: (s, child, r) => {
      const [gate] = gates([child(s['gate'], 'gate')], 'MoE');
      return new MoE({ experts: layers(r.children('experts').map((c, i) => child(c, `experts.${i}`)), 'MoE'), gate: gate!, sparse: r.boolean('sparse') });
    },
  }),
  type('MMoE', MMoE, {
    describe: (m, child) => ({
      experts: m.experts.items.map((e, i) => child(e, `experts.${i}`)),
      gates: m.gates.items.map((g, i) => child(g, `gates.${i}`)),
      towers: m.towers.items.map((t, i) => child(t, `towers.${i}`)),
      sparse: m.sparse,
    }),
    build: (_s, child, r) =>
      new MMoE({
        experts: layers(r.children('experts').map((c, i) => child(c, `experts.${i}`)), 'MMoE'),
        gates: gates(r.children('gates').map((c, i) => child(c, `gates.${i}`)), 'MMoE'),
        towers: layers(r.children('towers').map((c, i) => child(c, `towers.${i}`)), 'MMoE'),
        sparse: r.boolean('sparse'),
      }),
  }),
  type('StackedMMoE', StackedMMoE, {
    describe: (m, child) => {
      const g = m.gates;
      let gate: Record<string, unknown> = { type: g.kind, k: g.k };
      if (g.kind === 'dselect-k') {
        const schedule = entropyScheduleSpec(g.entropySchedule);
        if (schedule === null) throw new Error('its entropy schedule is a hand-written function, which cannot be stored; use the built-in schedules');
        gate = { ...gate, gamma: g.gamma, entropyWeight: g.baseEntropyWeight, entropySchedule: schedule, reachabilityWeight: g.reachabilityWeight };
      }
      return {
        inputDim: m.inputDim,
        numTasks: m.numTasks,
        experts: m.experts.items.map((e, i) => child(e, `experts.${i}`)),
        gate,
        expertOutputDim: m.expertOutputDim,
        towerHidden: m.towers.widths.slice(1, -1),
        taskOutputDim: m.towers.widths[m.towers.widths.length - 1],
        sparse: m.sparse,
        dtype: dtypeOf(m),
      };
    },
    build: (spec, child, r) => {
      const experts = layers(r.children('experts').map((c, i) => child(c, `experts.${i}`)), 'StackedMMoE');
      const g = new SpecReader((spec['gate'] ?? {}) as ModuleSpec);
      const kind = g.string<'dselect-k' | 'top-k' | 'softmax'>('type');
      const gate: StaticGateBankSpec =
        kind === 'dselect-k'
          ? { type: kind, k: g.integer('k'), gamma: g.number('gamma'), entropyWeight: g.number('entropyWeight'), entropySchedule: parseEntropySchedule(g.string('entropySchedule')), reachabilityWeight: g.number('reachabilityWeight') }
          : kind === 'top-k'
            ? { type: kind, k: g.integer('k') }
            : { type: 'softmax' };
      return new StackedMMoE({
        inputDim: r.integer('inputDim'),
        numTasks: r.integer('numTasks'),
        numExperts: experts.length,
        gate,
        expertFactory: (i) => experts[i]!,
        expertOutputDim: r.integer('expertOutputDim'),
        towerHidden: r.integers('towerHidden'),
        taskOutputDim: r.integer('taskOutputDim'),
        sparse: r.boolean('sparse'),
        rng: rng(),
        dtype: r.dtype(),
      });
    },
  }),
];

/** A typed table entry; `build` also gets a reader of the spec's settings. */
function type<M extends Module>(
  name: string,
  moduleClass: abstract new (...args: never[]) => M,
  entry: {
    describe: (m: M, child: (c: Module, name: string) => ModuleSpec) => Omit<ModuleSpec, 'type'>;
    build: (spec: ModuleSpec, child: (spec: unknown, name: string) => Module, read: SpecReader) => M;
  },
): [string, ModuleType<never>] {
  const built: ModuleType<M> = { moduleClass, describe: entry.describe, build: (spec, child) => entry.build(spec, child, new SpecReader(spec)) };
  return [name, built as unknown as ModuleType<never>];
}

const registered = new Map<string, ModuleType<never>>(BUILT_IN);

/**
 * Adds a layer class of your own, so models containing it can be saved and loaded: `describe` returns
 * its settings (JSON), `build` constructs it from them. The name is the `type` written in the spec.
 */
export function registerModuleType<M extends Module>(name: string, entry: ModuleType<M>): void {
  if (typeof name !== 'string' || name.length === 0) throw new Error(`registerModuleType: name must be a non-empty string, got ${JSON.stringify(name)}`);
  if (registered.has(name)) throw new Error(`registerModuleType: a module type named '${name}' is already registered`);
  registered.set(name, entry as unknown as ModuleType<never>);
}

/** The names `describeArchitecture` knows. */
export function moduleTypeNames(): string[] {
  return [...registered.keys()];
}

function entryFor(m: Module): [string, ModuleType<never>] | null {
  for (const [name, entry] of registered) if (m.constructor === entry.moduleClass) return [name, entry];
  return null;
}

/** The architecture of `module` as JSON (see ModuleSpec); an unknown layer class is an error naming its path. */
export function describeArchitecture(module: Module): ModuleSpec {
  const visit = (m: Module, path: string): ModuleSpec => {
    const found = entryFor(m);
    if (!found) {
      throw new Error(
        `describeArchitecture: ${path} is a ${m.constructor.name}, which cannot be described (known: ${moduleTypeNames().join(', ')}); add it with registerModuleType`,
      );
    }
    const [name, entry] = found;
    try {
      return { type: name, ...entry.describe(m as never, (child, childName) => visit(child, path === '(root)' ? childName : `${path}.${childName}`)) };
    } catch (e) {
      const message = (e as Error).message;
      throw message.startsWith('describeArchitecture:') ? e : new Error(`describeArchitecture: ${path} (${name}): ${message}`);
    }
  };
  return visit(module, '(root)');
}

/** Builds a module from its architecture, with fresh weights (load a state dict into it next). */
export function buildFromArchitecture(spec: unknown): Module {
  const visit = (s: unknown, path: string): Module => {
    if (typeof s !== 'object' || s === null || typeof (s as ModuleSpec).type !== 'string') {
      throw new Error(`buildFromArchitecture: ${path} is not a module spec ({ type, … }), got ${JSON.stringify(s)?.slice(0, 80)}`);
    }
    const ms = s as ModuleSpec;
    const entry = registered.get(ms.type);
    if (!entry) throw new Error(`buildFromArchitecture: ${path} has unknown type '${ms.type}' (known: ${moduleTypeNames().join(', ')}); register it with registerModuleType`);
    try {
      return entry.build(ms, (child, name) => visit(child, path === '(root)' ? name : `${path}.${name}`));
    } catch (e) {
      const message = (e as Error).message;
      throw message.startsWith('buildFromArchitecture:') ? e : new Error(`buildFromArchitecture: ${path} (${ms.type}): ${message}`);
    }
  };
  return visit(spec, '(root)');
}
