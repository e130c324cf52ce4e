import { kernelSpace, popScratch, pushScratch, scratchMark, type KernelSpace } from '../kernel-space.js';
import { WasmWorkerPool } from './pool.js';
import { workerSpawner } from './spawner.js';

/**
 * One pool of worker threads for every WebAssembly kernel module on the kernel space
 * (kernel-space.ts): gemm, the elementwise and softmax kernels, the fused chains and the op
 * packs' kernels. Threads need the space to be shared (the heap's default where SharedArrayBuffer
 * exists) and a worker spawner (`useWorkerThreads()` in Node); otherwise, and below each kernel's
 * size threshold, everything runs on the calling thread. How many threads: `configureMatmul({
 * threads })`, which has always set the matmul threads and now sets them for these kernels too.
 *
 * A job names a module by the index it got from registerPoolModule. Workers start with none and
 * load a module (its bytes, placed in the shared memory) the first time a job needs it, so new
 * modules (each distinct fused chain is one) never restart the pool.
 */
const registered: Uint8Array[] = [];
/** Which modules the current pool's workers have loaded. */
let loaded: boolean[] = [];
/** Threads kernels may use (set by configureMatmul). */
let configuredThreads = 1;
let pool: WasmWorkerPool | null = null;
/** A spawner that failed once is not retried (its kernels run on one thread). */
let failed = false;
/** Calls split across threads so far, and pools started. */
let splitCalls = 0;
let poolStarts = 0;

/** Workers running now, calls split across threads and pools started so far. */
export function kernelThreadStats(): { workers: number; splitCalls: number; poolStarts: number } {
  return { workers: pool?.size ?? 0, splitCalls, poolStarts };
}

/** Sets how many threads (the calling one included) kernel calls may use; configureMatmul calls it. */
export function setKernelThreads(threads: number): void {
  configuredThreads = threads;
}

/**
 * Lets worker threads run the exports of the module assembled as `bytes` (a job names an export by
 * its position in the module's export section); returns its module index for runParts.
 */
export function registerPoolModule(bytes: Uint8Array): number {
  registered.push(bytes);
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
  if (!pool || pool.size < want) {
    const size = Math.max(want, pool?.size ?? 0);
    pool?.terminate();
    pool = WasmWorkerPool.create([], s.memory, size);
    poolStarts++;
    loaded = [];
    if (!pool && workerSpawner()) failed = true;
  }
  if (pool && !loaded[moduleIndex] && !loadEverywhere(pool, s, moduleIndex)) return 0;
  return pool ? Math.min(want, pool.size) : 0;
}

/** Has every worker load module `index`; false (and no threads from now on) if one fails. */
function loadEverywhere(p: WasmWorkerPool, s: KernelSpace, index: number): boolean {
  const bytes = registered[index]!;
  const mark = scratchMark();
  const at = pushScratch(s, bytes.length);
  let ok = at >= 0;
  if (ok) {
    new Uint8Array(s.memory.buffer, at, bytes.length).set(bytes);
    for (let w = 0; w < p.size; w++) p.postLoad(w, at, bytes.length, index);
    for (let w = 0; w < p.size; w++) ok = p.wait(w) && ok;
  }
  popScratch(mark);
  if (!ok) {
    failed = true;
    shutdownKernelThreads();
    return false;
  }
  loaded[index] = true;
  return true;
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
  if (remote > 0) splitCalls++;
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
