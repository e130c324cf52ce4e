import { fromTypedArray } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { ConvMoENet, type ConvMoENetOptions } from './conv-moe.js';
import { fit, type FitOptions, type FitResult } from './train/fit.js';

/**
 * DAMEX (dataset-aware mixture of experts, Jain et al., NeurIPS 2023): when one model trains on a
 * mixture of datasets, each dataset is mapped to an expert and the router learns that mapping through
 * cross-entropy(router logits, the example's dataset expert) with weight 0.1, in place of the load
 * balancing loss; routing is top-1.
 *
 * Here the router's clean logits are the model's second output, so the objective
 * CE(classes) + w·CE(router, expert(dataset)) is exactly what `fit` minimises with losses ['ce', 'ce']
 * and task weights [1, w]; the plain top-1 + balancing baseline is the same network with w = 0 and
 * the soft balancing loss on.
 */
export const DAMEX_DEFAULT_ROUTER_WEIGHT = 0.1;

/** Dataset d → expert d (mod numExperts): the default mapping. */
export function defaultExpertOfDataset(numDatasets: number, numExperts: number): number[] {
  if (!Number.isInteger(numDatasets) || numDatasets < 1) throw new Error(`damex: numDatasets must be an integer ≥ 1, got ${String(numDatasets)}`);
  if (!Number.isInteger(numExperts) || numExperts < 2) throw new Error(`damex: numExperts must be an integer ≥ 2, got ${String(numExperts)}`);
  return Array.from({ length: numDatasets }, (_, d) => d % numExperts);
}

export type DamexNetOptions = Omit<ConvMoENetOptions, 'k' | 'balance' | 'routerOutput' | 'noisy'>;

/** The DAMEX model: a ConvMoENet with top-1 routing, no balancing loss, no noise, and the router logits as its second output. */
export function buildDamexNet(opts: DamexNetOptions): ConvMoENet {
  return new ConvMoENet({ ...opts, k: 1, balance: 'none', noisy: false, renormalize: opts.renormalize ?? false, routerOutput: true });
}

/** The baseline: the same network with top-1 routing and the soft balancing constraint (noisy gating, CV² aux loss). */
export function buildTopOneBalancedNet(opts: DamexNetOptions & { balanceWeight?: number }): ConvMoENet {
  return new ConvMoENet({ ...opts, k: 1, balance: 'soft', noisy: true, renormalize: opts.renormalize ?? false, routerOutput: true });
}

/** Targets [N, 2] for a DAMEX model: column 0 the class label, column 1 the expert of the example's dataset. */
export function damexTargets(labels: ArrayLike<number>, datasetIds: ArrayLike<number>, expertOfDataset: readonly number[]): Tensor {
  if (labels.length !== datasetIds.length) throw new Error(`damexTargets: ${labels.length} labels but ${datasetIds.length} dataset ids`);
  const y = new Float32Array(labels.length * 2);
  for (let i = 0; i < labels.length; i++) {
    const d = datasetIds[i]!;
    const expert = expertOfDataset[d];
    if (expert === undefined) throw new Error(`damexTargets: example ${i} has dataset id ${d} but expertOfDataset maps only ${expertOfDataset.length} datasets`);
    y[2 * i] = labels[i]!;
    y[2 * i + 1] = expert;
  }
  return fromTypedArray(y, [labels.length, 2]);
}

export interface DamexFitOptions extends Omit<FitOptions, 'losses' | 'taskWeights'> {
  /** Weight of the router cross-entropy (default 0.1; 0 trains the router by the task loss alone). */
  routerWeight?: number;
}

/** Trains a DAMEX (or baseline) net on x with targets from `damexTargets`. */
export function fitDamex(model: ConvMoENet, data: { x: Tensor; y: Tensor }, opts: DamexFitOptions): FitResult {
  if (!model.routerOutput) throw new Error('fitDamex: the model must be built with routerOutput (buildDamexNet / buildTopOneBalancedNet)');
  const routerWeight = opts.routerWeight ?? DAMEX_DEFAULT_ROUTER_WEIGHT;
  if (!Number.isFinite(routerWeight) || routerWeight < 0) throw new Error(`fitDamex: routerWeight must be a finite number ≥ 0, got ${String(routerWeight)}`);
  const { routerWeight: _w, ...rest } = opts;
  return fit(model, data, { ...rest, losses: ['ce', 'ce'], taskWeights: [1, routerWeight] });
}

/** How cleanly the top-1 routing separates the datasets. */
export interface RoutingSeparation {
  /** matrix[d][e]: fraction of dataset d's examples routed to expert e (rows sum to 1). */
  matrix: number[][];
  /** Per dataset: fraction routed to its mapped expert (null without a mapping). */
  ownExpertFraction: (number | null)[] | null;
  /** Per dataset: the largest fraction routed to any one expert. */
  purity: number[];
  /** I(dataset; expert) in bits, from the empirical joint distribution. */
  mutualInformation: number;
  /** I / H(dataset) ∈ [0, 1]: 1 when the expert reveals the dataset exactly. */
  normalizedMutualInformation: number;
}

/** Routing matrix, own-expert fractions and mutual information of datasets vs chosen (first) experts. */
export function routingSeparation(
  datasetIds: ArrayLike<number>,
  experts: ArrayLike<number>,
  numDatasets: number,
  numExperts: number,
  expertOfDataset?: readonly number[],
): RoutingSeparation {
  const rows = datasetIds.length;
  if (rows === 0) throw new Error('routingSeparation: no examples');
  const k = experts.length / rows;
  if (!Number.isInteger(k) || k < 1) throw new Error(`routingSeparation: ${experts.length} expert slots for ${rows} examples`);
  const joint = Array.from({ length: numDatasets }, () => new Float64Array(numExperts));
  for (let i = 0; i < rows; i++) {
    const d = datasetIds[i]!;
    const e = experts[i * k]!;
    if (!(d >= 0 && d < numDatasets)) throw new Error(`routingSeparation: dataset id ${d} outside [0, ${numDatasets})`);
    if (e >= 0 && e < numExperts) joint[d]![e]!++;
  }
  const rowTotals = joint.map((r) => r.reduce((a, b) => a + b, 0));
  const colTotals = Array.from({ length: numExperts }, (_, e) => joint.reduce((a, r) => a + r[e]!, 0));
  const total = rowTotals.reduce((a, b) => a + b, 0);
  let mi = 0;
  let hd = 0;
  for (let d = 0; d < numDatasets; d++) {
    const pd = rowTotals[d]! / total;
    if (pd > 0) hd -= pd * Math.log2(pd);
    for (let e = 0; e < numExperts; e++) {
      const p = joint[d]![e]! / total;
      if (p > 0) mi += p * Math.log2(p / (pd * (colTotals[e]! / total)));
    }
  }
  const matrix = joint.map((r, d) => [...r].map((c) => (rowTotals[d]! > 0 ? c / rowTotals[d]! : 0)));
  return {
    matrix,
    ownExpertFraction: expertOfDataset ? matrix.map((r, d) => (expertOfDataset[d] === undefined ? null : r[expertOfDataset[d]!]!)) : null,
    purity: matrix.map((r) => Math.max(...r)),
    mutualInformation: mi,
    normalizedMutualInformation: hd > 0 ? mi / hd : 0,
  };
}
