import { z } from 'zod';
import { badRequest } from '../shared/errors.js';

/**
 * Keyset cursors: the last row's sort key and id, opaque to clients (base64url JSON). A page
 * continues strictly after that key, so rows inserted meanwhile never shift or repeat a page.
 */
export interface CursorKey {
  /** The sort value: an ISO instant or a number. */
  v: string | number;
  id: string;
}

/**
 * The key shape each listing issues. A cursor is checked against its listing's shape when
 * decoded, so a forged one (a non-uuid id, a "date" that is not one) is a 400 naming
 * query.cursor, never a SQL error.
 */
/** An ISO instant Postgres can store and compare: years 1..9999 only (the regex allows no more). */
const storableInstant = z.iso.datetime().refine((v) => new Date(v).getUTCFullYear() >= 1);

export const cursorKeys = {
  /** (an instant, a row uuid): tickets by createdAt/updatedAt, messages, outbox rows, alarms. */
  instant: z.strictObject({ v: storableInstant, id: z.uuid() }),
  /**
   * ("severity|instant", a row uuid): the breach queue. Severity is a Postgres integer, so a
   * forged one is bounded here rather than overflowing in the query.
   */
  severityInstant: z.strictObject({
    v: z.string().max(64).refine((v) => {
      const [severity, at, ...rest] = v.split('|');
      return rest.length === 0 && /^\d{1,9}$/.test(severity ?? '') && storableInstant.safeParse(at).success;
    }),
    id: z.uuid(),
  }),
  /** (a row uuid, the same uuid): teams, agents. */
  uuid: z.strictObject({ v: z.uuid(), id: z.uuid() }),
  /** (an identity number): ticket events. */
  sequence: z.strictObject({ v: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), id: z.string() }),
};

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Every listing names the key shape it issued: a cursor is never used unchecked. */
export function decodeCursor<K extends CursorKey>(cursor: string | undefined, shape: z.ZodType<K>): K | undefined {
  if (cursor === undefined) return undefined;
  try {
    return shape.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw badRequest('query.cursor', 'is not a cursor this API issued');
  }
}

export const limitSchema = z.coerce.number().int().min(1).max(200).default(50);

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Fetch limit + 1 rows; the extra row only tells whether another page exists. */
export function toPage<R, T>(rows: R[], limit: number, keyOf: (row: R) => CursorKey, map: (row: R) => T): Page<T> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { items: pageRows.map(map), nextCursor: hasMore && last ? encodeCursor(keyOf(last)) : null };
}
