import { targetText, type Row } from './report.js';

const HEADERS = ['benchmark', 'metric', 'product', 'baseline', 'ratio', 'target', 'verdict'] as const;

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(2);
}

function cell(value: number | string | null): string {
  if (value === null) return '-';
  return typeof value === 'number' ? formatNumber(value) : value;
}

/** Renders the rows as a plain-text table, notes numbered below it. */
export function renderTable(rows: Row[]): string {
  const notes: string[] = [];
  const body = rows.map((row) => {
    let verdict: string = row.verdict;
    if (row.note) {
      notes.push(row.note);
      verdict += ` [${notes.length}]`;
    }
    return [
      row.benchmark,
      row.unit ? `${row.metric} (${row.unit})` : row.metric,
      row.verdict === 'not built yet' ? 'not built yet' : cell(row.product),
      cell(row.baseline),
      row.ratio === null ? '-' : row.ratio.toFixed(2),
      targetText(row.target) || '-',
      verdict,
    ];
  });
  const widths = HEADERS.map((header, i) => Math.max(header.length, ...body.map((line) => line[i]!.length)));
  const numeric = new Set([2, 3, 4]);
  const format = (line: readonly string[]) =>
    line.map((text, i) => (numeric.has(i) ? text.padStart(widths[i]!) : text.padEnd(widths[i]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const lines = [format(HEADERS), rule, ...body.map(format)];
  if (notes.length > 0) {
    lines.push('', ...notes.map((note, i) => `[${i + 1}] ${note}`));
  }
  return lines.join('\n');
}
