import { backend } from '../../kernels/registry.js';
import { noGrad, recordOp } from '../../autograd/engine.js';
import { add, div, log, mul, neg, reciprocal, square } from '../../autograd/ops/elementwise.js';
import { sum } from '../../autograd/ops/reduce.js';
import { expand } from '../../autograd/ops/shape.js';
import { assertTensor } from '../../autograd/ops/util.js';
import { tidy } from '../../tensor/scope.js';
import { formatShape, sizeOf } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { selectorOrigin } from './selector.js';
import { selectorBitCount } from './validate.js';

/** ε inside the entropy's log; so an exactly one-hot selector scores −log(1 + 1e-6) ≈ −1e-6, not 0. */
export const SELECTOR_ENTROPY_EPSILON = 1e-6;

/** 'sum' adds over everything; 'mean' divides by the batch size (the dims before [k, numExperts]). */
export type RegularizerReduction = 'sum' | 'mean';

function assertReduction(op: string, reduction: RegularizerReduction): void {
  if (reduction !== 'sum' && reduction !== 'mean') {
    throw new Error(`${op}: reduction must be 'sum' or 'mean', got ${String(reduction)}`);
  }
}

/** 1 for 'sum'; for 'mean', 1 / the number of examples (product of the dims before [k, numExperts]; 1 for static r). */
function reductionScale(op: string, r: Tensor, reduction: RegularizerReduction): number {
  if (reduction === 'sum') return 1;
  const count = sizeOf(r.shape.slice(0, Math.max(0, r.ndim - 2)));
  if (count === 0) throw new Error(`${op}: cannot average over an empty batch, r ${formatShape(r.shape)}`);
  return 1 / count;
}

/**
 * Entropy regulariser −Σ r·log(r + 1e-6) over selectors and experts of r `[k, n]` or `[B, k, n]`;
 * 'sum' (default, as the official code) also sums over the batch, 'mean' averages over it.
 * One recorded op; backward: ∂/∂r = −log(r + ε) − r/(r + ε).
 */
export function selectorEntropy(r: Tensor, reduction: RegularizerReduction = 'sum'): Tensor {
  const op = 'selectorEntropy';
  assertTensor(op, r, 'r');
  assertReduction(op, reduction);
  if (r.ndim < 1) throw new Error(`${op}: r must have at least one dim [..., numExperts], got a scalar`);
  const scale = reductionScale(op, r, reduction);
  const value = noGrad(() => tidy(() => mul(sum(mul(r, log(add(r, SELECTOR_ENTROPY_EPSILON)))), -scale)));
  const out = recordOp(op, value.storage, [], [r], (g) => {
    const shifted = add(r, SELECTOR_ENTROPY_EPSILON);
    const d = neg(add(log(shifted), div(r, shifted)));
    return [mul(d, mul(g, scale))];
  });
  value.dispose();
  return out;
}

/**
 * Reachability penalty Σ_selectors 1 / Σ_e r_e for r `[..., k, numExperts]` (per example for
 * `[B, k, n]`; 'sum' adds over the batch, 'mean' averages). Only useful when numExperts is not a power
 * of two: then codes ≥ numExperts are unreachable and this pushes their mass back. A selector whose
 * reachable mass is exactly 0 would give an infinite penalty with zero gradient: that raises an
 * error naming the selector (and its z when r came straight from `selectorOutputs`) — on backends that
 * read back synchronously; on webgpu the check would stall every step, and the infinite penalty shows
 * up as a non-finite objective at `fitAsync`'s next readback instead.
 */
export function reachabilityPenalty(r: Tensor, reduction: RegularizerReduction = 'sum'): Tensor {
  const op = 'reachabilityPenalty';
  assertTensor(op, r, 'r');
  assertReduction(op, reduction);
  if (r.ndim < 1) throw new Error(`${op}: r must have at least one dim [..., numExperts], got a scalar`);
  const scale = reductionScale(op, r, reduction);
  const mass = noGrad(() => sum(r, -1));
  const masses = backend().readsSync === false ? [] : mass.toArray();
  for (let i = 0; i < masses.length; i++) {
    const m = masses[i]!;
    if (m === 0 || !Number.isFinite(m)) {
      const shape = mass.shape;
      mass.dispose();
      throw new Error(diagnoseMass(r, shape, i, m));
    }
  }
  const value = noGrad(() => tidy(() => mul(sum(reciprocal(mass)), scale)));
  mass.dispose();
  // The backward recomputes the masses from r (its input) rather than holding a forward intermediate.
  const out = recordOp(op, value.storage, [], [r], (g) => {
    const perSelector = mul(neg(reciprocal(square(sum(r, -1, true)))), mul(g, scale));
    return [expand(perSelector, r.shape)];
  });
  value.dispose();
  return out;
}

function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d]!;
    flat = Math.floor(flat / shape[d]!);
  }
  return idx;
}

function fmt(x: number): string {
  return String(Number(x.toPrecision(6)));
}

function diagnoseMass(r: Tensor, massShape: readonly number[], flat: number, m: number): string {
  const n = r.shape[r.ndim - 1]!;
  const where = `r[${[...unravel(flat, massShape), ':'].join(',')}] of r ${formatShape(r.shape)}`;
  if (!Number.isFinite(m)) {
    return `reachabilityPenalty: selector ${where} has a non-finite total mass (${m}): r contains NaN or Infinity`;
  }
  const lines = [`reachabilityPenalty: selector ${where} puts zero mass on all ${n} experts (Σ_e r_e = 0), so 1/Σ_e r_e would be infinite with zero gradient.`];
  if (n < 2) return lines.join(' ');
  const bits = selectorBitCount(n);
  const codes = 2 ** bits;
  if (codes > n) {
    lines.push(`It is saturated on unreachable codes: with numExperts = ${n}, codes ${n}..${codes - 1} of the 2^${bits} = ${codes} codes belong to no expert.`);
  }
  const origin = selectorOrigin(r);
  if (origin) {
    const z = origin.z.toArray();
    const zRow = Array.from(z.subarray(flat * bits, (flat + 1) * bits));
    const s = zRow.map((t): number => (t <= -origin.gamma / 2 ? 0 : t >= origin.gamma / 2 ? 1 : NaN));
    const code = s.every((v) => v === 0 || v === 1) ? s.reduce<number>((acc, b) => acc * 2 + b, 0) : null;
    lines.push(
      `Its z[${unravel(flat, massShape).join(',')}] = [${zRow.map(fmt).join(', ')}] with γ = ${origin.gamma}` +
        (code !== null ? ` is saturated on code ${code} (binary ${code.toString(2).padStart(bits, '0')}, MSB first).` : '.'),
    );
  } else {
    lines.push('(Pass r straight from selectorOutputs to see the z behind it.)');
  }
  lines.push(
    'Fix: re-initialise z near 0 (e.g. U(−γ/100, γ/100)), lower the learning rate or raise γ so z does not jump past ±γ/2, ' +
      'add the penalty from the start of training, or use a power-of-two numExperts (every code is then reachable).',
  );
  return lines.join(' ');
}
