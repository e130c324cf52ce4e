import { randn, tensor } from '../tensor/creation.js';
import { Rng } from '../tensor/random.js';
import { sizeOf, type Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Float64 input builders for gradient checks. Each case seeds its own generator, so its inputs are
 * the same on every run; builders that feed kinked ops keep their values away from the kink by
 * construction (not by luck of the seed).
 */
export type Sampler = (rng: Rng) => Tensor | Tensor[];

/** `() => Tensor[]` for `GradcheckCase.inputs`, drawing every sampler from one generator seeded `seed`. */
export function sampled(seed: number, ...samplers: Sampler[]): () => Tensor[] {
  return () => {
    const rng = new Rng(seed);
    return samplers.flatMap((s) => s(rng));
  };
}

export function normal(shape: Shape, std = 1): Sampler {
  return (rng) => randn(shape, { dtype: 'float64', rng, std });
}

/** Uniform in [low, high). */
export function uniform(shape: Shape, low: number, high: number): Sampler {
  return (rng) => fromValues(shape, () => rng.uniformIn(low, high));
}

/** Normals pushed at least `gap` away from each of `points` (kinks, clamp bounds). */
export function avoiding(shape: Shape, points: readonly number[], gap = 0.1): Sampler {
  return (rng) =>
    fromValues(shape, () => {
      let v = rng.normal();
      for (const p of points) if (Math.abs(v - p) < gap) v = v >= p ? v + gap : v - gap;
      return v;
    });
}

/**
 * Several tensors whose elements are all pairwise at least `spacing` apart: a shuffled grid plus a
 * little jitter. For max/min/maximum/minimum, where a tie is a kink.
 */
export function distinct(shapes: readonly Shape[], spacing = 0.25): Sampler {
  return (rng) => {
    const total = shapes.reduce((p, s) => p + sizeOf(s), 0);
    const order = rng.permutation(total);
    let next = 0;
    return shapes.map((s) =>
      fromValues(s, () => (order[next++]! - total / 2) * spacing + rng.uniformIn(0, spacing / 4)),
    );
  };
}

/** A 0/1 mask (float64) with both values present when the tensor has more than one element. */
export function mask(shape: Shape): Sampler {
  return (rng) => {
    const n = sizeOf(shape);
    return fromValues(shape, (i) => (n > 1 && i < 2 ? i : rng.uniform() < 0.5 ? 1 : 0));
  };
}

function fromValues(shape: Shape, value: (i: number) => number): Tensor {
  const data = new Float64Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = value(i);
  return tensor(data, { shape });
}
