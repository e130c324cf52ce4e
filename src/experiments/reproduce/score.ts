import { noGrad } from '../../autograd/engine.js';
import type { GateDiagnostics } from '../../moe/gate-diagnostics.js';
import type { MultiTaskModel } from '../../moe/mmoe.js';
import type { MultiTaskBatchSource } from '../../moe/train/dataset.js';
import { takeRows } from '../../moe/train/dataset.js';
import { evaluate } from '../../moe/train/evaluate.js';
import type { TaskLossKind } from '../../moe/train/task-loss.js';
import { expertSelectionQuality, selectionNmi } from '../../report/selection.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { InferenceRecord, ResultRecord } from '../../report/reproduce-records.js';

/** A multi-task MoE as the reproduce protocols use it: MMoE or StackedMMoE. */
export type MoEModel = MultiTaskModel & {
  readonly numExperts: number;
  sparse: boolean;
  diagnostics(x?: Tensor): GateDiagnostics[];
};

/** What every reproduce run measures on its restored best weights. */
export type RunScores = Pick<ResultRecord, 'validation' | 'test' | 'selection' | 'activeExperts' | 'binarySelectorFraction' | 'gateWeights'>;

export function scoreRun(
  model: MoEModel,
  splits: { val: MultiTaskBatchSource; test: MultiTaskBatchSource },
  losses: TaskLossKind[],
  groups: ArrayLike<number> | undefined,
  keepGateWeights: boolean,
): RunScores {
  const regression = losses.every((l) => l === 'mse');
  const metricOf = (r: ReturnType<typeof evaluate>): number[] => (regression ? r.taskLosses : r.taskAccuracies.map((a) => a ?? Number.NaN));
  const meanOf = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
  const val = evaluate(model, splits.val, { losses });
  const test = evaluate(model, splits.test, { losses });
  const diagnostics = model.diagnostics(splits.test.x);
  const gateWeights = diagnostics.map((d) => [...d.meanWeights]);
  const binary = diagnostics.map((d) => d.binarySelectorFraction).filter((b): b is number => b !== null);
  return {
    validation: { loss: val.loss / model.numTasks, metric: meanOf(metricOf(val)) },
    test: { metric: regression ? 'mse' : 'accuracy', perTask: metricOf(test), mean: meanOf(metricOf(test)) },
    selection: {
      nmi: groups ? selectionNmi(gateWeights, groups) : null,
      overlapScore: groups ? (expertSelectionQuality(gateWeights, groups)?.quality ?? null) : null,
    },
    activeExperts: meanOf(diagnostics.map((d) => d.activeExperts.mean)),
    binarySelectorFraction: binary.length > 0 ? meanOf(binary) : null,
    gateWeights: keepGateWeights ? gateWeights : null,
  };
}

/** Mean over a model's static DSelect-k gates of the fraction of exactly one-hot selectors (null when it has none). */
export function staticBinaryFraction(model: MoEModel, staticGates: boolean): number | null {
  if (!staticGates) return null;
  const fractions = model.diagnostics().map((d) => d.binarySelectorFraction).filter((b): b is number => b !== null);
  return fractions.length > 0 ? fractions.reduce((a, b) => a + b, 0) / fractions.length : null;
}

/**
 * Inference time on `x` with every expert evaluated (dense) and with the experts no gate uses skipped
 * (sparse, exact): the saving a sparse gate buys once its selection is binary. Fastest of 3 passes each.
 */
export function measureInference(model: MoEModel, x: Tensor, batchSize = 256): InferenceRecord {
  const wasTraining = model.training;
  const wasSparse = model.sparse;
  model.eval();
  const rows = x.shape[0]!;
  const pass = (sparse: boolean, limit = rows): number => {
    model.sparse = sparse;
    const started = performance.now();
    for (let start = 0; start < limit; start += batchSize) {
      const index = Int32Array.from({ length: Math.min(batchSize, limit - start) }, (_, i) => start + i);
      tidy(() => noGrad(() => void model.forward(takeRows(x, index))));
    }
    return (performance.now() - started) / 1000;
  };
  try {
    pass(false, Math.min(rows, batchSize));
    pass(true, Math.min(rows, batchSize));
    // Alternating repeats, the fastest of each kept: the machine is shared, and the minimum is the least disturbed.
    let denseSeconds = Infinity;
    let sparseSeconds = Infinity;
    for (let r = 0; r < 3; r++) {
      denseSeconds = Math.min(denseSeconds, pass(false));
      sparseSeconds = Math.min(sparseSeconds, pass(true));
    }
    const used = new Set(model.diagnostics(x).flatMap((d) => d.selectedExperts));
    return { examples: rows, denseSeconds, sparseSeconds, expertsEvaluated: used.size, numExperts: model.numExperts };
  } finally {
    model.sparse = wasSparse;
    model.train(wasTraining);
  }
}
