import { Worker } from 'node:worker_threads';
import { configureMatmul } from '../kernels/cpu/matmul-config.js';
import { setWorkerSpawner, type WorkerSpawner } from '../kernels/cpu/threads/spawner.js';

/** Starts a worker_threads Worker that runs a pool script; unref'd so it never keeps Node alive. */
export const nodeWorkerSpawner: WorkerSpawner = (source, data) => {
  // eval'd workers are CommonJS scripts: `data` comes in as workerData.
  const worker = new Worker(`const data = require('node:worker_threads').workerData;\n${source}`, { eval: true, workerData: data });
  worker.unref();
  return { terminate: () => void worker.terminate() };
};

export interface WorkerThreadOptions {
  /** Threads for the WebAssembly kernels (matmul, elementwise, fused chains, softmax, the packs; the calling thread included); default: leave as configured. */
  threads?: number;
}

/**
 * Lets the cpu kernels run on several cores through worker_threads (shared WebAssembly memory),
 * optionally setting how many threads large products use.
 */
export function useWorkerThreads(opts: WorkerThreadOptions = {}): void {
  setWorkerSpawner(nodeWorkerSpawner);
  if (opts.threads !== undefined) configureMatmul({ threads: opts.threads });
}
