import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';

/** A numeric table read from a CSV file with a header row. */
export interface NumericTable {
  columns: string[];
  /** Row-major values [rows × columns]. */
  values: Float64Array;
  rows: number;
}

/**
 * Reads a CSV file with a header row (RFC 4180 quoting, a UTF-8 BOM and CRLF line ends accepted; blank
 * lines skipped) with csv-parse. Every cell must be a number; empty cells and text are errors naming
 * the file, the line and the column.
 */
export function readNumericCsv(path: string): NumericTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: false }) as string[][];
  } catch (e) {
    throw new Error(`${path} is not valid CSV: ${(e as Error).message}`);
  }
  if (records.length === 0) throw new Error(`${path} is empty (expected a header row and data rows)`);
  const columns = records[0]!;
  const seen = new Set<string>();
  columns.forEach((name, c) => {
    if (name === '') throw new Error(`${path}: column ${c + 1} of the header has no name`);
    if (seen.has(name)) throw new Error(`${path}: column '${name}' appears twice in the header`);
    seen.add(name);
  });
  const rows = records.length - 1;
  if (rows === 0) throw new Error(`${path} has a header but no data rows`);
  const values = new Float64Array(rows * columns.length);
  for (let r = 0; r < rows; r++) {
    const record = records[r + 1]!;
    for (let c = 0; c < columns.length; c++) {
      const cell = record[c]!;
      const v = cell === '' ? NaN : Number(cell);
      if (!Number.isFinite(v)) {
        throw new Error(`${path}: line ${r + 2}, column '${columns[c]}': ${cell === '' ? 'empty cell' : `'${cell.slice(0, 40)}' is not a number`} (every cell must be a finite number)`);
      }
      values[r * columns.length + c] = v;
    }
  }
  return { columns, values, rows };
}
