/**
 * Deterministic release of tensor memory: every tensor created inside `tidy(fn)` is disposed when
 * `fn` returns, except the tensors it returns and those passed to `keep`. Returned tensors whose
 * elements are deferred (a pending elementwise chain of the cpu backend) are computed after the
 * others are disposed, so a chain's intermediates that nothing else holds are never written.
 */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  /** Computes deferred contents (tensors); called on what tidy returns. */
  settle?(): void;
}

const scopes: Set<Disposable>[] = [];

export function trackInScope(t: Disposable): void {
  const top = scopes[scopes.length - 1];
  if (top) top.add(t);
}

/** Removes `t` from every open scope so it outlives them (parameters, gradients, results). */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

export type TidyResult = void | number | string | boolean | Disposable | readonly unknown[] | Record<string, unknown>;

export function tidy<T extends TidyResult>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const survivors = new Set<Disposable>();
  collectDisposables(result, survivors);
  for (const t of scope) {
    if (survivors.has(t)) {
      trackInScope(t);
    } else if (!t.isDisposed) t.dispose();
  }
  for (const t of survivors) t.settle?.();
  return result;
}

function collectDisposables(value: unknown, into: Set<Disposable>): void {
  if (value === null || typeof value !== 'object') return;
  if ('dispose' in value && 'isDisposed' in value) {
    into.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectDisposables(v, into);
    return;
  }
  for (const v of Object.values(value)) collectDisposables(v, into);
}
