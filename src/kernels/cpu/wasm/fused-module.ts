import { I32, V128, type Local } from './assembler.js';
import { BINARY_SIMD_OPS, emitBinary, emitUnary, loadPartial, storePartial, UNARY_SIMD_OPS, type BinarySimdOp, type UnarySimdOp } from './math-module.js';
import { SimdBuilder } from './simd-builder.js';
import { VectorMath } from './vector-math.js';

/**
 * One elementwise chain (a DAG of the SIMD unary and binary ops of math-module.ts) as one
 * WebAssembly function that makes a single pass over memory:
 *   fused(leaf_0, …, leaf_{L−1}, out_0, …, out_{O−1}, n)
 * Leaf i is either n contiguous floats ('full') or one float used for every element ('scalar');
 * out j receives node outputs[j]. Every node is computed by the same emitter the unfused kernel
 * uses, from values kept in registers, so each stored result is bit for bit what the chain of
 * unfused kernels would have stored. The last n mod 4 elements go through the same code with
 * partial loads and stores.
 */
export type LeafKind = 'full' | 'scalar';

export interface FusedNode {
  op: UnarySimdOp | BinarySimdOp;
  /** Operand indices: 0 … L−1 are the leaves, L + i is node i (an earlier node). */
  args: readonly number[];
}

export interface FusedExpr {
  leaves: readonly LeafKind[];
  nodes: readonly FusedNode[];
  /** Nodes whose values are stored, in the order of the out pointers. */
  outputs: readonly number[];
}

const UNARY = new Set<string>(UNARY_SIMD_OPS);
const BINARY = new Set<string>(BINARY_SIMD_OPS);

/** Whether `op` can be part of a fused chain with `arity` operands. */
export function fusable(op: string, arity: 1 | 2): boolean {
  return arity === 1 ? UNARY.has(op) : BINARY.has(op);
}

/** A canonical text of the expression: equal texts compile to the same function. */
export function exprKey(e: FusedExpr): string {
  return `${e.leaves.map((k) => (k === 'full' ? 'f' : 's')).join('')}|${e.nodes.map((n) => `${n.op}(${n.args.join(',')})`).join(' ')}|${e.outputs.join(',')}`;
}

export function fusedFunction(e: FusedExpr): SimdBuilder {
  const L = e.leaves.length;
  const O = e.outputs.length;
  const f = new SimdBuilder('fused', L + O + 1);
  const n = L + O;
  const m = new VectorMath(f);
  const offset = f.local(I32);
  const end = f.local(I32);
  const rem = f.local(I32);
  const ptr = f.local(I32);
  const leafVal = e.leaves.map(() => f.local(V128));
  const nodeVal = e.nodes.map(() => f.local(V128));
  const value = (arg: number): Local => (arg < L ? leafVal[arg]! : nodeVal[arg - L]!);
  const compute = (): void => {
    e.nodes.forEach((node, i) => {
      if (node.args.length === 1) emitUnary(f, m, node.op as UnarySimdOp, value(node.args[0]!));
      else emitBinary(f, node.op as BinarySimdOp, value(node.args[0]!), value(node.args[1]!));
      f.set(nodeVal[i]!);
    });
  };
  // Scalar leaves: splatted once.
  e.leaves.forEach((kind, i) => {
    if (kind === 'scalar') f.get(i).v128Load32Splat().set(leafVal[i]!);
  });
  f.get(n).i32(~3).and().i32(4).mul().set(end);
  f.get(n).i32(3).and().set(rem);
  f.i32(0).set(offset);
  f.forRange(offset, end, 16, () => {
    e.leaves.forEach((kind, i) => {
      if (kind === 'full') f.get(i).get(offset).add().v128Load().set(leafVal[i]!);
    });
    compute();
    e.outputs.forEach((node, j) => f.get(L + j).get(offset).add().get(nodeVal[node]!).v128Store());
  });
  f.ifElse(
    () => f.get(rem),
    () => {
      e.leaves.forEach((kind, i) => {
        if (kind !== 'full') return;
        f.get(i).get(end).add().set(ptr);
        loadPartial(f, ptr, rem, leafVal[i]!);
      });
      compute();
      e.outputs.forEach((node, j) => {
        f.get(L + j).get(end).add().set(ptr);
        storePartial(f, ptr, rem, nodeVal[node]!);
      });
    },
  );
  return f;
}
