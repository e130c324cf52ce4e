import { describe, expect, it } from 'vitest';
import { add, buildMMoE, DSelectKGate, Linear, MLP, MMoE, Module, MoE, mul, randn, Rng, slice, SoftmaxGate, sum, tensor, TopKGate, zeros, type Gate, type Tensor } from '../src/index.js';
import { mixExperts } from '../src/advanced.js';

const f64 = { dtype: 'float64' } as const;
const arr = (t: Tensor): number[] => Array.from(t.toArray());

/** An expert that records how many rows it was evaluated on. */
class CountingExpert extends Module {
  readonly rowsSeen: number[] = [];
  private readonly inner: Linear;
  constructor(inDim: number, outDim: number, rng: Rng) {
    super();
    this.inner = this.addModule('inner', new Linear(inDim, outDim, { rng, dtype: 'float64' }));
  }
  forward(x: Tensor): Tensor {
    this.rowsSeen.push(x.shape[0]!);
    return this.inner.forward(x).tanh();
  }
}

function setParam(m: Module, name: string, values: number[]): void {
  const p = m.namedParameters().find(([n]) => n === name)![1];
  p.setStorage(tensor(values, { dtype: p.dtype, shape: p.shape }).storage);
}

function experts(n: number, seed: number): CountingExpert[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => new CountingExpert(3, 2, rng));
}

/** y = Σ_e q[:, e] f_e(x) computed the plain way. */
function denseMixture(x: Tensor, ex: readonly CountingExpert[], q: Tensor): Tensor {
  let y: Tensor | null = null;
  ex.forEach((e, i) => {
    const term = mul(e.forward(x), slice(q, [0, i], [q.shape[0]!, 1]));
    y = y ? add(y, term) : term;
  });
  return y!;
}

function gradients(run: () => Tensor, params: readonly Tensor[]): number[][] {
  for (const p of params) p.zeroGrad();
  run().backward();
  return params.map((p) => (p.grad ? arr(p.grad) : new Array<number>(p.size).fill(0)));
}

describe('MoE layer', () => {
  it('computes Σ_e q_e f_e(x) with the gate weights (dense softmax gate)', () => {
    const ex = experts(3, 1);
    const gate = new SoftmaxGate({ numExperts: 3, inputDim: 3, rng: new Rng(2), dtype: 'float64' });
    const moe = new MoE({ experts: ex, gate });
    const x = randn([4, 3], { ...f64, rng: new Rng(3) });
    const { output, weights, regularization } = moe.forward(x);
    expect(regularization).toBeNull();
    const expected = arr(denseMixture(x, ex, weights));
    arr(output).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 14));
    expect(moe.namedParameters().map(([n]) => n)).toContain('gate.logits.weight');
  });

  it('skips experts whose static DSelect-k weight is exactly 0 and matches the dense result and gradients', () => {
    const ex = experts(8, 4);
    const gate = new DSelectKGate({ numExperts: 8, k: 2, entropyWeight: 0, dtype: 'float64' });
    setParam(gate, 'z', [0.7, -0.6, 0.9, -0.8, 0.75, -0.55]); // experts 5 and 2
    const sparse = new MoE({ experts: ex, gate });
    const dense = new MoE({ experts: ex, gate, sparse: false });
    const x = randn([5, 3], { ...f64, rng: new Rng(5) });
    const params = sparse.parameters();
    const target = randn([5, 2], { ...f64, rng: new Rng(6) });
    const loss = (m: MoE) => () => sum(mul(m.forward(x).output, target));
    for (const e of ex) e.rowsSeen.length = 0;
    const gSparse = gradients(loss(sparse), params);
    expect(ex.map((e) => e.rowsSeen.length)).toEqual([0, 0, 1, 0, 0, 1, 0, 0]);
    const gDense = gradients(loss(dense), params);
    expect(ex.every((e) => e.rowsSeen.length >= 1)).toBe(true);
    gSparse.forEach((g, i) => g.forEach((v, j) => expect(v).toBeCloseTo(gDense[i]![j]!, 13)));
    expect(arr(sparse.forward(x).output)).toEqual(arr(dense.forward(x).output));
  });

  it('per example (top-k): each expert runs only on the rows that selected it', () => {
    const ex = experts(4, 7);
    const gate = new TopKGate({ numExperts: 4, inputDim: 3, k: 1, rng: new Rng(8), dtype: 'float64' });
    const moe = new MoE({ experts: ex, gate });
    const x = randn([12, 3], { ...f64, rng: new Rng(9), std: 3 });
    const q = gate.forward(x).weights.toNested() as number[][];
    const chosenCounts = [0, 1, 2, 3].map((e) => q.filter((row) => row[e] !== 0).length);
    expect(chosenCounts.reduce((a, b) => a + b, 0)).toBe(12);
    for (const e of ex) e.rowsSeen.length = 0;
    const { output, weights } = moe.forward(x);
    expect(ex.map((e) => e.rowsSeen.reduce((a, b) => a + b, 0))).toEqual(chosenCounts);
    const expected = arr(denseMixture(x, ex, weights));
    arr(output).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 14));
  });

  it('mixExperts returns zeros for a gate whose weights are all 0 and checks shapes', () => {
    const ex = experts(2, 10);
    const x = randn([3, 3], { ...f64, rng: new Rng(11) });
    const [y] = mixExperts(x, ex, [zeros([3, 2], f64)]);
    expect(arr(y!).every((v) => v === 0)).toBe(true);
    expect(y!.shape).toEqual([3, 2]);
    expect(() => mixExperts(x, ex, [zeros([3, 3], f64)])).toThrow('mixExperts: gate 0 weights [3,3] do not match [batch = 3, experts = 2]');
  });

  it('mixExperts weights experts whose outputs have more than 2 dims per row, on all rows and on row subsets', () => {
    // Experts returning [rows, 2, 3] (feature maps): the gate column must broadcast over every trailing dim.
    class MapExpert extends Module {
      constructor(private readonly scale: number) {
        super();
      }
      forward(x: Tensor): Tensor {
        return mul(x.reshape([x.shape[0]!, 1, 3]).expand([x.shape[0]!, 2, 3]), this.scale);
      }
    }
    const ex = [new MapExpert(1), new MapExpert(-2), new MapExpert(0.5)];
    const x = randn([4, 3], { ...f64, rng: new Rng(12) });
    const w = tensor([[0.2, 0.8, 0], [0, 0, 1], [0.5, 0, 0.5], [0, 1, 0]], f64);
    const [y] = mixExperts(x, ex, [w]);
    expect(y!.shape).toEqual([4, 2, 3]);
    const xs = x.toNested() as number[][];
    const ws = w.toNested() as number[][];
    const got = y!.toNested() as number[][][];
    for (let r = 0; r < 4; r++) {
      const coef = ws[r]![0]! * 1 + ws[r]![1]! * -2 + ws[r]![2]! * 0.5;
      for (let c = 0; c < 2; c++) for (let j = 0; j < 3; j++) expect(got[r]![c]![j]!).toBeCloseTo(coef * xs[r]![j]!, 14);
    }
  });

  it('rejects a gate over a different number of experts', () => {
    const gate = new SoftmaxGate({ numExperts: 3, perExample: false });
    expect(() => new MoE({ experts: experts(2, 1), gate })).toThrow('MoE: gate 0 (softmax) has numExperts = 3 but there are 2 experts');
    expect(() => new MoE({ experts: experts(1, 1), gate })).toThrow('MoE: needs at least 2 experts, got 1');
  });
});

describe('MMoE', () => {
  function model(gates: Gate[], ex = experts(4, 12)): MMoE {
    const rng = new Rng(13);
    return new MMoE({ experts: ex, gates, towers: gates.map(() => new Linear(2, 1, { rng, dtype: 'float64' })) });
  }

  it('returns one output per task and the sum of the gates’ regularisers', async () => {
    const rng = new Rng(14);
    const gates = [0, 1].map(() => new DSelectKGate({ numExperts: 4, k: 2, entropyWeight: 0.3, rng, dtype: 'float64' }));
    const m = model(gates);
    const x = randn([6, 3], { ...f64, rng: new Rng(15) });
    const { outputs, regularization, gateWeights } = m.forward(x);
    expect(outputs.map((o) => o.shape)).toEqual([[6, 1], [6, 1]]);
    expect(gateWeights.map((w) => w.shape)).toEqual([[6, 4], [6, 4]]);
    const each = gates.map((g) => g.forward(x).regularization!.item());
    expect(regularization!.item()).toBeCloseTo(each[0]! + each[1]!, 12);
    m.eval();
    expect(m.forward(x).regularization).toBeNull();
    expect(m.diagnostics().map((d) => d.kind)).toEqual(['dselect-k', 'dselect-k']);
    expect(await m.diagnosticsAsync()).toEqual(m.diagnostics());
    // Every gate's parameters are part of the model (no task's gate left out of training).
    expect(m.namedParameters().filter(([n]) => n.startsWith('gates.')).map(([n]) => n)).toEqual(['gates.0.z', 'gates.0.alpha', 'gates.1.z', 'gates.1.alpha']);
  });

  it('evaluates a shared expert once for all tasks, and only the experts some task selected', () => {
    const ex = experts(8, 16);
    const gates = [0, 1].map(() => new DSelectKGate({ numExperts: 8, k: 2, dtype: 'float64' }));
    setParam(gates[0]!, 'z', [0.7, -0.6, 0.9, -0.8, 0.75, -0.55]); // experts 5, 2
    setParam(gates[1]!, 'z', [0.7, -0.6, 0.9, -0.8, -0.75, -0.55]); // experts 5, 0
    const m = model(gates, ex);
    m.eval();
    for (const e of ex) e.rowsSeen.length = 0;
    m.forward(randn([7, 3], { ...f64, rng: new Rng(17) }));
    expect(ex.map((e) => e.rowsSeen)).toEqual([[7], [], [7], [], [], [7], [], []]);
  });

  it('checks towers, gates and experts against each other', () => {
    const ex = experts(3, 18);
    const gate = new SoftmaxGate({ numExperts: 3, perExample: false });
    expect(() => new MMoE({ experts: ex, gates: [gate], towers: [] })).toThrow('MMoE: needs one tower per gate: 1 gates but 0 towers');
    expect(() => new MMoE({ experts: ex, gates: [gate, gate], towers: [new Linear(2, 1), new Linear(2, 1)] })).toThrow('each task needs its own gate');
    expect(() => new MMoE({ experts: ex, gates: [new SoftmaxGate({ numExperts: 4, perExample: false })], towers: [new Linear(2, 1)] })).toThrow(
      'MMoE: gate 0 (softmax) has numExperts = 4 but there are 3 experts',
    );
  });

  it('buildMMoE wires MLP experts, one gate and one tower per task', () => {
    const m = buildMMoE({ inputDim: 5, numTasks: 3, numExperts: 4, expertHidden: [6], expertOutputDim: 3, taskOutputDims: [1, 1, 10], gate: { type: 'top-k', k: 2 }, seed: 1 });
    expect(m.numTasks).toBe(3);
    expect(m.numExperts).toBe(4);
    expect(m.experts.at(0)).toBeInstanceOf(MLP);
    const { outputs } = m.forward(randn([2, 5], { rng: new Rng(2) }));
    expect(outputs.map((o) => o.shape)).toEqual([[2, 1], [2, 1], [2, 10]]);
    const again = buildMMoE({ inputDim: 5, numTasks: 3, numExperts: 4, expertHidden: [6], expertOutputDim: 3, taskOutputDims: [1, 1, 10], gate: { type: 'top-k', k: 2 }, seed: 1 });
    expect(arr(again.parameters()[0]!)).toEqual(arr(m.parameters()[0]!));
    expect(() => buildMMoE({ inputDim: 5, numTasks: 2, numExperts: 4, taskOutputDims: [1], gate: { type: 'softmax' } })).toThrow(
      'buildMMoE: taskOutputDims has 1 entries for 2 tasks',
    );
    expect(() => buildMMoE({ inputDim: 5, numTasks: 2, numExperts: 4, gate: { type: 'dselect-k', k: 9 } })).toThrow('DSelectKGate: k = 9 exceeds numExperts = 4');
  });
});
