import { mul } from '../autograd/ops/elementwise.js';
import { allocArray } from '../tensor/dtype.js';
import { fromTypedArray } from '../tensor/creation.js';
import { getGlobalRng, Rng, type RngState } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

export interface DropoutOptions {
  /** Seed of the masks (default: drawn from `rng`, else from the global generator). */
  seed?: number;
  rng?: Rng;
}

/**
 * Inverted dropout: in training each element is zeroed with probability p and the others are scaled
 * by 1/(1 − p), so eval mode (the identity) needs no rescaling. The masks come from a seeded generator
 * that `fit` reseeds from (seed, epoch) at every epoch start, so a resumed run draws the same masks.
 */
export class Dropout extends Module {
  readonly p: number;
  readonly seed: number;
  /** Source of the masks (replace it to control them exactly, e.g. in gradient checks). */
  rng: Rng;

  constructor(p = 0.5, opts: DropoutOptions = {}) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new Error(`Dropout: p must be a probability in [0, 1), got ${String(p)}`);
    if (opts.seed !== undefined && (!Number.isInteger(opts.seed) || opts.seed < 0)) {
      throw new Error(`Dropout: seed must be an integer ≥ 0, got ${String(opts.seed)}`);
    }
    this.p = p;
    this.seed = opts.seed ?? (opts.rng ?? getGlobalRng()).nextUint32();
    this.rng = new Rng(this.seed);
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    const mask = allocArray(x.dtype, x.size);
    const scale = 1 / (1 - this.p);
    for (let i = 0; i < mask.length; i++) mask[i] = this.rng.uniform() < this.p ? 0 : scale;
    return mul(x, fromTypedArray(mask, x.shape));
  }

  override onEpochStart(epoch: number): void {
    this.rng = new Rng((this.seed + Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
  }

  override randomState(): RngState {
    return this.rng.state();
  }

  override setRandomState(state: RngState | null): void {
    if (state === null) throw new Error(`Dropout.setRandomState: expected the mask generator's state, got null`);
    this.rng.setState(state);
  }
}
