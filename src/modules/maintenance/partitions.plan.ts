/*
 * Month partitions (issue 18): which partitions to create and which to drop, decided from the
 * partitions that exist, the instant and the retention cut-off. Pure: the service reads the
 * catalog, asks here, and runs the DDL.
 */

/** A table partitioned by range on a timestamp column, by UTC month. */
export interface MonthlyTable {
  table: 'ticket_events' | 'sla_stream_events' | 'inbound_payloads';
  column: 'created_at' | 'received_at';
  /**
   * Which retention setting expires whole months: `raw-payloads` (rawPayloadDays), or `keep`
   * (no rule deletes these rows; closed-ticket retention anonymizes the timeline in place).
   */
  retention: 'raw-payloads' | 'keep';
}

export const MONTHLY_TABLES: readonly MonthlyTable[] = [
  { table: 'ticket_events', column: 'created_at', retention: 'keep' },
  { table: 'sla_stream_events', column: 'created_at', retention: 'keep' },
  { table: 'inbound_payloads', column: 'received_at', retention: 'raw-payloads' },
];

/** A partition as the catalog describes it; `from` null is MINVALUE, `to` null MAXVALUE. */
export interface ExistingPartition {
  name: string;
  isDefault: boolean;
  from: Date | null;
  to: Date | null;
}

export interface MonthRange {
  name: string;
  from: Date;
  to: Date;
}

export interface PartitionPlan {
  create: MonthRange[];
  drop: string[];
}

/** The first instant of the UTC month holding `at`, moved by `months`. */
export function monthStart(at: Date, months = 0): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + months, 1));
}

/** `ticket_events_p2026_12` for December 2026. */
export function partitionName(table: string, month: Date): string {
  return `${table}_p${month.getUTCFullYear()}_${String(month.getUTCMonth() + 1).padStart(2, '0')}`;
}

function overlaps(p: ExistingPartition, from: Date, to: Date): boolean {
  if (p.isDefault) return false;
  const startsBefore = p.from === null || p.from.getTime() < to.getTime();
  const endsAfter = p.to === null || p.to.getTime() > from.getTime();
  return startsBefore && endsAfter;
}

/**
 * The current month and `monthsAhead` after it, each created unless some partition already
 * covers part of it (the legacy partition covers the month the migration ran in); and every
 * range partition that ends at or before `dropBefore` (null: the table keeps everything).
 * The default partition is never dropped.
 */
export function planPartitions(table: string, existing: readonly ExistingPartition[], now: Date, monthsAhead: number, dropBefore: Date | null): PartitionPlan {
  const create: MonthRange[] = [];
  for (let i = 0; i <= monthsAhead; i++) {
    const from = monthStart(now, i);
    const to = monthStart(now, i + 1);
    if (existing.some((p) => overlaps(p, from, to))) continue;
    create.push({ name: partitionName(table, from), from, to });
  }
  const drop =
    dropBefore === null ? [] : existing.filter((p) => !p.isDefault && p.to !== null && p.to.getTime() <= dropBefore.getTime()).map((p) => p.name);
  return { create, drop };
}

const BOUND = /^FOR VALUES FROM \((MINVALUE|'([^']+)')\) TO \((MAXVALUE|'([^']+)')\)$/;

/** A timestamptz literal as Postgres prints it with TimeZone UTC: `2026-12-01 00:00:00+00`. */
function utcLiteral(text: string): Date {
  const iso = text.replace(' ', 'T').replace(/\+00$/, 'Z');
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) throw new Error(`unexpected partition bound ${text}`);
  return at;
}

/** Reads `pg_get_expr(relpartbound)` (printed under TimeZone UTC). */
export function parseBound(name: string, bound: string): ExistingPartition {
  if (bound === 'DEFAULT') return { name, isDefault: true, from: null, to: null };
  const m = BOUND.exec(bound);
  if (!m) throw new Error(`unexpected partition bound for ${name}: ${bound}`);
  return { name, isDefault: false, from: m[2] === undefined ? null : utcLiteral(m[2]), to: m[4] === undefined ? null : utcLiteral(m[4]) };
}
