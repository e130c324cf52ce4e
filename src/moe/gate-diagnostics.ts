/** Below this an expert's weight counts as unused; Σq below 1 − this counts as lost mass. */
export const GATE_WEIGHT_TOLERANCE = 1e-5;

/** How a gate uses its experts, summarised over a batch (or the single weight vector of a static gate). */
export interface GateDiagnostics {
  kind: string;
  numExperts: number;
  rows: number;
  /** Average weight of each expert over the rows. */
  meanWeights: number[];
  /** Experts with a non-zero weight on at least one row, by decreasing mean weight. */
  selectedExperts: number[];
  /** Number of non-zero weights per row: mean and max over rows. */
  activeExperts: { mean: number; max: number };
  /** Rows whose weights sum to less than 1 − 1e-5 (DSelect-k mass lost on unreachable codes), or to NaN. */
  sumViolations: number;
  /** Weights that are NaN or ±∞ (a diverged model); they count as neither active nor unused. */
  nonFiniteWeights: number;
  /** Experts whose weight stays below 1e-5 on every row. */
  unusedExperts: number[];
  /** DSelect-k: fraction of single-expert selectors that are exactly one-hot; null for other gates. */
  binarySelectorFraction: number | null;
}

/** Everything but `binarySelectorFraction`, from host weights [rows, numExperts]. */
export function summarizeGateWeights(
  kind: string,
  w: { data: ArrayLike<number>; rows: number; numExperts: number },
): Omit<GateDiagnostics, 'binarySelectorFraction'> {
  const { data, rows, numExperts: n } = w;
  const mean = new Array<number>(n).fill(0);
  const nonZero = new Array<boolean>(n).fill(false);
  const peak = new Array<number>(n).fill(0);
  const broken = new Array<boolean>(n).fill(false);
  let activeSum = 0;
  let activeMax = 0;
  let sumViolations = 0;
  let nonFiniteWeights = 0;
  for (let r = 0; r < rows; r++) {
    let active = 0;
    let total = 0;
    for (let e = 0; e < n; e++) {
      const q = data[r * n + e]!;
      mean[e] += q / rows;
      total += q;
      if (!Number.isFinite(q)) {
        nonFiniteWeights++;
        broken[e] = true;
        continue;
      }
      peak[e] = Math.max(peak[e]!, q);
      if (q !== 0) {
        active++;
        nonZero[e] = true;
      }
    }
    activeSum += active;
    activeMax = Math.max(activeMax, active);
    if (!(total >= 1 - GATE_WEIGHT_TOLERANCE)) sumViolations++;
  }
  const experts = [...Array(n).keys()];
  return {
    kind,
    numExperts: n,
    rows,
    meanWeights: mean,
    selectedExperts: experts.filter((e) => nonZero[e]).sort((a, b) => mean[b]! - mean[a]! || a - b),
    activeExperts: { mean: rows > 0 ? activeSum / rows : 0, max: activeMax },
    sumViolations,
    nonFiniteWeights,
    unusedExperts: experts.filter((e) => peak[e]! < GATE_WEIGHT_TOLERANCE && !broken[e]),
  };
}
