import { kernelSpace } from '../kernel-space.js';
import { WasmWorkerPool, type PoolModule } from './pool.js';
import { workerSpawner } from './spawner.js';

/**
 * One pool of worker threads for every WebAssembly kernel module on the kernel space
 * (kernel-space.ts): gemm, the elementwise and softmax kernels, the fused chains and the op
 * packs' kernels. Threads need the space to be shared (the heap's default where SharedArrayBuffer
 * exists) and a worker spawner (`useWorkerThreads()` in Node); otherwise, and below each kernel's
 * size threshold, everything runs on the calling thread. How many threads: `configureMatmul({
 * threads })`, which has always set the matmul threads and now sets them for these kernels too.
 *
 * A job names a module by the index it got from registerPoolModule. Workers instantiate the
 * modules registered when they start; a job for a module registered later restarts the pool with
 * all of them (that happens a few times while the first kernels run, not in a training loop).
 */
const registered: PoolModule[] = [];
/** Threads kernels may use (set by configureMatmul). */
let configuredThreads = 1;
let pool: WasmWorkerPool | null = null;
/** A spawner that failed once is not retried (its kernels run on one thread). */
let failed = false;

/** Sets how many threads (the calling one included) kernel calls may use; configureMatmul calls it. */
export function setKernelThreads(threads: number): void {
  configuredThreads = threads;
}

/** Lets worker threads run `exportNames` of `module`; returns its module index for runParts. */
export function registerPoolModule(module: object, exportNames: readonly string[]): number {
  registered.push({ module, exportNames });
  return registered.length - 1;
}

/**
 * How many threads (1 + workers) a kernel call may use for `work` units when it pays from
 * `minWork` units per thread on: at most `configured` (default: the configured threads), and only
 * as many as each get `minWork`. Starts (or restarts) the workers as needed.
 */
export function threadsFor(work: number, minWork: number, moduleIndex: number, configured = configuredThreads): number {
  if (configured <= 1 || work < 2 * minWork) return 1;
  const want = Math.min(configured, Math.floor(work / minWork));
  return 1 + workersFor(want - 1, moduleIndex);
}

function workersFor(want: number, moduleIndex: number): number {
  const s = kernelSpace();
  if (want <= 0 || failed || !s?.shared) return 0;
  if (!pool || pool.size < want || pool.moduleCount <= moduleIndex) {
    const size = Math.max(want, pool?.size ?? 0);
    pool?.terminate();
    pool = WasmWorkerPool.create(registered, s.memory, size);
    if (!pool && workerSpawner()) failed = true;
  }
  return pool ? Math.min(want, pool.size) : 0;
}

/**
 * Runs export `fn` (its index in the module's export list) of module `moduleIndex` once per entry
 * of `parts` (argument lists): part 0 on this thread, the others on workers, and returns when all
 * are done. A part whose worker failed is run here (and the pool is not used again). `before(t)`
 * is called before part t runs on this thread in that case, to reset what the failed worker may
 * have half-written (parts must write disjoint memory, so that rerunning one is safe).
 */
export function runParts(moduleIndex: number, fn: number, parts: readonly (readonly number[])[], run: (args: readonly number[]) => void): void {
  const p = pool;
  const remote = parts.length - 1;
  if (remote > 0 && (!p || p.size < remote)) throw new Error(`kernel threads: ${parts.length} parts but ${p?.size ?? 0} workers (call threadsFor first)`);
  for (let t = 1; t < parts.length; t++) p!.post(t - 1, moduleIndex, fn, parts[t]!);
  run(parts[0]!);
  let broken = false;
  for (let t = 1; t < parts.length; t++) {
    if (!p!.wait(t - 1)) {
      run(parts[t]!);
      broken = true;
    }
  }
  if (broken) {
    failed = true;
    shutdownKernelThreads();
  }
}

/** Stops the worker threads (they start again on the next call that splits). */
export function shutdownKernelThreads(): void {
  pool?.terminate();
  pool = null;
}
