/**
 * The hard balancing constraint of MoE layers (Pavlitskaya et al. 2022, after GShard / Switch): each
 * expert takes at most `capacity` examples per batch; an example whose preferred expert is full goes
 * to its next-best expert that still has room.
 */

/** ceil(capacityFactor · k · T / n): examples one expert may take from a batch of T, each routed to k of n experts. */
export function expertCapacity(batch: number, numExperts: number, k: number, capacityFactor: number): number {
  checkCapacityFactor('expertCapacity', capacityFactor);
  if (!Number.isInteger(batch) || batch < 0) throw new Error(`expertCapacity: batch must be an integer ≥ 0, got ${String(batch)}`);
  if (!Number.isInteger(numExperts) || numExperts < 1) throw new Error(`expertCapacity: numExperts must be an integer ≥ 1, got ${String(numExperts)}`);
  if (!Number.isInteger(k) || k < 1 || k > numExperts) throw new Error(`expertCapacity: k must be an integer in [1, numExperts = ${numExperts}], got ${String(k)}`);
  return Math.ceil((capacityFactor * k * batch) / numExperts);
}

export function checkCapacityFactor(owner: string, capacityFactor: number): void {
  if (typeof capacityFactor !== 'number' || !Number.isFinite(capacityFactor) || capacityFactor <= 0) {
    throw new Error(`${owner}: capacityFactor must be a finite number > 0, got ${String(capacityFactor)}`);
  }
}

/** Where every example of a batch went. */
export interface CapacityAssignment {
  /** [rows · k]: the experts of row r at r·k … r·k + k − 1 in preference order, −1 for a slot that found no room. */
  experts: Int32Array;
  /** Examples given to each expert (never more than `capacity`). */
  counts: Int32Array;
  capacity: number;
  /** Slots that did not get their preferred choice (the first-choice slot of a row is its best expert, etc.). */
  rerouted: number;
  /** Slots left empty because every expert the row could still use was full. */
  dropped: number;
}

/**
 * Routes each row of `scores` [rows, n] to k distinct experts under a per-expert capacity. Slots are
 * filled choice by choice (every row's first choice before any row's second, rows in batch order, as
 * in GShard), so first choices have priority. A slot takes the row's best-scoring expert that the row
 * does not use yet and that has room: its own ranked choice when possible, otherwise the next best.
 * Ties in score go to the lower expert index.
 */
export function assignWithCapacity(scores: ArrayLike<number>, rows: number, n: number, k: number, capacity: number): CapacityAssignment {
  const owner = 'assignWithCapacity';
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(n) || n < 1) throw new Error(`${owner}: invalid shape [${rows}, ${n}]`);
  if (scores.length !== rows * n) throw new Error(`${owner}: ${scores.length} scores for [${rows}, ${n}]`);
  if (!Number.isInteger(k) || k < 1 || k > n) throw new Error(`${owner}: k must be an integer in [1, ${n}], got ${String(k)}`);
  if (!Number.isInteger(capacity) || capacity < 0) throw new Error(`${owner}: capacity must be an integer ≥ 0, got ${String(capacity)}`);
  const order = rankRows(scores, rows, n);
  const experts = new Int32Array(rows * k).fill(-1);
  const counts = new Int32Array(n);
  const used = new Uint8Array(rows * n);
  let rerouted = 0;
  let dropped = 0;
  for (let choice = 0; choice < k; choice++) {
    for (let r = 0; r < rows; r++) {
      const preferred = order[r * n + choice]!;
      let taken = -1;
      // The row's ranked list from its best expert: the first one it does not use yet and that has room.
      for (let j = 0; j < n; j++) {
        const e = order[r * n + j]!;
        if (used[r * n + e] || counts[e]! >= capacity) continue;
        taken = e;
        break;
      }
      if (taken < 0) {
        dropped++;
        continue;
      }
      if (taken !== preferred) rerouted++;
      experts[r * k + choice] = taken;
      used[r * n + taken] = 1;
      counts[taken]!++;
    }
  }
  return { experts, counts, capacity, rerouted, dropped };
}

/** Each row's expert indices by decreasing score (stable: ties keep the lower index first). */
export function rankRows(scores: ArrayLike<number>, rows: number, n: number): Int32Array {
  const out = new Int32Array(rows * n);
  const idx = Array.from({ length: n }, (_, e) => e);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    idx.sort((a, b) => scores[base + b]! - scores[base + a]! || a - b);
    for (let j = 0; j < n; j++) out[base + j] = idx[j]!;
  }
  return out;
}

/** The assignment as a 0/1 mask [rows · n] (1 where row r uses expert e). */
export function assignmentMask(assignment: CapacityAssignment, rows: number, n: number): Uint8Array {
  const k = assignment.experts.length / Math.max(1, rows);
  const mask = new Uint8Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < k; c++) {
      const e = assignment.experts[r * k + c]!;
      if (e >= 0) mask[r * n + e] = 1;
    }
  }
  return mask;
}
