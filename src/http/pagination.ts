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

const cursorSchema = z.object({ v: z.union([z.string(), z.number()]), id: z.string() });

/**
 * The key shape each listing issues. A cursor is checked against its listing's shape when
 * decoded, so a forged one (a non-uuid id, a "date" that is not one) is a 400 naming
 * query.cursor, never a SQL error.
 */
export const cursorKeys = {
  /** (an instant, a row uuid): tickets by createdAt/updatedAt, messages. */
  instant: z.object({ v: z.iso.datetime().refine((v) => new Date(v).getUTCFullYear() >= 1), id: z.uuid() }),
  /** (a row uuid, the same uuid): teams, agents. */
  uuid: z.object({ v: z.string(), id: z.uuid() }),
  /** (an identity number): ticket events. */
  sequence: z.object({ v: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), id: z.string() }),
};

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor<K extends CursorKey = CursorKey>(cursor: string | undefined, shape: z.ZodType<K> = cursorSchema as z.ZodType<K>): K | undefined {
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
