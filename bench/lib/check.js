// Cross-checks run before any timing, so a fast wrong kernel cannot win a row.

/**
 * Compares `got` with the float64 `ref` elementwise: |got − ref| ≤ tol(i). Returns the worst
 * excess (≤ 0 means every element is within tolerance) and where it happened.
 */
export function compare(got, ref, tol) {
  if (got.length !== ref.length) return { ok: false, detail: `length ${got.length} vs reference ${ref.length}` };
  let worst = -Infinity;
  let at = -1;
  let maxAbs = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    const excess = Number.isNaN(d) ? Infinity : d - tol(i);
    if (excess > worst) {
      worst = excess;
      at = i;
    }
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d;
  }
  const ok = worst <= 0;
  return {
    ok,
    maxAbsErr: maxAbs,
    detail: ok ? `max |err| ${maxAbs.toExponential(2)}` : `element ${at}: got ${got[at]}, want ${ref[at]} (tolerance ${tol(at).toExponential(2)})`,
  };
}

/** float32 tolerance for values computed with a few roundings each: atol + rtol·|ref|. */
export function float32Tolerance(ref, atol = 1e-5, rtol = 1e-4) {
  return (i) => atol + rtol * Math.abs(ref[i]);
}
