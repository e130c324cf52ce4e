import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { EpochReport } from './protocol.js';

const COLORS = { step: 'rgba(47, 95, 208, 0.28)', train: '#2f5fd0', validation: '#e0661b' };

/**
 * The loss curves, streamed: every step's objective (faint), and per epoch the training and validation
 * loss. One x axis in epochs; the epoch series have values only where an epoch ended (gaps spanned).
 */
export class LossChart {
  private readonly plot: uPlot;
  private readonly xs: number[] = [];
  private readonly steps: (number | null)[] = [];
  private readonly train: (number | null)[] = [];
  private readonly validation: (number | null)[] = [];
  private dirty = false;

  constructor(private readonly host: HTMLElement) {
    const dot = (stroke: string): uPlot.Series.Points => ({ show: true, size: 6, stroke, fill: '#fff' });
    this.plot = new uPlot(
      {
        width: this.width(),
        height: 320,
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false } },
        axes: [
          { label: 'epoch', stroke: '#667085', grid: { stroke: '#eef1f6' } },
          { label: 'MSE per task', stroke: '#667085', grid: { stroke: '#eef1f6' }, size: 56, values: (_u, ticks) => ticks.map((t) => t.toFixed(2)) },
        ],
        series: [
          { label: 'epoch', value: (_u, v) => (v === null ? '—' : v.toFixed(2)) },
          { label: 'training step (loss + regularisers)', stroke: COLORS.step, width: 1, points: { show: false }, value: fmt },
          { label: 'training (epoch mean)', stroke: COLORS.train, width: 2.5, spanGaps: true, points: dot(COLORS.train), value: fmt },
          { label: 'validation', stroke: COLORS.validation, width: 2.5, spanGaps: true, points: dot(COLORS.validation), value: fmt },
        ],
      },
      [[], [], [], []],
      host,
    );
    new ResizeObserver(() => this.plot.setSize({ width: this.width(), height: 320 })).observe(host);
  }

  reset(): void {
    for (const a of [this.xs, this.steps, this.train, this.validation]) a.length = 0;
    this.dirty = true;
  }

  addStep(at: number, objective: number): void {
    this.xs.push(at);
    this.steps.push(objective);
    this.train.push(null);
    this.validation.push(null);
    this.dirty = true;
  }

  addEpoch(r: EpochReport): void {
    // The epoch's last step sits at x = epoch + 1: put its means there.
    const at = r.epoch + 1;
    let i = this.xs.length - 1;
    while (i >= 0 && Math.abs(this.xs[i]! - at) > 1e-9) i--;
    if (i < 0) {
      this.xs.push(at);
      this.steps.push(null);
      this.train.push(null);
      this.validation.push(null);
      i = this.xs.length - 1;
    }
    this.train[i] = r.loss;
    this.validation[i] = r.validationLoss;
    this.dirty = true;
  }

  /** Redraws when something changed (called once per animation frame). */
  render(): void {
    if (!this.dirty) return;
    this.dirty = false;
    this.plot.setData([this.xs, this.steps, this.train, this.validation] as uPlot.AlignedData);
  }

  private width(): number {
    return Math.max(320, this.host.clientWidth);
  }
}

function fmt(_u: uPlot, v: number | null): string {
  return v === null ? '—' : v.toFixed(4);
}
