import type { Backend } from '../../kernels/backend.js';
import { PackKernels } from '../../kernels/pack-kernels.js';
import { allocArray } from '../../tensor/dtype.js';
import type { Storage } from '../../tensor/storage.js';
import { selectorBackwardInto, selectorForwardInto, smoothStepInto } from './cpu.js';

export interface DSelectKernels {
  /** The smooth-step S(x) or, with `derivative`, S'(x) (0 outside (−γ/2, γ/2)). */
  smoothStep(x: Storage, gamma: number, derivative: boolean): Storage;
  /**
   * Selector products: s holds S(z) as [rows, m]; out [rows, numExperts] with
   * out[r, e] = Π_j (bit_j(e) ? s[r, j] : 1 − s[r, j]), bits MSB first.
   */
  selectorForward(s: Storage, rows: number, m: number, numExperts: number): Storage;
  /** Gradient w.r.t. s of Σ_e g[r, e]·out[r, e], by leave-one-out prefix/suffix products. */
  selectorBackward(s: Storage, g: Storage, rows: number, m: number, numExperts: number): Storage;
}

/**
 * The generic version: the cpu.ts loops on data read back from the backend, the result uploaded to it
 * again. These kernels touch [rows, m] and [rows, n] arrays (n experts), small next to the experts.
 */
function generic(b: Backend): DSelectKernels {
  const onHost = (size: number, like: Storage, run: (out: Float32Array | Float64Array) => void): Storage => {
    const out = allocArray(like.dtype, size);
    run(out);
    return b.fromHost(out);
  };
  return {
    smoothStep: (x, gamma, derivative) => onHost(x.size, x, (out) => smoothStepInto(x.readSync(), gamma, derivative, out)),
    selectorForward: (s, rows, m, n) => onHost(rows * n, s, (out) => selectorForwardInto(s.readSync(), rows, m, n, out)),
    selectorBackward: (s, g, rows, m, n) => onHost(rows * m, s, (out) => selectorBackwardInto(s.readSync(), g.readSync(), rows, m, n, out)),
  };
}

export const dselectKernels = new PackKernels<DSelectKernels>('dselect', generic);
