import type { WasmMemory } from '../wasm/assembler.js';
import { workerSpawner, type WorkerHandle } from './spawner.js';

/**
 * Worker threads that run slices of WebAssembly kernels next to the calling thread. Every worker
 * instantiates the same compiled modules on the same SHARED memory, so a job is a few integers
 * (which module and export, then its i32 arguments) written into a shared control block: no
 * copies, no messages. The caller stays synchronous: it posts, computes its own slice, then blocks
 * in Atomics.wait (allowed on Node's main thread and in Web Workers) until every slice is done.
 */
export const MAX_JOB_ARGS = 14;
const SLOT = 16; // Int32 words per worker: state, export index, arguments
const BOOTING = -1;
const IDLE = 0;
const POSTED = 1;
const DONE = 2;
const FAILED = 3;
const BOOT_TIMEOUT_MS = 10_000;
/** A job word is module index << MODULE_SHIFT | export index. */
const MODULE_SHIFT = 10;
/** The job word that loads a module: arguments (address, length) of its bytes in the memory, and its index. */
const LOAD_JOB = -1;
/**
 * Polls of the control word before sleeping in Atomics.wait (~tens of µs). A futex sleep and wake
 * costs more than a small kernel's slice on a virtual machine; kernels of a training step come back
 * to back, so both sides poll first.
 */
const SPIN_POLLS = 20_000;

/** A compiled module the workers instantiate, and the exports a job may name (by index). */
export interface PoolModule {
  module: object;
  exportNames: readonly string[];
}

// A script body; `data` is bound by the spawner. Waits while idle/done; runs when POSTED.
const WORKER_SOURCE = `
const { modules, memory, control, slot } = data;
const ctrl = new Int32Array(control);
const base = slot * ${SLOT};
let fns;
try {
  fns = modules.map(({ module, exportNames }) => {
    const instance = new WebAssembly.Instance(module, { env: { mem: memory } });
    return exportNames.map((name) => instance.exports[name]);
  });
  // A module loaded later arrives as bytes in the shared memory; its exports in export-section order.
  var load = (at, length, index) => {
    const module = new WebAssembly.Module(new Uint8Array(memory.buffer, at, length).slice());
    const instance = new WebAssembly.Instance(module, { env: { mem: memory } });
    fns[index] = WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => instance.exports[e.name]);
  };
  Atomics.store(ctrl, base, ${IDLE});
} catch (e) {
  Atomics.store(ctrl, base, ${FAILED});
}
Atomics.notify(ctrl, base);
while (fns) {
  let s;
  for (let n = 0; (s = Atomics.load(ctrl, base)) !== ${POSTED}; n++) if (n >= ${SPIN_POLLS}) Atomics.wait(ctrl, base, s);
  const a = ctrl.subarray(base + 2, base + ${SLOT});
  try {
    const job = ctrl[base + 1];
    if (job === ${LOAD_JOB}) load(a[0], a[1], a[2]);
    else fns[job >> ${MODULE_SHIFT}][job & ${(1 << MODULE_SHIFT) - 1}](a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13]);
    Atomics.store(ctrl, base, ${DONE});
  } catch (e) {
    Atomics.store(ctrl, base, ${FAILED});
  }
  Atomics.notify(ctrl, base);
}
`;

export class WasmWorkerPool {
  private constructor(
    private readonly workers: WorkerHandle[],
    private readonly ctrl: Int32Array,
  ) {}

  /**
   * Starts `count` workers that instantiate `modules` on `memory` and can run their exports (by
   * module and export index; more modules can be loaded later with postLoad), and waits until
   * they are ready. Null when no spawner is installed or a worker fails.
   */
  static create(modules: readonly PoolModule[], memory: WasmMemory, count: number): WasmWorkerPool | null {
    const spawn = workerSpawner();
    if (!spawn || count < 1) return null;
    const control = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * SLOT * count);
    const ctrl = new Int32Array(control);
    const workers: WorkerHandle[] = [];
    try {
      for (let slot = 0; slot < count; slot++) {
        ctrl[slot * SLOT] = BOOTING;
        workers.push(spawn(WORKER_SOURCE, { modules: modules.map((m) => ({ module: m.module, exportNames: [...m.exportNames] })), memory, control, slot }));
      }
      for (let slot = 0; slot < count; slot++) {
        Atomics.wait(ctrl, slot * SLOT, BOOTING, BOOT_TIMEOUT_MS);
        if (Atomics.load(ctrl, slot * SLOT) !== IDLE) throw new Error(`worker ${slot} did not start`);
      }
    } catch {
      for (const w of workers) w.terminate();
      return null;
    }
    return new WasmWorkerPool(workers, ctrl);
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Starts loading a module on worker `slot`: its bytes are at byte `at` (`length` bytes) of the
   * shared memory, and jobs will name it `index`. Wait for it (and keep the bytes) before reuse.
   */
  postLoad(slot: number, at: number, length: number, index: number): void {
    const base = slot * SLOT;
    this.ctrl[base + 1] = LOAD_JOB;
    this.ctrl[base + 2] = at;
    this.ctrl[base + 3] = length;
    this.ctrl[base + 4] = index;
    Atomics.store(this.ctrl, base, POSTED);
    Atomics.notify(this.ctrl, base);
  }

  /** Starts export `fn` of module `module` with `args` (at most MAX_JOB_ARGS i32 values) on worker `slot`. */
  post(slot: number, module: number, fn: number, args: readonly number[]): void {
    const base = slot * SLOT;
    this.ctrl[base + 1] = (module << MODULE_SHIFT) | fn;
    for (let i = 0; i < MAX_JOB_ARGS; i++) this.ctrl[base + 2 + i] = args[i] ?? 0;
    Atomics.store(this.ctrl, base, POSTED);
    Atomics.notify(this.ctrl, base);
  }

  /** Blocks until worker `slot` finished its job; false if the job threw. */
  wait(slot: number): boolean {
    const base = slot * SLOT;
    let s: number;
    for (let n = 0; (s = Atomics.load(this.ctrl, base)) === POSTED; n++) if (n >= SPIN_POLLS) Atomics.wait(this.ctrl, base, POSTED);
    this.ctrl[base] = IDLE;
    return s === DONE;
  }

  /** Stops the workers (the pool is unusable afterwards). */
  terminate(): void {
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }
}
