import type { Shape } from '../../tensor/shape.js';
import { HostStorage, type Storage } from '../../tensor/storage.js';
import type { TypedArray } from '../../tensor/dtype.js';
import type { BinaryOp, UnaryOp } from '../backend.js';
import { binaryKernel, unaryKernel, type BroadcastPlan } from './elementwise.js';
import { allocOverwritten, PooledStorage } from './host.js';
import { KernelCall } from './kernel-call.js';
import { kernelSpace } from './kernel-space.js';
import { binaryPlanSimd, PARALLEL_MIN_ELEMENTS, simdKernelsOn, splitRun, unarySimd } from './simd.js';
import { MAX_JOB_ARGS } from './threads/pool.js';
import { exprKey, fusable, fusedFunction, type FusedExpr, type FusedNode } from './wasm/fused-module.js';
import { WasmKernelModule, type KernelInstance } from './wasm/kernel-module.js';

/**
 * Elementwise chains in one pass over memory, with eager semantics. A float32 unary or binary op
 * of the SIMD set (math-module.ts) whose operands have the output's size or are scalars returns a
 * PendingStorage: the op and its operand storages, no elements yet. Shapes, dtypes and errors were
 * checked by the op before the backend was called, exactly as for an eager kernel. The elements are
 * computed when something reads them (a non-elementwise kernel, readSync, toArray, item) or when
 * tidy() returns the tensor; a pending result disposed unread is never computed. Computing one
 * pending storage computes the DAG of pending storages under it in one WebAssembly function
 * (fused-module.ts, compiled once per distinct expression and cached), which also writes every
 * node of the DAG that something else still holds (a live tensor, such as one saved for the
 * backward pass, or another pending chain); nodes that only this chain held are never stored.
 * Each stored value is bit for bit what the unfused SIMD kernels store (the same emitters, on the
 * same float32 values). Large chains are split across threads like the unfused kernels.
 *
 * A pending storage holds a reference (`refs`) on each operand, so operands stay alive (and their
 * arrays out of the buffer pool) until the chain is computed or dropped.
 */

/** Chains are deferred from this many output elements on (below, a kernel call costs less than the bookkeeping). */
const DEFAULT_MIN_ELEMENTS = 4096;
/** A chain never grows past this many nodes or leaves: beyond, the operand is computed first. */
const MAX_NODES = 32;
const MAX_LEAVES = 8;
/** Distinct expressions compiled at most; later ones run node by node on the unfused kernels. */
const MAX_COMPILED = 256;

const settings = { enabled: true, minElements: DEFAULT_MIN_ELEMENTS };

export interface FusionOptions {
  /** Defer float32 elementwise ops and compute chains of them in one pass (default true; needs the SIMD kernels). */
  enabled?: boolean;
  /** Smallest output, in elements, that is deferred (default 4096). */
  minElements?: number;
}

export interface FusionInfo {
  enabled: boolean;
  minElements: number;
  /** Distinct chains compiled so far, and fused passes run so far. */
  compiled: number;
  passes: number;
}

let passes = 0;

/** Sets up elementwise fusion; returns the settings and how many chains were compiled. */
export function configureFusion(opts: FusionOptions = {}): FusionInfo {
  if (opts.enabled !== undefined) {
    if (typeof opts.enabled !== 'boolean') throw new Error(`configureFusion: enabled must be true or false, got ${String(opts.enabled)}`);
    settings.enabled = opts.enabled;
  }
  if (opts.minElements !== undefined) {
    if (!Number.isInteger(opts.minElements) || opts.minElements < 1) throw new Error(`configureFusion: minElements must be an integer ≥ 1, got ${opts.minElements}`);
    settings.minElements = opts.minElements;
  }
  return { ...settings, compiled: compiled.size, passes };
}

interface Expr {
  op: string;
  args: readonly HostStorage[];
}

/** A float32 result of an elementwise op, computed on first read (see the file comment). */
export class PendingStorage extends PooledStorage {
  /** What computes this storage; null once computed or dropped. */
  expr: Expr | null;
  /** Upper bounds of the pending DAG under this storage (itself included) and of its leaves. */
  readonly nodes: number;
  readonly leaves: number;

  constructor(size: number, op: string, args: readonly HostStorage[]) {
    super({ dtype: 'float32', size }, 'cpu');
    this.expr = { op, args };
    let nodes = 1;
    let leaves = 0;
    for (const a of args) {
      a.refs++;
      if (a instanceof PendingStorage && a.expr) {
        nodes += a.nodes;
        leaves += a.leaves;
      } else leaves++;
    }
    this.nodes = nodes;
    this.leaves = leaves;
  }

  protected override compute(): TypedArray {
    return evaluate(this);
  }

  /** Gives this storage the elements a fused pass computed for it. */
  settleWith(data: TypedArray): void {
    this.resolve(data);
  }

  override dispose(): void {
    if (this.disposed) return;
    if (this.deferred) {
      this.disposed = true;
      release(this);
    } else super.dispose();
  }
}

/** Drops `p`'s expression and its references on its operands (idempotent). */
function release(p: PendingStorage): void {
  const e = p.expr;
  if (!e) return;
  p.expr = null;
  for (const a of e.args) {
    a.refs--;
    if (a.refs <= 0 && !a.disposed) a.dispose();
  }
}

function isPending(s: Storage): s is PendingStorage {
  return s instanceof PendingStorage && s.expr !== null;
}

function deferrable(size: number): boolean {
  return settings.enabled && size >= settings.minElements && simdKernelsOn();
}

/** An operand for a new chain node: small enough chains stay pending, bigger ones are computed first. */
function operand(s: Storage, otherLeaves: number): HostStorage {
  if (isPending(s) && (s.nodes >= MAX_NODES || s.leaves + otherLeaves > MAX_LEAVES)) s.readSync();
  return s as HostStorage;
}

/** op(x) as a pending storage, or null when the op is not deferred (the caller runs it now). */
export function deferUnary(op: string, x: Storage): Storage | null {
  if (!(x instanceof HostStorage) || x.dtype !== 'float32' || !deferrable(x.size) || !fusable(op, 1)) return null;
  return new PendingStorage(x.size, op, [operand(x, 0)]);
}

/** a op b as a pending storage when each operand has the output's size or is one value; else null. */
export function deferBinary(op: string, a: Storage, b: Storage, outShape: Shape): Storage | null {
  const size = outShape.reduce((p, d) => p * d, 1);
  if (!(a instanceof HostStorage && b instanceof HostStorage) || a.dtype !== 'float32' || !deferrable(size) || !fusable(op, 2)) return null;
  if ((a.size !== size && a.size !== 1) || (b.size !== size && b.size !== 1)) return null;
  const leavesOf = (s: Storage): number => (isPending(s) ? s.leaves : 1);
  const x = operand(a, leavesOf(b));
  const y = operand(b, leavesOf(x));
  return new PendingStorage(size, op, [x, y]);
}

const compiled = new Map<string, WasmKernelModule<'fused'>>();

function fusedKernel(e: FusedExpr): KernelInstance<'fused'> | null {
  const key = exprKey(e);
  let m = compiled.get(key);
  if (!m) {
    if (compiled.size >= MAX_COMPILED) return null;
    m = new WasmKernelModule(['fused'], () => [fusedFunction(e)], false);
    compiled.set(key, m);
  }
  return m.instance();
}

/** Computes `root` and the pending DAG under it in one pass; returns root's elements. */
function evaluate(root: PendingStorage): TypedArray {
  // SIMD switched off since the chain was deferred: node by node on the JS kernels, as asked.
  if (!simdKernelsOn()) return evaluateInParts(root);
  // The DAG in post-order (operands before users), its leaves, and how often each node is used inside it.
  const order: PendingStorage[] = [];
  const index = new Map<HostStorage, number>();
  const leaves: HostStorage[] = [];
  const uses = new Map<PendingStorage, number>();
  const visit = (s: PendingStorage): void => {
    for (const a of s.expr!.args) {
      if (isPending(a)) {
        const seen = uses.get(a);
        uses.set(a, (seen ?? 0) + 1);
        if (seen === undefined) visit(a);
      } else if (!index.has(a)) {
        index.set(a, leaves.length);
        leaves.push(a);
      }
    }
    order.push(s);
  };
  visit(root);
  // Written: the root, and every node held by more than the users inside this DAG.
  const outputs = order.filter((s) => s === root || s.refs > (uses.get(s) ?? 0));
  if (order.length === 1 && leaves.length === 0) throw new Error('fusion: a pending storage without operands');
  if (leaves.length + outputs.length + 1 > MAX_JOB_ARGS) return evaluateInParts(root);
  order.forEach((s, i) => index.set(s, leaves.length + i));
  const expr: FusedExpr = {
    leaves: leaves.map((l) => (l.size === 1 ? 'scalar' : 'full')),
    nodes: order.map((s): FusedNode => ({ op: s.expr!.op as FusedNode['op'], args: s.expr!.args.map((a) => index.get(a)!) })),
    outputs: outputs.map((s) => index.get(s)! - leaves.length),
  };
  const k = fusedKernel(expr);
  if (!k) return evaluateInParts(root);
  const n = root.size;
  const arrays = outputs.map(() => allocOverwritten('float32', n) as Float32Array);
  const call = new KernelCall(kernelSpace()!);
  const leafPtr = leaves.map((l) => call.input(l.data as Float32Array));
  const outPtr = arrays.map((a) => call.output(a));
  if (!call.ok) {
    call.abandon();
    return evaluateInParts(root);
  }
  const full = leaves.map((l) => l.size !== 1);
  passes++;
  splitRun(k, 'fused', n, PARALLEL_MIN_ELEMENTS, 16, (s, len) => [...leafPtr.map((p, i) => (full[i] ? p + 4 * s : p)), ...outPtr.map((p) => p + 4 * s), len]);
  call.finish();
  outputs.forEach((s, j) => {
    if (s !== root) s.settleWith(arrays[j]!);
  });
  // Users first: a node that only this chain held is disposed (uncomputed) as its last user lets go.
  for (let i = order.length - 1; i >= 0; i--) release(order[i]!);
  return arrays[outputs.length - 1]!; // the root comes last in post-order
}

/**
 * Fallback for chains too wide for one call, past the compile cap, or without room for their
 * operands: each pending operand of `root` on its own first, then root on the unfused kernels.
 */
function evaluateInParts(root: PendingStorage): TypedArray {
  const { op, args } = root.expr!;
  const [a, b] = args.map((s) => s.data) as [TypedArray, TypedArray | undefined];
  const out = allocOverwritten('float32', root.size);
  if (b === undefined) {
    if (!unarySimd(op, a, out, true)) unaryKernel(op as UnaryOp)(a, out);
  } else {
    const n = root.size;
    const plan: BroadcastPlan = { kind: a.length === n && b.length === n ? 'same' : a.length === n ? 'scalarB' : 'scalarA', dims: [n], strides: [] };
    if (!binaryPlanSimd(op, a, b, out, plan, true)) binaryKernel(op as BinaryOp)(a, b, out, plan);
  }
  release(root);
  return out;
}
