import { DEFAULT_DTYPE, type DType } from '../tensor/dtype.js';
import { full, rand } from '../tensor/creation.js';
import { getGlobalRng, type Rng } from '../tensor/random.js';
import type { Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/** What an initialiser needs besides the shape: fan sizes, the seeded generator and the dtype. */
export interface InitContext {
  fanIn: number;
  fanOut: number;
  rng: Rng;
  dtype: DType;
}

/** Builds the initial value of a parameter. All randomness comes from `ctx.rng`. */
export type Initializer = (shape: Shape, ctx: InitContext) => Tensor;

/** U(−a, a) with a = √(6 / (fanIn + fanOut)) (Glorot & Bengio): keeps activations' variance for tanh/linear layers. */
export const glorotUniform: Initializer = (shape, ctx) => {
  const limit = Math.sqrt(6 / Math.max(1, ctx.fanIn + ctx.fanOut));
  return rand(shape, { low: -limit, high: limit, rng: ctx.rng, dtype: ctx.dtype });
};

/** U(−a, a) with a = √(6 / fanIn) (He et al.): for layers followed by ReLU. */
export const heUniform: Initializer = (shape, ctx) => {
  const limit = Math.sqrt(6 / Math.max(1, ctx.fanIn));
  return rand(shape, { low: -limit, high: limit, rng: ctx.rng, dtype: ctx.dtype });
};

/** U(low, high). */
export function uniformInit(low: number, high: number): Initializer {
  if (!(low <= high) || !Number.isFinite(low) || !Number.isFinite(high)) {
    throw new Error(`uniformInit: need finite low ≤ high, got low=${low}, high=${high}`);
  }
  return (shape, ctx) => rand(shape, { low, high, rng: ctx.rng, dtype: ctx.dtype });
}

/** Every element set to `value`. */
export function constantInit(value: number): Initializer {
  return (shape, ctx) => full(shape, value, { dtype: ctx.dtype });
}

export const zerosInit: Initializer = constantInit(0);

/** Fills in defaults for the rng (the global seeded one) and the dtype (float32). */
export function initContext(fanIn: number, fanOut: number, opts: { rng?: Rng; dtype?: DType }): InitContext {
  return { fanIn, fanOut, rng: opts.rng ?? getGlobalRng(), dtype: opts.dtype ?? DEFAULT_DTYPE };
}
