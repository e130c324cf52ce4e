import type { GateSnapshot } from './protocol.js';

/** Colour ramp for a weight in [0, 1]: pale at 0, deep blue at 1. */
const RAMP: readonly (readonly [number, number, number])[] = [
  [246, 248, 252],
  [199, 219, 250],
  [117, 164, 240],
  [47, 95, 208],
  [23, 42, 110],
];
const GROUP_COLORS = ['#e0661b', '#2a9d8f', '#8e44ad', '#d4a017', '#c0392b', '#3b7dd8', '#6d8f2c', '#b05f96'];
const ROW_HEIGHT = 30;
const HEADER = 26;
const LEFT = 86;
const RIGHT = 96;

function rampColor(w: number): string {
  const x = Math.min(1, Math.max(0, w)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [RAMP[i]!, RAMP[i + 1]!];
  return `rgb(${a.map((v, c) => Math.round(v + (b[c]! - v) * f)).join(',')})`;
}

function formatWeight(w: number): string {
  if (w === 1) return '1';
  if (w < 0.005) return '<.01';
  return w.toFixed(2).replace(/^0/, '');
}

/**
 * Each task's gate weights as a heat map (tasks × experts). Exact zeros stay blank: that is what a
 * sparse gate looks like. The right column says whether a DSelect-k gate's selectors are all binary.
 */
export class GateHeatmap {
  private gates: GateSnapshot[] = [];
  private groups: number[] = [];
  private dirty = false;

  constructor(private readonly canvas: HTMLCanvasElement) {
    new ResizeObserver(() => {
      this.dirty = true;
      this.render();
    }).observe(canvas);
  }

  setGroups(groups: number[]): void {
    this.groups = groups;
    this.dirty = true;
  }

  update(gates: GateSnapshot[]): void {
    this.gates = gates;
    this.dirty = true;
  }

  clear(): void {
    this.gates = [];
    this.dirty = true;
  }

  render(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const rows = this.gates.length;
    const experts = this.gates[0]?.weights.length ?? 0;
    const cssWidth = this.canvas.clientWidth || 600;
    const cssHeight = HEADER + Math.max(1, rows) * ROW_HEIGHT + 4;
    const dpr = globalThis.devicePixelRatio || 1;
    this.canvas.style.height = `${cssHeight}px`;
    this.canvas.width = Math.round(cssWidth * dpr);
    this.canvas.height = Math.round(cssHeight * dpr);
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssWidth, cssHeight);
    ctx.font = '12px system-ui, "DejaVu Sans", sans-serif';
    ctx.textBaseline = 'middle';
    if (rows === 0 || experts === 0) {
      ctx.fillStyle = '#667085';
      ctx.fillText('waiting for the first gate weights…', 0, HEADER);
      return;
    }
    const cell = Math.min(64, (cssWidth - LEFT - RIGHT) / experts);
    ctx.textAlign = 'center';
    ctx.fillStyle = '#667085';
    for (let e = 0; e < experts; e++) ctx.fillText(cell >= 30 ? `E${e + 1}` : String(e + 1), LEFT + (e + 0.5) * cell, HEADER / 2);
    this.gates.forEach((g, t) => {
      const y = HEADER + t * ROW_HEIGHT;
      const group = this.groups[t] ?? 0;
      ctx.fillStyle = GROUP_COLORS[group % GROUP_COLORS.length]!;
      ctx.beginPath();
      ctx.arc(10, y + ROW_HEIGHT / 2, 5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.textAlign = 'left';
      ctx.fillStyle = '#1c2433';
      ctx.fillText(`task ${t + 1}`, 22, y + ROW_HEIGHT / 2);
      g.weights.forEach((w, e) => {
        const x = LEFT + e * cell;
        ctx.fillStyle = w === 0 ? '#fbfcfe' : rampColor(w);
        ctx.fillRect(x + 1, y + 1, cell - 2, ROW_HEIGHT - 2);
        if (w !== 0 && cell >= 30) {
          ctx.textAlign = 'center';
          ctx.fillStyle = w > 0.45 ? '#ffffff' : '#1c2433';
          ctx.fillText(formatWeight(w), x + cell / 2, y + ROW_HEIGHT / 2);
        }
      });
      ctx.textAlign = 'left';
      const x = LEFT + experts * cell + 10;
      if (g.binarySelectors === null) {
        ctx.fillStyle = '#667085';
        ctx.fillText(`${g.selected.length} active`, x, y + ROW_HEIGHT / 2);
      } else if (g.binarySelectors === 1) {
        ctx.fillStyle = '#15803d';
        ctx.fillText(`binary ✓ (${g.selected.length})`, x, y + ROW_HEIGHT / 2);
      } else {
        ctx.fillStyle = '#667085';
        ctx.fillText(`${Math.round(g.binarySelectors * 100)}% binary`, x, y + ROW_HEIGHT / 2);
      }
    });
  }
}
