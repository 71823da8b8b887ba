import { drizzle } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import type { Database } from '../../src/db/client.js';
import * as schema from '../../src/db/schema.js';

export interface CapturedQuery {
  sql: string;
  params: unknown[];
}

/**
 * The SQL the product's own repository code sends, captured through drizzle's query logger:
 * the baseline runs exactly these statements, and EXPLAIN looks at exactly these plans.
 */
export async function captureQueries(pool: pg.Pool, work: (db: Database) => Promise<unknown>): Promise<CapturedQuery[]> {
  const captured: CapturedQuery[] = [];
  const db = drizzle(pool, { schema, logger: { logQuery: (sql, params) => captured.push({ sql, params }) } });
  await work(db);
  return captured;
}

/** Runs captured statements one after another, as the route does (array rows, as drizzle asks). */
export async function replay(client: pg.Pool | pg.PoolClient, queries: CapturedQuery[]): Promise<void> {
  for (const query of queries) await client.query({ text: query.sql, values: query.params, rowMode: 'array' });
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

export interface PlanSummary {
  /** "Seq Scan on tickets", one per sequential scan anywhere in any of the plans. */
  seqScans: string[];
  /** Every scan node, e.g. "Index Scan using tickets_status_created_idx on tickets". */
  scans: string[];
  plans: unknown[];
}

/** EXPLAIN (FORMAT JSON) of each statement with its parameters; lists the scans. */
export async function explain(pool: pg.Pool, queries: CapturedQuery[]): Promise<PlanSummary> {
  const summary: PlanSummary = { seqScans: [], scans: [], plans: [] };
  for (const query of queries) {
    const { rows } = await pool.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`explain (format json) ${query.sql}`, query.params);
    const root = rows[0]!['QUERY PLAN'][0]!.Plan;
    summary.plans.push(root);
    const walk = (node: PlanNode) => {
      const type = node['Node Type'];
      if (type.includes('Scan')) {
        const on = node['Relation Name'] ? ` on ${node['Relation Name']}` : '';
        const using = node['Index Name'] ? ` using ${node['Index Name']}` : '';
        summary.scans.push(`${type}${using}${on}`);
        if (type === 'Seq Scan') summary.seqScans.push(`Seq Scan${on}`);
      }
      for (const child of node.Plans ?? []) walk(child);
    };
    walk(root);
  }
  // A partitioned table's empty partitions (the months ahead, the default) are scanned
  // sequentially at no cost: such a scan reads no page, so it is not what the check looks for.
  const scanned = [...new Set(summary.seqScans.map((scan) => scan.replace(/^Seq Scan on /, '')))];
  if (scanned.length > 0) {
    const { rows } = await pool.query<{ relname: string }>(
      `select relname from pg_class where relname = any($1) and relnamespace = 'public'::regnamespace and relkind = 'r' and pg_relation_size(oid) = 0`,
      [scanned],
    );
    const empty = new Set(rows.map((row) => `Seq Scan on ${row.relname}`));
    summary.seqScans = summary.seqScans.filter((scan) => !empty.has(scan));
  }
  return summary;
}

/**
 * What the other sessions on this database are doing, for a stalled run, grouped by state and
 * last statement: e.g. "20 idle in transaction after …" is a pool exhausted by transactions
 * that each wait for something outside Postgres (often a second connection from the pool).
 */
export async function describeSessions(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ state: string | null; n: number; statement: string | null }>(
    `select state, count(*)::int as n, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) as statement
       from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'
      group by 1, 3 order by 2 desc limit 4`,
  );
  if (rows.length === 0) return 'no other sessions';
  return rows.map((r) => `${r.n} ${r.state ?? 'unknown'} after ${r.statement ? `"${r.statement}…"` : 'nothing'}`).join('; ');
}
