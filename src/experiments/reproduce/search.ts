import type { Setting } from '../../report/reproduce-records.js';
import { Rng } from '../../tensor/random.js';

export type { Setting };

export type SettingName = keyof Setting;

/** One searched hyperparameter: log-uniform on [low, high]. */
export interface SearchDimension {
  name: SettingName;
  low: number;
  high: number;
}

/**
 * Random search with Latin-hypercube strata: for `trials` draws, each dimension's range (in log space)
 * is cut into `trials` equal strata and every stratum is used exactly once, in a seeded random order,
 * at a seeded random point inside it. Every gate gets the same number of trials; a gate with fewer
 * dimensions covers each of them just as densely.
 */
export function sampleSettings(dimensions: readonly SearchDimension[], trials: number, seed: number): Setting[] {
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`sampleSettings: trials must be an integer ≥ 1, got ${trials}`);
  if (!dimensions.some((d) => d.name === 'lr')) throw new Error('sampleSettings: every search space includes lr');
  for (const d of dimensions) {
    if (!(d.low > 0 && d.high >= d.low && Number.isFinite(d.high))) throw new Error(`sampleSettings: ${d.name} needs 0 < low ≤ high, got [${d.low}, ${d.high}]`);
  }
  const rng = new Rng(seed);
  const settings: Setting[] = Array.from({ length: trials }, () => ({ lr: Number.NaN }));
  for (const d of dimensions) {
    const strata = rng.permutation(trials);
    const logLow = Math.log(d.low);
    const logHigh = Math.log(d.high);
    for (let i = 0; i < trials; i++) {
      const u = (strata[i]! + rng.uniform()) / trials;
      settings[i]![d.name] = roundSignificant(Math.exp(logLow + u * (logHigh - logLow)), 4);
    }
  }
  return settings;
}

/** 4 significant digits keep the ledger readable; the rounded value is the one trained with. */
function roundSignificant(x: number, digits: number): number {
  return Number(x.toPrecision(digits));
}

/** A 32-bit seed from a string key (FNV-1a), so each cell of a protocol draws its own trials. */
export function seedFromKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** `lr 3.2e-3, λ 0.011, γ 1.7`. */
export function describeSetting(s: Setting): string {
  const parts = [`lr ${fmt(s.lr)}`];
  if (s.entropyWeight !== undefined) parts.push(`λ ${fmt(s.entropyWeight)}`);
  if (s.gamma !== undefined) parts.push(`γ ${fmt(s.gamma)}`);
  if (s.balanceWeight !== undefined) parts.push(`balance ${fmt(s.balanceWeight)}`);
  return parts.join(', ');
}

function fmt(x: number): string {
  return x >= 0.01 && x < 1000 ? String(Number(x.toPrecision(3))) : x.toExponential(2);
}
