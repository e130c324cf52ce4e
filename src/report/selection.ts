/**
 * Expert-selection quality: do tasks of the same ground-truth group use the same experts, and tasks
 * of different groups different ones?
 *
 * Each task t has a gate-weight profile q_t over the n experts (a static gate's weights; for a
 * per-example gate, its weights averaged over the test set). Normalised to p_t = q_t / Σ_e q_t,e, two
 * tasks overlap by the histogram intersection
 *
 *   overlap(a, b) = Σ_e min(p_a,e, p_b,e)  ∈ [0, 1]   (1: identical profiles, 0: disjoint experts)
 *
 * and the score is
 *
 *   quality = mean overlap over same-group pairs − mean overlap over different-group pairs  ∈ [−1, 1].
 *
 * 1 means every group has its own experts, shared by all of its tasks; 0 means selection ignores the
 * grouping (e.g. every task spreads its weight the same way, as an untrained softmax gate does).
 */
export interface SelectionQuality {
  quality: number;
  withinGroupOverlap: number;
  acrossGroupOverlap: number;
}

/** `weights[t][e]` is task t's weight on expert e; `groups[t]` its ground-truth group. */
export function expertSelectionQuality(weights: readonly (readonly number[])[], groups: ArrayLike<number>): SelectionQuality | null {
  const T = weights.length;
  if (groups.length !== T) {
    throw new Error(`expertSelectionQuality: ${T} weight rows but ${groups.length} group labels`);
  }
  const n = T > 0 ? weights[0]!.length : 0;
  const profiles = weights.map((row, t) => {
    if (row.length !== n) throw new Error(`expertSelectionQuality: row ${t} has ${row.length} experts, expected ${n}`);
    const total = row.reduce((a, b) => a + Math.max(0, b), 0);
    return row.map((w) => (total > 0 ? Math.max(0, w) / total : 0));
  });
  let within = 0;
  let withinPairs = 0;
  let across = 0;
  let acrossPairs = 0;
  for (let a = 0; a < T; a++) {
    for (let b = a + 1; b < T; b++) {
      const o = overlap(profiles[a]!, profiles[b]!);
      if (groups[a] === groups[b]) {
        within += o;
        withinPairs++;
      } else {
        across += o;
        acrossPairs++;
      }
    }
  }
  if (withinPairs === 0 || acrossPairs === 0) return null;
  const withinGroupOverlap = within / withinPairs;
  const acrossGroupOverlap = across / acrossPairs;
  return { quality: withinGroupOverlap - acrossGroupOverlap, withinGroupOverlap, acrossGroupOverlap };
}

function overlap(p: readonly number[], q: readonly number[]): number {
  let s = 0;
  for (let e = 0; e < p.length; e++) s += Math.min(p[e]!, q[e]!);
  return s;
}

/**
 * Normalised mutual information between the experts a task selects and its ground-truth group — the
 * selection metric of `dselect-k reproduce`, fixed before any run was made.
 *
 * Pick a task uniformly at random (its group G), then an expert E from the task's gate-weight profile
 * p_t (its weights normalised to sum 1; per-example gates: averaged over the test set). The joint law is
 *
 *   P(G = g, E = e) = (1/T) · Σ_{t in group g} p_t,e
 *
 * and NMI = I(G; E) / ((H(G) + H(E)) / 2) ∈ [0, 1] (the arithmetic normalisation, scikit-learn's
 * default). When every task selects exactly one expert this is scikit-learn's
 * normalized_mutual_info_score(groups, selected expert). 1: the expert used determines the group and
 * the group the expert (each group has experts of its own and all its tasks use them alike); 0: the
 * experts used say nothing about the group (e.g. every task spreads its weight the same way).
 * Returns null for fewer than 2 groups (no information to recover).
 */
export function selectionNmi(weights: readonly (readonly number[])[], groups: ArrayLike<number>): number | null {
  const T = weights.length;
  if (groups.length !== T) throw new Error(`selectionNmi: ${T} weight rows but ${groups.length} group labels`);
  if (T === 0) return null;
  const n = weights[0]!.length;
  const groupIds = [...new Set(Array.from(groups))].sort((a, b) => a - b);
  if (groupIds.length < 2) return null;
  const groupIndex = new Map(groupIds.map((g, i) => [g, i]));
  const joint = groupIds.map(() => new Array<number>(n).fill(0));
  weights.forEach((row, t) => {
    if (row.length !== n) throw new Error(`selectionNmi: row ${t} has ${row.length} experts, expected ${n}`);
    const total = row.reduce((a, b) => a + Math.max(0, b), 0);
    if (!(total > 0)) throw new Error(`selectionNmi: task ${t} has no positive gate weight`);
    const g = groupIndex.get(groups[t]!)!;
    row.forEach((w, e) => (joint[g]![e]! += Math.max(0, w) / total / T));
  });
  const pg = joint.map((r) => r.reduce((a, b) => a + b, 0));
  const pe = Array.from({ length: n }, (_, e) => joint.reduce((a, r) => a + r[e]!, 0));
  const entropy = (p: readonly number[]): number => -p.reduce((a, v) => (v > 0 ? a + v * Math.log(v) : a), 0);
  let mutual = 0;
  joint.forEach((r, g) =>
    r.forEach((v, e) => {
      if (v > 0) mutual += v * Math.log(v / (pg[g]! * pe[e]!));
    }),
  );
  const hg = entropy(pg);
  const he = entropy(pe);
  const normaliser = (hg + he) / 2;
  return normaliser > 0 ? Math.min(1, Math.max(0, mutual / normaliser)) : 0;
}
