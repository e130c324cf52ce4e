import { backend } from '../../kernels/registry.js';
import { formatShape } from '../../tensor/shape.js';
import type { Storage } from '../../tensor/storage.js';
import { Tensor } from '../../tensor/tensor.js';

/** A tensor or a plain number (taken as a scalar of the other operand's dtype). */
export type TensorLike = Tensor | number;

/** The tensor's storage on the active backend (adopted there on first use). */
export function storageOf(t: Tensor): Storage {
  const s = backend().adopt(t.storage);
  if (s !== t.storage) t.setStorage(s);
  return s;
}

export function assertTensor(op: string, x: unknown, name = 'input'): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${op}: ${name} must be a Tensor, got ${describe(x)}`);
}

export function assertSameDType(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) {
    throw new Error(
      `${op}: dtype mismatch: ${a.dtype} ${formatShape(a.shape)} and ${b.dtype} ${formatShape(b.shape)} (cast one with .cast())`,
    );
  }
}

/** Turns numbers into 0-d tensors of `like`'s dtype. */
export function asTensor(op: string, x: TensorLike, like: Tensor): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x !== 'number') throw new Error(`${op}: expected a Tensor or a number, got ${describe(x)}`);
  return new Tensor(backend().fill(1, x, like.dtype), []);
}

/** Resolves a binary op's operands: at least one must be a tensor. */
export function operands(op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) throw new Error(`${op}: at least one operand must be a Tensor`);
  const like = (a instanceof Tensor ? a : b) as Tensor;
  const ta = asTensor(op, a, like);
  const tb = asTensor(op, b, like);
  assertSameDType(op, ta, tb);
  return [ta, tb];
}

export function assertInteger(op: string, name: string, value: number, min = -Infinity): void {
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${op}: ${name} must be an integer${min > -Infinity ? ` ≥ ${min}` : ''}, got ${value}`);
  }
}

export function describe(x: unknown): string {
  if (x instanceof Tensor) return `Tensor(${formatShape(x.shape)}, ${x.dtype}${x.requiresGrad ? ', requiresGrad' : ''})`;
  if (Array.isArray(x)) return `array of length ${x.length}`;
  if (x === null) return 'null';
  return typeof x === 'number' ? String(x) : typeof x;
}
