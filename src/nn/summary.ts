import type { Module } from './module.js';

export interface SummaryOptions {
  /** Deepest level listed (0: the root only; default: every level). Deeper parameters still count in the totals. */
  maxDepth?: number;
}

/**
 * The module tree as a table, one row per module: its dotted name, class, the shapes of its own
 * parameters, and its parameter count including children; then the total (and its float32/float64 size).
 *
 *   module              type      own parameters             parameters
 *   (root)              MLP                                         59
 *   layers              ModuleList                                  59
 *   layers.0            Linear    weight [5,4], bias [5]            25
 */
export function summary(module: Module, opts: SummaryOptions = {}): string {
  const maxDepth = opts.maxDepth ?? Infinity;
  if (!(maxDepth >= 0)) throw new Error(`summary: maxDepth must be ≥ 0, got ${String(opts.maxDepth)}`);
  const rows: string[][] = [];
  const visit = (m: Module, name: string, depth: number): void => {
    if (depth > maxDepth) return;
    const own = m.namedParameters().filter(([n]) => !n.includes('.'));
    const shapes = own.map(([n, p]) => `${n} [${p.shape.join(',')}]`).join(', ');
    rows.push([`${'  '.repeat(depth)}${name}`, m.constructor.name, shapes, m.parameterCount().toLocaleString('en-US')]);
    for (const [childName, child] of m.namedChildren()) visit(child, name === '(root)' ? childName : `${name}.${childName}`, depth + 1);
  };
  visit(module, '(root)', 0);
  const header = ['module', 'type', 'own parameters', 'parameters'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c === cells.length - 1 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  const params = module.parameters();
  const total = params.reduce((n, p) => n + p.size, 0);
  const bytes = params.reduce((n, p) => n + p.size * (p.dtype === 'float64' ? 8 : 4), 0);
  return [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    `total: ${total.toLocaleString('en-US')} trainable parameters in ${params.length} tensors (${formatBytes(bytes)})`,
  ].join('\n');
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
