import '../src/index.js';
import { describe, expect, it } from 'vitest';
import { BalancedTopKGate } from '../src/moe/balanced-gate.js';
import { assignWithCapacity, assignmentMask, expertCapacity, rankRows } from '../src/moe/capacity.js';
import { randn, tensor } from '../src/tensor/creation.js';
import { Rng } from '../src/tensor/random.js';

describe('expertCapacity', () => {
  it('is ceil(capacityFactor · k · T / n)', () => {
    expect(expertCapacity(10, 4, 2, 1.5)).toBe(8); // 7.5 → 8
    expect(expertCapacity(64, 8, 1, 1)).toBe(8);
    expect(expertCapacity(64, 8, 1, 1.25)).toBe(10);
    expect(expertCapacity(3, 8, 1, 1)).toBe(1);
    expect(expertCapacity(0, 8, 1, 1)).toBe(0);
  });

  it('rejects a capacity factor ≤ 0 (and other bad arguments) naming the value', () => {
    expect(() => expertCapacity(10, 4, 1, 0)).toThrow('expertCapacity: capacityFactor must be a finite number > 0, got 0');
    expect(() => expertCapacity(10, 4, 1, -1.5)).toThrow('capacityFactor must be a finite number > 0, got -1.5');
    expect(() => expertCapacity(10, 4, 1, Number.NaN)).toThrow('got NaN');
    expect(() => expertCapacity(10, 4, 5, 1)).toThrow('k must be an integer in [1, numExperts = 4], got 5');
    expect(() => new BalancedTopKGate({ numExperts: 4, inputDim: 3, k: 1, balance: 'hard', capacityFactor: 0 })).toThrow(
      'BalancedTopKGate: capacityFactor must be a finite number > 0, got 0',
    );
    expect(() => new BalancedTopKGate({ numExperts: 4, inputDim: 3, k: 1, balance: 'firm' as 'hard' })).toThrow(/balance must be one of none, soft, hard, both, got "firm"/);
  });
});

describe('assignWithCapacity', () => {
  it('sends overflow to the next-best expert with room, first choices first', () => {
    // 5 rows all prefer expert 0, then 1, then 2; capacity 2 per expert; k = 1.
    const scores = [3, 2, 1, 3, 2, 1, 3, 2, 1, 3, 2, 1, 3, 1, 2];
    const a = assignWithCapacity(scores, 5, 3, 1, 2);
    expect([...a.experts]).toEqual([0, 0, 1, 1, 2]); // row 4 prefers 2 over 1 once 0 is full
    expect([...a.counts]).toEqual([2, 2, 1]);
    expect(a.rerouted).toBe(3);
    expect(a.dropped).toBe(0);
  });

  it('lets a row’s first choice win over another row’s second choice (k = 2)', () => {
    // row 0 ranks (1, 0, 2); row 1 ranks (0, 1, 2); capacity 1: row 1's first choice 0 is taken before row 0's second choice.
    const a = assignWithCapacity([5, 9, 1, 9, 5, 1], 2, 3, 2, 1);
    expect([...a.experts]).toEqual([1, 2, 0, -1]);
    expect(a.dropped).toBe(1); // row 1 wants a 2nd expert but 1 and 2 are full and 0 is its own
  });

  it('drops examples when the capacity factor leaves too little room', () => {
    const scores = randn([5, 2], { rng: new Rng(1) }).toArray();
    const capacity = expertCapacity(5, 2, 1, 0.2);
    expect(capacity).toBe(1);
    const a = assignWithCapacity(scores, 5, 2, 1, capacity);
    expect(a.dropped).toBe(3);
    expect([...a.counts]).toEqual([1, 1]);
    expect([...a.experts].filter((e) => e < 0)).toHaveLength(3);
  });

  it('never exceeds the capacity and reroutes only past full or already-used experts (random batches)', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 60; trial++) {
      const rows = 1 + rng.int(40);
      const n = 2 + rng.int(7);
      const k = 1 + rng.int(Math.min(3, n));
      const factor = [0.5, 1, 1.25, 1.5, 2][rng.int(5)]!;
      const capacity = expertCapacity(rows, n, k, factor);
      const scores = randn([rows, n], { rng }).toArray();
      const a = assignWithCapacity(scores, rows, n, k, capacity);
      const counts = new Int32Array(n);
      for (const e of a.experts) if (e >= 0) counts[e]!++;
      expect([...counts]).toEqual([...a.counts]);
      expect(Math.max(...counts)).toBeLessThanOrEqual(capacity);
      const ranking = rankRows(scores, rows, n);
      let rerouted = 0;
      for (let r = 0; r < rows; r++) {
        const mine = [...a.experts.subarray(r * k, r * k + k)];
        expect(new Set(mine.filter((e) => e >= 0)).size).toBe(mine.filter((e) => e >= 0).length); // distinct experts
        for (let c = 0; c < k; c++) {
          const taken = mine[c]!;
          const earlier = mine.slice(0, c);
          const order = [...ranking.subarray(r * n, r * n + n)];
          // Every expert the row prefers over the one it got was its own already or full.
          const better = taken >= 0 ? order.slice(0, order.indexOf(taken)) : order;
          for (const e of better) expect(earlier.includes(e) || counts[e] === capacity).toBe(true);
          if (taken >= 0 && taken !== order[c]) rerouted++;
        }
      }
      expect(a.rerouted).toBe(rerouted);
      if (factor >= 1 && k === 1) expect(a.dropped).toBe(0);
    }
  });

  it('builds a 0/1 mask of the assignment', () => {
    const a = assignWithCapacity([1, 2, 3, 3, 2, 1], 2, 3, 2, 2);
    expect([...assignmentMask(a, 2, 3)]).toEqual([0, 1, 1, 1, 1, 0]);
  });
});

describe('BalancedTopKGate with the hard constraint', () => {
  it('caps every expert per training batch, zero weights outside the assignment, renormalised rows', () => {
    const gate = new BalancedTopKGate({ numExperts: 4, inputDim: 5, k: 2, balance: 'hard', capacityFactor: 1, rng: new Rng(3) });
    // A strong bias towards expert 0 so that it overflows.
    gate.namedParameters().find(([n]) => n === 'logits.bias')![1].setStorage(tensor([6, 0, 0, 0]).storage);
    const x = randn([16, 5], { rng: new Rng(6) });
    gate.train();
    const routing = gate.route(x);
    const capacity = expertCapacity(16, 4, 2, 1);
    expect(Math.max(...routing.assignment.counts)).toBeLessThanOrEqual(capacity);
    expect(routing.assignment.counts[0]).toBe(capacity);
    expect(routing.assignment.rerouted).toBeGreaterThan(0);
    const w = routing.weights.toArray();
    const mask = assignmentMask(routing.assignment, 16, 4);
    for (let r = 0; r < 16; r++) {
      let total = 0;
      for (let e = 0; e < 4; e++) {
        if (!mask[r * 4 + e]) expect(w[r * 4 + e]).toBe(0);
        total += w[r * 4 + e]!;
      }
      expect(total).toBeCloseTo(1, 5);
    }
    expect(routing.regularization).toBeNull(); // hard only: no aux loss
    expect(gate.takeUsage().counts).toEqual([...routing.assignment.counts]);
    // Inference routes to the unconstrained top k by default.
    gate.eval();
    expect(gate.route(x).assignment.counts[0]).toBe(16);
  });
});
