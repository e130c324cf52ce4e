import type { Shape } from '../tensor/shape.js';
import type { Storage } from '../tensor/storage.js';
import type { Backend } from './backend.js';

/**
 * log Σ exp(x) over `axes` from the contract's generic kernels (eleven calls, with temporaries):
 * m′ + log Σ exp(x − m′), m′ the max where it is finite and 0 where it is not (a lane of −∞ gives
 * −∞, a +∞ entry +∞, a NaN NaN). Every backend's `logsumexp` where it has no kernel of its own, and
 * the reference the cpu backend's row kernel is tested against.
 */
export function logsumexpComposed(b: Backend, x: Storage, shape: Shape, axes: readonly number[]): Storage {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const dtype = x.dtype;
  const temps: Storage[] = [];
  const tmp = (s: Storage): Storage => {
    temps.push(s);
    return s;
  };
  try {
    const rawMax = tmp(b.reduce('max', x, shape, axes));
    const isFinite = tmp(b.binary('lt', tmp(b.unary('abs', rawMax)), kept, tmp(b.fill(1, Infinity, dtype)), [], kept));
    const shift = tmp(b.where(isFinite, kept, rawMax, kept, tmp(b.fill(1, 0, dtype)), [], kept));
    const exps = tmp(b.unary('exp', tmp(b.binary('sub', x, shape, shift, kept, shape))));
    const logSum = tmp(b.unary('log', tmp(b.reduce('sum', exps, shape, axes))));
    return b.binary('add', logSum, kept, shift, kept, kept);
  } finally {
    for (const t of temps) t.dispose();
  }
}
