import { describe, expect, it } from 'vitest';
import { Adam, DSelectKGate, noGrad, randn, Rng, sum, tensor, tidy } from '../src/index.js';

describe('static DSelect-k gate at inference', () => {
  const x = randn([4, 3], { rng: new Rng(1) });

  it('reuses q while z and α are unchanged, and follows every change of them', () => {
    const gate = new DSelectKGate({ numExperts: 8, k: 2, rng: new Rng(2) });
    const trainingWeights = Array.from(gate.forward(x).weights.toArray());
    gate.eval();
    const a = noGrad(() => gate.forward(x).weights.toArray());
    expect(Array.from(a)).toEqual(trainingWeights);
    // Inside tidy the result is disposed; the next call must still work and agree.
    tidy(() => noGrad(() => gate.forward(x).weights));
    expect(Array.from(noGrad(() => gate.forward(x).weights.toArray()))).toEqual(trainingWeights);

    const z = new Map(gate.namedParameters()).get('z')!;
    z.setStorage(tensor([1, -1, 1, -1, 1, 1], { shape: [2, 3] }).storage); // experts 5 and 3
    const q = noGrad(() => gate.forward(x).weights.toNested()) as number[][];
    expect(q[0]!.map((v, e) => (v > 0 ? e : -1)).filter((e) => e >= 0)).toEqual([3, 5]);

    // An optimiser step gives the parameters new storages: q follows.
    gate.train();
    const opt = new Adam(gate, { lr: 0.5 });
    const loss = sum(gate.forward(x).weights.mul(tensor([1, 2, 3, 4, 5, 6, 7, 8])));
    loss.backward();
    opt.step();
    gate.eval();
    const fresh = Array.from(gate.train().forward(x).weights.toArray());
    gate.eval();
    expect(Array.from(noGrad(() => gate.forward(x).weights.toArray()))).toEqual(fresh);
  });

  it('records a graph (no cache) when gradients are enabled, even in eval mode', () => {
    const gate = new DSelectKGate({ numExperts: 4, k: 1, rng: new Rng(3) }).eval();
    const w = gate.forward(x).weights;
    expect(w.requiresGrad).toBe(true);
    sum(w).backward();
    expect(new Map(gate.namedParameters()).get('alpha')!.grad).not.toBeNull();
  });
});
