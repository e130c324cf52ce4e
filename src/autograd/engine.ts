import { backend } from '../kernels/registry.js';
import { formatShape, shapesEqual, type Shape } from '../tensor/shape.js';
import type { Storage } from '../tensor/storage.js';
import { keep } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * Reverse-mode autodiff: ops record a node on their output; `backward` walks the graph in reverse
 * topological order, sums each gradient back to its input's shape (the one place broadcasting is
 * undone) and accumulates into the `.grad` of leaves that require it.
 */
let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording any graph (inference, optimiser updates). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

export type BackwardFn = (grad: Tensor) => readonly (Tensor | null)[];

const recordedNames = new Set<string>();

/** Wraps a kernel result as the op's output and records how to differentiate it. */
export function recordOp(op: string, storage: Storage, shape: Shape, inputs: readonly Tensor[], backwardFn: BackwardFn): Tensor {
  const out = new Tensor(storage, shape);
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward: backwardFn };
    recordedNames.add(op);
  }
  return out;
}

/**
 * Every op name recorded in a graph so far in this process. The test suite checks after each file that
 * each one is declared (src/autograd/ops/registry.ts or an OpPack's `ops`), so no op escapes the
 * gradcheck coverage test.
 */
export function recordedOpNames(): ReadonlySet<string> {
  return recordedNames;
}

/** Sums `grad` over broadcast dims so it matches `shape`. */
export function sumToShape(grad: Tensor, shape: Shape): Tensor {
  if (shapesEqual(grad.shape, shape)) return grad;
  const lead = grad.ndim - shape.length;
  if (lead < 0) throw new Error(`backward: gradient ${formatShape(grad.shape)} has lower rank than its input ${formatShape(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < grad.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && grad.shape[i] !== 1)) axes.push(i);
  }
  const b = backend();
  return new Tensor(b.reduce('sum', b.adopt(grad.storage), grad.shape, axes), shape);
}

export interface BackwardOptions {
  /** Keep the graph so backward can run through it again. */
  retainGraph?: boolean;
}

export function runBackward(root: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad) {
    throw new Error(`backward: tensor ${formatShape(root.shape)} does not require grad (no input had requiresGrad: true)`);
  }
  if (grad === undefined) {
    if (root.size !== 1) {
      throw new Error(`backward: output of shape ${formatShape(root.shape)} is not a scalar; pass a gradient of that shape`);
    }
    grad = new Tensor(backend().fill(1, 1, root.dtype), root.shape);
  } else {
    if (!shapesEqual(grad.shape, root.shape)) {
      throw new Error(`backward: gradient shape ${formatShape(grad.shape)} does not match output shape ${formatShape(root.shape)}`);
    }
    if (grad.dtype !== root.dtype) throw new Error(`backward: gradient dtype ${grad.dtype} does not match output dtype ${root.dtype}`);
  }
  if (root.isDisposed) throw new Error(`backward: tensor ${formatShape(root.shape)} (id ${root.id}) was disposed; nothing is left to differentiate`);
  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>([[root, grad]]);
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const node = t.node;
      if (node === null) {
        accumulateLeafGrad(t, g);
        continue;
      }
      if (node.backward === null) {
        throw new Error(
          `backward: the graph through '${node.op}' was already freed by an earlier backward(); ` +
            'pass { retainGraph: true } to the first backward() to run it twice',
        );
      }
      const inputGrads = node.backward(g);
      node.inputs.forEach((input, k) => {
        const gi = inputGrads[k];
        if (!input.requiresGrad || gi === null || gi === undefined) return;
        if (gi.dtype !== input.dtype) throw new Error(`backward: '${node.op}' produced a ${gi.dtype} gradient for a ${input.dtype} input`);
        const summed = sumToShape(gi, input.shape);
        const previous = grads.get(input);
        grads.set(input, previous ? addTensors(previous, summed) : summed);
      });
      if (!opts.retainGraph) node.backward = null;
    }
  });
}

function accumulateLeafGrad(leaf: Tensor, g: Tensor): void {
  if (!leaf.requiresGrad) return;
  if (leaf.grad === null) {
    // A tensor of its own (sharing storage) so that disposing the graph's tensors leaves it intact.
    leaf.grad = keep(new Tensor(g.storage, leaf.shape));
  } else {
    const summed = addTensors(leaf.grad, g);
    leaf.grad.dispose();
    leaf.grad = keep(summed);
  }
}

function addTensors(a: Tensor, b: Tensor): Tensor {
  const be = backend();
  return new Tensor(be.binary('add', be.adopt(a.storage), a.shape, be.adopt(b.storage), b.shape, a.shape), a.shape);
}

/** Tensors reachable from `root`, each after all of its inputs (iterative DFS; deep graphs are fine). */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: { t: Tensor; next: number }[] = [{ t: root, next: 0 }];
  visited.add(root);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const inputs = frame.t.node?.inputs ?? [];
    if (frame.next < inputs.length) {
      const index = frame.next++;
      const child = inputs[index]!;
      if (child.requiresGrad && child.isDisposed) {
        // dispose() drops the tensor's history: going on would silently starve every leaf behind it.
        throw new Error(
          `backward: input ${index} of '${frame.t.node!.op}' (tensor ${formatShape(child.shape)}, id ${child.id}) was disposed before backward(); ` +
            'the gradient cannot reach the tensors it was computed from. Keep intermediates alive until backward() (call it inside the same tidy)',
        );
      }
      if (!visited.has(child) && child.requiresGrad) {
        visited.add(child);
        stack.push({ t: child, next: 0 });
      }
    } else {
      order.push(frame.t);
      stack.pop();
    }
  }
  return order;
}
