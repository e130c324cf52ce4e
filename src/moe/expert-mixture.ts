import { add, mul } from '../autograd/ops/elementwise.js';
import { gather, slice } from '../autograd/ops/shape.js';
import type { Layer } from '../nn/module.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { scatterRows } from './scatter-rows.js';

/**
 * y_t = Σ_e q_t[:, e] · f_e(x) for every gate t at once, with the experts shared between gates.
 *
 * With `sparse`, an expert is evaluated only on the rows where some gate gives it a non-zero weight
 * (all rows: plain call; some rows: gather those rows, evaluate, scatter back; none: skipped). This is
 * exact, not an approximation: every gate here has ∂q_e = 0 wherever q_e = 0 (saturated smooth-steps,
 * masked top-k, underflowed softmax), so a skipped expert contributes neither value nor gradient.
 */
export function mixExperts(x: Tensor, experts: readonly Layer[], gateWeights: readonly Tensor[], sparse = true): Tensor[] {
  const batch = x.shape[0]!;
  const n = experts.length;
  for (const [t, w] of gateWeights.entries()) {
    if (w.ndim !== 2 || w.shape[0] !== batch || w.shape[1] !== n) {
      throw new Error(`mixExperts: gate ${t} weights ${formatShape(w.shape)} do not match [batch = ${batch}, experts = ${n}]`);
    }
  }
  const host = sparse ? gateWeights.map((w) => w.storage.readSync()) : null;
  const outputs: (Tensor | null)[] = gateWeights.map(() => null);
  const accumulate = (t: number, contribution: Tensor): void => {
    const previous = outputs[t];
    outputs[t] = previous ? add(previous, contribution) : contribution;
  };

  for (let e = 0; e < n; e++) {
    // used[t] = rows where gate t needs expert e; rows = their union.
    const used = gateWeights.map((_, t) => (host ? nonZeroRows(host[t]!, batch, n, e) : null));
    const rows = host ? unionRows(used as Int32Array[], batch) : null;
    if (rows !== null && rows.length === 0) continue;
    if (rows === null || rows.length === batch) {
      const fe = experts[e]!.forward(x);
      gateWeights.forEach((w, t) => {
        if (used[t] && used[t]!.length === 0) return;
        accumulate(t, mul(fe, column(w, e)));
      });
      continue;
    }
    const fe = experts[e]!.forward(gather(x, rows, 0));
    gateWeights.forEach((w, t) => {
      if (used[t]!.length === 0) return;
      accumulate(t, scatterRows(mul(fe, gather(column(w, e), rows, 0)), rows, batch));
    });
  }
  // A gate whose weights are all exactly 0 (DSelect-k selectors stuck on unreachable codes): output 0.
  return outputs.map((y, t) => y ?? mul(experts[0]!.forward(x), column(gateWeights[t]!, 0)));
}

function column(w: Tensor, e: number): Tensor {
  return slice(w, [0, e], [w.shape[0]!, 1]);
}

function nonZeroRows(w: ArrayLike<number>, batch: number, n: number, e: number): Int32Array {
  let count = 0;
  for (let r = 0; r < batch; r++) if (w[r * n + e] !== 0) count++;
  const out = new Int32Array(count);
  let j = 0;
  for (let r = 0; r < batch; r++) if (w[r * n + e] !== 0) out[j++] = r;
  return out;
}

function unionRows(sets: readonly Int32Array[], batch: number): Int32Array {
  if (sets.length === 1) return sets[0]!;
  const hit = new Uint8Array(batch);
  for (const s of sets) for (const r of s) hit[r] = 1;
  let count = 0;
  for (let r = 0; r < batch; r++) count += hit[r]!;
  const out = new Int32Array(count);
  let j = 0;
  for (let r = 0; r < batch; r++) if (hit[r]) out[j++] = r;
  return out;
}
