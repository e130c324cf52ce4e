import type { Backend, BackendInfo, BackendName } from './backend.js';

/** The active backend. Backends register themselves; `cpu` is always there. */
const factories = new Map<BackendName, () => Backend>();
const instances = new Map<BackendName, Backend>();
let active: Backend | null = null;
let activeName: BackendName = 'cpu';

export function registerBackend(name: BackendName, factory: () => Backend): void {
  factories.set(name, factory);
}

function instantiate(name: BackendName): Backend {
  let b = instances.get(name);
  if (!b) {
    const factory = factories.get(name);
    if (!factory) {
      throw new Error(`setBackend: unknown backend '${name}' (registered: ${[...factories.keys()].join(', ')})`);
    }
    b = factory();
    instances.set(name, b);
  }
  return b;
}

export function setBackend(name: BackendName): BackendInfo {
  active = instantiate(name);
  activeName = name;
  return active.info();
}

export function backend(): Backend {
  if (!active) active = instantiate(activeName);
  return active;
}

/** The active backend's name and the mode that actually runs (never a GPU that was not used). */
export function getBackend(): BackendInfo {
  return backend().info();
}
