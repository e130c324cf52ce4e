import { generateSynthetic, reproduceGroupCount, type SyntheticData } from '../../data/synthetic.js';
import { buildMMoE } from '../../moe/build-mmoe.js';
import type { GateSpec } from '../../moe/gate-factory.js';
import { StackedMMoE } from '../../moe/stacked-mmoe.js';
import type { StaticGateBankSpec } from '../../moe/static-gate-bank.js';
import type { TaskLossKind } from '../../moe/train/task-loss.js';
import { Adam } from '../../optim/adam.js';
import type { Regime } from '../../report/results.js';
import type { GateKind } from '../config.js';
import type { Cell } from '../../report/reproduce-records.js';
import { runResumable } from './resumable-run.js';
import type { Protocol, RunContext, RunOutcome, RunSpec } from './runner.js';
import { scoreRun, type MoEModel } from './score.js';
import type { SearchDimension, Setting } from './search.js';

/**
 * `dselect-k reproduce synthetic`: the paper's synthetic multi-task study. T regression tasks in groups
 * (groups = max(2, T/8): 2, 4, 16 for 8, 32, 128 tasks), task directions exactly orthogonal across
 * groups (input dimension = tasks + groups), 16 shared MLP experts, one gate per task, k ∈ {1, 2}.
 * Every gate gets the same tuning budget on the validation split (the same number of trials, drawn
 * from its search space), then `seeds` seeds at its chosen setting are scored on the test split.
 */

/** The gates of each regime. Noisy Top-k's noise scale depends on the input, so it has no static form. */
export const REGIME_GATES: Readonly<Record<Regime, readonly GateKind[]>> = {
  static: ['dselect-k', 'top-k', 'softmax'],
  'per-example': ['dselect-k', 'top-k', 'noisy-top-k', 'softmax'],
};

/** Search spaces (log-uniform). The same lr range for every gate. */
export const SYNTHETIC_SEARCH = {
  lr: { name: 'lr', low: 1e-3, high: 3e-2 },
  entropyWeight: { name: 'entropyWeight', low: 1e-3, high: 1 },
  gamma: { name: 'gamma', low: 0.5, high: 4 },
  balanceWeight: { name: 'balanceWeight', low: 1e-3, high: 1e-1 },
} as const satisfies Record<string, SearchDimension>;

export interface SyntheticProtocolOptions {
  tasks: readonly number[];
  ks: readonly number[];
  regimes: readonly Regime[];
  experts: number;
  trainSize: number;
  valSize: number;
  testSize: number;
  /** Cosine between the weight vectors of two tasks of one group. */
  correlation: number;
  expertHidden: readonly number[];
  expertOutput: number;
  towerHidden: readonly number[];
  batchSize: number;
  maxEpochs: number;
  patience: number;
  trials: number;
  seeds: number;
  dataSeed: number;
}

export const SYNTHETIC_FULL: SyntheticProtocolOptions = {
  tasks: [8, 32, 128],
  ks: [1, 2],
  regimes: ['static'],
  experts: 16,
  trainSize: 5000,
  valSize: 1000,
  testSize: 2000,
  correlation: 0.9,
  expertHidden: [32],
  expertOutput: 16,
  towerHidden: [16],
  batchSize: 128,
  maxEpochs: 60,
  patience: 6,
  trials: 6,
  seeds: 10,
  dataSeed: 0,
};

/** Seconds, not hours: the test suite runs it. Same code path, tiny sizes. */
export const SYNTHETIC_QUICK: SyntheticProtocolOptions = {
  tasks: [4, 8],
  ks: [1, 2],
  regimes: ['static'],
  experts: 4,
  trainSize: 128,
  valSize: 64,
  testSize: 64,
  correlation: 0.9,
  expertHidden: [8],
  expertOutput: 4,
  towerHidden: [4],
  batchSize: 64,
  maxEpochs: 3,
  patience: 2,
  trials: 2,
  seeds: 2,
  dataSeed: 0,
};

function cellsOf(o: SyntheticProtocolOptions): Cell[] {
  const cells: Cell[] = [];
  for (const tasks of o.tasks) {
    for (const regime of o.regimes) {
      for (const gate of REGIME_GATES[regime]) {
        // The softmax gate uses every expert: k does not apply, one cell serves every k.
        const ks: (number | null)[] = gate === 'softmax' ? [null] : [...o.ks];
        for (const k of ks) {
          cells.push({ key: `T${tasks}/${k === null ? 'dense' : `k${k}`}/${regime}/${gate}`, dataset: 'synthetic', tasks, k, regime, gate });
        }
      }
    }
  }
  return cells;
}

function gateSpecOf(cell: Cell, s: Setting): GateSpec {
  const perExample = cell.regime === 'per-example';
  switch (cell.gate) {
    case 'dselect-k':
      return { type: 'dselect-k', k: cell.k!, perExample, gamma: s.gamma ?? 1, entropyWeight: s.entropyWeight ?? 0 };
    case 'top-k':
      return { type: 'top-k', k: cell.k!, perExample };
    case 'noisy-top-k':
      return { type: 'noisy-top-k', k: cell.k!, balanceWeight: s.balanceWeight ?? 1e-2 };
    case 'softmax':
      return { type: 'softmax', perExample };
  }
}

function staticGateSpecOf(cell: Cell, s: Setting): StaticGateBankSpec {
  switch (cell.gate) {
    case 'dselect-k':
      return { type: 'dselect-k', k: cell.k!, gamma: s.gamma ?? 1, entropyWeight: s.entropyWeight ?? 0 };
    case 'top-k':
      return { type: 'top-k', k: cell.k! };
    case 'softmax':
      return { type: 'softmax' };
    default:
      throw new Error(`reproduce synthetic: the ${cell.gate} gate has no static form`);
  }
}

export function syntheticProtocol(o: SyntheticProtocolOptions): Protocol {
  for (const k of o.ks) if (k > o.experts) throw new Error(`reproduce synthetic: k = ${k} exceeds ${o.experts} experts`);
  const dataCache = new Map<number, SyntheticData>();
  const dataFor = (tasks: number): SyntheticData => {
    let data = dataCache.get(tasks);
    if (!data) {
      const groups = reproduceGroupCount(tasks);
      data = generateSynthetic({
        numTasks: tasks,
        numGroups: groups,
        inputDim: tasks + groups,
        correlation: o.correlation,
        numTrain: o.trainSize,
        numVal: o.valSize,
        numTest: o.testSize,
        seed: o.dataSeed,
      });
      dataCache.clear(); // one task count at a time: cells run in task order
      dataCache.set(tasks, data);
    }
    return data;
  };
  // Cells may be added to a ledger later (more task counts, k or regimes); everything else is fixed.
  const { tasks: _tasks, ks: _ks, regimes: _regimes, seeds: _seeds, ...fixed } = o;
  return {
    name: 'synthetic',
    version: 1,
    settings: { ...fixed, groups: 'max(2, floor(tasks / 8))', inputDim: 'tasks + groups', searchSpaces: SYNTHETIC_SEARCH, entropySchedule: 'constant', regularizerReduction: 'mean' },
    cells: cellsOf(o),
    trials: o.trials,
    seeds: o.seeds,
    order: 'cell',
    logEpochs: false,
    searchSpace(cell) {
      const space: SearchDimension[] = [SYNTHETIC_SEARCH.lr];
      if (cell.gate === 'dselect-k') space.push(SYNTHETIC_SEARCH.entropyWeight, SYNTHETIC_SEARCH.gamma);
      if (cell.gate === 'noisy-top-k') space.push(SYNTHETIC_SEARCH.balanceWeight);
      return space;
    },
    fixedSetting: () => ({ lr: 1e-2 }),
    run(spec: RunSpec, ctx: RunContext): RunOutcome {
      const data = dataFor(spec.cell.tasks);
      const T = spec.cell.tasks;
      const common = { inputDim: data.train.x.shape[1]!, numTasks: T, numExperts: o.experts, expertHidden: o.expertHidden, expertOutputDim: o.expertOutput, towerHidden: o.towerHidden, seed: spec.seed };
      // Static gates: the stacked form of the same model (tested equal to MMoE), a fixed number of ops per step.
      const model: MoEModel =
        spec.cell.regime === 'static' ? new StackedMMoE({ ...common, gate: staticGateSpecOf(spec.cell, spec.setting) }) : buildMMoE({ ...common, gate: gateSpecOf(spec.cell, spec.setting) });
      const losses: TaskLossKind[] = new Array<TaskLossKind>(T).fill('mse');
      const optimizer = new Adam(model, { lr: spec.setting.lr });
      const run = runResumable({
        runId: spec.id,
        dir: ctx.dir,
        model,
        optimizer,
        train: data.train,
        validation: data.val,
        losses,
        batchSize: o.batchSize,
        seed: spec.seed,
        maxEpochs: o.maxEpochs,
        patience: o.patience,
        onEpoch: (log) => ctx.onEpoch(log, null),
        ...(ctx.onBatch ? { onBatch: ctx.onBatch } : {}),
      });
      return {
        ...scoreRun(model, { val: data.val, test: data.test }, losses, data.taskGroups, ctx.keepGateWeights),
        epochs: run.history.length,
        bestEpoch: run.bestEpoch,
        stoppedEarly: run.stoppedEarly,
        inference: null,
        seconds: run.seconds,
        resumedAt: run.resumedAt,
      };
    },
  };
}
