/**
 * How the cpu kernels start a worker thread. The core knows no platform: Node's entry
 * (`useWorkerThreads` in `dselect-k/node`) installs a worker_threads spawner, a browser page can
 * install one built on Web Workers. Without a spawner every kernel runs on the calling thread.
 */
export interface WorkerHandle {
  terminate(): void;
}

/**
 * Starts a worker that runs `source` (a script body) with the variable `data` bound to `data`
 * (structured-cloned: it carries a WebAssembly.Module, a shared WebAssembly.Memory and
 * SharedArrayBuffers). The worker must not keep the host process alive.
 */
export type WorkerSpawner = (source: string, data: object) => WorkerHandle;

let spawner: WorkerSpawner | null = null;

/** Installs (or, with null, removes) the platform's way of starting workers. */
export function setWorkerSpawner(s: WorkerSpawner | null): void {
  spawner = s;
}

export function workerSpawner(): WorkerSpawner | null {
  return spawner;
}
