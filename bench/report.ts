/* The benchmark's result rows, printed as one table and written as JSON. */

export interface Row {
  section: string;
  name: string;
  value: number;
  unit: string;
  /** The value divided by the reference named in `versus`, when the row has one. */
  ratio?: number;
  versus?: string;
  /** The target the row is held to, as text, and whether this run met it. */
  target?: string;
  met?: boolean;
  note?: string;
}

export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits })} ${unit}`;
}

/** The rows as a Markdown table, so the same text reads in a terminal and in the docs. */
export function table(rows: Row[]): string {
  const header = ['#', 'measurement', 'result', 'ratio', 'target', 'met'];
  const lines = rows.map((row) => [
    row.section,
    row.note === undefined ? row.name : `${row.name} (${row.note})`,
    formatValue(row.value, row.unit),
    row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}x ${row.versus ?? ''}`.trim(),
    row.target ?? '',
    row.met === undefined ? '' : row.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((title, i) =>
    Math.max(3, title.length, ...lines.map((l) => l[i].length)),
  );
  const format = (cells: string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  return [format(header), format(widths.map((w) => '-'.repeat(w))), ...lines.map(format)].join(
    '\n',
  );
}
