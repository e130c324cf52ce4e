// Plain-text table of the rows, grouped by workload.
import { PEERS } from './workload.js';

const COLUMNS = [
  ['implementation', (r) => r.impl],
  ['thr', (r) => String(r.threads)],
  ['median', (r) => (r.status === 'ok' ? fmtMs(r.medianMs) : r.status.toUpperCase())],
  ['ops/s', (r) => (r.status === 'ok' ? fmtNum(r.opsPerSec) : '')],
  ['±RME', (r) => (r.status === 'ok' ? `${r.rmePct.toFixed(1)}%` : '')],
  ['cpu/call', (r) => (r.status === 'ok' ? fmtMs(r.cpuMsPerCall) : '')],
  ['GFLOP/s', (r) => (r.gflops ? r.gflops.toFixed(2) : '')],
  ...PEERS.map((p) => [`× ${p}`, (r) => (r.ratios?.[p] ? `${r.ratios[p].toFixed(2)}×` : '')]),
  ['load', (r) => (r.load1 === undefined ? '' : String(r.load1))],
];

export function formatTable(rows) {
  const lines = [];
  const byWorkload = new Map();
  for (const r of rows) {
    if (!byWorkload.has(r.workload)) byWorkload.set(r.workload, []);
    byWorkload.get(r.workload).push(r);
  }
  for (const [workload, group] of byWorkload) {
    // Widths per workload, so one long name does not stretch every table.
    const cells = group.map((r) => COLUMNS.map(([, f]) => f(r)));
    const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
    const line = (values) => values.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
    lines.push('', workload, line(COLUMNS.map(([h]) => h)));
    group.forEach((r, i) => {
      lines.push(line(cells[i]));
      if (r.status !== 'ok') lines.push(`    ${r.check}`);
    });
  }
  return lines.join('\n');
}

function fmtMs(ms) {
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(1)} µs`;
}

function fmtNum(x) {
  if (x >= 100) return x.toFixed(0);
  if (x >= 1) return x.toFixed(1);
  return x.toFixed(3);
}
