import type { Backend, Conv2dGeometry } from '../../kernels/backend.js';
import { PackKernels } from '../../kernels/pack-kernels.js';
import { allocArray } from '../../tensor/dtype.js';
import type { Storage } from '../../tensor/storage.js';
import { convPoolReluBackwardInto, convPoolReluInto } from './cpu-reference.js';

/** A convolution followed by a non-overlapping max-pool (window = stride = pool). */
export interface ConvPoolGeometry extends Conv2dGeometry {
  pool: number;
  /** ⌊outH / pool⌋, ⌊outW / pool⌋. */
  pooledH: number;
  pooledW: number;
  /**
   * Grouped convolution (default 1): channels and filters split into `groups` equal blocks, filter
   * block g seeing only channel block g; the weight is [F, C/groups, kH, kW].
   */
  groups?: number;
}

/** Which gradients convPoolReluBackward computes. */
export interface ConvPoolNeeds {
  x: boolean;
  weight: boolean;
  bias: boolean;
}

export interface ConvPoolGrads {
  x: Storage | null;
  weight: Storage | null;
  bias: Storage | null;
}

export interface ConvPoolReluKernels {
  /** Whether these kernels take geo.groups > 1 (else the op runs one call per group). */
  readonly grouped?: boolean;
  /** relu(maxPool(conv(x, weight)) + bias): the pooled values and, per output, which input position won its window (`codes`, kept for the backward). */
  forward(x: Storage, weight: Storage, bias: Storage | null, geo: ConvPoolGeometry): { values: Storage; codes: Storage };
  /** The gradients for upstream g (shape of values), from the forward's values and codes. */
  backward(g: Storage, values: Storage, codes: Storage, x: Storage, weight: Storage, geo: ConvPoolGeometry, needs: ConvPoolNeeds): ConvPoolGrads;
}

export function filtersOf(weight: Storage, geo: ConvPoolGeometry): number {
  return weight.size / ((geo.inputShape[1]! / (geo.groups ?? 1)) * geo.kernelH * geo.kernelW);
}

export function pooledSize(x: Storage, weight: Storage, geo: ConvPoolGeometry): number {
  return (x.size / (geo.inputShape[1]! * geo.inputShape[2]! * geo.inputShape[3]!)) * filtersOf(weight, geo) * geo.pooledH * geo.pooledW;
}

/** The generic version: the JS reference on data read back from the backend, the results uploaded to it. */
function generic(b: Backend): ConvPoolReluKernels {
  return {
    grouped: true,
    forward(x, weight, bias, geo) {
      const size = pooledSize(x, weight, geo);
      const [values, codes] = [allocArray(x.dtype, size), allocArray(x.dtype, size)];
      convPoolReluInto(x.readSync(), weight.readSync(), bias && bias.readSync(), geo, values, codes);
      return { values: b.fromHost(values), codes: b.fromHost(codes) };
    },
    backward(g, values, codes, x, weight, geo, needs) {
      const out = {
        x: needs.x ? allocArray(x.dtype, x.size) : null,
        weight: needs.weight ? allocArray(x.dtype, weight.size) : null,
        bias: needs.bias ? allocArray(x.dtype, filtersOf(weight, geo)) : null,
      };
      convPoolReluBackwardInto(g.readSync(), values.readSync(), codes.readSync(), x.readSync(), weight.readSync(), geo, out);
      return { x: out.x && b.fromHost(out.x), weight: out.weight && b.fromHost(out.weight), bias: out.bias && b.fromHost(out.bias) };
    },
  };
}

export const convPoolReluKernels = new PackKernels<ConvPoolReluKernels>('conv-pool-relu', generic);
