/** |gpu − cpu| ≤ atol + rtol·scale per element, scale defaulting to |cpu|. */
export interface Tolerance {
  atol: number;
  rtol: number;
  scale?: ArrayLike<number>;
}

export const EXACT: Tolerance = { atol: 0, rtol: 0 };
/** Elementwise float32 kernels (GPU transcendentals are not correctly rounded). */
export const ELEMENTWISE: Tolerance = { atol: 1e-6, rtol: 2e-5 };

/**
 * The worst violation of the tolerance as a sentence, or null when every element passes. NaN on both
 * sides and equal infinities pass.
 */
export function worstMismatch(g: ArrayLike<number>, c: ArrayLike<number>, tol: Tolerance): string | null {
  if (g.length !== c.length) return `length ${g.length} vs ${c.length}`;
  let worstExcess = -1;
  let worst: string | null = null;
  for (let i = 0; i < c.length; i++) {
    const gi = g[i]!;
    const ci = c[i]!;
    if ((Number.isNaN(gi) && Number.isNaN(ci)) || (!Number.isFinite(ci) && gi === ci)) continue;
    const bound = tol.atol + tol.rtol * (tol.scale ? Math.abs(tol.scale[i]!) : Math.abs(ci));
    const err = Math.abs(gi - ci);
    if (!(err <= bound) && (Number.isNaN(err) || err - bound > worstExcess)) {
      worstExcess = Number.isNaN(err) ? Infinity : err - bound;
      worst = `element ${i}: gpu ${gi} vs cpu ${ci} (|diff| ${err.toExponential(2)} > ${bound.toExponential(2)})`;
    }
  }
  return worst;
}

/** |gpu − cpu| ≤ atol + rtol·max|cpu| over a whole array (for results that mix many rounding paths). */
export function worstRelativeToMax(g: ArrayLike<number>, c: ArrayLike<number>, rtol: number, atol: number): string | null {
  let scale = 0;
  for (let i = 0; i < c.length; i++) scale = Math.max(scale, Math.abs(c[i]!));
  return worstMismatch(g, c, { atol: atol + rtol * scale, rtol: 0 });
}
