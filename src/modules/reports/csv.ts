import { stringify } from 'csv-stringify/sync';

export type CsvCell = string | number | boolean | null | undefined;

/**
 * Report CSV for spreadsheets (issues 14 and 16), through csv-stringify (maintained, RFC 4180
 * quoting): a UTF-8 byte order mark first, so Excel reads Hebrew, Arabic and Russian names as
 * UTF-8 instead of the local code page; CRLF line ends; and formula injection neutralised per
 * OWASP: a text cell starting with =, +, -, @, a tab or a carriage return gets a leading ' so a
 * spreadsheet shows it as text instead of running it (csv-stringify's escape_formulas; numbers,
 * negative ones included, stay numbers). Null is an empty cell.
 */
export function toReportCsv(header: readonly string[], rows: readonly Record<string, CsvCell>[]): string {
  return stringify([header, ...rows.map((row) => header.map((h) => row[h] ?? null))], {
    bom: true,
    record_delimiter: 'windows',
    escape_formulas: true,
    cast: { boolean: (v) => (v ? 'true' : 'false') },
  });
}
