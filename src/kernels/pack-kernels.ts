import type { Backend, BackendName } from './backend.js';
import { backend } from './registry.js';

/**
 * The kernels of one op pack (a folder in src/packs): a generic version written with the Backend
 * contract's kernels, which runs on every backend and keeps data where it is, plus specialised
 * versions (one pass, SIMD, a GPU kernel) that the pack or a backend's entry registers explicitly.
 * Ops call `current()` and never ask which backend is active.
 */
export class PackKernels<K> {
  private readonly special = new Map<BackendName, K>();
  private readonly generic = new WeakMap<Backend, K>();

  constructor(
    readonly pack: string,
    private readonly makeGeneric: (b: Backend) => K,
  ) {}

  /** Installs `kernels` as this pack's implementation on backend `name` (replacing an earlier one). */
  register(name: BackendName, kernels: K): void {
    this.special.set(name, kernels);
  }

  /** The backends with a specialised implementation. */
  specialised(): BackendName[] {
    return [...this.special.keys()];
  }

  /** The active backend's kernels: its specialised ones, else the generic ones built on it. */
  current(): K {
    const b = backend();
    const own = this.special.get(b.name);
    if (own) return own;
    let k = this.generic.get(b);
    if (!k) {
      k = this.makeGeneric(b);
      this.generic.set(b, k);
    }
    return k;
  }

  /** The generic kernels on backend `b` (parity tests compare them with the specialised ones). */
  genericOn(b: Backend): K {
    return this.makeGeneric(b);
  }
}
