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
