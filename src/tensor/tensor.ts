import type { DType, TypedArray } from './dtype.js';
import { formatTensor, type TensorFormatOptions } from './format.js';
import { formatShape, sizeOf, type Shape } from './shape.js';
import type { Storage } from './storage.js';
import { trackInScope } from './scope.js';

/** What autograd records for a tensor produced by a differentiable op. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Gradients of the op's inputs given the gradient of its output (null where none is needed). */
  backward: ((grad: Tensor) => readonly (Tensor | null)[]) | null;
}

let nextId = 0;

/**
 * An n-dimensional array of float32 or float64 elements with an optional autograd history.
 * Ops are attached as methods by the autograd layer (`src/autograd/methods.ts`).
 */
export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
  requiresGrad: boolean;
  grad: Tensor | null = null;
  /** Set by autograd on op outputs; null for leaves. */
  node: GradNode | null = null;
  private _storage: Storage;
  private _disposed = false;

  constructor(storage: Storage, shape: Shape, requiresGrad = false) {
    const size = sizeOf(shape);
    if (size !== storage.size) {
      throw new Error(`Tensor: shape ${formatShape(shape)} needs ${size} elements but the storage holds ${storage.size}`);
    }
    this.shape = Object.freeze([...shape]);
    this.dtype = storage.dtype;
    this.size = size;
    this.requiresGrad = requiresGrad;
    this._storage = storage;
    storage.refs++;
    trackInScope(this);
  }

  get storage(): Storage {
    if (this._disposed) throw new Error(`Tensor ${formatShape(this.shape)} (id ${this.id}) was used after dispose()`);
    return this._storage;
  }

  /** Points this tensor at another storage (used to move data between backends and to assign in place). */
  setStorage(storage: Storage): void {
    if (storage === this._storage) return;
    if (storage.size !== this.size || storage.dtype !== this.dtype) {
      throw new Error(
        `setStorage: expected ${this.size} ${this.dtype} elements for ${formatShape(this.shape)}, got ${storage.size} ${storage.dtype}`,
      );
    }
    storage.refs++;
    this.releaseStorage();
    this._storage = storage;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** True for tensors that autograd treats as inputs (not produced by a recorded op). */
  get isLeaf(): boolean {
    return this.node === null;
  }

  /** A flat row-major copy of the elements. */
  toArray(): TypedArray {
    return this.storage.readSync().slice();
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item: tensor of shape ${formatShape(this.shape)} has ${this.size} elements, expected 1`);
    return this.storage.readSync()[0]!;
  }

  /**
   * A flat row-major copy of the elements, read back asynchronously: the form that works on every
   * backend, WebGPU included (where `toArray` cannot wait for the device). The tensor may be disposed
   * while the read is in flight.
   */
  async data(): Promise<TypedArray> {
    const s = this.storage;
    return (s.read ? await s.read() : s.readSync()).slice();
  }

  /** The value of a one-element tensor, read back asynchronously (see `data`). */
  async itemAsync(): Promise<number> {
    if (this.size !== 1) throw new Error(`itemAsync: tensor of shape ${formatShape(this.shape)} has ${this.size} elements, expected 1`);
    const s = this.storage;
    return (s.read ? await s.read() : s.readSync())[0]!;
  }

  /** Nested JS arrays, for printing and tests. */
  toNested(): unknown {
    const data = this.storage.readSync();
    const build = (dim: number, offset: number): unknown => {
      if (dim === this.shape.length) return data[offset];
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  /** Computes the elements now if they are deferred (tidy does this for the tensors it returns). */
  settle(): void {
    if (!this._disposed && this._storage.deferred) this._storage.readSync();
  }

  /** Same data, no history, no gradient. */
  detach(): Tensor {
    return new Tensor(this.storage, this.shape, false);
  }

  zeroGrad(): void {
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** Releases this tensor's storage (GPU textures included); using it afterwards is an error. */
  dispose(): void {
    if (this._disposed) return;
    this.releaseStorage();
    this._disposed = true;
    this.node = null;
  }

  /** The values, PyTorch style (`tensor([[1.0000, 2.5000], …])`); large tensors are summarised with `...`. */
  toString(opts?: TensorFormatOptions): string {
    if (this._disposed) return `tensor(<disposed>, shape=${formatShape(this.shape)}, dtype=${this.dtype})`;
    return formatTensor(this, this._storage.readSync(), opts);
  }

  /** What `console.log(t)` shows in Node (the same as `toString()`). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  private releaseStorage(): void {
    const s = this._storage;
    s.refs--;
    if (s.refs <= 0 && !s.disposed) s.dispose();
  }
}
