import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/random.js';
import type { RegularizerReduction } from '../packs/dselect/index.js';
import { DSelectKGate } from './dselect-gate.js';
import type { EntropySchedule } from './entropy-schedule.js';
import type { Gate } from './gate.js';
import { NoisyTopKGate } from './noisy-top-k-gate.js';
import { SoftmaxGate } from './softmax-gate.js';
import { TopKGate } from './top-k-gate.js';

/** A gate described by data (what the command line and configs use). */
export type GateSpec =
  | {
      type: 'dselect-k';
      k: number;
      gamma?: number;
      perExample?: boolean;
      entropyWeight?: number;
      entropySchedule?: EntropySchedule;
      regularizerReduction?: RegularizerReduction;
      reachabilityWeight?: number;
    }
  | { type: 'softmax'; perExample?: boolean }
  | { type: 'top-k'; k: number; perExample?: boolean }
  | { type: 'noisy-top-k'; k: number; balanceWeight?: number; noiseEpsilon?: number; noiseSeed?: number };

export type GateType = GateSpec['type'];
export const gateTypes: readonly GateType[] = ['dselect-k', 'softmax', 'top-k', 'noisy-top-k'];

export interface GateContext {
  numExperts: number;
  /** Features of the (flattened) input the gate sees. */
  inputDim: number;
  rng?: Rng;
  dtype?: DType;
}

/** Builds the gate a spec describes over `ctx.numExperts` experts. */
export function createGate(spec: GateSpec, ctx: GateContext): Gate {
  const common = { numExperts: ctx.numExperts, inputDim: ctx.inputDim, rng: ctx.rng, dtype: ctx.dtype };
  switch (spec?.type) {
    case 'dselect-k': {
      const { type: _type, ...rest } = spec;
      return new DSelectKGate({ ...common, ...rest });
    }
    case 'softmax':
      return new SoftmaxGate({ ...common, perExample: spec.perExample ?? true });
    case 'top-k':
      return new TopKGate({ ...common, k: spec.k, perExample: spec.perExample ?? true });
    case 'noisy-top-k': {
      const { type: _type, ...rest } = spec;
      return new NoisyTopKGate({ ...common, ...rest });
    }
    default:
      throw new Error(`createGate: unknown gate type ${JSON.stringify((spec as { type?: unknown } | undefined)?.type)} (expected one of ${gateTypes.join(', ')})`);
  }
}
