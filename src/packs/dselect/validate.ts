/** Argument checks shared by the DSelect-k functions; errors name the function, the parameter and the value. */

/** numExperts must be an integer ≥ 2: a single expert needs no selector (and m = ceil(log2 1) = 0 bits). */
export function assertNumExperts(op: string, numExperts: number): void {
  if (typeof numExperts !== 'number' || !Number.isInteger(numExperts) || numExperts < 2) {
    throw new Error(`${op}: numExperts must be an integer ≥ 2, got ${String(numExperts)}`);
  }
  if (numExperts > 2 ** 30) throw new Error(`${op}: numExperts must be at most 2^30, got ${numExperts}`);
}

/** γ, the width of the smooth-step's transition region, must be finite and positive. */
export function assertGamma(op: string, gamma: number): void {
  if (typeof gamma !== 'number' || !Number.isFinite(gamma) || gamma <= 0) {
    throw new Error(`${op}: gamma must be a finite number > 0, got ${String(gamma)}`);
  }
}

/** m = ceil(log2 numExperts): the number of binary-code bits (smooth-steps) per selector. */
export function selectorBitCount(numExperts: number): number {
  assertNumExperts('selectorBitCount', numExperts);
  let m = 0;
  while (2 ** m < numExperts) m++;
  return m;
}
