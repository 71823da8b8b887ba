/**
 * SQL for statements that have Postgres write a view's JSON text itself (a ticket list page,
 * its clocks): values spelled exactly as the JS views spell them.
 */

/**
 * An instant as Date.toISOString() writes it: UTC, milliseconds truncated (node-postgres reads
 * a timestamptz into a Date, which drops the microseconds). Null stays null.
 */
export const isoSql = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
