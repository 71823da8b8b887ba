import type { Database } from '../../db/client.js';
import { uniqueOrConflict } from '../../db/unique.js';
import { cursorKeys, decodeCursor, toPage, type Page } from '../../http/pagination.js';
import type { Clock } from '../../shared/clock.js';
import { badRequest, conflict, notFound } from '../../shared/errors.js';
import { normalizeBlockValue, type BlockKind } from './blocklist.models.js';
import { deleteEntry, findEntry, insertEntry, listEntries, type BlocklistRow } from './blocklist.repository.js';

export type BlocklistEntryView = Omit<BlocklistRow, 'kind'> & { kind: BlockKind };

export function createBlocklistService(deps: { db: Database; clock: Clock; defaultPhoneRegion: string }) {
  const { db, clock } = deps;
  const view = (row: BlocklistRow): BlocklistEntryView => ({ ...row, kind: row.kind as BlockKind });
  return {
    async list(query: { limit: number; cursor?: string | undefined }): Promise<Page<BlocklistEntryView>> {
      const cursor = decodeCursor(query.cursor, cursorKeys.instant);
      const rows = await listEntries(db, { limit: query.limit, after: cursor ? { at: new Date(cursor.v), id: cursor.id } : undefined });
      return toPage(rows, query.limit, (r) => ({ v: r.createdAt.toISOString(), id: r.id }), view);
    },

    async create(input: { kind: BlockKind; value: string; reason?: string | null | undefined }): Promise<BlocklistEntryView> {
      const normalized = normalizeBlockValue(input.kind, input.value, deps.defaultPhoneRegion);
      if ('error' in normalized) throw badRequest('body.value', normalized.error);
      const key = { kind: input.kind, value: normalized.value };
      const existing = await findEntry(db, key);
      const duplicate = () => conflict('duplicate', `${key.kind} ${key.value} is already blocked`, { existingId: existing?.id });
      if (existing) throw duplicate();
      const row = await uniqueOrConflict(() => insertEntry(db, { ...key, reason: input.reason ?? null, now: clock.now() }), `${key.kind} ${key.value} is already blocked`);
      return view(row);
    },

    async remove(id: string): Promise<void> {
      if (!(await deleteEntry(db, id))) throw notFound('Blocklist entry', id);
    },
  };
}

export type BlocklistService = ReturnType<typeof createBlocklistService>;
