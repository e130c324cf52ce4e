import type { ImportanceSource } from '../moe/balanced-gate.js';
import { mixtureSubset } from '../data/dataset-mixture.js';
import { buildDamexNet, buildTopOneBalancedNet, damexTargets, defaultExpertOfDataset, routingSeparation, type RoutingSeparation } from '../moe/damex.js';
import { renderSvg } from '../report/plots.js';
import { formatTable } from '../report/table.js';
import { routingTableSpec, utilizationSpec, type UtilizationPoint } from '../report/utilization-plot.js';
import { reportFolder, stageReport } from '../report/write.js';
import { RunInterrupted } from './interrupted.js';
import { classAccuracy, fitWithUsage, type ImageClassificationData } from './moe-layer-training.js';

/** `dselect-k damex`: one MoE trained on Fashion-MNIST + MNIST, dataset-aware routing vs top-1 + balancing. */

export interface DamexSettings {
  experts: number;
  routerWeight: number;
  /** Soft constraint of the top-1 baseline: weight and importance source (see BalancedTopKGate). */
  balanceWeight: number;
  importance: ImportanceSource;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  checkpointsPerEpoch: number;
}

export type DamexVariant = 'damex' | 'top1-balanced';

export interface DamexRun {
  variant: DamexVariant;
  label: string;
  /** Test accuracy per dataset (argmax over the joint label space). */
  datasetAccuracy: number[];
  separation: RoutingSeparation;
  timeline: UtilizationPoint[];
  trainSeconds: number;
}

export const DAMEX_TOOL = 'dselect-k damex';

export interface DamexResults {
  tool: typeof DAMEX_TOOL;
  datasets: string[];
  expertOfDataset: number[];
  sizes: { train: number; test: number };
  settings: DamexSettings;
  runs: DamexRun[];
}

const LABELS: Record<DamexVariant, string> = {
  damex: 'DAMEX (router CE to the dataset expert)',
  'top1-balanced': 'Top-1 + balancing (noisy gating, CV² importance + load)',
};

/**
 * Trains the DAMEX net and the top-1 + balancing baseline on the same data. Once `signal` is aborted it
 * stops at the next batch boundary and rejects with RunInterrupted (nothing of the run is returned).
 */
export async function runDamexExperiment(
  data: ImageClassificationData,
  s: DamexSettings,
  onBatch?: (label: string, fraction: number, loss: number) => void,
  signal?: AbortSignal,
): Promise<DamexResults> {
  const D = data.datasets.length;
  const expertOfDataset = defaultExpertOfDataset(D, s.experts);
  const y = damexTargets(data.train.labels, data.train.datasetIds, expertOfDataset);
  const subsets = Array.from({ length: D }, (_, d) => mixtureSubset(data.test, d));
  const variants: DamexVariant[] = ['damex', 'top1-balanced'];
  const runs: DamexRun[] = [];
  for (const [runIndex, variant] of variants.entries()) {
    const common = { numClasses: data.classNames.length, numExperts: s.experts, seed: s.seed };
    const model = variant === 'damex' ? buildDamexNet(common) : buildTopOneBalancedNet({ ...common, balanceWeight: s.balanceWeight, importance: s.importance });
    const started = performance.now();
    const trace = await fitWithUsage(
      model,
      { x: data.train.x, y },
      {
        epochs: s.epochs,
        batchSize: s.batchSize,
        lr: s.lr,
        seed: s.seed,
        losses: ['ce', 'ce'],
        taskWeights: [1, variant === 'damex' ? s.routerWeight : 0],
        onBatch: (b) => onBatch?.(variant, (runIndex + (b.epoch + (b.batch + 1) / b.batches) / s.epochs) / variants.length, b.loss),
        ...(signal ? { signal } : {}),
      },
      s.checkpointsPerEpoch,
      variant,
    );
    const stopped = trace.result.interrupted;
    if (stopped) throw new RunInterrupted(`damex: interrupted during ${variant} (run ${runIndex + 1} of ${variants.length}), epoch ${stopped.epoch + 1}, batch ${stopped.batch}`);
    const trainSeconds = (performance.now() - started) / 1000;
    const route = model.routeOf(data.test.x);
    runs.push({
      variant,
      label: LABELS[variant],
      datasetAccuracy: subsets.map((sub) => classAccuracy(model, sub)),
      separation: routingSeparation(data.test.datasetIds, route, D, s.experts, expertOfDataset),
      timeline: trace.timeline,
      trainSeconds,
    });
  }
  return { tool: DAMEX_TOOL, datasets: data.datasets, expertOfDataset, sizes: { train: data.train.size, test: data.test.size }, settings: s, runs };
}

export function damexTable(r: DamexResults): string {
  const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;
  return formatTable(
    ['variant', ...r.datasets.map((d) => `${d} acc`), ...r.datasets.map((d) => `${d} → own expert`), 'purity', 'NMI', 'train s'],
    r.runs.map((run) => [
      run.label,
      ...run.datasetAccuracy.map(pct),
      ...(run.separation.ownExpertFraction ?? []).map((v) => (v === null ? '-' : pct(v))),
      run.separation.purity.map((v) => v.toFixed(2)).join(' '),
      run.separation.normalizedMutualInformation.toFixed(3),
      run.trainSeconds.toFixed(1),
    ]),
  );
}

/** results.json, utilisation.svg and one routing SVG per variant, as the new folder `dir` (staged, then swapped in whole). */
export async function writeDamexReport(dir: string, r: DamexResults): Promise<string[]> {
  return stageReport(dir, async (staging) => {
    const { put, written } = reportFolder(staging);
    await fillDamexReport(put, r);
    return written;
  });
}

async function fillDamexReport(put: (name: string, text: string | null) => void, r: DamexResults): Promise<void> {
  put('results.json', JSON.stringify(r, null, 2) + '\n');
  put('utilization.svg', await renderSvg(utilizationSpec(r.runs.flatMap((run) => run.timeline), r.settings.experts, `Expert utilisation during training — ${r.datasets.join(' + ')}`)));
  for (const run of r.runs) {
    const title = `Test routing by dataset — ${run.label} (NMI ${run.separation.normalizedMutualInformation.toFixed(2)})`;
    put(`routing-${run.variant}.svg`, await renderSvg(routingTableSpec({ title, rowLabels: r.datasets, shares: run.separation.matrix })));
  }
}
