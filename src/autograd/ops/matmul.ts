import { backend } from '../../kernels/registry.js';
import { broadcastShapes, formatShape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { recordOp } from '../engine.js';
import { reshape } from './shape.js';
import { assertSameDType, assertTensor, storageOf } from './util.js';

/** The name this file records in the graph; it needs a gradcheck case. */
export const MATMUL_OPS = ['matmul'] as const;

export interface MatmulOptions {
  /** Use the transpose of the last two dims of a (resp. b) without materialising it. */
  transA?: boolean;
  transB?: boolean;
}

/**
 * Matrix product with NumPy semantics: 1-D operands are promoted (and the extra dim removed after),
 * batch dims broadcast. The backward uses the transposed kernels directly.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  assertTensor('matmul', a, 'a');
  assertTensor('matmul', b, 'b');
  assertSameDType('matmul', a, b);
  if (a.ndim === 0 || b.ndim === 0) {
    throw new Error(`matmul: operands must have at least 1 dimension, got ${formatShape(a.shape)} @ ${formatShape(b.shape)}`);
  }
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const a2 = a.ndim === 1 ? reshape(a, transA ? [a.size, 1] : [1, a.size]) : a;
  const b2 = b.ndim === 1 ? reshape(b, transB ? [1, b.size] : [b.size, 1]) : b;
  checkOperands(a, b, a2, b2, transA, transB);
  const out = matmul2d(a2, b2, transA, transB);
  if (a.ndim === 1 && b.ndim === 1) return reshape(out, []);
  if (a.ndim === 1) return reshape(out, [...out.shape.slice(0, -2), out.shape[out.ndim - 1]!]);
  if (b.ndim === 1) return reshape(out, out.shape.slice(0, -1));
  return out;
}

/** Validates inner and batch dims, naming the shapes exactly as the caller passed them. */
function checkOperands(a: Tensor, b: Tensor, a2: Tensor, b2: Tensor, transA: boolean, transB: boolean): void {
  const t = (flag: boolean): string => (flag ? 'ᵀ' : '');
  // Built only for an error message (formatting on every call showed up in the profile).
  const shapes = (): string => `${formatShape(a.shape)}${t(transA)} @ ${formatShape(b.shape)}${t(transB)}`;
  const ka = transA ? a2.shape[a2.ndim - 2]! : a2.shape[a2.ndim - 1]!;
  const kb = transB ? b2.shape[b2.ndim - 1]! : b2.shape[b2.ndim - 2]!;
  if (ka !== kb) throw new Error(`matmul: inner dims differ: ${shapes()} (${ka} vs ${kb})`);
  const batchA = a2.shape.slice(0, -2);
  const batchB = b2.shape.slice(0, -2);
  for (let i = 1; i <= Math.min(batchA.length, batchB.length); i++) {
    const da = batchA[batchA.length - i]!;
    const db = batchB[batchB.length - i]!;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`matmul: batch dims ${formatShape(batchA)} and ${formatShape(batchB)} cannot be broadcast together: ${shapes()}`);
    }
  }
}

function matmul2d(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  const ra = a.ndim;
  const rb = b.ndim;
  const m = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const n = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const outShape = [...batch, m, n];
  const storage = backend().matmul(storageOf(a), storageOf(b), { aShape: a.shape, bShape: b.shape, transA, transB, outShape });
  return recordOp('matmul', storage, outShape, [a, b], (g) => [
    a.requiresGrad ? gradA(g, b, transA, transB) : null,
    b.requiresGrad ? gradB(g, a, transA, transB) : null,
  ]);
}

// C = op(A)·op(B). Gradients in the stored layout of A and B, each one transposed-kernel matmul.
function gradA(g: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  if (!transA) return matmul2d(g, b, false, !transB);
  return matmul2d(b, g, transB, true);
}

function gradB(g: Tensor, a: Tensor, transA: boolean, transB: boolean): Tensor {
  if (!transB) return matmul2d(a, g, !transA, false);
  return matmul2d(g, a, true, transA);
}
