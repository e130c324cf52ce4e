/** Plain-text and Markdown tables for the terminal and report.md. */

export type Align = 'left' | 'right';

/** Columns padded to their widest cell, a rule under the header. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const widths = headers.map((h, c) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[c] ?? ''))));
  const pad = (cell: string, c: number): string => {
    const fill = ' '.repeat(widths[c]! - displayWidth(cell));
    return (align[c] ?? (c === 0 ? 'left' : 'right')) === 'left' ? cell + fill : fill + cell;
  };
  const line = (cells: readonly string[]): string => headers.map((_, c) => pad(cells[c] ?? '', c)).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const rule = headers.map((_, c) => ((align[c] ?? (c === 0 ? 'left' : 'right')) === 'left' ? ':---' : '---:'));
  const line = (cells: readonly string[]): string => `| ${headers.map((_, c) => esc(cells[c] ?? '')).join(' | ')} |`;
  return [line(headers), `| ${rule.join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** Code points, not UTF-16 units, so ± and γ count once. */
function displayWidth(s: string): number {
  return [...s].length;
}

/** `mean ± std` with a fixed number of significant decimals. */
export function formatMeanStd(mean: number, std: number, digits = 4): string {
  if (!Number.isFinite(mean)) return 'n/a';
  return `${mean.toFixed(digits)} ± ${Number.isFinite(std) ? std.toFixed(digits) : 'n/a'}`;
}

/** p-values: three significant digits, scientific below 1e-3. */
export function formatPValue(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return 'n/a';
  return p < 1e-3 ? p.toExponential(2) : p.toFixed(3);
}

/** `mean ± half-width` of a confidence interval ('mean (n = 1)' when there is no interval). */
export function formatMeanCi(ci: { mean: number; halfWidth: number; n: number }, digits = 4): string {
  if (!Number.isFinite(ci.mean)) return 'n/a';
  return Number.isFinite(ci.halfWidth) ? `${ci.mean.toFixed(digits)} ± ${ci.halfWidth.toFixed(digits)}` : `${ci.mean.toFixed(digits)} (n = ${ci.n})`;
}
