import { add, mul } from '../autograd/ops/elementwise.js';
import { mixRows } from '../packs/expert-mixture/op.js';
import { gather, reshape, slice } from '../autograd/ops/shape.js';
import type { Layer } from '../nn/module.js';
import { expertsTogetherPay, forwardExpertsTogether } from '../nn/cnn-expert.js';
import { backend } from '../kernels/registry.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { scatterRows } from '../packs/scatter-rows/op.js';

/**
 * y_t = Σ_e q_t[:, e] · f_e(x) for every gate t at once, with the experts shared between gates.
 *
 * With `sparse`, an expert is evaluated only on the rows where some gate gives it a non-zero weight
 * (all rows: plain call; some rows: gather those rows, evaluate, scatter back; none: skipped). This is
 * exact, not an approximation: every gate here has ∂q_e = 0 wherever q_e = 0 (saturated smooth-steps,
 * masked top-k, underflowed softmax), so a skipped expert contributes neither value nor gradient.
 * Finding those rows reads the gate weights back, so on a backend that reads only asynchronously
 * (webgpu) every expert runs on every row instead (the same result, without a readback per step).
 */
export function mixExperts(x: Tensor, experts: readonly Layer[], gateWeights: readonly Tensor[], sparse = true): Tensor[] {
  const batch = x.shape[0]!;
  const n = experts.length;
  for (const [t, w] of gateWeights.entries()) {
    if (w.ndim !== 2 || w.shape[0] !== batch || w.shape[1] !== n) {
      throw new Error(`mixExperts: gate ${t} weights ${formatShape(w.shape)} do not match [batch = ${batch}, experts = ${n}]`);
    }
  }
  const usage = sparse && backend().readsSync !== false ? expertUsage(gateWeights.map((w) => w.storage.readSync()), batch, n) : null;
  // rows[e] = where some gate needs expert e (null: every row; empty: skipped).
  const rows = Array.from({ length: n }, (_, e) => (usage ? usage.rows(e) : null));
  // Experts needed on every row run together where they can and it pays (CNN experts of one
  // architecture, two threads: one conv per layer for all of them); the others, and those needed on
  // some rows only, one by one.
  const everyRow = rows.flatMap((r, e) => (r === null ? [e] : []));
  const together = expertsTogetherPay() ? forwardExpertsTogether(everyRow.map((e) => experts[e]!), x) : null;
  const evaluated: EvaluatedExpert[] = [];
  for (let e = 0; e < n; e++) {
    const r = rows[e]!;
    if (r !== null && r.length === 0) continue;
    const joint = together && r === null ? together[everyRow.indexOf(e)]! : null;
    evaluated.push({
      index: e,
      output: joint ?? experts[e]!.forward(r ? gather(x, r, 0) : x),
      rows: r,
      tasks: gateWeights.map((_, t) => (usage ? usage.usedBy(t, e) : true)),
    });
  }
  // One fused op per gate (mixRows) when the expert outputs are [rows, d]: a training-step profile
  // showed the per-expert slice / gather / multiply / scatter / add chain (and its backward) to cost
  // more than the experts' own elementwise work. Both forms sum the experts in order.
  const flat = evaluated.every((e) => e.output.ndim === 2);
  const outputs = gateWeights.map((w, t) => {
    const mine = evaluated.filter((e) => e.tasks[t]);
    if (mine.length === 0) return null;
    if (flat) return mixRows(w, mine.map((e) => e.output), mine.map((e) => e.index), mine.map((e) => e.rows));
    let y: Tensor | null = null;
    for (const { index, output, rows } of mine) {
      const weight = column(w, index, output.ndim);
      const term = rows ? scatterRows(mul(output, gather(weight, rows, 0)), rows, batch) : mul(output, weight);
      y = y ? add(y, term) : term;
    }
    return y;
  });
  // A gate whose weights are all exactly 0 (DSelect-k selectors stuck on unreachable codes): output 0.
  return outputs.map((y, t) => {
    if (y) return y;
    const output = experts[0]!.forward(x);
    return mul(output, column(gateWeights[t]!, 0, output.ndim));
  });
}

/** An expert evaluated on the rows some gate needs (all rows: `rows` null), and which gates use it. */
interface EvaluatedExpert {
  index: number;
  output: Tensor;
  rows: Int32Array | null;
  tasks: boolean[];
}

/** Gate weights of expert e as [batch, 1, …, 1] so they broadcast over an expert output of rank `ndim`. */
function column(w: Tensor, e: number, ndim: number): Tensor {
  const batch = w.shape[0]!;
  return reshape(slice(w, [0, e], [batch, 1]), [batch, ...new Array<number>(Math.max(ndim - 1, 1)).fill(1)]);
}

/**
 * Which rows need which expert, from the gates' host weights [batch, n] in one pass: rows(e) is null
 * when every row needs expert e, else the (possibly empty) increasing list of rows that do;
 * usedBy(t, e) says whether gate t gives expert e a non-zero weight on any row.
 */
function expertUsage(weights: readonly ArrayLike<number>[], batch: number, n: number): { rows(e: number): Int32Array | null; usedBy(t: number, e: number): boolean } {
  const hit = new Uint8Array(n * batch); // hit[e·batch + r]: some gate needs expert e on row r
  const count = new Int32Array(n);
  const used = new Uint8Array(weights.length * n);
  weights.forEach((w, t) => {
    for (let r = 0; r < batch; r++) {
      for (let e = 0; e < n; e++) {
        if (w[r * n + e] === 0) continue;
        used[t * n + e] = 1;
        if (hit[e * batch + r] === 0) {
          hit[e * batch + r] = 1;
          count[e]!++;
        }
      }
    }
  });
  return {
    rows(e) {
      if (count[e] === 0) return new Int32Array(0);
      if (count[e] === batch) return null;
      const out = new Int32Array(count[e]!);
      for (let r = 0, j = 0; r < batch; r++) if (hit[e * batch + r]) out[j++] = r;
      return out;
    },
    usedBy: (t, e) => used[t * n + e] === 1,
  };
}
