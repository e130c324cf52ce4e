import { Worker } from 'node:worker_threads';

/**
 * Worker threads that run slices of one WebAssembly gemm next to the main thread. Every worker
 * instantiates the same compiled module on the same SHARED memory, so a job is just 13 integers
 * (which export, then its 12 arguments) written into a shared control block: no copies, no
 * messages. The caller stays synchronous: it posts, computes its own slice, then blocks in
 * Atomics.wait (allowed on Node's main thread) until every slice is done. Workers are unref'd, so
 * they never keep the process alive, and are spawned on the first parallel product.
 */
const SLOT = 16; // Int32 words per worker: state, export index, 12 arguments
const BOOTING = -1;
const IDLE = 0;
const POSTED = 1;
const DONE = 2;
const FAILED = 3;
const BOOT_TIMEOUT_MS = 10_000;

// CommonJS because eval'd workers are scripts. Waits while idle/done; runs when POSTED.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, slot } = workerData;
const ctrl = new Int32Array(control);
const base = slot * ${SLOT};
let fns;
try {
  const instance = new WebAssembly.Instance(module, { env: { mem: memory } });
  fns = [instance.exports.gemm_f32, instance.exports.gemm_f64];
  Atomics.store(ctrl, base, ${IDLE});
} catch (e) {
  Atomics.store(ctrl, base, ${FAILED});
}
Atomics.notify(ctrl, base);
while (fns) {
  let s;
  while ((s = Atomics.load(ctrl, base)) !== ${POSTED}) Atomics.wait(ctrl, base, s);
  const a = ctrl.subarray(base + 2, base + 14);
  try {
    fns[ctrl[base + 1]](a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]);
    Atomics.store(ctrl, base, ${DONE});
  } catch (e) {
    Atomics.store(ctrl, base, ${FAILED});
  }
  Atomics.notify(ctrl, base);
}
`;

export class GemmWorkerPool {
  private constructor(
    private readonly workers: Worker[],
    private readonly ctrl: Int32Array,
  ) {}

  /** Spawns `count` workers on `module`/`memory` and waits until they are ready; null on failure. */
  static create(module: object, memory: object, count: number): GemmWorkerPool | null {
    const control = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * SLOT * Math.max(1, count));
    const ctrl = new Int32Array(control);
    const workers: Worker[] = [];
    try {
      for (let slot = 0; slot < count; slot++) {
        ctrl[slot * SLOT] = BOOTING;
        const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control, slot } });
        w.unref();
        workers.push(w);
      }
      for (let slot = 0; slot < count; slot++) {
        Atomics.wait(ctrl, slot * SLOT, BOOTING, BOOT_TIMEOUT_MS);
        if (Atomics.load(ctrl, slot * SLOT) !== IDLE) throw new Error(`gemm worker ${slot} did not start`);
      }
    } catch {
      for (const w of workers) void w.terminate();
      return null;
    }
    return new GemmWorkerPool(workers, ctrl);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Starts export `fn` (0 = gemm_f32, 1 = gemm_f64) with `args` on worker `slot`. */
  post(slot: number, fn: number, args: readonly number[]): void {
    const base = slot * SLOT;
    this.ctrl[base + 1] = fn;
    for (let i = 0; i < 12; i++) this.ctrl[base + 2 + i] = args[i]!;
    Atomics.store(this.ctrl, base, POSTED);
    Atomics.notify(this.ctrl, base);
  }

  /** Blocks until worker `slot` finished its job; false if the job threw. */
  wait(slot: number): boolean {
    const base = slot * SLOT;
    let s: number;
    while ((s = Atomics.load(this.ctrl, base)) === POSTED) Atomics.wait(this.ctrl, base, POSTED);
    this.ctrl[base] = IDLE;
    return s === DONE;
  }

  /** Stops the workers (the pool is unusable afterwards). */
  terminate(): void {
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}
