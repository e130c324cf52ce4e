import { ConvMoENet } from '../moe/conv-moe.js';
import type { BalanceMode, ImportanceSource } from '../moe/balanced-gate.js';
import { renderSvg } from '../report/plots.js';
import { formatTable } from '../report/table.js';
import { routingShares, routingTableSpec, utilizationSpec, type UtilizationPoint } from '../report/utilization-plot.js';
import { reportFolder, stageReport } from '../report/write.js';
import { RunInterrupted } from './interrupted.js';
import { classAccuracy, classificationTargets, fitWithUsage, sharesCv2, type ImageClassificationData } from './moe-layer-training.js';

/** `dselect-k balance`: a CNN with a MoE layer of conv experts, trained with each balancing constraint. */

export interface BalanceSettings {
  experts: number;
  k: number;
  balance: BalanceMode[];
  balanceWeight: number;
  /** What the soft constraint's importance term sums (see BalancedTopKGate). */
  importance: ImportanceSource;
  /** Noisy gating in training (makes the load term differentiable). */
  noise: boolean;
  capacityFactor: number;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  checkpointsPerEpoch: number;
}

export interface BalanceRun {
  balance: BalanceMode;
  testAccuracy: number;
  /** Share of test examples routed (first choice) to each expert, inference routing. */
  testShares: number[];
  /** CV² of the training shares over the last epoch and of the test shares. */
  trainCv2LastEpoch: number;
  testCv2: number;
  /** Slots moved to a next-best expert / dropped by the capacity limit, over training. */
  rerouted: number;
  dropped: number;
  /** Classes × experts routing shares on the test set. */
  classShares: number[][];
  timeline: UtilizationPoint[];
  trainSeconds: number;
}

export const BALANCE_TOOL = 'dselect-k balance';

export interface BalanceResults {
  tool: typeof BALANCE_TOOL;
  dataset: string;
  sizes: { train: number; test: number };
  settings: BalanceSettings;
  classNames: string[];
  runs: BalanceRun[];
}

/**
 * Trains one ConvMoENet per balancing mode. Once `signal` is aborted it stops at the next batch
 * boundary and rejects with RunInterrupted (nothing of the run is returned).
 */
export async function runBalanceExperiment(
  data: ImageClassificationData,
  s: BalanceSettings,
  onBatch?: (label: string, fraction: number, loss: number) => void,
  signal?: AbortSignal,
): Promise<BalanceResults> {
  const runs: BalanceRun[] = [];
  const numClasses = data.classNames.length;
  for (const [runIndex, balance] of s.balance.entries()) {
    const soft = balance === 'soft' || balance === 'both';
    const model = new ConvMoENet({
      numClasses,
      numExperts: s.experts,
      k: s.k,
      balance,
      balanceWeight: s.balanceWeight,
      importance: s.importance,
      noisy: soft && s.noise,
      capacityFactor: s.capacityFactor,
      seed: s.seed,
    });
    const started = performance.now();
    const trace = await fitWithUsage(
      model,
      { x: data.train.x, y: classificationTargets(data.train.labels) },
      {
        epochs: s.epochs,
        batchSize: s.batchSize,
        lr: s.lr,
        losses: 'ce',
        seed: s.seed,
        onBatch: (b) => onBatch?.(balance, (runIndex + (b.epoch + (b.batch + 1) / b.batches) / s.epochs) / s.balance.length, b.loss),
        ...(signal ? { signal } : {}),
      },
      s.checkpointsPerEpoch,
      balance,
    );
    const stopped = trace.result.interrupted;
    if (stopped) throw new RunInterrupted(`balance: interrupted during ${balance} (run ${runIndex + 1} of ${s.balance.length}), epoch ${stopped.epoch + 1}, batch ${stopped.batch}`);
    const trainSeconds = (performance.now() - started) / 1000;
    const route = model.routeOf(data.test.x);
    const testShares = routingShares(new Int32Array(data.test.size), route, 1, s.experts)[0]!;
    const lastEpoch = trace.timeline.filter((p) => p.epoch > s.epochs - 1);
    const trainShares = Array.from({ length: s.experts }, (_, e) => mean(lastEpoch.filter((p) => p.expert === e).map((p) => p.share)));
    runs.push({
      balance,
      testAccuracy: classAccuracy(model, data.test),
      testShares,
      trainCv2LastEpoch: sharesCv2(trainShares),
      testCv2: sharesCv2(testShares),
      rerouted: trace.rerouted,
      dropped: trace.dropped,
      classShares: routingShares(data.test.labels, route, numClasses, s.experts),
      timeline: trace.timeline,
      trainSeconds,
    });
  }
  return { tool: BALANCE_TOOL, dataset: data.name, sizes: { train: data.train.size, test: data.test.size }, settings: s, classNames: data.classNames, runs };
}

function mean(v: readonly number[]): number {
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
}

export function balanceTable(r: BalanceResults): string {
  const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;
  return formatTable(
    ['balance', 'test accuracy', 'test shares per expert', 'CV² train (last epoch)', 'CV² test', 'rerouted', 'dropped', 'train s'],
    r.runs.map((run) => [
      run.balance,
      pct(run.testAccuracy),
      run.testShares.map((v) => v.toFixed(2)).join(' '),
      run.trainCv2LastEpoch.toFixed(3),
      run.testCv2.toFixed(3),
      String(run.rerouted),
      String(run.dropped),
      run.trainSeconds.toFixed(1),
    ]),
  );
}

/**
 * results.json, utilisation.svg and one routing-table SVG per balancing mode, as the new folder `dir`
 * (staged, then swapped in whole: a failure leaves the previous report intact).
 */
export async function writeBalanceReport(dir: string, r: BalanceResults): Promise<string[]> {
  return stageReport(dir, async (staging) => {
    const { put, written } = reportFolder(staging);
    await fillBalanceReport(put, r);
    return written;
  });
}

async function fillBalanceReport(put: (name: string, text: string | null) => void, r: BalanceResults): Promise<void> {
  put('results.json', JSON.stringify(r, null, 2) + '\n');
  const points = r.runs.flatMap((run) => run.timeline);
  put('utilization.svg', await renderSvg(utilizationSpec(points, r.settings.experts, `Expert utilisation during training — ${r.dataset}, ${r.settings.experts} experts, top-${r.settings.k}`, 'balance: ')));
  for (const run of r.runs) {
    const spec = routingTableSpec({ title: `Test routing by class — balance: ${run.balance} (${(100 * run.testAccuracy).toFixed(1)}% accuracy)`, rowLabels: r.classNames, shares: run.classShares });
    put(`routing-${run.balance}.svg`, await renderSvg(spec));
  }
}
