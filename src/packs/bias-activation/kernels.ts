import type { Backend } from '../../kernels/backend.js';
import { PackKernels } from '../../kernels/pack-kernels.js';
import type { Shape } from '../../tensor/shape.js';
import type { Storage } from '../../tensor/storage.js';

/** Activations the fused kernels apply ('identity' = bias only). */
export type FusedActivation = 'identity' | 'relu';

export interface BiasActivationGrad {
  x: Storage;
  bias: Storage | null;
}

export interface BiasActivationKernels {
  /** activation(x + bias), the bias (length = last dim of `shape`) added to every row; `bias` null for the activation alone. */
  forward(x: Storage, shape: Shape, bias: Storage | null, activation: FusedActivation): Storage;
  /**
   * The backward in one pass: x's gradient g·activation'(·), computed from the output y (relu: g
   * where y > 0, else 0), and with `withBias` the bias gradient, x's gradient summed over every row.
   */
  backward(activation: FusedActivation, g: Storage, y: Storage, shape: Shape, withBias: boolean): BiasActivationGrad;
}

function lastDim(shape: Shape): number {
  return shape.length > 0 ? shape[shape.length - 1]! : 1;
}

function copy(b: Backend, x: Storage): Storage {
  return b.slice(x, [x.size], [0], [x.size]);
}

/** The generic version: an add, a relu and a reduce of the backend (several passes, data stays put). */
function generic(b: Backend): BiasActivationKernels {
  return {
    forward(x, shape, bias, activation) {
      const sum = bias ? b.binary('add', x, shape, bias, [lastDim(shape)], shape) : x;
      if (activation === 'identity') return sum === x ? copy(b, x) : sum;
      const out = b.unary('relu', sum);
      if (sum !== x) sum.dispose();
      return out;
    },
    backward(activation, g, y, shape, withBias) {
      let x: Storage;
      if (activation === 'identity') x = copy(b, g);
      else {
        const mask = b.unary('step', y);
        x = b.binary('mul', g, shape, mask, shape, shape);
        mask.dispose();
      }
      const rowAxes = shape.map((_, i) => i).slice(0, -1);
      return { x, bias: withBias ? b.reduce('sum', x, shape, rowAxes) : null };
    },
  };
}

export const biasActivationKernels = new PackKernels<BiasActivationKernels>('bias-activation', generic);
